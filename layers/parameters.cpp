#include "layers/parameters.h"

#include <cstdio>

namespace rosetta {

namespace {

std::int64_t aligned(std::int64_t elements) {
  return (elements + ParameterSet::kAlignment - 1) / ParameterSet::kAlignment * ParameterSet::kAlignment;
}

}  // namespace

int ParameterSet::declare(const std::string& name, const Shape& shape) {
  return declare_packed({{name, shape}})[0];
}

std::vector<int> ParameterSet::declare_packed(const std::vector<std::pair<std::string, Shape>>& parameters) {
  std::vector<int> indices;
  std::int64_t offset = arena_elements_;
  for (const auto& [name, shape] : parameters) {
    ROSETTA_CHECK(!allocated(), "parameter " << name << " declared after the arena was allocated");
    ROSETTA_CHECK(find(name) < 0, "parameter " << name << " declared twice");
    entries_.push_back(Entry{name, shape, offset});
    offset += shape.numel();
    indices.push_back(size() - 1);
  }
  arena_elements_ = aligned(offset);
  return indices;
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

std::string ParameterSet::layout_fingerprint() const {
  std::uint64_t hash = 0xcbf29ce484222325ull;
  const auto mix = [&hash](const std::string& text) {
    for (const char c : text) hash = (hash ^ static_cast<unsigned char>(c)) * 0x100000001b3ull;
  };
  for (const Entry& e : entries_) mix(e.name + " " + e.shape.str() + " @" + std::to_string(e.offset) + ";");
  char text[32];
  std::snprintf(text, sizeof text, "fnv1a64:%016llx", static_cast<unsigned long long>(hash));
  return text;
}

void ParameterSet::zero_grads(const Context& ctx) {
  ROSETTA_CHECK(grads_.defined(), "zero_grads on a set without a gradient arena");
  grads_.zero(ctx.stream());
}

}  // namespace rosetta
