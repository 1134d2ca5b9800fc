// ParameterSet: one model's parameters and gradients, each in ONE contiguous arena on one device.
// Invariants: a parameter is declared (name, shape) before allocate(); afterwards value(i) and grad(i) are
// views into the two arenas, so one memset zeroes every gradient, one launch updates every parameter, and one
// write saves a checkpoint. Each parameter starts on a 64-element (256-byte) boundary, except those declared
// together by declare_packed, which follow one another with no gap (so a library can take the group as one
// buffer: the GRU's four tensors are cuDNN's weight space); the padding between parameters is zero in both arenas
// and stays zero under SGD and Adam (zero gradient, zero update). The layout (names, shapes, offsets) is the same on
// every device; layout_fingerprint() names it, so state laid out like the arena (Adam's moments in a training
// checkpoint) is never read into another layout.
// Names are PyTorch state_dict names ("conv1.weight"), so checkpoints move unchanged between frameworks.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "runtime/context.h"
#include "runtime/tensor.h"

namespace rosetta {

class ParameterSet {
 public:
  static constexpr std::int64_t kAlignment = 64;  // elements

  // Declares a parameter and returns its index. Only before allocate().
  int declare(const std::string& name, const Shape& shape);
  // Declares parameters back to back, the first on the usual boundary and each next one right after the one
  // before, and returns their indices in order. Only before allocate().
  std::vector<int> declare_packed(const std::vector<std::pair<std::string, Shape>>& parameters);
  // Creates both arenas on `device`, zero-filled. Without `gradients` (inference models) there is no gradient
  // arena: grad() and zero_grads() throw.
  void allocate(Device device, bool gradients = true);
  bool allocated() const { return values_.defined(); }

  int size() const { return static_cast<int>(entries_.size()); }
  const std::string& name(int i) const { return entries_[i].name; }
  const Shape& shape(int i) const { return entries_[i].shape; }
  // Index of `name`, or -1.
  int find(const std::string& name) const;

  Tensor value(int i) const;
  Tensor grad(int i) const;
  // Parameter i's first element in the arena (a multiple of kAlignment).
  std::int64_t offset(int i) const { return entries_[i].offset; }
  // Parameter i's elements in `mirror`, a tensor of the arena's size in any dtype (a bf16 copy of the values, an
  // optimizer's moments), shaped as the parameter.
  Tensor view_in(const Tensor& mirror, int i) const;
  // The whole arenas, flat: (arena_elements,)
  const Tensor& values() const { return values_; }
  const Tensor& grads() const { return grads_; }
  std::int64_t arena_elements() const { return arena_elements_; }
  std::int64_t parameter_elements() const;  // sum of numel, without padding
  // "fnv1a64:<16 hex digits>" over every parameter's name, shape and offset, in order: equal for two sets exactly
  // when their arenas are laid out alike.
  std::string layout_fingerprint() const;

  // One memset on ctx's stream.
  void zero_grads(const Context& ctx);

 private:
  struct Entry {
    std::string name;
    Shape shape;
    std::int64_t offset;  // elements into the arena
  };
  std::vector<Entry> entries_;
  std::int64_t arena_elements_ = 0;
  Tensor values_;  // (arena_elements,)
  Tensor grads_;   // (arena_elements,)
};

}  // namespace rosetta
