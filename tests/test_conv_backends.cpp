// The convolution's CUDA backends (kernels/cuda/conv_backend.h). Wherever CUDA code is built (no device needed):
// the registry (legacy cuDNN first, every backend once, found by name) and each backend's acceptance rules. On a GPU:
// each backend forced on ResNet-50's kinds of convolution (1x1 stride 1 with the residual, 1x1 stride 2, 3x3 stride 1
// and 2, the 7x7 stem with 3, 4 and 8 channels) in each precision and layout it accepts, declared epilogue and plain
// forward, against the CPU twin; the free choice is the fastest of the candidates the planner timed (every accepting
// backend's, legacy cuDNN's with Find's own time beside) and the cache keeps them; a saved cache remakes every
// backend's choice without a search; a bf16 training plan's three passes (legacy cuDNN) against the CPU twin, and a
// tf32 and a bf16 training plan declared for bias + ReLU (the forward free or on the graph API, the gradients on
// legacy cuDNN) against it. GPU cases skip without a device.
//
// Tolerances against the CPU twin, normwise (max |gpu - cpu| / max |cpu|), as tests/ops/conv_cases.cpp states them:
// fp32 1e-4 (cuDNN's Winograd/FFT algorithms round transformed values; cuBLASLt's strict FP32 is closer), tf32 1e-2
// (10-bit mantissas), bf16 2^-7 (the same bf16 inputs, float sums in another order, one bf16 rounding of y, and where
// the GPU fuses the epilogue the CPU's extra rounding of the convolution before it).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "kernels/conv.h"
#include "runtime/half.h"
#include "runtime/tensor.h"
#include "tests/support/cuda.h"
#include "tests/support/gradcheck.h"
#if ROSETTA_WITH_CUDA
#include "kernels/cuda/conv_algorithm_cache.h"
#include "kernels/cuda/conv_backend.h"
#endif

namespace rosetta {
namespace {

#if ROSETTA_WITH_CUDA
using kernels::ConvBackend;
using kernels::ConvEpilogue;
using kernels::ConvOptions;
using kernels::ConvPass;
using kernels::ConvPlan;
using kernels::ConvShape;

ConvShape shape_of(std::int64_t n, std::int64_t c, std::int64_t h, std::int64_t k, std::int64_t r, int pad,
                   int stride) {
  ConvShape s;
  s.n = n, s.c = c, s.h = s.w = h, s.k = k, s.r = s.s = r, s.pad_h = s.pad_w = pad, s.stride_h = s.stride_w = stride;
  return s;
}

ConvOptions forward_options(Precision precision, Layout layout, ConvEpilogue epilogue) {
  ConvOptions o;
  o.precision = precision, o.layout = layout, o.forward_only = true, o.epilogue = epilogue;
  return o;
}

bool accepts(ConvBackend id, const ConvShape& s, const ConvOptions& o, ConvPass pass = ConvPass::forward) {
  return kernels::cuda::conv_backend(id).declines(s, o, pass).empty();
}

TEST(ConvBackends, RegistryHoldsEachBackendOnceLegacyFirst) {
  const auto& backends = kernels::cuda::conv_backends();
  ASSERT_EQ(backends.size(), 4u);
  EXPECT_EQ(backends.front()->id(), ConvBackend::cudnn) << "legacy cuDNN breaks ties: the baseline";
  std::set<ConvBackend> seen;
  for (const auto* b : backends) EXPECT_TRUE(seen.insert(b->id()).second) << kernels::conv_backend_name(b->id());
  for (ConvBackend id : {ConvBackend::cudnn, ConvBackend::cudnn_graph, ConvBackend::cublaslt, ConvBackend::direct})
    EXPECT_EQ(kernels::cuda::conv_backend(id).id(), id);
  EXPECT_THROW(kernels::cuda::conv_backend(ConvBackend::cpu_im2col_gemm), Error);
}

TEST(ConvBackends, EachBackendAcceptsWhatItCanRun) {
  const ConvShape pointwise = shape_of(2, 64, 14, 256, 1, 0, 1), strided = shape_of(2, 64, 14, 256, 1, 0, 2);
  const ConvShape odd = shape_of(2, 64, 7, 256, 1, 0, 2), three = shape_of(2, 64, 14, 64, 3, 1, 1);
  const ConvEpilogue e = ConvEpilogue::bias_relu;
  for (Precision p : {Precision::fp32, Precision::tf32, Precision::bf16}) {
    const ConvOptions nhwc = forward_options(p, Layout::nhwc, e), nchw = forward_options(p, Layout::nchw, e);
    // Legacy cuDNN: everything.
    EXPECT_TRUE(accepts(ConvBackend::cudnn, three, nhwc));
    EXPECT_TRUE(accepts(ConvBackend::cudnn, three, nhwc, ConvPass::backward_filter));
    // cuBLASLt: 1x1 without padding, forward; NHWC any stride dividing H; NCHW float at stride 1.
    EXPECT_TRUE(accepts(ConvBackend::cublaslt, pointwise, nhwc));
    EXPECT_TRUE(accepts(ConvBackend::cublaslt, strided, nhwc));
    EXPECT_FALSE(accepts(ConvBackend::cublaslt, odd, nhwc)) << "H 7 is not a whole number of stride-2 rows";
    EXPECT_FALSE(accepts(ConvBackend::cublaslt, three, nhwc));
    EXPECT_FALSE(accepts(ConvBackend::cublaslt, pointwise, nhwc, ConvPass::backward_data));
    EXPECT_EQ(accepts(ConvBackend::cublaslt, pointwise, nchw), p != Precision::bf16);
    EXPECT_FALSE(accepts(ConvBackend::cublaslt, strided, nchw));
    // The graph API: NHWC forward in tf32 and bf16.
    EXPECT_EQ(accepts(ConvBackend::cudnn_graph, three, nhwc), p != Precision::fp32);
    EXPECT_EQ(accepts(ConvBackend::cudnn_graph, pointwise, nhwc), p != Precision::fp32);
    EXPECT_FALSE(accepts(ConvBackend::cudnn_graph, three, nchw));
    EXPECT_FALSE(accepts(ConvBackend::cudnn_graph, three, nhwc, ConvPass::backward_data));
  }
}

// The direct kernels: few input channels (C <= 8, C*R*S <= 72), stride 1, forward and filter gradient, any layout
// and precision; never the data gradient, a strided stem or a many-channel layer (none of ResNet-50's).
TEST(ConvBackends, DirectAcceptsFewInputChannelsAtStrideOne) {
  const ConvShape conv1 = shape_of(64, 3, 32, 50, 3, 1, 1), padded = shape_of(64, 8, 32, 56, 3, 1, 1);
  const ConvShape five = shape_of(1, 2, 7, 13, 5, 2, 1), pointwise8 = shape_of(2, 8, 14, 256, 1, 0, 1);
  const ConvShape nine = shape_of(2, 9, 16, 16, 3, 1, 1), wide = shape_of(2, 64, 14, 256, 1, 0, 1);
  const ConvShape stem = shape_of(2, 3, 32, 64, 7, 3, 2), strided = shape_of(2, 3, 32, 50, 3, 1, 2);
  const ConvShape big7 = shape_of(2, 2, 32, 50, 7, 3, 1);  // C*R*S 98
  for (Precision p : {Precision::fp32, Precision::tf32, Precision::bf16})
    for (Layout layout : {Layout::nchw, Layout::nhwc}) {
      ConvOptions o;
      o.precision = p, o.layout = layout;
      for (const ConvShape& s : {conv1, padded, five, pointwise8}) {
        EXPECT_TRUE(accepts(ConvBackend::direct, s, o)) << s.str();
        EXPECT_TRUE(accepts(ConvBackend::direct, s, o, ConvPass::backward_filter)) << s.str();
        EXPECT_FALSE(accepts(ConvBackend::direct, s, o, ConvPass::backward_data)) << s.str();
      }
      for (const ConvShape& s : {nine, wide, stem, strided, big7}) {
        EXPECT_FALSE(accepts(ConvBackend::direct, s, o)) << s.str();
        EXPECT_FALSE(accepts(ConvBackend::direct, s, o, ConvPass::backward_filter)) << s.str();
      }
    }
  // Its candidates are made without a device (no CUDA call): two forward tilings, three filter-gradient slicings,
  // each remade from its algo alone, an unknown one refused.
  const auto& direct = kernels::cuda::conv_backend(ConvBackend::direct);
  ConvOptions o;
  kernels::ConvAlgorithmChoice choice;
  choice.backend = ConvBackend::direct, choice.algo = 256;
  EXPECT_NO_THROW(direct.prepare(Context::cpu(), conv1, o, ConvPass::backward_filter, choice));
  EXPECT_GT(choice.workspace_bytes, 0u) << "the filter gradient's partial sums";
  choice.algo = 8;
  EXPECT_THROW(direct.prepare(Context::cpu(), conv1, o, ConvPass::backward_filter, choice), Error);
  EXPECT_NO_THROW(direct.prepare(Context::cpu(), conv1, o, ConvPass::forward, choice));
  EXPECT_EQ(choice.workspace_bytes, 0u);
  EXPECT_THROW(direct.prepare(Context::cpu(), stem, o, ConvPass::forward, choice), Error);
  EXPECT_EQ(kernels::conv_choice_name(ConvPass::forward, choice), "direct 8 #0");
}

// ------------------------------------------------------------------------------------------------------------------
// GPU cases.

struct Kind {
  const char* name;
  ConvShape shape;
  ConvEpilogue epilogue;
};

std::vector<Kind> kinds() {
  return {{"1x1 residual", shape_of(2, 64, 14, 256, 1, 0, 1), ConvEpilogue::bias_residual_relu},
          {"1x1 stride 2", shape_of(2, 64, 14, 256, 1, 0, 2), ConvEpilogue::bias},
          {"3x3", shape_of(2, 64, 14, 64, 3, 1, 1), ConvEpilogue::bias_relu},
          {"3x3 stride 2", shape_of(2, 64, 14, 64, 3, 1, 2), ConvEpilogue::bias_relu},
          {"stem 3", shape_of(2, 3, 32, 64, 7, 3, 2), ConvEpilogue::bias_relu},
          {"stem 4", shape_of(2, 4, 32, 64, 7, 3, 2), ConvEpilogue::bias_relu},
          {"stem 8", shape_of(2, 8, 32, 64, 7, 3, 2), ConvEpilogue::bias_relu}};
}

double tolerance(Precision p) { return p == Precision::fp32 ? 1e-4 : p == Precision::tf32 ? 1e-2 : std::ldexp(1.0, -7); }

// A flat tensor of `values` in the precision's storage type on `device`.
Tensor stored(const std::vector<float>& values, Precision precision, Device device) {
  Tensor host = Tensor::from_vector({std::int64_t(values.size())}, values);
  if (precision == Precision::bf16) {
    Tensor b = Tensor::empty(host.shape(), DType::bf16);
    for (std::int64_t i = 0; i < host.numel(); ++i) b.data<bf16>()[i] = bf16(host.data<float>()[i]);
    host = b;
  }
  return host.to(device);
}

std::vector<float> values_of(const Tensor& t) {
  const Tensor host = t.to(Device::cpu);
  if (host.dtype() == DType::f32) return host.to_vector();
  std::vector<float> out(static_cast<std::size_t>(host.numel()));
  for (std::int64_t i = 0; i < host.numel(); ++i) out[std::size_t(i)] = float(host.data<bf16>()[i]);
  return out;
}

// The forward of `plan` on `device` (with its declared epilogue, or plain for ConvEpilogue::any).
std::vector<float> forward(const Context& ctx, const ConvPlan& plan, const std::vector<float>& x,
                           const std::vector<float>& w, const std::vector<float>& bias, const std::vector<float>& z) {
  const ConvShape& s = plan.shape;
  const Precision p = plan.options.precision;
  const Device d = ctx.device();
  const Tensor xd = stored(x, p, d), wd = stored(w, p, d), bd = stored(bias, p, d), zd = stored(z, p, d);
  Tensor y = stored(std::vector<float>(std::size_t(s.n * s.k * s.out_h() * s.out_w()), 0.0f), p, d);
  const ConvEpilogue e = plan.options.epilogue;
  const bool residual = kernels::conv_epilogue_has_residual(e), relu = kernels::conv_epilogue_has_relu(e);
  if (p == Precision::bf16) {
    if (e == ConvEpilogue::any)
      kernels::conv2d_forward(ctx, plan, xd.data<bf16>(), wd.data<bf16>(), y.data<bf16>());
    else
      kernels::conv2d_bias_activation_forward(ctx, plan, xd.data<bf16>(), wd.data<bf16>(), bd.data<bf16>(),
                                              residual ? zd.data<bf16>() : nullptr, relu, y.data<bf16>());
  } else {
    if (e == ConvEpilogue::any)
      kernels::conv2d_forward(ctx, plan, xd.data<float>(), wd.data<float>(), y.data<float>());
    else
      kernels::conv2d_bias_activation_forward(ctx, plan, xd.data<float>(), wd.data<float>(), bd.data<float>(),
                                              residual ? zd.data<float>() : nullptr, relu, y.data<float>());
  }
  return values_of(y);
}

double normwise_error(const std::vector<float>& actual, const std::vector<float>& expected) {
  double worst = 0, scale = 0;
  for (std::size_t i = 0; i < expected.size(); ++i) {
    worst = std::max(worst, std::abs(double(actual[i]) - expected[i]));
    if (std::isnan(actual[i])) return INFINITY;
    scale = std::max(scale, std::abs(double(expected[i])));
  }
  return worst / std::max(scale, 1e-30);
}

// Where a forced backend must be the one serving the layer (it accepts it, and these kinds are what it is for).
bool must_serve(ConvBackend forced, const Kind& kind, const ConvOptions& o) {
  if (forced == ConvBackend::cudnn) return true;
  if (forced == ConvBackend::cublaslt) return kind.shape.r == 1 && accepts(forced, kind.shape, o);
  // The graph API: the 3x3s and the padded stems (3 channels are not a tensor-core width: it may decline).
  return kind.shape.r > 1 && kind.shape.c != 3 && accepts(forced, kind.shape, o);
}

TEST(ConvBackendsCuda, EachForcedBackendMatchesTheCpuTwin) {
  ROSETTA_REQUIRE_CUDA();
  Context& gpu = Context::cuda();
  struct Setting {
    Precision precision;
    Layout layout;
  };
  const Setting settings[] = {{Precision::fp32, Layout::nchw},
                              {Precision::fp32, Layout::nhwc},
                              {Precision::tf32, Layout::nhwc},
                              {Precision::bf16, Layout::nhwc}};
  for (const Kind& kind : kinds())
    for (const Setting& setting : settings)
      for (ConvEpilogue epilogue : {kind.epilogue, ConvEpilogue::any})
        for (ConvBackend forced : {ConvBackend::cudnn, ConvBackend::cudnn_graph, ConvBackend::cublaslt}) {
          const ConvShape& s = kind.shape;
          ConvOptions options = forward_options(setting.precision, setting.layout, epilogue);
          options.backend = forced;
          SCOPED_TRACE(std::string(kind.name) + " " + precision_name(setting.precision) + " " +
                       layout_name(setting.layout) + " " + kernels::conv_epilogue_name(epilogue) + " forced " +
                       kernels::conv_backend_name(forced));
          const std::vector<float> x = testing::random_floats(std::size_t(s.n * s.c * s.h * s.w), -1, 1, 301);
          const std::vector<float> w = testing::random_floats(std::size_t(s.k * s.c * s.r * s.s), -0.5, 0.5, 302);
          const std::vector<float> bias = testing::random_floats(std::size_t(s.k), -1, 1, 303);
          const std::vector<float> z = testing::random_floats(std::size_t(s.n * s.k * s.out_h() * s.out_w()), -2, 2, 304);
          ConvOptions cpu_options = options;
          cpu_options.backend.reset();
          const ConvPlan cpu_plan = kernels::make_conv_plan(Context::cpu(), s, cpu_options);
          const ConvPlan plan = kernels::make_conv_plan(gpu, s, options);
          const ConvBackend served = plan.of(ConvPass::forward).backend;
          EXPECT_TRUE(served == forced || served == ConvBackend::cudnn)
              << "served by " << kernels::conv_backend_name(served);
          if (must_serve(forced, kind, options)) {
            EXPECT_EQ(served, forced) << "the forced backend offered nothing";
          }
          const std::vector<float> expected = forward(Context::cpu(), cpu_plan, x, w, bias, z);
          const std::vector<float> actual = forward(gpu, plan, x, w, bias, z);
          EXPECT_LE(normwise_error(actual, expected), tolerance(setting.precision))
              << kernels::conv_choice_name(ConvPass::forward, plan.of(ConvPass::forward));
        }
}

// The output of `pass` of `plan` on ctx's device: the forward (plain, or with the bias (+ ReLU) epilogue the plan
// declares), the data gradient or the filter gradient.
std::vector<float> pass_output(const Context& ctx, const ConvPlan& plan, ConvPass pass, const std::vector<float>& x,
                               const std::vector<float>& w, const std::vector<float>& dy,
                               const std::vector<float>& bias) {
  const ConvShape& s = plan.shape;
  const Precision p = plan.options.precision;
  const Device d = ctx.device();
  const std::size_t out = pass == ConvPass::forward         ? std::size_t(s.n * s.k * s.out_h() * s.out_w())
                          : pass == ConvPass::backward_data ? x.size()
                                                            : w.size();
  const ConvEpilogue e = plan.options.epilogue;
  const Tensor xd = stored(x, p, d), wd = stored(w, p, d), dyd = stored(dy, p, d);
  const Tensor bd = e == ConvEpilogue::any ? Tensor() : stored(bias, p, d);
  // NaN: an unwritten element fails (the legacy fused call reads y as its zero-scaled residual: zeros there).
  EXPECT_FALSE(kernels::conv_epilogue_has_residual(e)) << "no residual in these training cases";
  Tensor o = stored(std::vector<float>(out, pass == ConvPass::forward && e != ConvEpilogue::any ? 0.0f : std::nanf("")),
                    p, d);
  const auto run = [&](auto type) {
    using T = decltype(type);
    switch (pass) {
      case ConvPass::forward:
        if (e == ConvEpilogue::any)
          kernels::conv2d_forward(ctx, plan, xd.data<T>(), wd.data<T>(), o.data<T>());
        else
          kernels::conv2d_bias_activation_forward(ctx, plan, xd.data<T>(), wd.data<T>(), bd.data<T>(), nullptr,
                                                  kernels::conv_epilogue_has_relu(e), o.data<T>());
        break;
      case ConvPass::backward_data:
        kernels::conv2d_backward_data(ctx, plan, dyd.data<T>(), wd.data<T>(), o.data<T>());
        break;
      case ConvPass::backward_filter:
        kernels::conv2d_backward_filter(ctx, plan, xd.data<T>(), dyd.data<T>(), o.data<T>());
        break;
    }
  };
  if (p == Precision::bf16)
    run(bf16{});
  else
    run(float{});
  return values_of(o);
}

// The direct kernels against the CPU twin, every candidate (forward: 8 and 4 channels per thread; filter gradient:
// slices of 256, 128 and 512 pixels), on conv1's shapes (NCHW 3 -> 50 fp32; NHWC 8 -> 56 tf32 and bf16) and awkward
// ones: batch 1 with a 5x5 filter, K = 13 and a 7x7 image; no padding; several channel chunks (K = 200); a partial
// last slice and stage (3 images of 17x11). The forward also with its fused epilogues. Tolerances (normwise, as
// above): fp32 and tf32 1e-4 (both plans run FP32 arithmetic here, and the CPU has no TF32: two float sums of the
// same terms in different orders, at most 72 terms per output and 4096 per filter-gradient element, differ by far
// less); bf16 2^-7 (the same bf16 inputs, float sums, one bf16 rounding of the output; the CPU rounds the
// convolution before the epilogue, the kernel after it). The filter gradient is bit-for-bit the same when run twice
// (no atomics).
TEST(ConvBackendsCuda, DirectKernelsMatchTheCpuTwin) {
  ROSETTA_REQUIRE_CUDA();
  Context& gpu = Context::cuda();
  struct Case {
    const char* name;
    ConvShape shape;
    Precision precision;
    Layout layout;
  };
  ConvShape rectangular = shape_of(3, 3, 17, 24, 3, 1, 1);
  rectangular.w = 11, rectangular.pad_w = 0;
  const Case cases[] = {{"conv1 NCHW fp32", shape_of(4, 3, 32, 50, 3, 1, 1), Precision::fp32, Layout::nchw},
                        {"conv1 NHWC tf32", shape_of(4, 8, 32, 56, 3, 1, 1), Precision::tf32, Layout::nhwc},
                        {"conv1 NHWC bf16", shape_of(4, 8, 32, 56, 3, 1, 1), Precision::bf16, Layout::nhwc},
                        {"batch 1 5x5 K 13", shape_of(1, 2, 7, 13, 5, 2, 1), Precision::fp32, Layout::nhwc},
                        {"no padding bf16 NCHW", shape_of(2, 4, 9, 21, 3, 0, 1), Precision::bf16, Layout::nchw},
                        {"K 200 in chunks", shape_of(2, 8, 8, 200, 3, 1, 1), Precision::fp32, Layout::nchw},
                        {"partial slices", rectangular, Precision::tf32, Layout::nhwc}};
  for (const Case& c : cases) {
    SCOPED_TRACE(std::string(c.name) + ": " + c.shape.str());
    const ConvShape& s = c.shape;
    ConvOptions options;  // untimed (autotune off: the forced backend's first candidate; every one is run below)
    options.precision = c.precision, options.layout = c.layout, options.backend = ConvBackend::direct;
    options.autotune = false;
    const std::vector<float> x = testing::random_floats(std::size_t(s.n * s.c * s.h * s.w), -1, 1, 321);
    const std::vector<float> w = testing::random_floats(std::size_t(s.k * s.c * s.r * s.s), -0.5, 0.5, 322);
    const std::vector<float> dy = testing::random_floats(std::size_t(s.n * s.k * s.out_h() * s.out_w()), -1, 1, 323);
    const double tol = c.precision == Precision::bf16 ? std::ldexp(1.0, -7) : 1e-4;
    ConvOptions cpu_options = options;
    cpu_options.backend.reset();
    const ConvPlan cpu_plan = kernels::make_conv_plan(Context::cpu(), s, cpu_options);
    const ConvPlan plan = kernels::make_conv_plan(gpu, s, options);
    for (ConvPass pass : {ConvPass::forward, ConvPass::backward_filter}) {
      ASSERT_EQ(plan.of(pass).backend, ConvBackend::direct) << kernels::conv_pass_name(pass);
      const std::vector<float> expected = pass_output(Context::cpu(), cpu_plan, pass, x, w, dy, {});
      const std::vector<int> algos = pass == ConvPass::forward ? std::vector<int>{8, 4} : std::vector<int>{256, 128, 512};
      for (int v = 0; v < int(algos.size()); ++v) {
        kernels::ConvAlgorithmChoice choice;
        choice.backend = ConvBackend::direct, choice.algo = algos[std::size_t(v)], choice.variant = v;
        const ConvPlan variant = kernels::conv_plan_with_choice(gpu, plan, pass, choice);
        SCOPED_TRACE(kernels::conv_choice_name(pass, variant.of(pass)));
        const std::vector<float> actual = pass_output(gpu, variant, pass, x, w, dy, {});
        EXPECT_LE(normwise_error(actual, expected), tol);
        if (pass == ConvPass::backward_filter) {
          EXPECT_EQ(pass_output(gpu, variant, pass, x, w, dy, {}), actual) << "run twice, the same bits";
        }
      }
    }
    // The forward with each declared epilogue (a forward-only plan; any call's epilogue runs inside the kernel).
    for (ConvEpilogue e : {ConvEpilogue::bias_relu, ConvEpilogue::bias_residual, ConvEpilogue::any}) {
      SCOPED_TRACE(kernels::conv_epilogue_name(e));
      ConvOptions fo = options;
      fo.forward_only = true, fo.epilogue = e;
      ConvOptions cpu_fo = fo;
      cpu_fo.backend.reset();
      const std::vector<float> bias = testing::random_floats(std::size_t(s.k), -1, 1, 324);
      const std::vector<float> z = testing::random_floats(std::size_t(s.n * s.k * s.out_h() * s.out_w()), -2, 2, 325);
      const ConvPlan fplan = kernels::make_conv_plan(gpu, s, fo);
      EXPECT_EQ(fplan.of(ConvPass::forward).backend, ConvBackend::direct);
      EXPECT_TRUE(fplan.fused_relu && fplan.fused_identity) << "the epilogue runs inside the kernel";
      EXPECT_LE(normwise_error(forward(gpu, fplan, x, w, bias, z),
                               forward(Context::cpu(), kernels::make_conv_plan(Context::cpu(), s, cpu_fo), x, w, bias, z)),
                tol);
    }
  }
  EXPECT_EQ(kernels::conv_autotune_stats(gpu).failed_candidates, 0) << kernels::conv_autotune_stats(gpu).last_failure;
}

// conv1's free choice: the direct kernels' candidates are timed beside cuDNN's for the forward and the filter
// gradient (whichever wins), never for the data gradient; a saved cache remakes a direct choice without a search.
TEST(ConvBackendsCuda, DirectCandidatesAreTimedForConv1AndCached) {
  ROSETTA_REQUIRE_CUDA();
  Context& gpu = Context::cuda();
  kernels::cuda::ConvAlgorithmCache& cache = kernels::cuda::conv_algorithm_cache();
  cache.clear();
  const ConvShape s = shape_of(64, 3, 32, 50, 3, 1, 1);
  ConvOptions options;  // training: all three passes, fp32 NCHW
  const ConvPlan plan = kernels::make_conv_plan(gpu, s, options);
  for (ConvPass pass : {ConvPass::forward, ConvPass::backward_data, ConvPass::backward_filter}) {
    SCOPED_TRACE(kernels::conv_pass_name(pass));
    const auto entry = cache.find(kernels::cuda::make_conv_algorithm_key(0, s, options, pass));
    ASSERT_TRUE(entry.has_value());
    std::size_t direct = 0;
    for (const kernels::ConvAlgorithmChoice& c : entry->candidates) {
      direct += c.backend == ConvBackend::direct ? 1 : 0;
      EXPECT_GT(c.time_ms, 0.0f) << kernels::conv_choice_name(pass, c);
    }
    EXPECT_EQ(direct, pass == ConvPass::forward ? 2u : pass == ConvPass::backward_filter ? 3u : 0u);
    std::printf("conv1 %s: %s %.4f ms\n", kernels::conv_pass_name(pass),
                kernels::conv_choice_name(pass, plan.of(pass)).c_str(), plan.of(pass).time_ms);
  }
  ConvOptions forced = options;
  forced.backend = ConvBackend::direct;
  const ConvPlan direct_plan = kernels::make_conv_plan(gpu, s, forced);
  const std::string path = ::testing::TempDir() + "rosetta_conv_direct_cache.json";
  kernels::save_conv_algorithm_cache(gpu, path);
  cache.clear();
  const kernels::ConvCacheLoad load = kernels::load_conv_algorithm_cache(gpu, path);
  EXPECT_GT(load.entries, 0u) << load.note;
  const kernels::ConvAutotuneStats before = kernels::conv_autotune_stats(gpu);
  const ConvPlan again = kernels::make_conv_plan(gpu, s, forced);
  EXPECT_EQ(kernels::conv_autotune_stats(gpu).searched, before.searched) << "remade from the cache";
  for (ConvPass pass : {ConvPass::forward, ConvPass::backward_filter}) {
    EXPECT_EQ(again.of(pass).backend, ConvBackend::direct);
    EXPECT_EQ(again.of(pass).algo, direct_plan.of(pass).algo);
    EXPECT_EQ(again.of(pass).workspace_bytes, direct_plan.of(pass).workspace_bytes);
  }
  EXPECT_EQ(kernels::conv_autotune_stats(gpu).failed_candidates, 0) << kernels::conv_autotune_stats(gpu).last_failure;
  std::remove(path.c_str());
}

// bf16 training (the CNN's, NHWC with channels padded to 56): legacy cuDNN plans and runs the backward passes on
// bf16 descriptors with float compute, each pass against the CPU twin (2^-7 normwise: one bf16 rounding of the
// output on both sides, float sums in another order).
TEST(ConvBackendsCuda, Bf16TrainingPassesMatchTheCpuTwin) {
  ROSETTA_REQUIRE_CUDA();
  Context& gpu = Context::cuda();
  for (bool autotune : {true, false}) {
    const ConvShape s = shape_of(2, 56, 16, 56, 3, 1, 1);
    ConvOptions options;
    options.precision = Precision::bf16, options.layout = Layout::nhwc, options.autotune = autotune;
    SCOPED_TRACE(autotune ? "autotune" : "heuristics");
    const ConvPlan cpu_plan = kernels::make_conv_plan(Context::cpu(), s, options);
    const ConvPlan plan = kernels::make_conv_plan(gpu, s, options);
    const std::vector<float> x = testing::random_floats(std::size_t(s.n * s.c * s.h * s.w), -1, 1, 311);
    const std::vector<float> w = testing::random_floats(std::size_t(s.k * s.c * s.r * s.s), -0.5, 0.5, 312);
    const std::vector<float> dy = testing::random_floats(std::size_t(s.n * s.k * s.out_h() * s.out_w()), -1, 1, 313);
    for (ConvPass pass : {ConvPass::forward, ConvPass::backward_data, ConvPass::backward_filter}) {
      SCOPED_TRACE(kernels::conv_choice_name(pass, plan.of(pass)));
      EXPECT_LE(normwise_error(pass_output(gpu, plan, pass, x, w, dy, {}),
                               pass_output(Context::cpu(), cpu_plan, pass, x, w, dy, {})),
                tolerance(Precision::bf16));
    }
  }
}

// A training plan declared for the CNN's bias + ReLU epilogue (models/cifar_vgg_fused.cpp), NHWC with channels
// padded to 56, in tf32 and bf16: free to choose (the forward timed across legacy cuDNN and the graph API) and with
// the graph API forced, which must then serve the forward with the epilogue fused while legacy cuDNN serves both
// gradient passes; each pass against the CPU twin under tolerance(precision) (tf32 1e-2: 10-bit mantissas; bf16
// 2^-7: one bf16 rounding of the output on both sides, and where the graph API fuses, the CPU's extra rounding of the
// convolution before its bias).
TEST(ConvBackendsCuda, DeclaredEpilogueTrainingPassesMatchTheCpuTwin) {
  ROSETTA_REQUIRE_CUDA();
  Context& gpu = Context::cuda();
  const ConvShape s = shape_of(2, 56, 16, 56, 3, 1, 1);
  const std::vector<float> x = testing::random_floats(std::size_t(s.n * s.c * s.h * s.w), -1, 1, 321);
  const std::vector<float> w = testing::random_floats(std::size_t(s.k * s.c * s.r * s.s), -0.5, 0.5, 322);
  const std::vector<float> dy = testing::random_floats(std::size_t(s.n * s.k * s.out_h() * s.out_w()), -1, 1, 323);
  const std::vector<float> bias = testing::random_floats(std::size_t(s.k), -1, 1, 324);
  for (Precision precision : {Precision::tf32, Precision::bf16})
    for (bool forced : {false, true}) {
      ConvOptions options;
      options.precision = precision, options.layout = Layout::nhwc, options.epilogue = ConvEpilogue::bias_relu;
      if (forced) options.backend = ConvBackend::cudnn_graph;
      SCOPED_TRACE(std::string(precision_name(precision)) + (forced ? " forced cudnn-graph" : " free choice"));
      ConvOptions cpu_options = options;
      cpu_options.backend.reset();
      const ConvPlan cpu_plan = kernels::make_conv_plan(Context::cpu(), s, cpu_options);
      const ConvPlan plan = kernels::make_conv_plan(gpu, s, options);
      if (forced) {
        EXPECT_EQ(plan.of(ConvPass::forward).backend, ConvBackend::cudnn_graph) << "the graph API offered nothing";
        EXPECT_TRUE(plan.fused_relu) << "the graph API builds the declared bias + ReLU into the forward";
      }
      for (ConvPass pass : {ConvPass::backward_data, ConvPass::backward_filter})
        EXPECT_EQ(plan.of(pass).backend, ConvBackend::cudnn) << kernels::conv_pass_name(pass);
      for (ConvPass pass : {ConvPass::forward, ConvPass::backward_data, ConvPass::backward_filter}) {
        SCOPED_TRACE(kernels::conv_choice_name(pass, plan.of(pass)));
        EXPECT_LE(normwise_error(pass_output(gpu, plan, pass, x, w, dy, bias),
                                 pass_output(Context::cpu(), cpu_plan, pass, x, w, dy, bias)),
                  tolerance(precision));
      }
    }
}

// The free choice is the fastest candidate the planner timed, every accepting backend took part, legacy cuDNN's
// candidates carry Find's own time beside the event-timed one, and the cache keeps them all.
TEST(ConvBackendsCuda, FreeChoiceIsTheFastestTimedCandidate) {
  ROSETTA_REQUIRE_CUDA();
  Context& gpu = Context::cuda();
  kernels::cuda::ConvAlgorithmCache& cache = kernels::cuda::conv_algorithm_cache();
  cache.clear();
  const ConvShape s = shape_of(4, 64, 28, 256, 1, 0, 1);
  const ConvOptions options = forward_options(Precision::bf16, Layout::nhwc, ConvEpilogue::bias_residual_relu);
  const ConvPlan plan = kernels::make_conv_plan(gpu, s, options);
  const auto entry = cache.find(kernels::cuda::make_conv_algorithm_key(0, s, options, ConvPass::forward));
  ASSERT_TRUE(entry.has_value());
  ASSERT_FALSE(entry->candidates.empty());
  EXPECT_EQ(entry->choice, plan.of(ConvPass::forward));
  EXPECT_EQ(entry->candidates.front(), entry->choice);
  std::set<ConvBackend> backends;
  for (std::size_t i = 0; i < entry->candidates.size(); ++i) {
    const kernels::ConvAlgorithmChoice& c = entry->candidates[i];
    backends.insert(c.backend);
    EXPECT_GT(c.time_ms, 0.0f) << kernels::conv_choice_name(ConvPass::forward, c);
    if (i > 0) {
      EXPECT_LE(entry->candidates[i - 1].time_ms, c.time_ms) << "candidates are fastest first";
    }
    if (c.backend == ConvBackend::cudnn) {
      EXPECT_GT(c.find_time_ms, 0.0f) << "Find's own figure is kept";
    }
  }
  EXPECT_TRUE(backends.count(ConvBackend::cudnn));
  EXPECT_TRUE(backends.count(ConvBackend::cublaslt));
  std::size_t legacy = 0;
  for (const kernels::ConvAlgorithmChoice& c : entry->candidates) legacy += c.backend == ConvBackend::cudnn ? 1 : 0;
  EXPECT_LE(legacy, 5u) << "Find's first five are re-timed";
  EXPECT_EQ(kernels::conv_autotune_stats(gpu).failed_candidates, 0) << kernels::conv_autotune_stats(gpu).last_failure;
}

// A saved cache makes every backend's choice again in a fresh process's cache, without a search.
TEST(ConvBackendsCuda, SavedCacheRemakesEachBackendsChoice) {
  ROSETTA_REQUIRE_CUDA();
  Context& gpu = Context::cuda();
  kernels::cuda::ConvAlgorithmCache& cache = kernels::cuda::conv_algorithm_cache();
  cache.clear();
  const std::string path = ::testing::TempDir() + "rosetta_conv_backends_cache.json";
  struct Planned {
    ConvShape shape;
    ConvOptions options;
    kernels::ConvAlgorithmChoice choice;
  };
  std::vector<Planned> planned;
  for (ConvBackend forced : {ConvBackend::cudnn, ConvBackend::cudnn_graph, ConvBackend::cublaslt}) {
    for (const Kind& kind : {kinds()[0], kinds()[2]}) {
      ConvOptions o = forward_options(Precision::bf16, Layout::nhwc, kind.epilogue);
      o.backend = forced;
      planned.push_back({kind.shape, o, kernels::make_conv_plan(gpu, kind.shape, o).of(ConvPass::forward)});
    }
  }
  kernels::save_conv_algorithm_cache(gpu, path);
  cache.clear();
  const kernels::ConvCacheLoad load = kernels::load_conv_algorithm_cache(gpu, path);
  EXPECT_EQ(load.entries, planned.size()) << load.note;
  for (const Planned& p : planned) {
    const ConvPlan again = kernels::make_conv_plan(gpu, p.shape, p.options);
    const kernels::ConvAlgorithmChoice& c = again.of(ConvPass::forward);
    EXPECT_EQ(c.backend, p.choice.backend);
    EXPECT_EQ(c.algo, p.choice.algo);
    EXPECT_EQ(c.variant, p.choice.variant);
  }
  EXPECT_EQ(kernels::conv_autotune_stats(gpu).searched, 0);
  EXPECT_EQ(kernels::conv_autotune_stats(gpu).failed_candidates, 0) << kernels::conv_autotune_stats(gpu).last_failure;
  std::remove(path.c_str());
}
#endif  // ROSETTA_WITH_CUDA

}  // namespace
}  // namespace rosetta
