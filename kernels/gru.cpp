// Device-neutral part of the GRU (kernels/gru.h): shape text and checks, the names of the implementations and of
// cuDNN's algorithms, and make_gru_plan.
#include "kernels/gru.h"

#include <sstream>

#include "runtime/error.h"

namespace rosetta::kernels {

std::string GruShape::str() const {
  std::ostringstream os;
  os << "T " << t << " N " << n << " I " << i << " H " << h;
  return os.str();
}

bool gru_shape_fits_int(const GruShape& s) {
  constexpr std::int64_t kIntMax = 2147483647;
  if (s.t < 1 || s.n < 1 || s.i < 1 || s.h < 1 || s.t > kIntMax || s.n > kIntMax || s.i > kIntMax || s.h > kIntMax)
    return false;
  // Divisions, so that no product can overflow: rows = T N; (rows, 3H), (rows, I) and the packed weights 3H (I + H + 2).
  const std::int64_t gates = 3 * s.h;
  return s.t <= kIntMax / s.n && s.t * s.n <= kIntMax / gates && s.t * s.n <= kIntMax / s.i &&
         s.i + s.h + 2 <= kIntMax / gates;
}

void validate_gru_shape(const GruShape& s) {
  ROSETTA_CHECK(s.t > 0 && s.n > 0 && s.i > 0 && s.h > 0, "GRU with an empty dimension: " << s.str());
  ROSETTA_CHECK(gru_shape_fits_int(s), "GRU tensors beyond 32-bit element counts: " << s.str());
}

std::int64_t gru_packed_elements(const GruShape& s) { return 3 * s.h * (s.i + s.h + 2); }

std::int64_t gru_tensor_elements(const GruShape& s, GruTensor tensor) {
  const std::int64_t columns[4] = {s.i, s.h, 1, 1};
  return 3 * s.h * columns[static_cast<int>(tensor)];
}

std::int64_t gru_packed_offset(const GruShape& s, GruTensor tensor) {
  std::int64_t offset = 0;
  for (int t = 0; t < static_cast<int>(tensor); ++t) offset += gru_tensor_elements(s, static_cast<GruTensor>(t));
  return offset;
}

GruWeights gru_packed_weights(const GruShape& s, const float* base) {
  return {base, base + gru_packed_offset(s, GruTensor::w_hh), base + gru_packed_offset(s, GruTensor::b_ih),
          base + gru_packed_offset(s, GruTensor::b_hh)};
}

GruGradients gru_packed_gradients(const GruShape& s, float* base) {
  return {base, base + gru_packed_offset(s, GruTensor::w_hh), base + gru_packed_offset(s, GruTensor::b_ih),
          base + gru_packed_offset(s, GruTensor::b_hh)};
}

bool gru_weights_packed(const GruShape& s, const GruWeights& w) {
  const GruWeights packed = gru_packed_weights(s, w.w_ih);
  return w.w_ih != nullptr && w.w_hh == packed.w_hh && w.b_ih == packed.b_ih && w.b_hh == packed.b_hh;
}

bool gru_gradients_packed(const GruShape& s, const GruGradients& g) {
  return gru_weights_packed(s, GruWeights{g.w_ih, g.w_hh, g.b_ih, g.b_hh});
}

const char* gru_implementation_name(GruImplementation implementation) {
  switch (implementation) {
    case GruImplementation::automatic: return "auto";
    case GruImplementation::cudnn: return "cudnn";
    case GruImplementation::persistent: return "persistent";
    case GruImplementation::naive: return "naive";
  }
  return "?";
}

bool gru_implementation_from_name(const std::string& name, GruImplementation* implementation) {
  for (GruImplementation i : kGruImplementations)
    if (name == gru_implementation_name(i)) {
      *implementation = i;
      return true;
    }
  return false;
}

const char* gru_cudnn_algorithm_name(GruCudnnAlgorithm algorithm) {
  switch (algorithm) {
    case GruCudnnAlgorithm::standard: return "standard";
    case GruCudnnAlgorithm::persist_static: return "persist_static";
    case GruCudnnAlgorithm::persist_dynamic: return "persist_dynamic";
    case GruCudnnAlgorithm::persist_static_small_h: return "persist_static_small_h";
  }
  return "?";
}

bool gru_cudnn_algorithm_from_name(const std::string& name, GruCudnnAlgorithm* algorithm) {
  for (GruCudnnAlgorithm a : {GruCudnnAlgorithm::standard, GruCudnnAlgorithm::persist_static,
                              GruCudnnAlgorithm::persist_dynamic, GruCudnnAlgorithm::persist_static_small_h}) {
    if (name == gru_cudnn_algorithm_name(a)) {
      *algorithm = a;
      return true;
    }
  }
  return false;
}

const char* gru_choice_source_name(GruChoiceSource source) {
  switch (source) {
    case GruChoiceSource::given: return "given";
    case GruChoiceSource::timed: return "timed";
    case GruChoiceSource::cache: return "cache";
  }
  return "?";
}

GruPlan make_gru_plan(const Context& ctx, const GruShape& shape, const GruOptions& options) {
  validate_gru_shape(shape);
  ROSETTA_CHECK(options.precision != Precision::bf16,
                "the GRU takes f32 tensors in fp32 or tf32, not bf16: " << shape.str());
  ROSETTA_CHECK(!options.algorithm || options.implementation == GruImplementation::cudnn,
                "a cuDNN algorithm (" << gru_cudnn_algorithm_name(*options.algorithm) << ") for the "
                                      << gru_implementation_name(options.implementation) << " GRU: " << shape.str());
  GruPlan plan;
  plan.shape = shape;
  plan.options = options;
  plan_gru(ctx, plan);
  return plan;
}

}  // namespace rosetta::kernels
