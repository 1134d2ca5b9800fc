// Adam over a whole ParameterSet: one launch updates every parameter of the arena with PyTorch's rule
// (kernels/optimizer.inc, amsgrad off, weight_decay 0). The moment buffers m and v mirror the arena; the 1-based
// step number lives in device memory and step() advances it on the device before the update, so a captured CUDA
// graph replays whole optimizer steps without the host.
#pragma once
#include "layers/parameters.h"

namespace rosetta {

class Adam {
 public:
  // Buffers on the parameters' device, zero (PyTorch's initial state).
  Adam(const ParameterSet& params, float lr, float beta1 = 0.9f, float beta2 = 0.999f, float eps = 1e-8f);

  // step_counter += 1, then the update with t = step_counter.
  void step(const Context& ctx);
  // (1,) u64 on the parameters' device: the number of steps taken.
  const Tensor& step_counter() const { return step_; }
  // Its state, for a training checkpoint: m, v (arena_elements,) and the step counter (1,), on the parameters'
  // device.
  NamedTensors state() const { return {{"adam.m", m_}, {"adam.v", v_}, {"adam.step", step_}}; }

 private:
  const ParameterSet& params_;
  float lr_, beta1_, beta2_, eps_;
  Tensor m_;     // (arena_elements,)
  Tensor v_;     // (arena_elements,)
  Tensor step_;  // (1,) u64
};

}  // namespace rosetta
