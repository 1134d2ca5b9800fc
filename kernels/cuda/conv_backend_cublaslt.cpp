// The cuBLASLt backend of the convolution (kernels/cuda/conv_backend.h): a 1x1 convolution without padding is a
// matrix product (kernels/matmul.h), forward pass only.
//
// NHWC, stride 1: x (N*H*W, C) times w^T, w (K, C) (the filter (K, 1, 1, C) as stored), into y (N*H*W, K): one
// product whose epilogue is the declared one (bias and ReLU in cuBLASLt's epilogue, the residual as beta * C), one
// library call. NHWC, stride (sh, sw) with H a multiple of sh: one product per (image, output row), batched: the
// product's row i of batch (n, oh) is pixel (oh * sh, i * sw) of image n, so a's row stride is sw * C and its batch
// stride sh * W * C (uniform across images because H = OH * sh), y's batch stride OW * K. A plan declared for
// ConvEpilogue::any runs the plain product and, for a call with the epilogue, the epilogue kernel after it.
// NCHW (fp32 and tf32, stride 1): y_n (K, H*W) = w (K, C) x_n (C, H*W) for each image, a batch whose a (the weight)
// is shared; cuBLASLt's bias runs along y's columns, not its rows (the channels here), so the bias, residual and ReLU
// follow in the epilogue kernel (kernels/residual.inc): never fused.
//
// Candidates: cuBLASLt's heuristics' first kCandidates algorithms for the product (kernels/cuda/matmul_state.h),
// each a runner the planner times in the convolution's own setting (with the epilogue kernel where there is one).
#include "kernels/cuda/conv_backend.h"
#include "kernels/cuda/matmul_state.h"
#include "runtime/error.h"

namespace rosetta::kernels::cuda {
namespace {

constexpr int kCandidates = 6;

// The product of a 1x1 convolution in the options' layout and whether it carries the declared epilogue.
struct Formulation {
  MatmulShape shape;
  MatmulOptions options;
  bool fused = false;  // the call's epilogue is inside the product
  bool nchw = false;   // a = w, b = x (else a = x, b = w)
};

Formulation formulate(const ConvShape& s, const ConvOptions& options) {
  Formulation f;
  f.options.precision = options.precision;
  f.options.autotune = false;  // the convolution's planner times the candidates
  if (options.layout == Layout::nchw) {
    f.nchw = true;
    f.shape.m = s.k, f.shape.n = s.h * s.w, f.shape.k = s.c;
    f.shape.batch = s.n;
    f.shape.batch_stride_b = s.c * s.h * s.w;
    f.shape.batch_stride_y = s.k * s.h * s.w;
    return f;
  }
  f.shape.n = s.k, f.shape.k = s.c, f.shape.trans_b = true;
  if (s.stride_h == 1 && s.stride_w == 1) {
    f.shape.m = s.n * s.h * s.w;
  } else {
    f.shape.m = s.out_w();
    f.shape.lda = s.stride_w * s.c;
    f.shape.batch = s.n * s.out_h();
    f.shape.batch_stride_a = s.stride_h * s.w * s.c;
    f.shape.batch_stride_y = s.out_w() * s.k;
  }
  if (options.epilogue != ConvEpilogue::any) {
    f.fused = true;
    f.options.epilogue = conv_epilogue_has_relu(options.epilogue) ? MatmulEpilogue::bias_relu : MatmulEpilogue::bias;
    f.options.residual = conv_epilogue_has_residual(options.epilogue);
  }
  return f;
}

class CublasLtRunner final : public ConvPassRunner {
 public:
  CublasLtRunner(MatmulPlan plan, const Formulation& f, const ConvShape& shape, const ConvOptions& options)
      : plan_(std::move(plan)), fused_(f.fused), nchw_(f.nchw), shape_(shape), options_(options) {}

  bool fuses(bool relu) const override {
    return fused_ && relu == conv_epilogue_has_relu(options_.epilogue);
  }

  void run(const Context& ctx, const ConvPassArgs& a) const override {
    if (nchw_) {
      run_matmul(ctx, plan_, a.w, a.x, nullptr, nullptr, a.out, a.workspace);
      run_conv_epilogue(ctx, shape_, options_, a);
      return;
    }
    if (!fused_) {
      run_matmul(ctx, plan_, a.x, a.w, nullptr, nullptr, a.out, a.workspace);
      run_conv_epilogue(ctx, shape_, options_, a);
      return;
    }
    ROSETTA_CHECK(a.epilogue, "a cuBLASLt plan fused for " << conv_epilogue_name(options_.epilogue)
                                                           << " called without its epilogue: " << shape_.str());
    run_matmul(ctx, plan_, a.x, a.w, a.bias, plan_.options.residual ? a.z : nullptr, a.out, a.workspace);
  }

 private:
  MatmulPlan plan_;
  bool fused_, nchw_;
  ConvShape shape_;
  ConvOptions options_;
};

ConvAlgorithmChoice choice_of(const MatmulPlan& plan) {
  ConvAlgorithmChoice c;
  c.backend = ConvBackend::cublaslt;
  c.algo = plan.choice.algo;
  c.variant = plan.choice.variant;
  c.workspace_bytes = plan.choice.workspace_bytes;
  c.deterministic = true;  // cuBLAS: the same bits every run on one architecture and SM count (no atomics mode)
  return c;
}

class CublasLtBackend final : public CudaConvBackend {
 public:
  ConvBackend id() const override { return ConvBackend::cublaslt; }

  std::string declines(const ConvShape& s, const ConvOptions& options, ConvPass pass) const override {
    if (pass != ConvPass::forward) return "cuBLASLt serves the forward pass only";
    if (s.r != 1 || s.s != 1 || s.pad_h != 0 || s.pad_w != 0) return "not a 1x1 convolution without padding";
    if (options.layout == Layout::nchw) {
      if (options.precision == Precision::bf16) return "bf16 runs NHWC";
      if (s.stride_h != 1 || s.stride_w != 1) return "a strided NCHW 1x1 is not one strided product";
      return "";
    }
    if (s.h % s.stride_h != 0) return "H not a multiple of the stride: the images' rows are not uniformly batched";
    return "";
  }

  std::vector<ConvCandidate> candidates(const Context& ctx, const ConvShape& shape, const ConvOptions& options,
                                        ConvPass, bool search, const ConvSearchBuffers&,
                                        std::size_t workspace_limit) const override {
    const Formulation f = formulate(shape, options);
    std::vector<ConvCandidate> out;
    for (MatmulPlan& plan : matmul_heuristic_plans(ctx, f.shape, f.options, search ? kCandidates : 1)) {
      if (plan.choice.workspace_bytes > workspace_limit) continue;
      const ConvAlgorithmChoice choice = choice_of(plan);
      out.push_back(ConvCandidate{choice, std::make_shared<CublasLtRunner>(std::move(plan), f, shape, options)});
    }
    return out;
  }

  std::shared_ptr<const ConvPassRunner> prepare(const Context& ctx, const ConvShape& shape, const ConvOptions& options,
                                                ConvPass pass, ConvAlgorithmChoice& choice) const override {
    const std::string why = declines(shape, options, pass);
    ROSETTA_CHECK(why.empty(), "cuBLASLt cannot run " << conv_choice_name(pass, choice) << " for " << shape.str()
                                                      << ": " << why);
    const Formulation f = formulate(shape, options);
    // Any plan of the shape to start from: matmul_plan_with_choice remakes the one at choice.variant.
    MatmulPlan plan = matmul_plan_with_choice(ctx, matmul_heuristic_plans(ctx, f.shape, f.options, 1).front(),
                                              MatmulAlgorithmChoice{choice.algo, choice.variant, 0, choice.time_ms});
    choice.workspace_bytes = plan.choice.workspace_bytes;
    return std::make_shared<CublasLtRunner>(std::move(plan), f, shape, options);
  }
};

}  // namespace

const CudaConvBackend& cublaslt_conv_backend() {
  static const CublasLtBackend backend;
  return backend;
}

}  // namespace rosetta::kernels::cuda
