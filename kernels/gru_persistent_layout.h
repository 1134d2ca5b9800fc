// The persistent GRU's launch layout (kernels/cuda/gru_persistent.cu), planned device-neutrally so that its rules
// (which shapes fit on chip, how threads and sequences are split) are tested on the CPU.
//
// Each block owns `sequences_per_block` whole sequences (no grid-wide barrier: blocks never wait for each other) and
// holds the recurrent weights in registers:
// - forward, y = W_hh h: thread (g, s) of ceil(3H / R) x ceil(H / C) holds the R x C tile W_hh[gR .. gR+R, sC .. sC+C]
//   (zeros past the edges), computes its R partial dot products on the slice h[sC .. sC+C], and the partial sums of
//   the C-column slices meet in shared memory, where the thread of each (sequence, k) adds them in slice order;
// - backward, y = W_hh^T d(ah): the same with the matrix transposed, ceil(H / R) x ceil(3H / C) threads;
// with R x C = rows_per_thread x columns_per_thread one of the compiled variants below. A block has at least one
// thread per (sequence, k), rounded up to whole warps, and at most the variant's max_threads (its
// __launch_bounds__: 65,536 registers / max_threads per thread, which must hold the R x C weights). Sequences per
// block: ceil(N / SMs) (one wave when it fits), as many as the thread bound and shared memory allow; blocks:
// ceil(N / sequences_per_block), in several waves when that exceeds the SMs.
#pragma once
#include <cstddef>
#include <optional>
#include <string>

namespace rosetta::kernels {

struct GruShape;

// A compiled register tile: R rows x C columns of the matrix per thread, at most max_threads threads a block.
struct GruPersistentVariant {
  int rows_per_thread, columns_per_thread, max_threads;
};
// In order of preference (the first that fits is taken): kernels/cuda/gru_persistent.cu instantiates exactly these.
inline constexpr GruPersistentVariant kGruPersistentVariants[] = {{4, 16, 512}, {8, 16, 384}};

// What the device offers the layout.
struct GruPersistentDevice {
  int sm_count = 0;
  std::size_t max_shared_bytes = 0;  // dynamic shared memory a block may opt into
};

struct GruPersistentLayout {
  int variant = 0;                    // index into kGruPersistentVariants
  int forward_slices = 0;             // ceil(H / C): column slices of W_hh
  int backward_slices = 0;            // ceil(3H / C): column slices of W_hh^T
  int forward_threads = 0;            // per block, whole warps
  int backward_threads = 0;
  int sequences_per_block = 0;
  int blocks = 0;                     // ceil(N / sequences_per_block)
  std::size_t forward_shared_bytes = 0;   // h of each sequence, then the partial sums
  std::size_t backward_shared_bytes = 0;  // d(ah) of each sequence, then the partial sums
};

// The layout of `shape` on `device`, or nothing and `refusal` saying why the recurrent weights do not fit on chip,
// naming the shape.
std::optional<GruPersistentLayout> plan_gru_persistent_layout(const GruShape& shape, const GruPersistentDevice& device,
                                                              std::string* refusal);

}  // namespace rosetta::kernels
