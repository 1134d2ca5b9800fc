// DropoutDraw: the inverted dropout a fused op applies after its own work (kernels/pool.inc's fused max pooling,
// kernels/elementwise.inc's fused linear epilogue), drawn exactly as dropout_forward draws it: the element whose draw
// index is j is kept when philox_uniform(seed, philox_step_stream(use, *step), first + j) >= p, and a kept element is
// multiplied by 1 / (1 - p), computed in float as dropout_forward and PyTorch compute it. p == 0 keeps every element
// with scale 1 and draws nothing. `step` points to the model's step counter in the context's memory (device memory
// on CUDA), so every replay of a captured CUDA graph draws a fresh mask, and the same one on CPU and GPU.
// Each op states its draw index; it is always the element's place in the unpadded, logical tensor, so a padded or
// channels-last model draws the masks of the plain NCHW one.
#pragma once
#include <cstdint>

#include "runtime/host_device.h"
#include "runtime/philox.h"

namespace rosetta::kernels {

struct DropoutDraw {
  float p = 0;                          // in [0, 1)
  std::uint64_t seed = 0;
  std::uint32_t use = 0;                // the layer's word in the Philox stream id (runtime/philox.h)
  const std::uint64_t* step = nullptr;  // (1,) in the context's memory; may be null when p == 0
  std::uint64_t first = 0;              // draw index of element 0 (a data-parallel rank's offset in the global batch)
};

// The multiplier of a kept element.
ROSETTA_HD float dropout_scale(float p) { return 1.0f / (1.0f - p); }

// The mask value (0 or `scale`) of draw index `index` under `stream` = philox_step_stream(use, *step).
ROSETTA_HD float dropout_mask(const DropoutDraw& d, float scale, std::uint64_t stream, std::uint64_t index) {
  return d.p > 0.0f && philox_uniform(d.seed, stream, d.first + index) < d.p ? 0.0f : scale;
}

}  // namespace rosetta::kernels
