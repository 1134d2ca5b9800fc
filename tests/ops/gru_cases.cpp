// Op cases of kernels/gru.h at the IMDB workload's shape (T 150, N 64, I 125, H 100) with PyTorch's init scale. The
// CPU twin has one implementation; the variants name the CUDA twin's (cuDNN, with its algorithm timed at plan time,
// the persistent GRU, or the hand-built naive GRU) and the precision. The backward cases run their forward at make time.
#include <cmath>

#include "kernels/gru.h"
#include "tests/ops/op_case.h"

namespace rosetta::ops {
namespace {

const kernels::GruShape kShape{150, 64, 125, 100};

const Tolerance kFp32 = Tolerance::normwise(
    1e-4, "the GPU sums hundreds to thousands of float terms in orders of its own (the weight gradients add T N = "
          "9600) and cuDNN evaluates the activations its own way; measured ~1e-6 against the double reference, over "
          "150 dependent steps");
const Tolerance kTf32 =
    Tolerance::normwise(2e-2, "TF32 rounds the GEMM operands to 10 mantissa bits (~5e-4), ~1e-3 normwise over T steps");

struct GruTensors {
  Tensor x, w_ih, w_hh, b_ih, b_hh, h, reserve;
  kernels::GruWeights weights() const {
    return {w_ih.data<float>(), w_hh.data<float>(), b_ih.data<float>(), b_hh.data<float>()};
  }
  float* reserve_data() const { return reserve.defined() ? reserve.data<float>() : nullptr; }
};

GruTensors inputs(const Context& ctx, const kernels::GruPlan& plan, std::uint8_t poison) {
  const kernels::GruShape& s = plan.shape;
  const float bound = 1.0f / std::sqrt(static_cast<float>(s.h));
  GruTensors t;
  t.x = seeded(ctx, {s.t, s.n, s.i}, DType::f32, -1, 1, 151);
  t.w_ih = seeded(ctx, {3 * s.h, s.i}, DType::f32, -bound, bound, 152);
  t.w_hh = seeded(ctx, {3 * s.h, s.h}, DType::f32, -bound, bound, 153);
  t.b_ih = seeded(ctx, {3 * s.h}, DType::f32, -bound, bound, 154);
  t.b_hh = seeded(ctx, {3 * s.h}, DType::f32, -bound, bound, 155);
  t.h = poisoned(ctx, {s.t, s.n, s.h}, DType::f32, poison);
  if (plan.reserve_elements > 0) t.reserve = poisoned(ctx, {plan.reserve_elements}, DType::f32, poison);
  return t;
}

kernels::GruOptions gru_options(kernels::GruImplementation implementation, Precision precision) {
  kernels::GruOptions o;
  o.implementation = implementation, o.precision = precision;
  return o;
}

std::string variant(const kernels::GruOptions& o) {
  return std::string(kernels::gru_implementation_name(o.implementation)) + "-" + precision_name(o.precision);
}

double gemm_flops(const kernels::GruShape& s) { return 2.0 * s.t * s.n * 3 * s.h * (s.i + s.h); }

OpCase forward_case(const kernels::GruOptions& options) {
  OpCase c{"gru", "gru_forward", variant(options), kShape.str(), gemm_flops(kShape),
           4.0 * kShape.t * kShape.n * (kShape.i + 5 * kShape.h), nullptr};
  c.make = [=](const Context& ctx, std::uint8_t poison) {
    const kernels::GruPlan plan = kernels::make_gru_plan(ctx, kShape, options);
    const GruTensors t = inputs(ctx, plan, poison);
    return OpRun{[=, &ctx] { kernels::gru_forward(ctx, plan, t.x.data<float>(), t.weights(), t.h.data<float>(), t.reserve_data()); },
                 {{"h", t.h, options.precision == Precision::fp32 ? kFp32 : kTf32}}};
  };
  return c;
}

OpCase backward_case(const kernels::GruOptions& options) {
  const kernels::GruShape& s = kShape;
  OpCase c{"gru", "gru_backward", variant(options), kShape.str(), 2 * gemm_flops(kShape),
           4.0 * s.t * s.n * (2 * s.i + 9 * s.h), nullptr};
  c.make = [=](const Context& ctx, std::uint8_t poison) {
    const kernels::GruPlan plan = kernels::make_gru_plan(ctx, s, options);
    const GruTensors t = inputs(ctx, plan, 0);
    kernels::gru_forward(ctx, plan, t.x.data<float>(), t.weights(), t.h.data<float>(), t.reserve_data());
    const Tensor dh = seeded(ctx, {s.t, s.n, s.h}, DType::f32, -1, 1, 156);
    const Tensor dx = poisoned(ctx, {s.t, s.n, s.i}, DType::f32, poison);
    const Tensor dw_ih = poisoned(ctx, {3 * s.h, s.i}, DType::f32, poison), dw_hh = poisoned(ctx, {3 * s.h, s.h}, DType::f32, poison);
    const Tensor db_ih = poisoned(ctx, {3 * s.h}, DType::f32, poison), db_hh = poisoned(ctx, {3 * s.h}, DType::f32, poison);
    const kernels::GruGradients grads{dw_ih.data<float>(), dw_hh.data<float>(), db_ih.data<float>(), db_hh.data<float>()};
    const Tolerance tolerance = options.precision == Precision::fp32 ? kFp32 : kTf32;
    return OpRun{[=, &ctx] {
                   kernels::gru_backward(ctx, plan, t.x.data<float>(), t.weights(), t.h.data<float>(), t.reserve_data(),
                                         dh.data<float>(), dx.data<float>(), grads);
                 },
                 {{"dx", dx, tolerance},
                  {"dw_ih", dw_ih, tolerance},
                  {"dw_hh", dw_hh, tolerance},
                  {"db_ih", db_ih, tolerance},
                  {"db_hh", db_hh, tolerance}}};
  };
  return c;
}

}  // namespace

void add_gru_cases(std::vector<OpCase>& cases) {
  for (const kernels::GruOptions& o : {gru_options(kernels::GruImplementation::cudnn, Precision::fp32),
                                       gru_options(kernels::GruImplementation::persistent, Precision::fp32),
                                       gru_options(kernels::GruImplementation::naive, Precision::fp32),
                                       gru_options(kernels::GruImplementation::cudnn, Precision::tf32)}) {
    cases.push_back(forward_case(o));
    cases.push_back(backward_case(o));
  }
}

}  // namespace rosetta::ops
