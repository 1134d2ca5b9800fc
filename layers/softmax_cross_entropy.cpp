#include "layers/softmax_cross_entropy.h"

#include "kernels/loss.h"

namespace rosetta {

void SoftmaxCrossEntropy::setup(const Context& ctx, const Shape& logits, std::int64_t global_batch) {
  ROSETTA_CHECK(logits.rank() == 2, "logits " << logits.str() << " are not (N, K)");
  global_batch_ = global_batch == 0 ? logits[0] : global_batch;
  ROSETTA_CHECK(global_batch_ >= logits[0], "a global batch of " << global_batch_ << " has fewer rows than logits "
                                                                 << logits.str());
  loss_ = Tensor::zeros({1}, DType::f32, ctx.device());
  dlogits_ = Tensor::empty(logits, DType::f32, ctx.device());
}

const Tensor& SoftmaxCrossEntropy::forward(const Context& ctx, const Tensor& logits, const Tensor& labels) {
  ROSETTA_CHECK(logits.shape() == dlogits_.shape() && labels.shape() == Shape({logits.dim(0)}),
                "logits " << logits.shape().str() << " and labels " << labels.shape().str() << ", set up for "
                          << dlogits_.shape().str());
  kernels::softmax_cross_entropy(ctx, logits.data<float>(), labels.data<std::int32_t>(),
                                                      loss_.data<float>(), dlogits_.data<float>(), logits.dim(0),
                                                      logits.dim(1), global_batch_);
  return loss_;
}

}  // namespace rosetta
