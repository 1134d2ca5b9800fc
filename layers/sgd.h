// SGD with momentum over a whole ParameterSet: one launch updates every parameter of the arena, with
// PyTorch's rule (buf = momentum * buf + g; p -= lr * buf). The momentum buffer mirrors the arena.
#pragma once
#include "layers/parameters.h"

namespace rosetta {

class SgdMomentum {
 public:
  SgdMomentum(const ParameterSet& params, float lr, float momentum);
  void step(const Context& ctx);
  // Its state, for a training checkpoint: the momentum buffer (arena_elements,) on the parameters' device.
  NamedTensors state() const { return {{"sgd.momentum", momentum_buf_}}; }

 private:
  const ParameterSet& params_;
  float lr_, momentum_;
  Tensor momentum_buf_;  // (arena_elements,)
};

}  // namespace rosetta
