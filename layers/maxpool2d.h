// MaxPool2d: PyTorch's max_pool2d (floor mode, padding never wins, first maximum on ties). The forward keeps
// the arg-max of every window, so the backward routes each gradient to exactly the element PyTorch picks.
#pragma once
#include "kernels/pool.h"
#include "runtime/context.h"
#include "runtime/tensor.h"

namespace rosetta {

class MaxPool2d {
 public:
  MaxPool2d(int window, int stride, int pad = 0) : window_(window), stride_(stride), pad_(pad) {}

  void setup(const Context& ctx, const Shape& input);
  const Tensor& forward(const Context& ctx, const Tensor& x);
  const Tensor& backward(const Context& ctx, const Tensor& dy);
  const Shape& output_shape() const { return y_.shape(); }

 private:
  int window_, stride_, pad_;
  Shape input_;
  kernels::PoolShape shape_;
  Tensor y_;       // (N, C, OH, OW)
  Tensor argmax_;  // (N, C, OH, OW) int32: flat index inside the input plane
  Tensor dx_;      // (N, C, H, W)
};

}  // namespace rosetta
