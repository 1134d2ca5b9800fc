// The registry of CUDA convolution backends and what they share (kernels/cuda/conv_backend.h): the search buffers,
// the unfused epilogue, the memory a search may take.
#include <algorithm>

#include "kernels/cuda/conv_backend.h"
#include "kernels/elementwise.h"
#include "kernels/layout.h"
#include "kernels/residual.h"
#include "runtime/cuda_check.h"

namespace rosetta::kernels::cuda {
namespace {

// Device memory left free while searching: cuDNN's own allocations, the other stream's feeds.
constexpr std::size_t kSearchMemoryMargin = std::size_t(512) << 20;

// A flat device tensor of `n` elements of the precision's data type, every element `value`.
Tensor filled(const Context& ctx, std::int64_t n, float value, Precision precision) {
  Tensor f32 = Tensor::empty({n}, DType::f32, Device::cuda);
  kernels::fill(ctx, f32.data<float>(), value, n);
  if (precision != Precision::bf16) return f32;
  Tensor b16 = Tensor::empty({n}, DType::bf16, Device::cuda);
  kernels::convert(ctx, f32.data<float>(), b16.data<bf16>(), n);
  return b16;
}

}  // namespace

const std::vector<const CudaConvBackend*>& conv_backends() {
  static const std::vector<const CudaConvBackend*> backends{&cudnn_conv_backend(), &cudnn_graph_conv_backend(),
                                                            &cublaslt_conv_backend(), &direct_conv_backend()};
  return backends;
}

const CudaConvBackend& conv_backend(ConvBackend id) {
  for (const CudaConvBackend* backend : conv_backends())
    if (backend->id() == id) return *backend;
  ROSETTA_FAIL("no CUDA convolution backend " << conv_backend_name(id));
}

ConvSearchBuffers::ConvSearchBuffers(const Context& ctx, const ConvShape& s, Precision precision)
    : x(filled(ctx, s.n * s.c * s.h * s.w, 0.5f, precision)),
      w(filled(ctx, s.k * s.c * s.r * s.s, 0.25f, precision)),
      y(filled(ctx, s.n * s.k * s.out_h() * s.out_w(), 0.125f, precision)),
      z(filled(ctx, s.n * s.k * s.out_h() * s.out_w(), -0.75f, precision)),
      bias(filled(ctx, s.k, 0.0625f, precision)) {}

ConvPassArgs ConvSearchBuffers::forward_args(const ConvOptions& options) const {
  ConvPassArgs a;
  a.x = x.raw(), a.w = w.raw(), a.out = y.raw();
  if (options.epilogue != ConvEpilogue::any) {
    a.epilogue = true;
    a.bias = bias.raw();
    a.z = conv_epilogue_has_residual(options.epilogue) ? z.raw() : nullptr;
    a.relu = conv_epilogue_has_relu(options.epilogue);
  }
  return a;
}

ConvPassArgs ConvSearchBuffers::args(ConvPass pass, const ConvOptions& options) const {
  ConvPassArgs a;
  switch (pass) {
    case ConvPass::forward: return forward_args(options);
    case ConvPass::backward_data: a.w = w.raw(), a.dy = y.raw(), a.out = x.raw(); break;
    case ConvPass::backward_filter: a.x = x.raw(), a.dy = y.raw(), a.out = w.raw(); break;
  }
  return a;
}

void run_conv_epilogue(const Context& ctx, const ConvShape& s, const ConvOptions& options, const ConvPassArgs& a) {
  if (!a.epilogue) return;
  const ChannelView v = channel_view(options.layout, s.n, s.k, s.out_h() * s.out_w());
  if (options.precision == Precision::bf16) {
    bias_residual_activation(ctx, static_cast<bf16*>(a.out), static_cast<const bf16*>(a.bias),
                             static_cast<const bf16*>(a.z), a.relu, v.outer, v.channels, v.inner);
  } else {
    bias_residual_activation(ctx, static_cast<float*>(a.out), static_cast<const float*>(a.bias),
                             static_cast<const float*>(a.z), a.relu, v.outer, v.channels, v.inner);
  }
}

std::size_t conv_allocatable_bytes() {
  std::size_t free_bytes = 0, total_bytes = 0;
  ROSETTA_CUDA_CHECK(cudaMemGetInfo(&free_bytes, &total_bytes));
  return free_bytes > kSearchMemoryMargin ? free_bytes - kSearchMemoryMargin : 0;
}

}  // namespace rosetta::kernels::cuda
