// The direct convolution's kernels (kernels/cuda/conv_direct.h states the scheme and its invariants).
#include "kernels/cuda/conv_direct.h"

#include <algorithm>
#include <type_traits>

#include "runtime/cuda_check.h"
#include "runtime/error.h"
#include "runtime/half.h"

namespace rosetta::kernels::cuda {
namespace {

// Element strides of a 4-D tensor's logical dimensions (N, C, H, W) in its layout.
struct Strides {
  int n, c, h, w;
};

Strides strides_of(Layout layout, std::int64_t c, std::int64_t h, std::int64_t w) {
  if (layout == Layout::nchw) return {int(c * h * w), int(h * w), int(w), 1};
  return {int(h * w * c), 1, int(w * c), int(c)};
}

// Entry i of a pixel's patch, in the filter's storage order: its input's offset from the pixel's top-left input
// (oh - pad_h, ow - pad_w) of channel 0, and its filter row and column (for the bounds).
struct PatchTable {
  int offset[kDirectMaxPatch];
  signed char r[kDirectMaxPatch], s[kDirectMaxPatch];
  int crs;
};

PatchTable patch_table(const ConvShape& shape, Layout layout, const Strides& xs) {
  PatchTable t{};
  t.crs = int(shape.c * shape.r * shape.s);
  for (int c = 0; c < shape.c; ++c)
    for (int r = 0; r < shape.r; ++r)
      for (int s = 0; s < shape.s; ++s) {
        const int i = layout == Layout::nchw ? int((c * shape.r + r) * shape.s + s) : int((r * shape.s + s) * shape.c + c);
        t.offset[i] = c * xs.c + r * xs.h + s * xs.w;
        t.r[i] = static_cast<signed char>(r);
        t.s[i] = static_cast<signed char>(s);
      }
  return t;
}

// The common sizes of a launch: input, output, padding, pixel count.
struct Dims {
  int h, w, oh, ow, k, pad_h, pad_w, pixels;
};

Dims dims_of(const ConvShape& s) {
  return {int(s.h), int(s.w), int(s.out_h()), int(s.out_w()), int(s.k), s.pad_h, s.pad_w, int(s.n * s.out_h() * s.out_w())};
}

__device__ __forceinline__ float load_float(const float* p, int i) { return __ldg(p + i); }
__device__ __forceinline__ float load_float(const bf16* p, int i) { return float(p[i]); }

// The largest chunk (a multiple of 8 channels) whose filter rows fit kDirectChunkFloats.
constexpr int max_chunk(int patch) { return kDirectChunkFloats / patch / 8 * 8; }

// ---------------------------------------------------------------------------------------------------------------
// Forward: block (128 pixels, channel chunk); shared: the chunk's filter rows (chunk, Patch), zero beyond crs and K.
template <typename T, int Patch, int KT>
__global__ void __launch_bounds__(kDirectForwardThreads)
    direct_forward_kernel(const T* __restrict__ x, const T* __restrict__ w, const T* __restrict__ bias,
                          const T* __restrict__ z, T* __restrict__ y, PatchTable table, Strides xs, Strides ys,
                          Dims d, int chunk, bool epilogue, bool relu) {
  extern __shared__ float4 filter4[];  // (chunk, Patch / 4)
  float* filter = reinterpret_cast<float*>(filter4);
  const int k_begin = blockIdx.y * chunk;
  for (int e = threadIdx.x; e < chunk * Patch; e += blockDim.x) {
    const int k = k_begin + e / Patch, i = e % Patch;
    filter[e] = k < d.k && i < table.crs ? load_float(w, k * table.crs + i) : 0.0f;
  }
  __syncthreads();
  const int p = blockIdx.x * blockDim.x + threadIdx.x;
  if (p >= d.pixels) return;  // no barrier follows
  const int ow = p % d.ow, rest = p / d.ow, oh = rest % d.oh, n = rest / d.oh;
  const int ih0 = oh - d.pad_h, iw0 = ow - d.pad_w;
  const int x_base = n * xs.n + ih0 * xs.h + iw0 * xs.w;  // may be negative: read only where in bounds
  float patch[Patch];                                     // the pixel's inputs, zero outside the image and crs
#pragma unroll
  for (int i = 0; i < Patch; ++i) {
    float v = 0.0f;
    if (i < table.crs) {
      const int ih = ih0 + table.r[i], iw = iw0 + table.s[i];
      if (ih >= 0 && ih < d.h && iw >= 0 && iw < d.w) v = load_float(x, x_base + table.offset[i]);
    }
    patch[i] = v;
  }
  const int y_base = n * ys.n + oh * ys.h + ow * ys.w;
  const int k_count = min(chunk, d.k - k_begin);
  for (int kg = 0; kg < k_count; kg += KT) {
    float acc[KT];
#pragma unroll
    for (int j = 0; j < KT; ++j) acc[j] = 0.0f;
#pragma unroll
    for (int i4 = 0; i4 < Patch / 4; ++i4) {
#pragma unroll
      for (int j = 0; j < KT; ++j) {
        const float4 f = filter4[(kg + j) * (Patch / 4) + i4];
        acc[j] = fmaf(patch[4 * i4], f.x, acc[j]);
        acc[j] = fmaf(patch[4 * i4 + 1], f.y, acc[j]);
        acc[j] = fmaf(patch[4 * i4 + 2], f.z, acc[j]);
        acc[j] = fmaf(patch[4 * i4 + 3], f.w, acc[j]);
      }
    }
#pragma unroll
    for (int j = 0; j < KT; ++j) {
      const int k = k_begin + kg + j;
      if (k < d.k) {
        const int at = y_base + k * ys.c;
        float v = acc[j];
        if (epilogue) {
          if (z) v += load_float(z, at);
          v += load_float(bias, k);
          if (relu) v = fmaxf(v, 0.0f);
        }
        y[at] = T(v);
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Filter gradient, first stage: block (slice of pixels, channel chunk). Dynamic shared memory: the staged patches
// (kDirectStagePixels, Patch) and dy (kDirectStagePixels, chunk), both rows 16-byte aligned (Patch and chunk are
// multiples of 4). Thread t < items * replicas owns the tile (channels 4 kg.., entries 4 ig..) of replica t / items.
template <typename T, int Patch>
__global__ void __launch_bounds__(kDirectFilterThreads)
    direct_filter_partials_kernel(const T* __restrict__ x, const T* __restrict__ dy, float* __restrict__ partials,
                                  PatchTable table, Strides xs, Strides ys, Dims d, int slice_pixels, int chunk,
                                  int replicas, bool channels_last) {
  extern __shared__ float4 staged4[];
  float* patches = reinterpret_cast<float*>(staged4);    // (kDirectStagePixels, Patch)
  float* grads = patches + kDirectStagePixels * Patch;   // (kDirectStagePixels, chunk)
  __shared__ int pixel_x[kDirectStagePixels], pixel_y[kDirectStagePixels];  // x's top-left offset, y's offset
  __shared__ int pixel_ih[kDirectStagePixels], pixel_iw[kDirectStagePixels];  // top-left row, column; -2^30: none
  constexpr int kNone = -(1 << 30);
  const int tile_columns = Patch / 4, items = (chunk / 4) * tile_columns;
  const int item = threadIdx.x % items, replica = threadIdx.x / items;
  const int kg = item / tile_columns, ig = item % tile_columns;
  const int k_begin = blockIdx.y * chunk;
  const int slice_begin = blockIdx.x * slice_pixels, slice_end = min(d.pixels, slice_begin + slice_pixels);
  float acc[4][4] = {};
  for (int p0 = slice_begin; p0 < slice_end; p0 += kDirectStagePixels) {
    __syncthreads();  // the previous stage is consumed
    if (threadIdx.x < kDirectStagePixels) {
      const int p = p0 + threadIdx.x;
      if (p < slice_end) {
        const int ow = p % d.ow, rest = p / d.ow, oh = rest % d.oh, n = rest / d.oh;
        pixel_ih[threadIdx.x] = oh - d.pad_h, pixel_iw[threadIdx.x] = ow - d.pad_w;
        pixel_x[threadIdx.x] = n * xs.n + (oh - d.pad_h) * xs.h + (ow - d.pad_w) * xs.w;
        pixel_y[threadIdx.x] = n * ys.n + oh * ys.h + ow * ys.w;
      } else {
        pixel_ih[threadIdx.x] = kNone, pixel_iw[threadIdx.x] = kNone;
        pixel_x[threadIdx.x] = 0, pixel_y[threadIdx.x] = -1;
      }
    }
    __syncthreads();
    // Along memory: NHWC's patch entries and channels are (mostly) consecutive; NCHW's pixels are.
    for (int e = threadIdx.x; e < kDirectStagePixels * Patch; e += blockDim.x) {
      const int j = channels_last ? e / Patch : e % kDirectStagePixels;
      const int i = channels_last ? e % Patch : e / kDirectStagePixels;
      float v = 0.0f;
      if (i < table.crs) {
        const int ih = pixel_ih[j] + table.r[i], iw = pixel_iw[j] + table.s[i];
        if (ih >= 0 && ih < d.h && iw >= 0 && iw < d.w) v = load_float(x, pixel_x[j] + table.offset[i]);
      }
      patches[j * Patch + i] = v;
    }
    for (int e = threadIdx.x; e < kDirectStagePixels * chunk; e += blockDim.x) {
      const int j = channels_last ? e / chunk : e % kDirectStagePixels;
      const int c = channels_last ? e % chunk : e / kDirectStagePixels;
      const int k = k_begin + c;
      grads[j * chunk + c] = pixel_y[j] >= 0 && k < d.k ? load_float(dy, pixel_y[j] + k * ys.c) : 0.0f;
    }
    __syncthreads();
    if (replica < replicas) {
      for (int j = replica; j < kDirectStagePixels; j += replicas) {
        const float4 g = reinterpret_cast<const float4*>(grads + j * chunk)[kg];
        const float4 a = reinterpret_cast<const float4*>(patches + j * Patch)[ig];
        const float gv[4] = {g.x, g.y, g.z, g.w}, av[4] = {a.x, a.y, a.z, a.w};
#pragma unroll
        for (int u = 0; u < 4; ++u)
#pragma unroll
          for (int v = 0; v < 4; ++v) acc[u][v] = fmaf(gv[u], av[v], acc[u][v]);
      }
    }
  }
  if (replica >= replicas) return;
  const int row_width = gridDim.y * chunk * Patch;
  float* row = partials + std::size_t(blockIdx.x * replicas + replica) * row_width;
#pragma unroll
  for (int u = 0; u < 4; ++u)
#pragma unroll
    for (int v = 0; v < 4; ++v) row[(k_begin + kg * 4 + u) * Patch + ig * 4 + v] = acc[u][v];
}

// Second stage: block of 32 dw elements (lanes) x 8 warps; warp q adds rows q, q + 8, ... in order, then warp 0 adds
// the eight sums in order and writes dw rounded once to T.
constexpr int kReduceWarps = 8;

template <typename T>
__global__ void __launch_bounds__(32 * kReduceWarps)
    direct_filter_reduce_kernel(const float* __restrict__ partials, int rows, int row_width, int patch, int crs,
                                int elements, T* __restrict__ dw) {
  __shared__ float sums[kReduceWarps][32];
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  const int e = blockIdx.x * 32 + lane;
  float sum = 0.0f;
  if (e < elements) {
    const int column = (e / crs) * patch + e % crs;
    for (int q = warp; q < rows; q += kReduceWarps) sum += partials[std::size_t(q) * row_width + column];
  }
  sums[warp][lane] = sum;
  __syncthreads();
  if (warp == 0 && e < elements) {
    float total = 0.0f;
#pragma unroll
    for (int q = 0; q < kReduceWarps; ++q) total += sums[q][lane];
    dw[e] = T(total);
  }
}

// Calls f with std::integral_constant<int, patch> for a compiled patch width.
template <typename F>
void with_patch(int patch, F&& f) {
  switch (patch) {
    case 12: f(std::integral_constant<int, 12>{}); return;
    case 28: f(std::integral_constant<int, 28>{}); return;
    case 36: f(std::integral_constant<int, 36>{}); return;
    case 48: f(std::integral_constant<int, 48>{}); return;
    case 72: f(std::integral_constant<int, 72>{}); return;
  }
  ROSETTA_FAIL("direct convolution: no kernel for a patch of " << patch << " entries");
}

int filter_replicas(const DirectGeometry& g) {
  const int items = (g.chunk / 4) * (g.patch / 4);
  return std::max(1, kDirectFilterThreads / items);
}

int slices_of(const DirectGeometry& g, int slice_pixels) { return (g.pixels + slice_pixels - 1) / slice_pixels; }

}  // namespace

DirectGeometry direct_geometry(const ConvShape& s) {
  DirectGeometry g;
  g.crs = int(s.c * s.r * s.s);
  ROSETTA_CHECK(g.crs <= kDirectMaxPatch, "direct convolution of C*R*S " << g.crs << " > " << kDirectMaxPatch << ": "
                                                                         << s.str());
  for (int p : kDirectPatches) {
    if (p >= g.crs) {
      g.patch = p;
      break;
    }
  }
  g.chunk = std::min(int((s.k + 7) / 8 * 8), max_chunk(g.patch));
  g.chunks = int((s.k + g.chunk - 1) / g.chunk);
  g.pixels = int(s.n * s.out_h() * s.out_w());
  return g;
}

void run_direct_forward(const Context& ctx, const ConvShape& shape, Layout layout, bool bf16_data,
                        int channels_per_thread, const void* x, const void* w, const void* bias, const void* z,
                        bool relu, void* y) {
  const DirectGeometry g = direct_geometry(shape);
  const bool epilogue = bias != nullptr;
  ROSETTA_CHECK(epilogue || (z == nullptr && !relu),
                "direct convolution forward: a residual or ReLU without the bias epilogue: " << shape.str());
  ROSETTA_CHECK(channels_per_thread == 4 || channels_per_thread == 8,
                "direct convolution forward: " << channels_per_thread << " channels per thread (4 or 8): "
                                               << shape.str());
  ROSETTA_CHECK(g.chunks <= 65535, "direct convolution forward: " << g.chunks << " channel chunks: " << shape.str());
  const Strides xs = strides_of(layout, shape.c, shape.h, shape.w);
  const Strides ys = strides_of(layout, shape.k, shape.out_h(), shape.out_w());
  const PatchTable table = patch_table(shape, layout, xs);
  const Dims d = dims_of(shape);
  const dim3 grid((g.pixels + kDirectForwardThreads - 1) / kDirectForwardThreads, g.chunks);
  const std::size_t shared = std::size_t(g.chunk) * g.patch * sizeof(float);
  const auto launch = [&](auto type, auto patch) {
    using T = decltype(type);
    constexpr int P = decltype(patch)::value;
    const auto* xt = static_cast<const T*>(x);
    const auto* wt = static_cast<const T*>(w);
    const auto* bt = static_cast<const T*>(bias);
    const auto* zt = static_cast<const T*>(z);
    auto* yt = static_cast<T*>(y);
    if (channels_per_thread == 4)
      direct_forward_kernel<T, P, 4><<<grid, kDirectForwardThreads, shared, ctx.stream()>>>(
          xt, wt, bt, zt, yt, table, xs, ys, d, g.chunk, epilogue, relu);
    else
      direct_forward_kernel<T, P, 8><<<grid, kDirectForwardThreads, shared, ctx.stream()>>>(
          xt, wt, bt, zt, yt, table, xs, ys, d, g.chunk, epilogue, relu);
  };
  with_patch(g.patch, [&](auto patch) {
    if (bf16_data)
      launch(bf16{}, patch);
    else
      launch(float{}, patch);
  });
  ROSETTA_LAUNCH_CHECK("direct_forward_kernel " << shape.str() << " patch " << g.patch << " chunk " << g.chunk
                                                << " channels/thread " << channels_per_thread);
}

std::size_t direct_backward_filter_workspace(const ConvShape& shape, int slice_pixels) {
  const DirectGeometry g = direct_geometry(shape);
  const std::size_t rows = std::size_t(slices_of(g, slice_pixels)) * filter_replicas(g);
  return rows * std::size_t(g.chunks) * g.chunk * g.patch * sizeof(float);
}

void run_direct_backward_filter(const Context& ctx, const ConvShape& shape, Layout layout, bool bf16_data,
                                int slice_pixels, const void* x, const void* dy, void* dw, void* workspace) {
  const DirectGeometry g = direct_geometry(shape);
  ROSETTA_CHECK(slice_pixels > 0 && slice_pixels % kDirectStagePixels == 0,
                "direct convolution filter gradient: slices of " << slice_pixels << " pixels: " << shape.str());
  ROSETTA_CHECK(workspace != nullptr, "direct convolution filter gradient without a workspace: " << shape.str());
  const int slices = slices_of(g, slice_pixels), replicas = filter_replicas(g);
  ROSETTA_CHECK(g.chunks <= 65535, "direct convolution filter gradient: " << g.chunks << " channel chunks: "
                                                                          << shape.str());
  const Strides xs = strides_of(layout, shape.c, shape.h, shape.w);
  const Strides ys = strides_of(layout, shape.k, shape.out_h(), shape.out_w());
  const PatchTable table = patch_table(shape, layout, xs);
  const Dims d = dims_of(shape);
  auto* partials = static_cast<float*>(workspace);
  const int rows = slices * replicas, row_width = g.chunks * g.chunk * g.patch, elements = int(shape.k) * g.crs;
  const std::size_t shared = std::size_t(kDirectStagePixels) * (g.patch + g.chunk) * sizeof(float);
  const dim3 grid(slices, g.chunks);
  const auto launch = [&](auto type, auto patch) {
    using T = decltype(type);
    constexpr int P = decltype(patch)::value;
    direct_filter_partials_kernel<T, P><<<grid, kDirectFilterThreads, shared, ctx.stream()>>>(
        static_cast<const T*>(x), static_cast<const T*>(dy), partials, table, xs, ys, d, slice_pixels, g.chunk,
        replicas, layout == Layout::nhwc);
    ROSETTA_LAUNCH_CHECK("direct_filter_partials_kernel " << shape.str() << " patch " << P << " chunk " << g.chunk
                                                          << " slices " << slices << " replicas " << replicas);
    direct_filter_reduce_kernel<T><<<(elements + 31) / 32, 32 * kReduceWarps, 0, ctx.stream()>>>(
        partials, rows, row_width, g.patch, g.crs, elements, static_cast<T*>(dw));
    ROSETTA_LAUNCH_CHECK("direct_filter_reduce_kernel " << shape.str() << " rows " << rows << " elements "
                                                        << elements);
  };
  with_patch(g.patch, [&](auto patch) {
    if (bf16_data)
      launch(bf16{}, patch);
    else
      launch(float{}, patch);
  });
}

}  // namespace rosetta::kernels::cuda
