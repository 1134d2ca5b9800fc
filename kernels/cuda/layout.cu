// CUDA twin of the layout transposes (kernels/layout.inc): one thread per output element, grid-stride, so the
// writes are coalesced and the reads strided (a one-off transpose of the input batch, not a hot loop).
#include "kernels/cuda/launch.h"
#include "kernels/layout.h"
#include "runtime/cuda_check.h"

namespace rosetta::kernels::cuda {
namespace {

// y (n, hw, c) from x (n, c, hw).
__global__ void nchw_to_nhwc_kernel(const float* x, float* y, std::int64_t c, std::int64_t hw, std::int64_t total) {
  for (std::int64_t out = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; out < total;
       out += std::int64_t(blockDim.x) * gridDim.x) {
    const std::int64_t ch = out % c, i = out / c % hw, image = out / (c * hw);
    y[out] = x[(image * c + ch) * hw + i];
  }
}

// y (n, c, hw) from x (n, hw, c).
__global__ void nhwc_to_nchw_kernel(const float* x, float* y, std::int64_t c, std::int64_t hw, std::int64_t total) {
  for (std::int64_t out = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; out < total;
       out += std::int64_t(blockDim.x) * gridDim.x) {
    const std::int64_t i = out % hw, ch = out / hw % c, image = out / (c * hw);
    y[out] = x[(image * hw + i) * c + ch];
  }
}

}  // namespace

void nchw_to_nhwc(const Context& ctx, const float* x, float* y, std::int64_t n, std::int64_t c, std::int64_t hw) {
  ROSETTA_CHECK(n >= 0 && c >= 0 && hw >= 0, "nchw_to_nhwc of (" << n << ", " << c << ", " << hw << ")");
  const std::int64_t total = n * c * hw;
  if (total == 0) return;
  nchw_to_nhwc_kernel<<<grid_for(total), kThreads, 0, ctx.stream()>>>(x, y, c, hw, total);
  ROSETTA_LAUNCH_CHECK("nchw_to_nhwc (" << n << ", " << c << ", " << hw << ")");
}

void nhwc_to_nchw(const Context& ctx, const float* x, float* y, std::int64_t n, std::int64_t c, std::int64_t hw) {
  ROSETTA_CHECK(n >= 0 && c >= 0 && hw >= 0, "nhwc_to_nchw of (" << n << ", " << c << ", " << hw << ")");
  const std::int64_t total = n * c * hw;
  if (total == 0) return;
  nhwc_to_nchw_kernel<<<grid_for(total), kThreads, 0, ctx.stream()>>>(x, y, c, hw, total);
  ROSETTA_LAUNCH_CHECK("nhwc_to_nchw (" << n << ", " << c << ", " << hw << ")");
}

}  // namespace rosetta::kernels::cuda
