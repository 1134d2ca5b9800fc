// Hand-written direct convolution for few input channels (C <= kDirectMaxChannels, C*R*S <= kDirectMaxPatch,
// stride 1): the kernels behind the "direct" backend (kernels/cuda/conv_backend_direct.cpp), built for the CNN's conv1
// (3 or 8 input channels, 50 or 56 output channels), where cuDNN's kernels, made for many channels, run at ~14-30x
// the floor.
//
// A pixel's patch is its C*R*S inputs, in the filter's storage order (NCHW filters (K, C, R, S): (c, r, s); NHWC
// filters (K, R, S, C): (r, s, c)), padded with zeros to `patch` (one of kDirectPatches, a multiple of 4). The output
// channels are taken in chunks of DirectGeometry::chunk channels (a multiple of 8) whose filter rows, chunk * patch
// floats, fit in 16 KB of shared memory.
//
// Forward (run_direct_forward): each thread owns one output pixel; it reads its patch once into registers, then
// computes `channels_per_thread` output channels at a time against the chunk's filter in shared memory (one 16-byte
// broadcast load per four multiply-adds), and writes them with the optional epilogue y = act((conv + z) + bias):
// one rounding of y to T.
//
// Filter gradient (run_direct_backward_filter): the sum over the N*OH*OW pixels is split into slices of
// `slice_pixels`; each block owns one slice and one channel chunk, stages 32 pixels at a time (their patches and
// dy) in shared memory, and every thread accumulates a 4 (channels) x 4 (patch entries) tile of the chunk's
// accumulators in registers (threads left over form replicas that take every other staged pixel). Each block writes
// its partial sums to the workspace; a second kernel adds the partials in a fixed order and writes dw rounded once to
// T. No atomics: the same inputs give the same bits on every run.
//
// Index math is 32-bit: the backend declines shapes with 2^31 or more elements in x or y. Data is float or bf16
// storage; the arithmetic is float (CUDA-core FP32 for the tf32 plans as well).
#pragma once
#include <cstddef>
#include <cstdint>

#include "kernels/conv.h"
#include "runtime/context.h"

namespace rosetta::kernels::cuda {

constexpr int kDirectMaxChannels = 8;                        // the most input channels served
constexpr int kDirectMaxPatch = 72;                          // the largest C*R*S served (3x3 with 8 channels)
constexpr int kDirectPatches[] = {12, 28, 36, 48, 72};       // the compiled patch widths (3x3: C = 1, 3, 4, 5, 8)
constexpr int kDirectChunkFloats = 4096;                     // a chunk's filter rows: 16 KB of shared memory
constexpr int kDirectForwardThreads = 128;
constexpr int kDirectFilterThreads = 256;
constexpr int kDirectStagePixels = 32;                       // pixels staged at once by the filter gradient

// How the kernels cut one shape (all derived from the shape and the patch).
struct DirectGeometry {
  int crs = 0;       // C*R*S
  int patch = 0;     // crs rounded up to a compiled width
  int chunk = 0;     // output channels per chunk (a multiple of 8)
  int chunks = 0;    // ceil(K / chunk)
  int pixels = 0;    // N*OH*OW
};
DirectGeometry direct_geometry(const ConvShape& shape);

// The forward of `shape` in `layout` on float (T = float) or bf16 data; `bias` and `z` (shaped as y) may be null;
// relu applies the ReLU last. channels_per_thread: 4 or 8.
void run_direct_forward(const Context& ctx, const ConvShape& shape, Layout layout, bool bf16_data,
                        int channels_per_thread, const void* x, const void* w, const void* bias, const void* z,
                        bool relu, void* y);

// The workspace the filter gradient needs: the partial sums of every slice.
std::size_t direct_backward_filter_workspace(const ConvShape& shape, int slice_pixels);

// dw (K, C, R, S) in `layout`'s filter order from x and dy; `workspace` holds at least the bytes above.
// slice_pixels: a multiple of kDirectStagePixels.
void run_direct_backward_filter(const Context& ctx, const ConvShape& shape, Layout layout, bool bf16_data,
                                int slice_pixels, const void* x, const void* dy, void* dw, void* workspace);

}  // namespace rosetta::kernels::cuda
