#include "bench/cli/run_metrics.h"

#include "bench/cli/peak_rates.h"
#include "runtime/allocator.h"
#include "runtime/nvml.h"

namespace rosetta::cli {
namespace {

nlohmann::json value_or_null(const Reading<double>& m, const char* field, nlohmann::json& unavailable) {
  if (m.value) return *m.value;
  unavailable[field] = m.reason;
  return nullptr;
}

}  // namespace

void add_measurements(nlohmann::json& record, const RunMeasurements& m) {
  nlohmann::json unavailable = record.contains("unavailable") ? record["unavailable"] : nlohmann::json::object();
  record["schema"] = "rosetta-result-record";
  record["schema_version"] = 1;
  if (m.steady) {
    record["steady"] = m.steady->to_json();
  } else {
    record["steady"] = nullptr;
    unavailable["steady"] = m.why_no_steady;
  }
  nlohmann::json metrics;
  metrics["flops_per_example"] = m.flops_per_example;
  const std::string device = record.at("device").get<std::string>();
  const std::string precision = record.at("precision").get<std::string>();
  const std::optional<PeakRate> peak = device == "cpu" ? std::nullopt : peak_rate(device, precision);
  std::optional<double> tflops;
  if (m.steady) {
    tflops = m.steady->tflops(m.flops_per_example);
    metrics["tflops"] = *tflops;
  } else {
    metrics["tflops"] = nullptr;
    unavailable["metrics.tflops"] = "no steady state to time (see steady)";
  }
  metrics["peak_tflops"] = peak ? nlohmann::json(peak->tflops) : nlohmann::json(nullptr);
  metrics["peak_source"] = peak ? nlohmann::json(peak->source) : nlohmann::json(nullptr);
  if (!peak) {
    const std::string why = device == "cpu" ? "a CPU run: the peak table covers GPUs only"
                                            : "no datasheet peak for " + device + " in " + precision +
                                                  " (bench/cli/peak_rates.cpp)";
    unavailable["metrics.peak_tflops"] = why;
  }
  if (peak && tflops) {
    metrics["peak_fraction"] = *tflops / peak->tflops;
  } else {
    metrics["peak_fraction"] = nullptr;
    unavailable["metrics.peak_fraction"] = !tflops ? "no achieved TFLOP/s" : "no peak for this device";
  }
  metrics["peak_memory_bytes"] = value_or_null(m.peak_memory_bytes, "metrics.peak_memory_bytes", unavailable);
  if (m.peak_memory_bytes.value) metrics["peak_memory_bytes"] = static_cast<std::int64_t>(*m.peak_memory_bytes.value);
  metrics["energy_joules_per_unit"] = value_or_null(m.energy_joules_per_unit, "metrics.energy_joules_per_unit", unavailable);
  metrics["energy_unit"] = m.energy_unit;
  record["metrics"] = metrics;
  record["unavailable"] = unavailable;
}

struct DeviceUsage::Meter {
  EnergyMeter energy;
};

DeviceUsage::DeviceUsage(Device device) : device_(device) {
  if (device == Device::cuda) meter_ = std::make_unique<Meter>();
}
DeviceUsage::~DeviceUsage() = default;

void DeviceUsage::start() {
  if (meter_) meter_->energy.start();
}
void DeviceUsage::stop() {
  if (meter_) meter_->energy.stop();
}

Reading<double> DeviceUsage::joules_per(double units) const {
  if (!meter_) return Reading<double>::missing("a CPU run: NVML's energy counter measures GPUs");
  const Reading<double> joules = meter_->energy.joules();
  if (!joules.value) return joules;
  return Reading<double>::of(*joules.value / units);
}

Reading<double> DeviceUsage::peak_memory_bytes() const {
  if (device_ == Device::cpu) return Reading<double>::missing("a CPU run: rosetta counts device memory only");
  return Reading<double>::of(double(peak_device_bytes()));
}

}  // namespace rosetta::cli
