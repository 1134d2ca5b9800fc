#include "layers/parameters.h"

namespace rosetta {

int ParameterSet::declare(const std::string& name, const Shape& shape) {
  ROSETTA_CHECK(!allocated(), "parameter " << name << " declared after the arena was allocated");
  ROSETTA_CHECK(find(name) < 0, "parameter " << name << " declared twice");
  entries_.push_back(Entry{name, shape, arena_elements_});
  arena_elements_ += (shape.numel() + kAlignment - 1) / kAlignment * kAlignment;
  return size() - 1;
}

void ParameterSet::allocate(Device device, bool gradients) {
  ROSETTA_CHECK(!allocated(), "parameter arena allocated twice");
  values_ = Tensor::zeros({arena_elements_}, DType::f32, device);
  if (gradients) grads_ = Tensor::zeros({arena_elements_}, DType::f32, device);
}

int ParameterSet::find(const std::string& name) const {
  for (int i = 0; i < size(); ++i)
    if (entries_[i].name == name) return i;
  return -1;
}

Tensor ParameterSet::value(int i) const {
  ROSETTA_CHECK(allocated(), "parameter " << name(i) << " read before the arena was allocated");
  return values_.view(entries_[i].offset, entries_[i].shape);
}

Tensor ParameterSet::grad(int i) const {
  ROSETTA_CHECK(grads_.defined(), "gradient of " << name(i) << " read from a set without a gradient arena");
  return grads_.view(entries_[i].offset, entries_[i].shape);
}

Tensor ParameterSet::view_in(const Tensor& mirror, int i) const {
  ROSETTA_CHECK(mirror.numel() == arena_elements_,
                "a mirror of " << mirror.numel() << " elements for an arena of " << arena_elements_ << " (" << name(i)
                               << ")");
  return mirror.view(entries_[i].offset, entries_[i].shape);
}

std::int64_t ParameterSet::parameter_elements() const {
  std::int64_t n = 0;
  for (const Entry& e : entries_) n += e.shape.numel();
  return n;
}

void ParameterSet::zero_grads(const Context& ctx) {
  ROSETTA_CHECK(grads_.defined(), "zero_grads on a set without a gradient arena");
  grads_.zero(ctx.stream());
}

}  // namespace rosetta
