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
//
// Every call is also one profiler region (runtime/profiler.h) named after the op, of the op's class
// (kernels/op_class.h; setup ops open none). With no profiler attached to the context, the default, that is one
// pointer test. An op missing from kernels/op_class.h does not compile.
#pragma once
#include <utility>

#include "kernels/op_class.h"
#include "runtime/context.h"
#include "runtime/device.h"
#include "runtime/profiler.h"

namespace rosetta::kernels {

inline constexpr bool kCudaBuild = ROSETTA_WITH_CUDA != 0;

// Throws: `op` was called with a CUDA context in a build without the CUDA twins.
[[noreturn]] void fail_cuda_not_built(const char* op);

}  // namespace rosetta::kernels

#define ROSETTA_OP(op)                                                                                 \
  static_assert(::rosetta::kernels::op_class_row(#op) >= 0,                                           \
                "kernels/op_class.h has no class for the op " #op ": add its row to kOpClasses");      \
  template <typename... Args>                                                                          \
  decltype(auto) op(const ::rosetta::Context& ctx, Args&&... args) {                                   \
    constexpr ::rosetta::kernels::OpClass op_class_ = ::rosetta::kernels::op_class(#op);               \
    const ::rosetta::ProfileRegion region_(                                                            \
        ctx, #op, op_class_ == ::rosetta::kernels::OpClass::none ? -1 : static_cast<int>(op_class_));  \
    if (ctx.device() == ::rosetta::Device::cuda) {                                                     \
      if constexpr (::rosetta::kernels::kCudaBuild) {                                                  \
        return ::rosetta::kernels::cuda::op(ctx, std::forward<Args>(args)...);                         \
      } else {                                                                                         \
        ::rosetta::kernels::fail_cuda_not_built(#op);                                                  \
      }                                                                                                \
    }                                                                                                  \
    return ::rosetta::kernels::cpu::op(ctx, std::forward<Args>(args)...);                              \
  }
