// BatchNorm2d in inference mode, PyTorch's semantics with its running statistics:
//   y = (x - running_mean) / sqrt(running_var + eps) * weight + bias,   eps 1e-5 by default.
// Parameters "<name>.weight", "<name>.bias", "<name>.running_mean", "<name>.running_var" (C) live in the model's
// ParameterSet (running statistics are stored there too, so one safetensors file holds them under PyTorch's names;
// PyTorch's num_batches_tracked counter is not kept: it plays no part in inference). No training mode, no backward.
//
// fold_batchnorm computes the equivalent convolution: conv(x, w) followed by this layer equals conv(x, w') + b' with
//   w'[k] = w[k] * s[k],  b'[k] = bias[k] - running_mean[k] * s[k],  s[k] = weight[k] / sqrt(running_var[k] + eps)
// evaluated in double and rounded once to float.
#pragma once
#include <string>

#include "layers/parameters.h"

namespace rosetta {

class BatchNorm2d {
 public:
  static constexpr float kDefaultEps = 1e-5f;

  BatchNorm2d(ParameterSet& params, const std::string& name, std::int64_t channels, float eps = kDefaultEps);

  // y = bn(x) for x, y (N, C, H, W) on ctx's device (NCHW); in place (x == y) is allowed.
  void forward(const Context& ctx, const Tensor& x, const Tensor& y) const;

  std::int64_t channels() const { return channels_; }
  float eps() const { return eps_; }
  int weight_index() const { return weight_; }
  int bias_index() const { return bias_; }
  int mean_index() const { return mean_; }
  int var_index() const { return var_; }

 private:
  const ParameterSet& params_;
  std::int64_t channels_;
  float eps_;
  int weight_, bias_, mean_, var_;
};

// Folds `bn` into a convolution without bias whose weight is (K, C, R, S) with K == bn.channels(): writes
// folded_weight (K, C, R, S) and folded_bias (K), both f32 CPU tensors. Reads the parameters from wherever they live
// (CUDA arenas are copied to the host first).
void fold_batchnorm(const BatchNorm2d& bn, const ParameterSet& params, int conv_weight, const Tensor& folded_weight,
                    const Tensor& folded_bias);

}  // namespace rosetta
