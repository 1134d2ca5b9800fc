// ROSETTA_OP(op): the one call form of a kernel. Each kernels/<op>.h declares its functions once (kernels/<op>.inc)
// inside `namespace cpu` and `namespace cuda` and then writes ROSETTA_OP(op) for each name, which defines
// kernels::op(ctx, args...): it takes the device from the context every kernel receives and forwards the
// arguments to cpu::op or cuda::op, where ordinary overload resolution picks the dtype or layout variant. So a
// call site never names the device or the variant:
//
//   kernels::maxpool2d_forward(ctx, shape, Layout::nhwc, x.data<bf16>(), y.data<bf16>(), nullptr);
//
// In a build without CUDA the CUDA branch is discarded at compile time (nothing links against the CUDA twin)
// and a CUDA context is refused with an error naming the op.
#pragma once
#include <utility>

#include "runtime/context.h"
#include "runtime/device.h"

namespace rosetta::kernels {

inline constexpr bool kCudaBuild = ROSETTA_WITH_CUDA != 0;

// Throws: `op` was called with a CUDA context in a build without the CUDA twins.
[[noreturn]] void fail_cuda_not_built(const char* op);

}  // namespace rosetta::kernels

#define ROSETTA_OP(op)                                                                                 \
  template <typename... Args>                                                                          \
  decltype(auto) op(const ::rosetta::Context& ctx, Args&&... args) {                                   \
    if (ctx.device() == ::rosetta::Device::cuda) {                                                     \
      if constexpr (::rosetta::kernels::kCudaBuild) {                                                  \
        return ::rosetta::kernels::cuda::op(ctx, std::forward<Args>(args)...);                         \
      } else {                                                                                         \
        ::rosetta::kernels::fail_cuda_not_built(#op);                                                  \
      }                                                                                                \
    }                                                                                                  \
    return ::rosetta::kernels::cpu::op(ctx, std::forward<Args>(args)...);                              \
  }
