// The persistent GRU (GruImplementation::persistent): one kernel launch runs all T steps of the forward's
// recurrence, one more all T steps of the backward's, after the idea of Diamos et al., "Persistent RNNs" (2016):
// the recurrent weights stay on chip for the whole sequence instead of being read from memory at every step.
//
//   forward   ax (TN, 3H) = x W_ih^T                              one GEMM for all steps (cuBLAS)
//             gru_persistent_forward: for t = 0..T-1               one launch
//               ah = W_hh h[t-1] (partial sums over column slices, registers x shared memory), the cell
//               (reference::gru_cell), h[t] and the reserve (r, z, n, ah_n) to memory, h[t] to shared memory
//   backward  gru_persistent_backward: for t = T-1..0               one launch
//               the cell's backward (reference::gru_cell_backward) on dh[t] + the carry, d(ax)[t], d(ah)[t] to
//               memory, then carry = dh z + W_hh^T d(ah)[t]
//             dx, dW_ih, dW_hh and the bias gradients: GEMMs and column sums over all steps (gru_backward_gemms,
//             shared with the naive GRU)
//
// Layout (kernels/gru_persistent_layout.h): each block owns whole sequences, so the only barriers are the block's
// own (two a step): no grid-wide synchronisation, no atomics. Thread (g, s) holds an R x C tile of the matrix in
// registers (W_hh forward, W_hh^T backward; zeros past its edges), multiplies it with the slice s of the vector in
// shared memory (h forward, d(ah) backward; zero past the edge), and writes its R partial sums to shared memory;
// thread (q, k) of the block's sequence q and unit k adds the slices' partials in slice order and runs the cell.
// Every sum has one fixed order, so the results are the same bits run to run. Inputs of the next step that do not
// depend on the recurrence (the input projection forward; dh, the reserve and h[t-1] backward) are loaded one step
// ahead, so their memory latency overlaps the step before.
//
// Scratch: the forward's ax (TN, 3H), the backward's d(ax) and d(ah) (TN, 3H each), from ctx.workspace, grown at plan
// time; the reserve (TN, 4H) is the caller's (reference::reserve_elements). Plans refuse shapes whose W_hh does not
// fit one block's registers (the layout's refusal names the shape) or whose kernel the compiler could not fit in the
// variant's launch bound.
#include <algorithm>
#include <cstdint>
#include <iterator>

#include "kernels/cuda/gru_state.h"
#include "kernels/gemm.h"
#include "kernels/gru.h"
#include "kernels/reference/gru.h"
#include "runtime/cuda_check.h"
#include "runtime/workspace.h"

namespace rosetta::kernels::cuda {
namespace {

using reference::kReserveAhN;
using reference::kReserveN;
using reference::kReserveR;
using reference::kReserveZ;

// What a persistent kernel needs to know of the shape and of its block's share.
struct PersistentShape {
  int t, n, h;              // steps, batch, hidden size
  int slices;               // column slices of the matrix the kernel holds (C columns each)
  int sequences_per_block;  // S
};

// The R x C tile at tile row g, slice s of a (rows, cols) matrix, zero past its edges: read from `matrix` stored
// row-major as (rows, cols), or with `transposed` as its transpose (cols, rows), element [r][c] at matrix[c rows + r].
template <int R, int C>
__device__ void load_tile(float (&w)[R][C], const float* __restrict__ matrix, int rows, int cols, int g, int s,
                          bool transposed, bool holds) {
#pragma unroll
  for (int i = 0; i < R; ++i)
#pragma unroll
    for (int j = 0; j < C; ++j) {
      const int r = g * R + i, c = s * C + j;
      const bool inside = holds && r < rows && c < cols;
      w[i][j] = inside ? matrix[transposed ? c * rows + r : r * cols + c] : 0.0f;
    }
}

// The tile times slice s of `vector` (C floats at vector + s C, 16-byte aligned): R partial sums, each one fma chain
// in column order.
template <int R, int C>
__device__ void tile_times(const float (&w)[R][C], const float* vector_slice, float (&sum)[R]) {
  static_assert(C % 4 == 0, "slices are read as float4");
  const float4* v4 = reinterpret_cast<const float4*>(vector_slice);
#pragma unroll
  for (int i = 0; i < R; ++i) sum[i] = 0.0f;
#pragma unroll
  for (int j4 = 0; j4 < C / 4; ++j4) {
    const float4 v = v4[j4];
#pragma unroll
    for (int i = 0; i < R; ++i) {
      sum[i] = fmaf(w[i][4 * j4 + 0], v.x, sum[i]);
      sum[i] = fmaf(w[i][4 * j4 + 1], v.y, sum[i]);
      sum[i] = fmaf(w[i][4 * j4 + 2], v.z, sum[i]);
      sum[i] = fmaf(w[i][4 * j4 + 3], v.w, sum[i]);
    }
  }
}

// The tile (row g, slice s) times slice s of each of the block's `sequences` vectors (`padded` floats apart), its R
// partial sums to partial[(sq slices + s) outputs + g R + i] for the rows below `outputs`.
template <int R, int C>
__device__ void tile_partials(const float (&w)[R][C], const float* vectors, int padded, int sequences, int slices,
                              int g, int s, int outputs, float* partial) {
  for (int sq = 0; sq < sequences; ++sq) {
    float sum[R];
    tile_times(w, vectors + sq * padded + s * C, sum);
    float* out = partial + (sq * slices + s) * outputs;
#pragma unroll
    for (int i = 0; i < R; ++i)
      if (g * R + i < outputs) out[g * R + i] = sum[i];
  }
}

// Forward, one block per group of S sequences. ax (T, N, 3H): x W_ih^T without b_ih. Writes h (T, N, H) and
// reserve (T, N, 4H). Shared memory: h_s (S, slices C): h[t-1] of each sequence, zero past H; partial
// (S, slices, 3H).
template <int R, int C, int MaxThreads>
__global__ void __launch_bounds__(MaxThreads, 1)
    gru_persistent_forward_kernel(PersistentShape p, const float* __restrict__ ax, const float* __restrict__ w_hh,
                                  const float* __restrict__ b_ih, const float* __restrict__ b_hh,
                                  float* __restrict__ h, float* __restrict__ reserve) {
  extern __shared__ float4 shared_memory[];  // float4: 16-byte aligned slices
  const int H = p.h, G = 3 * p.h, padded = p.slices * C;
  float* h_s = reinterpret_cast<float*>(shared_memory);
  float* partial = h_s + p.sequences_per_block * padded;
  const int tid = static_cast<int>(threadIdx.x);
  const int first = static_cast<int>(blockIdx.x) * p.sequences_per_block;
  const int sequences = min(p.sequences_per_block, p.n - first);  // this block's: first .. first + sequences - 1

  const bool holds = tid < (G + R - 1) / R * p.slices;
  const int g = tid / p.slices, s = tid % p.slices;
  float w[R][C];
  load_tile(w, w_hh, G, H, g, s, false, holds);

  const int q = tid / H, k = tid % H;  // the cell's sequence in the block and unit
  const bool cell = tid < sequences * H;
  const std::int64_t n = first + q;
  for (int e = tid; e < p.sequences_per_block * padded; e += static_cast<int>(blockDim.x)) h_s[e] = 0.0f;
  float h_prev = 0.0f;
  // ax + b_ih of the step the cell computes next (the same sum the CPU twin forms, formed a step early).
  float next_r = 0.0f, next_z = 0.0f, next_n = 0.0f;
  if (cell) {
    const float* a = ax + n * G;
    next_r = a[k] + b_ih[k], next_z = a[H + k] + b_ih[H + k], next_n = a[2 * H + k] + b_ih[2 * H + k];
  }
  __syncthreads();

  for (int t = 0; t < p.t; ++t) {
    // ah = W_hh h[t-1]; at t = 0, h[-1] = 0
    if (t > 0 && holds) tile_partials(w, h_s, padded, sequences, p.slices, g, s, G, partial);
    __syncthreads();
    if (cell) {
      float ah_r = 0.0f, ah_z = 0.0f, ah_n = 0.0f;
      if (t > 0) {
        const float* part = partial + q * p.slices * G;
        for (int j = 0; j < p.slices; ++j, part += G) ah_r += part[k], ah_z += part[H + k], ah_n += part[2 * H + k];
      }
      const float a_r = next_r, a_z = next_z, a_n = next_n;
      if (t + 1 < p.t) {
        const float* a = ax + ((t + 1) * std::int64_t(p.n) + n) * G;
        next_r = a[k] + b_ih[k], next_z = a[H + k] + b_ih[H + k], next_n = a[2 * H + k] + b_ih[2 * H + k];
      }
      const reference::GruCell<float> c = reference::gru_cell(a_r, a_z, a_n, ah_r + b_hh[k], ah_z + b_hh[H + k],
                                                              ah_n + b_hh[2 * H + k], h_prev);
      const std::int64_t row = t * std::int64_t(p.n) + n;
      h[row * H + k] = c.h;
      float* kept = reserve + row * 4 * H;
      reference::keep_for_backward(kept, H, k, c);
      h_s[q * padded + k] = c.h;
      h_prev = c.h;
    }
    __syncthreads();
  }
}

// Backward, one block per group of S sequences. dh (T, N, H): the loss gradient of every output; h, reserve of the
// forward. Writes d(ax), d(ah) (T, N, 3H). Shared memory: dah_s (S, slices C): d(ah)[t] of each sequence, zero
// past 3H; partial (S, slices, H).
template <int R, int C, int MaxThreads>
__global__ void __launch_bounds__(MaxThreads, 1)
    gru_persistent_backward_kernel(PersistentShape p, const float* __restrict__ w_hh, const float* __restrict__ h,
                                   const float* __restrict__ reserve, const float* __restrict__ dh,
                                   float* __restrict__ dax, float* __restrict__ dah) {
  extern __shared__ float4 shared_memory[];
  const int H = p.h, G = 3 * p.h, padded = p.slices * C;
  float* dah_s = reinterpret_cast<float*>(shared_memory);
  float* partial = dah_s + p.sequences_per_block * padded;
  const int tid = static_cast<int>(threadIdx.x);
  const int first = static_cast<int>(blockIdx.x) * p.sequences_per_block;
  const int sequences = min(p.sequences_per_block, p.n - first);

  // W_hh^T (H, 3H): tile row g covers units g R.., slice s gate rows s C..
  const bool holds = tid < (H + R - 1) / R * p.slices;
  const int g = tid / p.slices, s = tid % p.slices;
  float w[R][C];
  load_tile(w, w_hh, H, G, g, s, true, holds);

  const int q = tid / H, k = tid % H;
  const bool cell = tid < sequences * H;
  const std::int64_t n = first + q;
  for (int e = tid; e < p.sequences_per_block * padded; e += static_cast<int>(blockDim.x)) dah_s[e] = 0.0f;
  // What the cell reads at the step it computes next: dh, r, z, n, ah_n and h[t-1] (0 at t = 0).
  struct StepInputs {
    float dh, r, z, n, ah_n, h_prev;
  };
  const auto load = [&](int t) {
    const std::int64_t row = t * std::int64_t(p.n) + n;
    const float* kept = reserve + row * 4 * H;
    return StepInputs{dh[row * H + k],         kept[kReserveR * H + k],  kept[kReserveZ * H + k],
                      kept[kReserveN * H + k], kept[kReserveAhN * H + k], t > 0 ? h[(row - p.n) * H + k] : 0.0f};
  };
  StepInputs next{};
  if (cell) next = load(p.t - 1);
  float carry = 0.0f;  // dL/dh[t] sent back from step t + 1
  __syncthreads();

  for (int t = p.t - 1; t >= 0; --t) {
    float direct = 0.0f;  // dh z, the part of dL/dh[t-1] that bypasses W_hh
    if (cell) {
      const StepInputs in = next;
      if (t > 0) next = load(t - 1);
      const reference::GruCellGrad<float> d =
          reference::gru_cell_backward(in.dh + carry, in.r, in.z, in.n, in.ah_n, in.h_prev);
      const std::int64_t row = t * std::int64_t(p.n) + n;
      float* dax_row = dax + row * G;
      float* dah_row = dah + row * G;
      dax_row[k] = dah_row[k] = d.da_r;
      dax_row[H + k] = dah_row[H + k] = d.da_z;
      dax_row[2 * H + k] = d.da_n;
      dah_row[2 * H + k] = d.dah_n;
      float* mine = dah_s + q * padded;
      mine[k] = d.da_r, mine[H + k] = d.da_z, mine[2 * H + k] = d.dah_n;
      direct = d.dh_prev;
    }
    if (t == 0) break;  // nothing reaches h[-1]
    __syncthreads();
    if (holds) tile_partials(w, dah_s, padded, sequences, p.slices, g, s, H, partial);  // W_hh^T d(ah)[t]
    __syncthreads();
    if (cell) {
      float sum = direct;
      const float* part = partial + q * p.slices * H;
      for (int j = 0; j < p.slices; ++j, part += H) sum += part[k];
      carry = sum;
    }
  }
}

using ForwardKernel = void (*)(PersistentShape, const float*, const float*, const float*, const float*, float*,
                               float*);
using BackwardKernel = void (*)(PersistentShape, const float*, const float*, const float*, const float*, float*,
                                float*);

template <int V>
ForwardKernel forward_kernel() {
  constexpr GruPersistentVariant tile = kGruPersistentVariants[V];
  return gru_persistent_forward_kernel<tile.rows_per_thread, tile.columns_per_thread, tile.max_threads>;
}
template <int V>
BackwardKernel backward_kernel() {
  constexpr GruPersistentVariant tile = kGruPersistentVariants[V];
  return gru_persistent_backward_kernel<tile.rows_per_thread, tile.columns_per_thread, tile.max_threads>;
}

// One instantiation per variant of kernels/gru_persistent_layout.h, by index.
static_assert(std::size(kGruPersistentVariants) == 2, "instantiate every variant below");
const ForwardKernel kForwardKernels[] = {forward_kernel<0>(), forward_kernel<1>()};
const BackwardKernel kBackwardKernels[] = {backward_kernel<0>(), backward_kernel<1>()};

// The two passes' scratch.
struct ForwardScratch {
  float* ax;  // (TN, 3H)
};
struct BackwardScratch {
  float* dax;  // (TN, 3H)
  float* dah;  // (TN, 3H)
};
ForwardScratch forward_scratch(Carver& c, const GruShape& s) { return {c.take<float>(s.t * s.n * 3 * s.h)}; }
BackwardScratch backward_scratch(Carver& c, const GruShape& s) {
  return {c.take<float>(s.t * s.n * 3 * s.h), c.take<float>(s.t * s.n * 3 * s.h)};
}

const GruPersistentLayout& layout_of(const GruPlan& plan, const char* pass) {
  ROSETTA_CHECK(plan.persistent, pass << " of the persistent GRU with a plan made without it (" << plan.shape.str()
                                      << ")");
  return *plan.persistent;
}

PersistentShape shape_for(const GruPlan& plan, int slices) {
  const GruShape& s = plan.shape;
  return {static_cast<int>(s.t), static_cast<int>(s.n), static_cast<int>(s.h), slices,
          plan.persistent->sequences_per_block};
}

// Refuses a kernel the compiler could not fit into `threads` (its registers allow fewer), and lets it take `bytes`
// of dynamic shared memory: above the default 48 KB a kernel must opt in, and the attribute is set to the device's
// whole opt-in limit (not to this plan's need), so a later plan of a smaller shape never lowers it under an earlier
// plan's launch.
void prepare(const void* kernel, int threads, std::size_t bytes, int device_limit, const char* pass,
             const GruShape& shape) {
  cudaFuncAttributes attributes{};
  ROSETTA_CUDA_CHECK(cudaFuncGetAttributes(&attributes, kernel));
  ROSETTA_CHECK(attributes.maxThreadsPerBlock >= threads,
                "the persistent GRU's " << pass << " kernel runs at most " << attributes.maxThreadsPerBlock
                                        << " threads a block (" << attributes.numRegs << " registers each), "
                                        << threads << " needed for " << shape.str());
  if (bytes > 48 * 1024)
    ROSETTA_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, device_limit));
}

}  // namespace

void plan_persistent_gru(const Context& ctx, GruPlan& plan) {
  const GruShape& s = plan.shape;
  int device = 0, sm_count = 0, shared_limit = 0;
  ROSETTA_CUDA_CHECK(cudaGetDevice(&device));
  ROSETTA_CUDA_CHECK(cudaDeviceGetAttribute(&sm_count, cudaDevAttrMultiProcessorCount, device));
  ROSETTA_CUDA_CHECK(cudaDeviceGetAttribute(&shared_limit, cudaDevAttrMaxSharedMemoryPerBlockOptin, device));
  std::string refusal;
  const std::optional<GruPersistentLayout> layout =
      plan_gru_persistent_layout(s, GruPersistentDevice{sm_count, static_cast<std::size_t>(shared_limit)}, &refusal);
  ROSETTA_CHECK(layout, refusal);
  prepare(reinterpret_cast<const void*>(kForwardKernels[layout->variant]), layout->forward_threads,
          layout->forward_shared_bytes, shared_limit, "forward", s);
  prepare(reinterpret_cast<const void*>(kBackwardKernels[layout->variant]), layout->backward_threads,
          layout->backward_shared_bytes, shared_limit, "backward", s);
  plan.persistent = layout;
  plan.reserve_elements = reference::reserve_elements(s);  // r, z, n and W_hn h + b_hn of every (t, n)
  ctx.workspace(std::max(workspace_bytes([&](Carver& c) { return forward_scratch(c, s); }),
                         workspace_bytes([&](Carver& c) { return backward_scratch(c, s); })));
}

void persistent_gru_forward(const Context& ctx, const GruPlan& plan, const float* x, const GruWeights& w, float* h,
                            float* reserve) {
  const GruPersistentLayout& layout = layout_of(plan, "forward");
  const GruShape& s = plan.shape;
  const ForwardScratch scratch = carve_workspace(ctx, [&](Carver& c) { return forward_scratch(c, s); });
  gemm(ctx, false, true, s.t * s.n, 3 * s.h, s.i, 1.0f, x, w.w_ih, 0.0f, scratch.ax, plan.options.precision);
  kForwardKernels[layout.variant]<<<layout.blocks, layout.forward_threads, layout.forward_shared_bytes,
                                    ctx.stream()>>>(shape_for(plan, layout.forward_slices), scratch.ax, w.w_hh,
                                                    w.b_ih, w.b_hh, h, reserve);
  ROSETTA_LAUNCH_CHECK("gru_persistent_forward " << s.str() << ", " << layout.blocks << " blocks of "
                                                 << layout.forward_threads << " threads");
}

void persistent_gru_backward(const Context& ctx, const GruPlan& plan, const float* x, const GruWeights& w,
                             const float* h, const float* reserve, const float* dh, float* dx,
                             const GruGradients& grads) {
  const GruPersistentLayout& layout = layout_of(plan, "backward");
  const GruShape& s = plan.shape;
  const BackwardScratch scratch = carve_workspace(ctx, [&](Carver& c) { return backward_scratch(c, s); });
  kBackwardKernels[layout.variant]<<<layout.blocks, layout.backward_threads, layout.backward_shared_bytes,
                                     ctx.stream()>>>(shape_for(plan, layout.backward_slices), w.w_hh, h, reserve, dh,
                                                     scratch.dax, scratch.dah);
  ROSETTA_LAUNCH_CHECK("gru_persistent_backward " << s.str() << ", " << layout.blocks << " blocks of "
                                                  << layout.backward_threads << " threads");
  gru_backward_gemms(ctx, plan, x, w, h, scratch.dax, scratch.dah, dx, grads);
}

}  // namespace rosetta::kernels::cuda
