// Embedding: out[..., :] = weight[ids[...], :], as PyTorch's nn.Embedding without padding_idx (row 0, IMDB's padding
// id, is trained like any other row, as in the seed). "<name>.weight" (V, D) lives in the model's ParameterSet.
// backward writes the dense weight gradient (zeros where no id occurs; Adam then moves those rows by their moments,
// as PyTorch's dense gradient does). Ids must lie in [0, V): kernels/embedding.h says what each twin does otherwise.
#pragma once
#include <string>

#include "layers/parameters.h"

namespace rosetta {

class Embedding {
 public:
  Embedding(ParameterSet& params, const std::string& name, std::int64_t vocab, std::int64_t dim);

  // PyTorch's default: weight ~ N(0, 1), drawn from Philox under `seed` (layers/init.h).
  void init_default(std::uint64_t seed);

  // ids: i32 of any shape (the GRU model's (T, N)) on ctx's device; the output is ids.shape + (D,). Grows the
  // context's workspace to what the backward needs.
  void setup(const Context& ctx, const Shape& ids);
  const Tensor& forward(const Context& ctx, const Tensor& ids);
  // d_out: the output's shape. Writes the weight gradient; there is no input gradient.
  void backward(const Context& ctx, const Tensor& d_out);

  const Shape& output_shape() const { return out_.shape(); }
  int weight_index() const { return weight_; }

 private:
  ParameterSet& params_;
  std::int64_t vocab_, dim_;
  int weight_;
  Tensor ids_;  // the ids of the last forward
  Tensor out_;  // ids.shape + (D,)
};

}  // namespace rosetta
