// BatchNorm2d inference (kernels/batchnorm.h) against its definition in double, in place, and the folding of a batch
// norm into the convolution before it (layers/batchnorm2d.h). (The CUDA twin: the op table, tests/test_ops.cpp.)
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "kernels/batchnorm.h"
#include "kernels/conv.h"
#include "kernels/residual.h"
#include "layers/batchnorm2d.h"
#include "tests/support/cuda.h"
#include "tests/support/gradcheck.h"

namespace rosetta {
namespace {

const Context& cpu() { return Context::cpu(); }

TEST(BatchNormInference, MatchesTheDefinitionInDouble) {
  const std::int64_t n = 2, c = 3, hw = 5;
  const std::vector<float> x = testing::random_floats(n * c * hw, -2, 2, 1), gamma = testing::random_floats(c, 0.5f, 1.5f, 2),
                           beta = testing::random_floats(c, -1, 1, 3), mean = testing::random_floats(c, -1, 1, 4),
                           var = testing::random_floats(c, 0.1f, 2, 5);
  std::vector<float> y(x.size());
  kernels::batchnorm_inference_forward(cpu(), x.data(), y.data(), gamma.data(), beta.data(), mean.data(), var.data(),
                                       1e-5f, n, c, hw);
  for (std::int64_t i = 0; i < n * c * hw; ++i) {
    const std::int64_t ch = i / hw % c;
    const double expected = (double(x[i]) - mean[ch]) / std::sqrt(double(var[ch]) + 1e-5) * gamma[ch] + beta[ch];
    // Four float roundings of values below ~10: within 4 ulp of the largest intermediate, 1e-5 absolute.
    EXPECT_NEAR(y[i], expected, 1e-5) << i;
  }
  // In place gives the same bits.
  std::vector<float> inplace = x;
  kernels::batchnorm_inference_forward(cpu(), inplace.data(), inplace.data(), gamma.data(), beta.data(), mean.data(),
                                       var.data(), 1e-5f, n, c, hw);
  EXPECT_EQ(inplace, y);
}

TEST(BatchNormFolding, FoldedConvolutionEqualsConvolutionThenBatchNorm) {
  kernels::ConvShape s;
  s.n = 2, s.c = 4, s.h = s.w = 6, s.k = 5, s.r = s.s = 3, s.pad_h = s.pad_w = 1;
  ParameterSet params;
  const int weight = params.declare("conv.weight", {s.k, s.c, s.r, s.s});
  BatchNorm2d bn(params, "bn", s.k);
  params.allocate(Device::cpu, false);
  const std::int64_t w_size = s.k * s.c * s.r * s.s, y_size = s.n * s.k * s.out_h() * s.out_w();
  const std::vector<std::pair<int, std::vector<float>>> values = {
      {weight, testing::random_floats(w_size, -1, 1, 11)},   {bn.weight_index(), testing::random_floats(s.k, 0.5f, 1.5f, 12)},
      {bn.bias_index(), testing::random_floats(s.k, -1, 1, 13)}, {bn.mean_index(), testing::random_floats(s.k, -1, 1, 14)},
      {bn.var_index(), testing::random_floats(s.k, 0.1f, 2, 15)}};
  for (const auto& [index, v] : values) params.value(index).copy_from(Tensor::from_vector(params.shape(index), v));
  Tensor folded_w = Tensor::empty(params.shape(weight), DType::f32), folded_b = Tensor::empty({s.k}, DType::f32);
  fold_batchnorm(bn, params, weight, folded_w, folded_b);

  const kernels::ConvPlan plan = kernels::make_conv_plan(cpu(), s, kernels::ConvOptions{});
  const std::vector<float> x = testing::random_floats(s.n * s.c * s.h * s.w, -1, 1, 16);
  Tensor unfolded = Tensor::empty({s.n, s.k, s.out_h(), s.out_w()}, DType::f32);
  kernels::conv2d_forward(cpu(), plan, x.data(), params.value(weight).data<float>(), unfolded.data<float>());
  bn.forward(cpu(), unfolded, unfolded);
  std::vector<float> folded(y_size);
  kernels::conv2d_forward(cpu(), plan, x.data(), folded_w.data<float>(), folded.data());
  kernels::bias_residual_activation(cpu(), folded.data(), folded_b.data<float>(), nullptr, false, s.n, s.k,
                                    s.out_h() * s.out_w());
  // 36-term sums of O(1) values, rescaled: a few float roundings apart, 1e-5 relative and absolute.
  testing::expect_all_close(folded, unfolded.to_vector(), 1e-5, 1e-5, "folded vs unfolded");
}

}  // namespace
}  // namespace rosetta
