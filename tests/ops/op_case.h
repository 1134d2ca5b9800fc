// The table of op cases, in the manner of ggml's test-backend-ops: every op family of kernels/ declares its cases
// ONCE (tests/ops/<family>_cases.cpp): the shapes, seeded inputs, the call, and for each output the tolerance
// between the twins with its reason. Two consumers run them:
// - tests/test_ops.cpp: on the CPU, each case twice into differently poisoned outputs, which must come out
//   bit-identical (every element written, deterministic); on a GPU, the CUDA twin against the CPU twin;
// - bench/bench_ops.cpp: a Google Benchmark per case and device ("ops/cpu/maxpool2d/nhwc-bf16/..."), with bytes/s
//   and FLOP/s counters.
// Inputs come from Philox with the case's seeds, generated on the host and copied to the device, so both twins see
// the same values.
#pragma once
#include <cstdint>
#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include "runtime/context.h"
#include "runtime/tensor.h"

namespace rosetta::ops {

// How a CUDA output is judged against the CPU twin's, and why that rule holds for this op.
struct Tolerance {
  enum class Rule {
    bits,         // bit-identical (NaN equals the same NaN): the twins run the same operations in the same order
    normwise,     // max |actual - expected| <= rtol * max |expected| over the tensor
    elementwise,  // every |actual - expected| <= atol + rtol * |expected|, NaN where expected is NaN
  };
  Rule rule = Rule::bits;
  double rtol = 0, atol = 0;
  std::string reason;

  static Tolerance exact(std::string reason) { return {Rule::bits, 0, 0, std::move(reason)}; }
  static Tolerance normwise(double rtol, std::string reason) { return {Rule::normwise, rtol, 0, std::move(reason)}; }
  static Tolerance elementwise(double rtol, double atol, std::string reason) {
    return {Rule::elementwise, rtol, atol, std::move(reason)};
  }
  std::string str() const;  // "bits", "normwise 1e-4", ...
};

struct OpOutput {
  std::string name;  // "y", "argmax"
  Tensor tensor;     // written by the call, on the run's device
  Tolerance tolerance;
};

// One op on one device: its inputs and outputs allocated there, and one call of it.
struct OpRun {
  std::function<void()> call;    // what the benchmark times; rerunnable
  std::vector<OpOutput> outputs;  // what the call writes
};

struct OpCase {
  std::string family;   // the kernels/<family>.h the op is declared in: "pool"
  std::string op;       // the op: "maxpool2d_forward"
  std::string variant;  // its dtype / layout / precision variant: "nhwc-bf16", "fp32"
  std::string shape;    // "2x64x56x56-w3s2p1"
  double flops = 0;     // per call
  double bytes = 0;     // read and written per call
  // Builds the run on ctx's device. Outputs start with every byte `poison`, so an element the call does not write
  // shows; inputs are the same for any device and poison.
  std::function<OpRun(const Context& ctx, std::uint8_t poison)> make;

  std::string name() const { return op + "/" + variant + "/" + shape; }
};

// How GoogleTest prints a case (in test lists and failures): its name, not its bytes.
inline void PrintTo(const OpCase& c, std::ostream* os) { *os << c.name(); }

// Every case of every family, in a fixed order.
std::vector<OpCase> all_op_cases();

// The families, one per kernels/<family>.h: each appends its cases.
void add_batchnorm_cases(std::vector<OpCase>& cases);
void add_conv_cases(std::vector<OpCase>& cases);
void add_elementwise_cases(std::vector<OpCase>& cases);
void add_embedding_cases(std::vector<OpCase>& cases);
void add_gemm_cases(std::vector<OpCase>& cases);
void add_gru_cases(std::vector<OpCase>& cases);
void add_layout_cases(std::vector<OpCase>& cases);
void add_matmul_cases(std::vector<OpCase>& cases);
void add_loss_cases(std::vector<OpCase>& cases);
void add_optimizer_cases(std::vector<OpCase>& cases);
void add_pool_cases(std::vector<OpCase>& cases);
void add_residual_cases(std::vector<OpCase>& cases);

// Helpers for the case files. Values are Philox uniforms in [lo, hi) under (seed, stream 0), generated on the
// host in float, converted to `dtype` (f32, bf16, f16) and copied to ctx's device.
Tensor seeded(const Context& ctx, const Shape& shape, DType dtype, float lo, float hi, std::uint64_t seed);
// Values on a coarse grid, floor(u) for u in [lo, hi), with a NaN at every `nan_every`-th element (0: none):
// pooling and arg-max inputs with ties and NaNs.
Tensor quantised(const Context& ctx, const Shape& shape, DType dtype, float lo, float hi, std::uint64_t seed,
                 std::int64_t nan_every);
// Integers uniform in [lo, hi), I32.
Tensor seeded_ints(const Context& ctx, const Shape& shape, std::int32_t lo, std::int32_t hi, std::uint64_t seed);
// A tensor whose every byte is `poison`.
Tensor poisoned(const Context& ctx, const Shape& shape, DType dtype, std::uint8_t poison);
// A host tensor copied to ctx's device (returned as is on the CPU).
Tensor on(const Context& ctx, const Tensor& host);
// "2x64x56x56".
std::string dims(const Shape& shape);
// The tolerance of a per-channel bias gradient of up to `terms` terms per channel, float or rounded to bf16 (`dtype`):
// the CPU twins sum in double, the CUDA twins in float chunks (kernels/cuda/channel_sum.cuh).
Tolerance bias_gradient_tolerance(DType dtype, std::int64_t terms);

// An empty string when `actual` meets `expected` under the tolerance, else the first offenders and the worst
// error (for the test's failure message). Both are copied to the host; f32, bf16 and f16 compare as float values,
// integers exactly.
std::string compare(const Tensor& actual, const Tensor& expected, const Tolerance& tolerance);
// Whether two tensors have the same dtype, shape and bytes.
bool same_bits(const Tensor& a, const Tensor& b);

}  // namespace rosetta::ops
