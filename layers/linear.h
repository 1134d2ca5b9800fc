// Linear: y = x W^T + b, as PyTorch's nn.Linear. "<name>.weight" (out, in) and "<name>.bias" (out) live in the
// model's ParameterSet. GEMMs go through cuBLAS on CUDA in the precision given at setup.
#pragma once
#include <string>

#include "layers/parameters.h"

namespace rosetta {

class Linear {
 public:
  Linear(ParameterSet& params, const std::string& name, std::int64_t in_features, std::int64_t out_features);

  // x: (N, in_features). dx_into: where backward writes the input gradient, a view of the caller's (the input's
  // shape, on ctx's device), so a model can have it land inside a larger buffer with no copy; default: its own.
  void setup(const Context& ctx, const Shape& input, Precision precision, const Tensor& dx_into = Tensor());
  const Tensor& forward(const Context& ctx, const Tensor& x);
  const Tensor& backward(const Context& ctx, const Tensor& dy);
  int weight_index() const { return weight_; }
  int bias_index() const { return bias_; }

 private:
  ParameterSet& params_;
  std::int64_t in_, out_;
  int weight_, bias_;
  Precision precision_ = Precision::fp32;
  Tensor x_;   // (N, in): the input of the last forward
  Tensor y_;   // (N, out)
  Tensor dx_;  // (N, in): its own, or the caller's dx_into
};

}  // namespace rosetta
