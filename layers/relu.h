// ReLU: y = max(x, 0); the backward reads y (PyTorch's rule: zero gradient where y == 0).
#pragma once
#include "runtime/context.h"
#include "runtime/tensor.h"

namespace rosetta {

class ReLU {
 public:
  void setup(const Context& ctx, const Shape& input);
  const Tensor& forward(const Context& ctx, const Tensor& x);
  const Tensor& backward(const Context& ctx, const Tensor& dy);

 private:
  Tensor y_;   // same shape as the input
  Tensor dx_;  // same shape as the input
};

}  // namespace rosetta
