#include "tests/ops/op_case.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <cstring>
#include <sstream>

#include "runtime/half.h"
#include "runtime/philox.h"

namespace rosetta::ops {

std::vector<OpCase> all_op_cases() {
  std::vector<OpCase> cases;
  for (void (*add)(std::vector<OpCase>&) :
       {add_batchnorm_cases, add_conv_cases, add_elementwise_cases, add_embedding_cases, add_gemm_cases,
        add_gru_cases, add_layout_cases, add_loss_cases, add_matmul_cases, add_optimizer_cases, add_pool_cases,
        add_residual_cases})
    add(cases);
  return cases;
}

std::string Tolerance::str() const {
  std::ostringstream os;
  switch (rule) {
    case Rule::bits: os << "bits"; break;
    case Rule::normwise: os << "normwise " << rtol; break;
    case Rule::elementwise: os << "elementwise rtol " << rtol << " atol " << atol; break;
  }
  return os.str();
}

namespace {

// Host floats -> a host tensor of `dtype`.
Tensor host_tensor(const Shape& shape, DType dtype, const std::vector<float>& values) {
  Tensor t = Tensor::empty(shape, dtype);
  for (std::int64_t i = 0; i < t.numel(); ++i) {
    const float v = values[static_cast<std::size_t>(i)];
    switch (dtype) {
      case DType::f32: t.data<float>()[i] = v; break;
      case DType::bf16: t.data<bf16>()[i] = bf16(v); break;
      case DType::f16: t.data<f16>()[i] = f16(v); break;
      default: ROSETTA_FAIL("op cases make f32, bf16 or f16 values, not " << dtype_name(dtype));
    }
  }
  return t;
}

// Element i of a host float-like tensor, as a double.
double value_at(const Tensor& t, std::int64_t i) {
  switch (t.dtype()) {
    case DType::f32: return t.data<float>()[i];
    case DType::bf16: return float(t.data<bf16>()[i]);
    case DType::f16: return float(t.data<f16>()[i]);
    case DType::i32: return t.data<std::int32_t>()[i];
    case DType::u64: return static_cast<double>(t.data<std::uint64_t>()[i]);
    default: return 0;
  }
}

bool is_float(DType dtype) { return dtype == DType::f32 || dtype == DType::bf16 || dtype == DType::f16; }

}  // namespace

Tensor seeded(const Context& ctx, const Shape& shape, DType dtype, float lo, float hi, std::uint64_t seed) {
  std::vector<float> v(static_cast<std::size_t>(shape.numel()));
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = lo + (hi - lo) * philox_uniform(seed, 0, i);
  return on(ctx, host_tensor(shape, dtype, v));
}

Tensor quantised(const Context& ctx, const Shape& shape, DType dtype, float lo, float hi, std::uint64_t seed,
                 std::int64_t nan_every) {
  std::vector<float> v(static_cast<std::size_t>(shape.numel()));
  for (std::size_t i = 0; i < v.size(); ++i) {
    v[i] = std::floor(lo + (hi - lo) * philox_uniform(seed, 0, i));
    if (nan_every > 0 && philox_u32(seed, 1, i) % static_cast<std::uint64_t>(nan_every) == 0)
      v[i] = std::numeric_limits<float>::quiet_NaN();
  }
  return on(ctx, host_tensor(shape, dtype, v));
}

Tensor seeded_ints(const Context& ctx, const Shape& shape, std::int32_t lo, std::int32_t hi, std::uint64_t seed) {
  Tensor t = Tensor::empty(shape, DType::i32);
  const std::uint64_t range = static_cast<std::uint64_t>(hi - lo);
  for (std::int64_t i = 0; i < t.numel(); ++i)
    t.data<std::int32_t>()[i] = lo + static_cast<std::int32_t>(philox_u32(seed, 0, static_cast<std::uint64_t>(i)) % range);
  return on(ctx, t);
}

Tensor poisoned(const Context& ctx, const Shape& shape, DType dtype, std::uint8_t poison) {
  Tensor t = Tensor::empty(shape, dtype);
  std::memset(t.raw(), poison, t.nbytes());
  return on(ctx, t);
}

Tensor on(const Context& ctx, const Tensor& host) { return ctx.device() == Device::cpu ? host : host.to(ctx.device()); }

std::string dims(const Shape& shape) {
  std::string text;
  for (std::int64_t d : shape) text += (text.empty() ? "" : "x") + std::to_string(d);
  return text;
}

Tolerance bias_gradient_tolerance(DType dtype, std::int64_t terms) {
  if (dtype == DType::bf16)
    return Tolerance::normwise(0x1p-6, "float sums in another order (the CPU's is in double), then one rounding to "
                                       "bf16 each: at most one bf16 ulp (<= 2^-7 relative) apart; 2^-6 is twice that");
  return Tolerance::normwise(1e-5, "the CPU sums in double, the CUDA twin in float chunks: float re-association of <= " +
                                       std::to_string(terms) + " terms, ~sqrt(terms) u <= 4e-6 of the sums' scale");
}

bool same_bits(const Tensor& a, const Tensor& b) {
  if (a.dtype() != b.dtype() || a.shape() != b.shape()) return false;
  const Tensor ha = a.to(Device::cpu), hb = b.to(Device::cpu);
  return std::memcmp(ha.raw(), hb.raw(), ha.nbytes()) == 0;
}

std::string compare(const Tensor& actual, const Tensor& expected, const Tolerance& tolerance) {
  if (actual.dtype() != expected.dtype() || actual.shape() != expected.shape())
    return "got " + std::string(dtype_name(actual.dtype())) + actual.shape().str() + ", expected " +
           dtype_name(expected.dtype()) + expected.shape().str();
  if (tolerance.rule == Tolerance::Rule::bits || !is_float(expected.dtype())) {
    if (same_bits(actual, expected)) return "";
    const Tensor a = actual.to(Device::cpu), e = expected.to(Device::cpu);
    const std::size_t element = dtype_size(a.dtype());
    std::ostringstream os;
    int shown = 0;
    for (std::int64_t i = 0; i < a.numel() && shown < 5; ++i)
      if (std::memcmp(static_cast<const char*>(a.raw()) + i * element, static_cast<const char*>(e.raw()) + i * element,
                      element) != 0) {
        os << (shown++ ? "; " : "") << "element " << i << ": " << value_at(a, i) << " vs " << value_at(e, i);
      }
    return "not bit-identical: " + os.str();
  }
  const Tensor a = actual.to(Device::cpu), e = expected.to(Device::cpu);
  double scale = 0, worst = 0;
  for (std::int64_t i = 0; i < e.numel(); ++i)
    if (std::isfinite(value_at(e, i))) scale = std::max(scale, std::abs(value_at(e, i)));
  std::ostringstream os;
  int shown = 0;
  for (std::int64_t i = 0; i < e.numel(); ++i) {
    const double x = value_at(a, i), y = value_at(e, i);
    if (std::isnan(y) || std::isnan(x)) {
      if (std::isnan(x) != std::isnan(y) && shown++ < 5) os << " element " << i << ": " << x << " vs " << y << ";";
      continue;
    }
    const double error = std::abs(x - y);
    const double bound = tolerance.rule == Tolerance::Rule::normwise ? tolerance.rtol * scale
                                                                     : tolerance.atol + tolerance.rtol * std::abs(y);
    if (!(error <= bound)) {
      worst = std::max(worst, error / std::max(bound, 1e-300));
      if (shown++ < 5) os << " element " << i << ": " << x << " vs " << y << " (bound " << bound << ");";
    }
  }
  if (shown == 0) return "";
  std::ostringstream summary;
  summary << shown << " elements outside " << tolerance.str() << " (max |expected| " << scale << ", worst "
          << worst << "x the bound):" << os.str();
  return summary.str();
}

}  // namespace rosetta::ops
