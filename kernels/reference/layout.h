// Where an element of a parameter's working copy lives (kernels/layout.h's ParameterCopy) and the copy of one element
// each way, shared by host and device so both twins of stage_parameters and unstage_gradients copy the same elements:
// the working copy is (k_padded, c_padded, s), or (k_padded, s, c_padded) in NHWC; the arena (k, c, s).
#pragma once
#include <cstdint>

#include "kernels/layout.h"
#include "runtime/half.h"
#include "runtime/host_device.h"

namespace rosetta::kernels::reference {

struct FilterIndex {
  std::int64_t k, c, s;
};

// The (k, c, s) of element w of the working copy.
ROSETTA_HD FilterIndex working_index(const ParameterCopy& p, std::int64_t w) {
  if (p.layout == Layout::nhwc) return {w / (p.s * p.c_padded), w % p.c_padded, w / p.c_padded % p.s};
  return {w / (p.c_padded * p.s), w / p.s % p.c_padded, w % p.s};
}

// The offset of (k, c, s) in the working copy (from its start) and in the arena (from the arena's start).
ROSETTA_HD std::int64_t working_offset(const ParameterCopy& p, const FilterIndex& i) {
  return p.layout == Layout::nhwc ? (i.k * p.s + i.s) * p.c_padded + i.c : (i.k * p.c_padded + i.c) * p.s + i.s;
}
ROSETTA_HD std::int64_t arena_offset(const ParameterCopy& p, const FilterIndex& i) {
  return p.arena + (i.k * p.c + i.c) * p.s + i.s;
}

// Element w of the working copy of p: the arena's value, or 0 in the padding, in T (into weights, or biases for a
// bias).
template <typename T>
ROSETTA_HD void stage_element(const ParameterCopy& p, std::int64_t w, const float* arena, T* weights, T* biases) {
  const FilterIndex i = working_index(p, w);
  const float value = i.k < p.k && i.c < p.c ? arena[arena_offset(p, i)] : 0.0f;
  if (p.bias)
    biases[p.working + w] = T(value);
  else
    weights[p.working + w] = T(value);
}

// Element a (in (k, c, s) order) of p's gradient in the arena: its working gradient, widened to float.
template <typename T>
ROSETTA_HD void unstage_element(const ParameterCopy& p, std::int64_t a, const T* weight_grads, const float* bias_grads,
                                float* arena_grads) {
  const FilterIndex i{a / (p.c * p.s), a / p.s % p.c, a % p.s};
  const std::int64_t w = p.working + working_offset(p, i);
  arena_grads[p.arena + a] = p.bias ? bias_grads[w] : float(weight_grads[w]);
}

}  // namespace rosetta::kernels::reference
