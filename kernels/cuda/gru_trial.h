// Zero-filled device buffers for one forward and backward of a GRU plan outside training: the trial run that makes a
// persistent cuDNN algorithm fail at plan time rather than in the first step (kernels/cuda/gru_cudnn.cpp), and the
// timings of the search (kernels/cuda/gru_search.cpp). The weights and their gradients are one packed block
// (kernels/gru.h's gru_packed_elements), as the GRU layer keeps them, so a candidate is timed on the path training
// takes. Plan time only: allocates on construction and frees on destruction, so the owner synchronizes first.
#pragma once
#include <memory>

#include "kernels/gru.h"
#include "runtime/allocator.h"

namespace rosetta::kernels::cuda {

class GruTrialData {
 public:
  GruTrialData(const Context& ctx, const GruShape& shape);
  // One forward and backward of `plan` (of this shape) on ctx's stream.
  void pass(const Context& ctx, const GruPlan& plan);

 private:
  GruShape shape_;
  std::unique_ptr<Storage> x_, h_, dh_, dx_;  // (T, N, I), (T, N, H), (T, N, H), (T, N, I)
  std::unique_ptr<Storage> weights_, grads_;  // (3H (I + H + 2)) each, packed
  std::unique_ptr<Storage> reserve_;          // (T, N, 4H): the reserve of the implementations that keep one
};

}  // namespace rosetta::kernels::cuda
