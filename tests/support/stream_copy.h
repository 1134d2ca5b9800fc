// Host-to-device copies ordered on a context's main stream, for CUDA tests. The main stream is created
// non-blocking, so a plain synchronous cudaMemcpy (on the legacy default stream) is not ordered with the
// kernels launched on it: from pageable memory it may return before its DMA has landed. Reading results back
// is safe with Tensor::to / to_vector after ctx.synchronize().
#pragma once
#include <vector>

#include "runtime/context.h"
#include "runtime/tensor.h"

namespace rosetta::testing {

inline Tensor upload(const Tensor& host, const Context& ctx) {
  Tensor device = Tensor::empty(host.shape(), host.dtype(), ctx.device());
  device.copy_from(host, ctx.stream());
  return device;
}

inline Tensor upload(const std::vector<float>& values, const Context& ctx) {
  return upload(Tensor::from_vector({static_cast<std::int64_t>(values.size())}, values), ctx);
}

}  // namespace rosetta::testing
