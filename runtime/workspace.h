// Carving a context's grow-only workspace into typed scratch buffers, so that a buffer's size and its place in the
// workspace come from ONE declaration. An op writes its scratch once, as a function of a Carver:
//
//   struct Scratch { std::int32_t* keys; float* partial; };               // what the op's scratch holds
//   Scratch lay_out(Carver& c, const Shape& s) { return {c.take<std::int32_t>(s.n), c.take<float>(s.n * s.k)}; }
//
//   std::size_t bytes = workspace_bytes([&](Carver& c) { return lay_out(c, s); });  // at plan time: grow to this
//   Scratch scratch = carve_workspace(ctx, [&](Carver& c) { return lay_out(c, s); });  // in the pass
//
// The first walks the declaration with no memory behind it and sums the sizes; the second walks it again over
// ctx.workspace(that sum). Every buffer starts on a kAlignment-byte boundary (vector loads, CUB's temporaries).
#pragma once
#include <cstddef>
#include <cstdint>

#include "runtime/context.h"

namespace rosetta {

class Carver {
 public:
  static constexpr std::size_t kAlignment = 256;

  // Measures only (take returns null) without a base; carves from `base` with one.
  explicit Carver(void* base = nullptr) : base_(static_cast<char*>(base)) {}

  // The next `count` elements of T.
  template <typename T>
  T* take(std::int64_t count) {
    offset_ = (offset_ + kAlignment - 1) / kAlignment * kAlignment;
    T* p = base_ ? reinterpret_cast<T*>(base_ + offset_) : nullptr;
    offset_ += static_cast<std::size_t>(count) * sizeof(T);
    return p;
  }
  // Bytes taken so far, alignment included.
  std::size_t bytes() const { return offset_; }

 private:
  char* base_;
  std::size_t offset_ = 0;
};

// The bytes `lay_out` takes.
template <typename LayOut>
std::size_t workspace_bytes(const LayOut& lay_out) {
  Carver measure;
  lay_out(measure);
  return measure.bytes();
}

// lay_out's buffers in ctx's workspace (grown to fit if it is smaller: make the plan grow it first, so a pass
// allocates nothing).
template <typename LayOut>
auto carve_workspace(const Context& ctx, const LayOut& lay_out) {
  Carver carver(ctx.workspace(workspace_bytes(lay_out)));
  return lay_out(carver);
}

}  // namespace rosetta
