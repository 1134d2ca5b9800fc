// Dropout: inverted dropout with probability p, as PyTorch's F.dropout in training mode. The mask comes from
// Philox under (seed, use, step), where `step` is the model's step counter in device memory: every step (and
// every replay of a captured CUDA graph) draws a new mask, identical on CPU and GPU. Draws are indexed by the element's
// place in the GLOBAL batch: a data-parallel rank whose rows start at global row r0 draws from index r0 * (elements
// per row) on, so N ranks at batch B/N draw together exactly the mask one process draws at batch B. With p == 0 the
// layer is the identity and launches nothing (the --no-dropout equivalence runs).
#pragma once
#include <cstdint>

#include "runtime/context.h"
#include "runtime/tensor.h"

namespace rosetta {

class Dropout {
 public:
  // `use` distinguishes this layer's masks from every other random draw (see runtime/philox.h).
  Dropout(float p, std::uint32_t use) : p_(p), use_(use) {}

  // step: (1,) u64 on ctx's device, advanced once per training step by the model. input: (B, ...), batch-major;
  // first_row: the global batch row of this process's row 0 (0 on one process).
  void setup(const Context& ctx, const Shape& input, std::uint64_t seed, const Tensor& step,
             std::int64_t first_row = 0);
  const Tensor& forward(const Context& ctx, const Tensor& x);
  const Tensor& backward(const Context& ctx, const Tensor& dy);
  float p() const { return p_; }

 private:
  float p_;
  std::uint32_t use_;
  std::uint64_t seed_ = 0;
  std::uint64_t first_ = 0;  // global index of element 0: first_row * elements per row
  Tensor step_;  // (1,) u64
  Tensor y_;     // same shape as the input
  Tensor mask_;  // same shape: 1/(1-p) or 0
  Tensor dx_;    // same shape as the input
};

}  // namespace rosetta
