// ImdbGRU: the seed's IMDB sentiment model (PyTorch state_dict names):
//   embedding(30000 x 125) -> GRU(125 -> 100, one layer) -> the last time step's output -> l_out(100 -> 2)
// and its training: softmax cross-entropy (mean) and Adam (lr 1e-3, betas 0.9/0.999, eps 1e-8). Initial weights
// are PyTorch's defaults drawn from Philox: embedding N(0, 1); GRU U(-1/sqrt(100), 1/sqrt(100)); l_out weight and
// bias U(-1/sqrt(100), 1/sqrt(100)) (nn.Linear's kaiming_uniform(a = sqrt(5)) reduces to that bound).
//
// Data-parallel (options.communicator of several ranks): each rank holds `batch` rows of the global batch (batch x
// ranks), its loss is averaged over the global batch, and one all-reduce of the gradient arena and the loss between
// backward and Adam's update gives every rank the global batch's gradient.
//
// Tokens come time-major, (T, N) i32, with the GRU's layout tnc (cuDNN's SEQ_MAJOR_UNPACKED: the seed's lesson),
// or batch-first, (N, T), with layout ntc, where the GRU transposes on the way in and out (the ablation). Every
// buffer is sized by setup() for one batch size: step() and evaluate() allocate nothing and never wait for the
// host, so a step can be captured in a CUDA graph.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>

#include "layers/adam.h"
#include "layers/embedding.h"
#include "layers/gru.h"
#include "layers/linear.h"
#include "layers/softmax_cross_entropy.h"
#include "models/option_rule.h"
#include "runtime/communicator.h"

namespace rosetta {

struct ImdbGruOptions {
  std::int64_t batch = 64;   // this process's rows of the global batch (batch x communicator->size())
  std::int64_t steps = 150;  // tokens per review (T)
  float lr = 1e-3f;
  GruOptions gru;  // precision (also l_out's), auto | cudnn | persistent | naive, algorithm, layout
  const Communicator* communicator = &Communicator::single_process();  // the ranks that share the batch

  // The model's rule these options break on `device`, or none: the CUDA twin's implementations are a choice on CUDA
  // only; the CPU runs its one twin, so persistent or naive there asks for something that does not exist (auto and
  // cudnn, the defaults, leave the CPU its twin).
  std::optional<OptionRule> broken_rule(Device device) const;
};

class ImdbGRU {
 public:
  static constexpr std::int64_t kVocabulary = 30000, kEmbedding = 125, kHidden = 100, kClasses = 2;

  // Declares every parameter and allocates the arena (zeros) on `device`.
  explicit ImdbGRU(Device device);
  ParameterSet& parameters() { return params_; }
  // PyTorch's default initialisation (above), drawn from Philox under `seed`.
  void init_default(std::uint64_t seed);

  void setup(const Context& ctx, const ImdbGruOptions& options);
  // The token shape the model takes: (T, N) for layout tnc, (N, T) for ntc.
  const Shape& token_shape() const { return token_shape_; }

  // One Adam step on tokens (token_shape(), i32) and labels (N,) i32 on the device; the mean loss stays in loss().
  void step(const Context& ctx, const Tensor& tokens, const Tensor& labels);
  const Tensor& loss() const { return loss_.loss(); }
  // Everything beyond the parameters that the next step depends on (after setup): Adam's moments and step. A
  // training checkpoint saves and restores it.
  NamedTensors training_state() const;
  const GRU& gru() const { return gru_; }  // its cuDNN plan says which algorithm setup chose
  // Adds the number of correct predictions to correct (1,) i32.
  void evaluate(const Context& ctx, const Tensor& tokens, const Tensor& labels, const Tensor& correct);

 private:
  const Tensor& forward(const Context& ctx, const Tensor& tokens);
  void backward(const Context& ctx, const Tensor& dlogits);

  ParameterSet params_;
  Embedding embedding_;
  GRU gru_;
  Linear l_out_;
  SoftmaxCrossEntropy loss_;
  std::unique_ptr<Adam> adam_;
  const Communicator* communicator_ = &Communicator::single_process();
  bool batch_first_ = false;
  Shape token_shape_;
  Tensor h_tnc_;   // (T, N, H): the GRU's output time-major (ntc only: a transposed copy)
  Tensor dh_tnc_;  // (T, N, H): zero but for the last step, which is l_out's input gradient buffer
  Tensor dh_ntc_;  // (N, T, H): dh_tnc_ batch-first (ntc only)
};

}  // namespace rosetta
