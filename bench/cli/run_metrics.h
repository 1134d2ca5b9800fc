// A record's measurements beyond time (docs/schema/result-record.schema.json): the steady state with its spread,
// and "metrics": achieved TFLOP/s and its fraction of the card's peak, peak device memory, energy per unit. A value
// that could not be measured is null and `unavailable` says why, under the field's name: a record never reports a
// zero it did not measure.
#pragma once
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "bench/cli/steady_state.h"

namespace rosetta::cli {

// A measured value, or why there is none.
struct Measured {
  std::optional<double> value;
  std::string why_not;  // when !value
};

struct RunMeasurements {
  std::optional<SteadyState> steady;
  std::string why_no_steady;
  double flops_per_example = 0;
  std::string energy_unit;       // "epoch" | "1000 images"
  Measured energy_joules_per_unit;
  Measured peak_memory_bytes;
};

// Adds "schema", "schema_version", "steady", "metrics" and "unavailable" to `record`, whose "device" and
// "precision" are already set.
void add_measurements(nlohmann::json& record, const RunMeasurements& m);

}  // namespace rosetta::cli
