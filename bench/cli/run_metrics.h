// A record's measurements beyond time (docs/schema/result-record.schema.json): the steady state with its spread,
// and "metrics": achieved TFLOP/s and its fraction of the card's peak, peak device memory, energy per unit. A value
// that could not be measured is null and `unavailable` says why, under the field's name: a record never reports a
// zero it did not measure.
#pragma once
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "bench/cli/steady_state.h"
#include "runtime/device.h"
#include "runtime/reading.h"

namespace rosetta::cli {

struct RunMeasurements {
  std::optional<SteadyState> steady;
  std::string why_no_steady;
  double flops_per_example = 0;
  std::string energy_unit;  // "epoch" | "1000 images"
  Reading<double> energy_joules_per_unit = Reading<double>::missing("not measured");
  Reading<double> peak_memory_bytes = Reading<double>::missing("not measured");
};

// Adds "schema", "schema_version", "steady", "metrics" and "unavailable" to `record`, whose "device" and
// "precision" are already set.
void add_measurements(nlohmann::json& record, const RunMeasurements& m);

// What a device used over a timed region: its energy (NVML's total-energy counter, GPUs only) and its peak memory
// (rosetta's own device allocations: runtime/allocator.h), read after the region, or why not.
class DeviceUsage {
 public:
  explicit DeviceUsage(Device device);
  ~DeviceUsage();
  DeviceUsage(const DeviceUsage&) = delete;
  DeviceUsage& operator=(const DeviceUsage&) = delete;
  void start();  // at the region's start, the device idle (synchronised)
  void stop();   // at its end, the device synchronised
  // Joules per unit when the region held `units` units (epochs, thousands of images).
  Reading<double> joules_per(double units) const;
  Reading<double> peak_memory_bytes() const;

 private:
  Device device_;
  struct Meter;
  std::unique_ptr<Meter> meter_;  // GPUs only
};

}  // namespace rosetta::cli
