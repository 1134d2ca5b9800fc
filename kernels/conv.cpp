// Device-neutral part of the convolution (kernels/conv.h): the shape's text and checks, make_conv_plan, and the
// names of passes and algorithms.
#include "kernels/conv.h"

#include <algorithm>
#include <climits>
#include <sstream>

#include "runtime/error.h"

namespace rosetta::kernels {

std::string ConvShape::str() const {
  std::ostringstream os;
  os << "x(" << n << ", " << c << ", " << h << ", " << w << ") w(" << k << ", " << c << ", " << r << ", " << s << ")";
  if (pad_h == pad_w)
    os << " pad " << pad_h;
  else
    os << " pad (" << pad_h << ", " << pad_w << ")";
  if (stride_h == stride_w)
    os << " stride " << stride_h;
  else
    os << " stride (" << stride_h << ", " << stride_w << ")";
  return os.str();
}

namespace {

void validate(const ConvShape& shape) {
  ROSETTA_CHECK(shape.n > 0 && shape.c > 0 && shape.h > 0 && shape.w > 0 && shape.k > 0 && shape.r > 0 && shape.s > 0,
                "convolution with an empty dimension: " << shape.str());
  ROSETTA_CHECK(shape.pad_h >= 0 && shape.pad_w >= 0 && shape.stride_h > 0 && shape.stride_w > 0,
                "convolution needs pads >= 0 and strides > 0: " << shape.str());
  ROSETTA_CHECK(shape.h + 2 * shape.pad_h >= shape.r && shape.w + 2 * shape.pad_w >= shape.s,
                "convolution filter larger than the padded input: " << shape.str());
  ROSETTA_CHECK(shape.n <= INT_MAX && shape.c <= INT_MAX && shape.h <= INT_MAX && shape.w <= INT_MAX &&
                    shape.k <= INT_MAX && shape.r <= INT_MAX && shape.s <= INT_MAX,
                "convolution dimension beyond 32 bits: " << shape.str());
}

}  // namespace

ConvPlan make_conv_plan(const Context& ctx, const ConvShape& shape, const ConvOptions& options) {
  validate(shape);
  ConvPlan plan;
  plan.shape = shape;
  plan.options = options;
  plan_conv2d(ctx, plan);
  return plan;
}

void check_forward_call(const ConvPlan& plan, bool with_epilogue, bool residual, bool relu) {
  const ConvEpilogue declared = plan.options.epilogue;
  if (!with_epilogue) {
    ROSETTA_CHECK(declared == ConvEpilogue::any, "conv2d_forward with a plan declared for the epilogue "
                                                     << conv_epilogue_name(declared)
                                                     << " (call conv2d_bias_activation_forward): " << plan.shape.str());
    return;
  }
  const ConvEpilogue called = conv_epilogue_of(residual, relu);
  ROSETTA_CHECK(declared == ConvEpilogue::any || declared == called,
                "conv2d_bias_activation_forward called with the epilogue " << conv_epilogue_name(called)
                                                                           << ", the plan was declared for "
                                                                           << conv_epilogue_name(declared) << ": "
                                                                           << plan.shape.str());
}

ConvOptions conv_pass_options(const ConvOptions& options, ConvPass pass) {
  ConvOptions out = options;
  if (pass != ConvPass::forward) out.epilogue = ConvEpilogue::any;
  return out;
}

std::uint64_t ConvPlan::workspace_bytes() const {
  std::uint64_t bytes = 0;
  for (const ConvAlgorithmChoice& c : choices) bytes = std::max(bytes, c.workspace_bytes);
  return bytes;
}

bool operator==(const ConvAlgorithmChoice& a, const ConvAlgorithmChoice& b) {
  return a.backend == b.backend && a.algo == b.algo && a.math_type == b.math_type && a.variant == b.variant &&
         a.workspace_bytes == b.workspace_bytes && a.time_ms == b.time_ms && a.find_time_ms == b.find_time_ms &&
         a.deterministic == b.deterministic;
}

const char* conv_backend_name(ConvBackend backend) {
  switch (backend) {
    case ConvBackend::cpu_im2col_gemm: return "cpu";
    case ConvBackend::cudnn: return "cudnn";
    case ConvBackend::cudnn_graph: return "cudnn-graph";
    case ConvBackend::cublaslt: return "cublaslt";
    case ConvBackend::direct: return "direct";
  }
  return "?";
}

bool conv_backend_from_name(const std::string& name, ConvBackend* backend) {
  for (int i = 0; i < kConvBackendCount; ++i) {
    if (name == conv_backend_name(static_cast<ConvBackend>(i))) {
      *backend = static_cast<ConvBackend>(i);
      return true;
    }
  }
  return false;
}

const char* conv_epilogue_name(ConvEpilogue epilogue) {
  switch (epilogue) {
    case ConvEpilogue::any: return "any";
    case ConvEpilogue::bias: return "bias";
    case ConvEpilogue::bias_relu: return "bias+relu";
    case ConvEpilogue::bias_residual: return "bias+residual";
    case ConvEpilogue::bias_residual_relu: return "bias+residual+relu";
  }
  return "?";
}

bool conv_epilogue_from_name(const std::string& name, ConvEpilogue* epilogue) {
  for (int i = 0; i < kConvEpilogueCount; ++i) {
    if (name == conv_epilogue_name(static_cast<ConvEpilogue>(i))) {
      *epilogue = static_cast<ConvEpilogue>(i);
      return true;
    }
  }
  return false;
}

ConvEpilogue conv_epilogue_of(bool residual, bool relu) {
  if (residual) return relu ? ConvEpilogue::bias_residual_relu : ConvEpilogue::bias_residual;
  return relu ? ConvEpilogue::bias_relu : ConvEpilogue::bias;
}

bool conv_epilogue_has_residual(ConvEpilogue epilogue) {
  return epilogue == ConvEpilogue::bias_residual || epilogue == ConvEpilogue::bias_residual_relu;
}

bool conv_epilogue_has_relu(ConvEpilogue epilogue) {
  return epilogue == ConvEpilogue::bias_relu || epilogue == ConvEpilogue::bias_residual_relu;
}

const char* conv_pass_name(ConvPass pass) {
  switch (pass) {
    case ConvPass::forward: return "forward";
    case ConvPass::backward_data: return "backward_data";
    case ConvPass::backward_filter: return "backward_filter";
  }
  return "?";
}

const char* cudnn_conv_algorithm_name(ConvPass pass, int algo) {
  static const char* const forward[kCudnnForwardAlgorithms] = {
      "IMPLICIT_GEMM", "IMPLICIT_PRECOMP_GEMM", "GEMM", "DIRECT", "FFT", "FFT_TILING", "WINOGRAD", "WINOGRAD_NONFUSED"};
  static const char* const backward_data[kCudnnBackwardDataAlgorithms] = {"ALGO_0",     "ALGO_1",   "FFT",
                                                                          "FFT_TILING", "WINOGRAD", "WINOGRAD_NONFUSED"};
  static const char* const backward_filter[kCudnnBackwardFilterAlgorithms] = {
      "ALGO_0", "ALGO_1", "FFT", "ALGO_3", "WINOGRAD", "WINOGRAD_NONFUSED", "FFT_TILING"};
  switch (pass) {
    case ConvPass::forward: return algo >= 0 && algo < kCudnnForwardAlgorithms ? forward[algo] : "?";
    case ConvPass::backward_data: return algo >= 0 && algo < kCudnnBackwardDataAlgorithms ? backward_data[algo] : "?";
    case ConvPass::backward_filter:
      return algo >= 0 && algo < kCudnnBackwardFilterAlgorithms ? backward_filter[algo] : "?";
  }
  return "?";
}

const char* cudnn_math_type_name(int math_type) {
  static const char* const names[] = {"DEFAULT", "TENSOR_OP", "TENSOR_OP_ALLOW_CONVERSION", "FMA"};
  return math_type >= 0 && math_type < 4 ? names[math_type] : "?";
}

std::string conv_choice_name(ConvPass pass, const ConvAlgorithmChoice& choice) {
  switch (choice.backend) {
    case ConvBackend::cpu_im2col_gemm: return "cpu im2col+GEMM";
    case ConvBackend::cudnn:
      return std::string("cudnn ") + cudnn_conv_algorithm_name(pass, choice.algo) + " " +
             cudnn_math_type_name(choice.math_type);
    case ConvBackend::cudnn_graph:
      return "cudnn-graph engine " + std::to_string(choice.algo) + " #" + std::to_string(choice.variant);
    case ConvBackend::cublaslt:
      return "cublaslt algo " + std::to_string(choice.algo) + " #" + std::to_string(choice.variant);
    case ConvBackend::direct: return "direct " + std::to_string(choice.algo) + " #" + std::to_string(choice.variant);
  }
  return "?";
}

}  // namespace rosetta::kernels
