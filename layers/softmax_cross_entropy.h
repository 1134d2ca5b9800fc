// SoftmaxCrossEntropy: PyTorch's cross_entropy with mean reduction, fused with its gradient. The loss stays in
// the context's memory (a (1,) tensor) so a training step never waits for the host; the gradient with respect
// to the logits is ready right after forward().
#pragma once
#include "runtime/context.h"
#include "runtime/tensor.h"

namespace rosetta {

class SoftmaxCrossEntropy {
 public:
  // logits: (N, K)
  void setup(const Context& ctx, const Shape& logits);
  // labels: (N,) int32. Returns the (1,) mean loss; the logits gradient is in dlogits().
  const Tensor& forward(const Context& ctx, const Tensor& logits, const Tensor& labels);
  const Tensor& dlogits() const { return dlogits_; }
  const Tensor& loss() const { return loss_; }

 private:
  Tensor loss_;     // (1,)
  Tensor dlogits_;  // (N, K)
};

}  // namespace rosetta
