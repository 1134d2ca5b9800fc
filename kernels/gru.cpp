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

void validate_gru_shape(const GruShape& s) {
  ROSETTA_CHECK(s.t > 0 && s.n > 0 && s.i > 0 && s.h > 0, "GRU with an empty dimension: " << s.str());
  constexpr std::int64_t kIntMax = 2147483647;
  ROSETTA_CHECK(s.t * s.n * 3 * s.h <= kIntMax && s.t * s.n * s.i <= kIntMax,
                "GRU tensors beyond 32-bit element counts: " << s.str());
}

const char* gru_implementation_name(GruImplementation implementation) {
  return implementation == GruImplementation::cudnn ? "cudnn" : "naive";
}

bool gru_implementation_from_name(const std::string& name, GruImplementation* implementation) {
  for (GruImplementation i : {GruImplementation::cudnn, GruImplementation::naive})
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

GruPlan make_gru_plan(const Context& ctx, const GruShape& shape, const GruOptions& options) {
  validate_gru_shape(shape);
  ROSETTA_CHECK(options.precision != Precision::bf16,
                "the GRU takes f32 tensors in fp32 or tf32, not bf16: " << shape.str());
  GruPlan plan;
  plan.shape = shape;
  plan.options = options;
  plan_gru(ctx, plan);
  return plan;
}

}  // namespace rosetta::kernels
