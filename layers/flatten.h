// Flatten: (N, C, H, W) -> (N, C*H*W), a view (no copy, no kernel); the backward reshapes the gradient back.
#pragma once
#include "runtime/tensor.h"

namespace rosetta {

class Flatten {
 public:
  Tensor forward(const Tensor& x) {
    input_ = x.shape();
    return x.reshape({x.dim(0), x.numel() / x.dim(0)});
  }
  Tensor backward(const Tensor& dy) const { return dy.reshape(input_); }

 private:
  Shape input_;
};

}  // namespace rosetta
