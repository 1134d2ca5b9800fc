// GRU: one layer, unidirectional, PyTorch's nn.GRU (kernels/gru.h has the equations). Parameters
// "<name>.weight_ih_l0" (3H, I), "<name>.weight_hh_l0" (3H, H), "<name>.bias_ih_l0" (3H), "<name>.bias_hh_l0" (3H)
// live in the model's ParameterSet, gate rows r | z | n as in PyTorch, declared packed (kernels/gru.h's
// gru_packed_elements: one block with no gap), so that on cuDNN the block is the weight space and its gradient the
// weight-gradient space, read and written in place with no copy per step, wherever cuDNN's plan reports that
// layout (weight_space() says which, and why not).
//
// forward returns every step's hidden state (h_{-1} = 0); backward takes the loss gradient for all of them (zeros
// where the loss does not read a step) and writes the four weight gradients (overwrite) and the input gradient.
// Options: the kernel plan's (kernels/gru.h: precision, the CUDA implementation, cuDNN's algorithm or its timed
// choice, padded I/O), and the sequence layout: tnc takes and returns (T, N, C); ntc takes and returns batch-first
// (N, T, C) and transposes to and from time-major around the time-major kernels (what a batch-first framework pays).
// setup() sizes every buffer and makes the plan for one input shape; forward and backward then allocate nothing.
#pragma once
#include <optional>
#include <string>

#include "kernels/gru.h"
#include "layers/parameters.h"

namespace rosetta {

enum class SequenceLayout { tnc, ntc };
const char* sequence_layout_name(SequenceLayout layout);  // "tnc", "ntc"
bool sequence_layout_from_name(const std::string& name, SequenceLayout* layout);

struct GruOptions : kernels::GruOptions {
  SequenceLayout layout = SequenceLayout::tnc;
};

class GRU {
 public:
  GRU(ParameterSet& params, const std::string& name, std::int64_t input_size, std::int64_t hidden_size);

  // PyTorch's default: every parameter U(-1/sqrt(H), 1/sqrt(H)), drawn from Philox under `seed` (layers/init.h).
  void init_default(std::uint64_t seed);

  // input: (T, N, I) for layout tnc, (N, T, I) for ntc, on ctx's device.
  void setup(const Context& ctx, const Shape& input, const GruOptions& options);
  // Every hidden state: (T, N, H) or (N, T, H), the input's layout.
  const Tensor& forward(const Context& ctx, const Tensor& x);
  // dh: the output's shape. Returns dx, the input's shape.
  const Tensor& backward(const Context& ctx, const Tensor& dh);

  const Shape& output_shape() const { return output_shape_; }
  const kernels::GruShape& shape() const { return plan_.shape; }
  const GruOptions& options() const { return options_; }
  const kernels::GruPlan& plan() const { return plan_; }
  // On cuDNN: "in place" (the parameter block is the weight space), or "copied: <why not>"; empty otherwise.
  std::string weight_space() const;
  int weight_ih_index() const { return weight_ih_; }
  int weight_hh_index() const { return weight_hh_; }
  int bias_ih_index() const { return bias_ih_; }
  int bias_hh_index() const { return bias_hh_; }

 private:
  bool batch_first() const { return options_.layout == SequenceLayout::ntc; }
  kernels::GruWeights weights() const;
  kernels::GruGradients gradients() const;
  float* reserve() const;  // null when the plan keeps none

  ParameterSet& params_;
  std::int64_t input_size_, hidden_size_;
  int weight_ih_, weight_hh_, bias_ih_, bias_hh_;
  GruOptions options_;
  Shape input_shape_, output_shape_;
  kernels::GruPlan plan_;
  Tensor x_;        // (T, N, I): the time-major input of the last forward (the input itself, or x_tnc_)
  Tensor x_tnc_;    // (T, N, I), ntc only
  Tensor h_;        // (T, N, H)
  Tensor h_ntc_;    // (N, T, H), ntc only
  Tensor dh_tnc_;   // (T, N, H), ntc only
  Tensor dx_;       // (T, N, I)
  Tensor dx_ntc_;   // (N, T, I), ntc only
  Tensor reserve_;  // (plan_.reserve_elements): what the forward keeps for the backward; empty on cuDNN
};

}  // namespace rosetta
