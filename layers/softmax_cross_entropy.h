// SoftmaxCrossEntropy: PyTorch's cross_entropy with mean reduction, fused with its gradient. The loss stays in
// the context's memory (a (1,) tensor) so a training step never waits for the host; the gradient with respect
// to the logits is ready right after forward(). The mean is over the GLOBAL batch: a data-parallel rank holding N
// of its rows divides by the global batch, so the sum of the ranks' losses and gradients (the all-reduce) is the
// global batch's mean loss and exactly its gradient.
#pragma once
#include "runtime/context.h"
#include "runtime/tensor.h"

namespace rosetta {

class SoftmaxCrossEntropy {
 public:
  // logits: (N, K); global_batch: the rows the mean is over, N on one process (0: N).
  void setup(const Context& ctx, const Shape& logits, std::int64_t global_batch = 0);
  // labels: (N,) int32. Returns the (1,) mean loss; the logits gradient is in dlogits().
  const Tensor& forward(const Context& ctx, const Tensor& logits, const Tensor& labels);
  const Tensor& dlogits() const { return dlogits_; }
  const Tensor& loss() const { return loss_; }

 private:
  std::int64_t global_batch_ = 0;
  Tensor loss_;     // (1,)
  Tensor dlogits_;  // (N, K)
};

}  // namespace rosetta
