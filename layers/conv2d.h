// Conv2d: y = conv(x, weight) + bias, NCHW, square kernel, PyTorch's Conv2d semantics.
// Parameters "<name>.weight" (K, C, R, R) and "<name>.bias" (K) live in the model's ParameterSet.
// setup() makes the kernel plan for one batch shape (cuDNN algorithm choice included) and allocates the output
// and input-gradient buffers; forward/backward then allocate nothing. backward() writes the weight and bias
// gradients (overwrite) and, unless the layer is the first (input_grad = false), the input gradient.
#pragma once
#include <string>

#include "kernels/conv.h"
#include "layers/parameters.h"

namespace rosetta {

class Conv2d {
 public:
  Conv2d(ParameterSet& params, const std::string& name, std::int64_t in_channels, std::int64_t out_channels,
         int kernel, int pad, int stride = 1, bool input_grad = true);

  // x: (N, C, H, W) on ctx's device.
  void setup(const Context& ctx, const Shape& input, const kernels::ConvOptions& options);
  const Tensor& forward(const Context& ctx, const Tensor& x);
  const Tensor& backward(const Context& ctx, const Tensor& dy);

  const Shape& output_shape() const { return y_.shape(); }
  const kernels::ConvPlan& plan() const { return plan_; }
  int weight_index() const { return weight_; }
  int bias_index() const { return bias_; }

 private:
  ParameterSet& params_;
  std::int64_t in_channels_, out_channels_;
  int kernel_, pad_, stride_;
  bool input_grad_;
  int weight_, bias_;
  kernels::ConvPlan plan_;
  Tensor x_;   // (N, C, H, W): the input of the last forward, kept for the filter gradient
  Tensor y_;   // (N, K, OH, OW)
  Tensor dx_;  // (N, C, H, W); undefined when input_grad is false
};

}  // namespace rosetta
