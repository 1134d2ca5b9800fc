// CUDA twin of kernels/loss.inc, on float or bf16 logits (read as float; a bf16 gradient rounded once).
//
// softmax_cross_entropy: ONE block of kLossWarps warps does the whole batch (batches are 32-64 rows of 2-1000
// classes). Warp w takes rows w, w + kLossWarps, ...: a warp-wide max, a warp-wide sum of exp(x - max), the
// row's gradient, and the row's loss added (in double, in row order) to the warp's partial. Thread 0 then adds
// the kLossWarps partials in warp order. Every reduction has a fixed shape, so the loss is bit-identical run to
// run, with no atomics. A label outside [0, k) cannot throw on the device: its row's loss and gradient are NaN,
// so the batch loss is NaN.
// count_correct: one warp per row; the lanes' arg-max candidates are combined with reference::argmax_prefers,
// a total order, so the result is the CPU twin's left-to-right scan; one integer atomicAdd per correct row.
#include <cmath>

#include "kernels/cuda/launch.h"
#include "kernels/loss.h"
#include "kernels/reference/loss.h"
#include "runtime/cuda_check.h"

namespace rosetta::kernels::cuda {
namespace {

constexpr int kWarp = 32;
constexpr int kLossWarps = 32;
constexpr int kCountWarps = 8;
constexpr unsigned kFullMask = 0xffffffffu;

// Butterfly reductions: every lane ends with the same value (IEEE max and + are commutative).
__device__ float warp_max(float value) {
  for (int offset = kWarp / 2; offset > 0; offset /= 2) value = fmaxf(value, __shfl_xor_sync(kFullMask, value, offset));
  return value;
}

__device__ float warp_sum(float value) {
  for (int offset = kWarp / 2; offset > 0; offset /= 2) value += __shfl_xor_sync(kFullMask, value, offset);
  return value;
}

// logits, dlogits (n, k); labels (n); loss (1). Launched as one block of kLossWarps * kWarp threads. X: the logits'
// type, G: the gradient's (float or bf16: computed in float, rounded once).
template <typename X, typename G>
__global__ void __launch_bounds__(kLossWarps * kWarp)
    softmax_cross_entropy_kernel(const X* logits, const std::int32_t* labels, float* loss, G* dlogits,
                                 std::int64_t n, std::int64_t k, std::int64_t mean_over) {
  __shared__ double warp_loss[kLossWarps];
  const int warp = threadIdx.x / kWarp, lane = threadIdx.x % kWarp;
  const float inv_rows = 1.0f / static_cast<float>(mean_over);
  double partial = 0;  // this warp's rows, in row order (lane 0's copy is the one used)
  for (std::int64_t row = warp; row < n; row += kLossWarps) {
    const X* x = logits + row * k;  // (k)
    G* dx = dlogits + row * k;      // (k)
    float row_max = -INFINITY;
    for (std::int64_t j = lane; j < k; j += kWarp) row_max = fmaxf(row_max, float(x[j]));
    row_max = warp_max(row_max);
    float sum = 0;
    for (std::int64_t j = lane; j < k; j += kWarp) sum += expf(float(x[j]) - row_max);
    sum = warp_sum(sum);
    const std::int32_t label = labels[row];
    const bool valid = label >= 0 && label < k;
    for (std::int64_t j = lane; j < k; j += kWarp) {
      const float probability = expf(float(x[j]) - row_max) / sum;
      dx[j] = G(valid ? (probability - (j == label ? 1.0f : 0.0f)) * inv_rows : NAN);
    }
    partial += valid ? static_cast<double>(row_max + logf(sum) - float(x[label])) : static_cast<double>(NAN);
  }
  if (lane == 0) warp_loss[warp] = partial;
  __syncthreads();
  if (threadIdx.x == 0) {
    double total = 0;
    for (int w = 0; w < kLossWarps; ++w) total += warp_loss[w];
    loss[0] = static_cast<float>(total / static_cast<double>(mean_over));
  }
}

// logits (n, k); labels (n); correct (1). One warp per row, kCountWarps rows per block.
template <typename X>
__global__ void __launch_bounds__(kCountWarps * kWarp)
    count_correct_kernel(const X* logits, const std::int32_t* labels, std::int32_t* correct, std::int64_t n,
                         std::int64_t k) {
  const std::int64_t row = static_cast<std::int64_t>(blockIdx.x) * kCountWarps + threadIdx.x / kWarp;
  const int lane = threadIdx.x % kWarp;
  if (row >= n) return;  // whole warps leave together: n rows map to whole warps
  const X* x = logits + row * k;  // (k)
  float best_value = 0;
  std::int64_t best_index = -1;  // -1: this lane has seen no element yet
  for (std::int64_t j = lane; j < k; j += kWarp) {
    if (best_index < 0 || reference::argmax_prefers(float(x[j]), j, best_value, best_index)) {
      best_value = float(x[j]);
      best_index = j;
    }
  }
  for (int offset = kWarp / 2; offset > 0; offset /= 2) {
    const float other_value = __shfl_xor_sync(kFullMask, best_value, offset);
    const std::int64_t other_index = __shfl_xor_sync(kFullMask, best_index, offset);
    if (other_index >= 0 &&
        (best_index < 0 || reference::argmax_prefers(other_value, other_index, best_value, best_index))) {
      best_value = other_value;
      best_index = other_index;
    }
  }
  if (lane == 0 && best_index == labels[row]) atomicAdd(correct, 1);
}

template <typename X, typename G>
void run_loss(const Context& ctx, const X* logits, const std::int32_t* labels, float* loss, G* dlogits, std::int64_t n,
          std::int64_t k, std::int64_t mean_over) {
  ROSETTA_CHECK(n > 0 && k > 0, "softmax_cross_entropy needs a non-empty batch, got logits (" << n << ", " << k << ")");
  ROSETTA_CHECK(mean_over >= n, "softmax_cross_entropy: a mean over " << mean_over << " rows of which " << n
                                                                      << " are here");
  softmax_cross_entropy_kernel<X, G><<<1, kLossWarps * kWarp, 0, ctx.stream()>>>(logits, labels, loss, dlogits, n, k,
                                                                                 mean_over);
  ROSETTA_LAUNCH_CHECK("softmax_cross_entropy logits (" << n << ", " << k << ") mean over " << mean_over);
}

template <typename X>
void run_count(const Context& ctx, const X* logits, const std::int32_t* labels, std::int32_t* correct, std::int64_t n,
           std::int64_t k) {
  if (n == 0 || k == 0) return;
  const std::int64_t blocks = (n + kCountWarps - 1) / kCountWarps;
  ROSETTA_CHECK(blocks <= INT32_MAX, "count_correct: too many rows, logits (" << n << ", " << k << ")");
  count_correct_kernel<X><<<static_cast<unsigned>(blocks), kCountWarps * kWarp, 0, ctx.stream()>>>(logits, labels,
                                                                                                  correct, n, k);
  ROSETTA_LAUNCH_CHECK("count_correct logits (" << n << ", " << k << ")");
}

}  // namespace

void softmax_cross_entropy(const Context& ctx, const float* logits, const std::int32_t* labels, float* loss,
                           float* dlogits, std::int64_t n, std::int64_t k, std::int64_t mean_over) {
  run_loss(ctx, logits, labels, loss, dlogits, n, k, mean_over);
}

void softmax_cross_entropy(const Context& ctx, const bf16* logits, const std::int32_t* labels, float* loss,
                           bf16* dlogits, std::int64_t n, std::int64_t k, std::int64_t mean_over) {
  run_loss(ctx, logits, labels, loss, dlogits, n, k, mean_over);
}

void count_correct(const Context& ctx, const float* logits, const std::int32_t* labels, std::int32_t* correct,
                   std::int64_t n, std::int64_t k) {
  run_count(ctx, logits, labels, correct, n, k);
}

void count_correct(const Context& ctx, const bf16* logits, const std::int32_t* labels, std::int32_t* correct,
                   std::int64_t n, std::int64_t k) {
  run_count(ctx, logits, labels, correct, n, k);
}

}  // namespace rosetta::kernels::cuda
