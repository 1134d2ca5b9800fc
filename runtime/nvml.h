// NVML, the driver's management library: clocks, power, MIG and ECC modes, the PCIe link and the total-energy
// counter of a GPU. Loaded at run time (dlopen of libnvidia-ml.so.1, the driver's own), so rosetta has no link-time
// dependency on the driver and runs where there is none.
//
// Invariants: nothing here throws. Every NVML status is checked: a value that could not be read is an empty Reading
// whose reason names the NVML function and nvmlErrorString's text ("nvmlDeviceGetPowerUsage: Not Supported"), a
// function this driver's NVML lacks ("libnvidia-ml.so.1 has no nvmlDeviceGetTotalEnergyConsumption: a driver older
// than the function"), or why there is no NVML at all (dlopen's message). A CUDA device is matched to its NVML
// device by PCI bus id, so CUDA_VISIBLE_DEVICES and CUDA's fastest-first order do not matter.
//
//   const Reading<NvmlDevice> gpu = Nvml::system().device(0);   // CUDA device 0, as Context::cuda() uses
//   EnergyMeter meter;  meter.start();  ...work...;  ctx.synchronize();  meter.stop();
//   record["energy_joules"] = meter.joules().value ? json(*meter.joules().value) : json(nullptr);
#pragma once
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "runtime/reading.h"

namespace rosetta {

struct NvmlApi;  // the loaded library's entry points (nvml.cpp)

// What NVML says of one GPU at the moment of asking.
struct GpuState {
  Reading<std::string> name;
  Reading<unsigned> sm_clock_mhz, sm_clock_max_mhz, memory_clock_mhz, memory_clock_max_mhz;
  Reading<double> power_limit_w, power_default_limit_w, power_draw_w;
  Reading<bool> mig_enabled, ecc_enabled;  // the current modes (a pending change needs a reset or reboot)
  Reading<unsigned> pcie_generation, pcie_max_generation, pcie_width, pcie_max_width;  // max: of device and system
  Reading<std::uint64_t> clock_event_reasons;  // nvmlClocksEventReason* bits; clock_event_reason_names()
};

// One look at a GPU while work runs.
struct LoadSample {
  Reading<unsigned> sm_clock_mhz, utilization_percent;
  Reading<double> power_draw_w;
  Reading<std::uint64_t> clock_event_reasons;
};

// One GPU as NVML sees it. Valid while the Nvml that made it lives.
class NvmlDevice {
 public:
  GpuState state() const;
  LoadSample sample() const;
  // The board's energy since the driver loaded, in millijoules (Volta and newer).
  Reading<std::uint64_t> total_energy_mj() const;

 private:
  friend class Nvml;
  NvmlDevice(const NvmlApi* api, void* handle) : api_(api), handle_(handle) {}
  const NvmlApi* api_;
  void* handle_;  // nvmlDevice_t
};

class Nvml {
 public:
  // The driver's NVML, libnvidia-ml.so.1, loaded and initialised on first use.
  static const Nvml& system();
  // NVML from `library` (dlopen's search rules); the tests load one that is absent and one that is not NVML.
  explicit Nvml(const std::string& library);
  ~Nvml();
  Nvml(const Nvml&) = delete;
  Nvml& operator=(const Nvml&) = delete;

  bool available() const { return reason_.empty(); }
  const std::string& unavailable_reason() const { return reason_; }  // empty when available

  Reading<std::string> driver_version() const;  // "580.159.04"
  Reading<unsigned> device_count() const;       // the GPUs the driver sees (whether or not CUDA can use them)
  // CUDA device `cuda_device` (runtime numbering), found by its PCI bus id.
  Reading<NvmlDevice> device(int cuda_device) const;

 private:
  void* library_ = nullptr;  // dlopen handle
  bool initialised_ = false;
  std::string reason_;
  std::unique_ptr<NvmlApi> api_;
};

// "sw_power_cap", "hw_thermal_slowdown", ... for each set bit; unknown bits as "0x...".
std::vector<std::string> clock_event_reason_names(std::uint64_t reasons);
// The names of those that hold clocks down under load: every bit but idle, sync boost and the application and
// display clock settings (a bit newer than this list counts as one).
std::vector<std::string> clock_limiter_names(std::uint64_t reasons);

// The energy a GPU took between start() and stop(), from NVML's total-energy counter. The counter updates every
// 20-100 ms, so an interval shorter than about a second is coarse; synchronize the device before stop().
class EnergyMeter {
 public:
  explicit EnergyMeter(int cuda_device = 0, const Nvml& nvml = Nvml::system());
  void start();
  void stop();
  // Joules between the two reads, or why not (no NVML, no counter in this driver, not supported, not stopped).
  Reading<double> joules() const;

 private:
  Reading<NvmlDevice> device_;
  Reading<std::uint64_t> start_mj_ = Reading<std::uint64_t>::missing("the meter was not started");
  Reading<std::uint64_t> stop_mj_ = Reading<std::uint64_t>::missing("the meter was not stopped");
};

// The samples of a GPU taken while a workload runs: the median SM clock and power draw over the samples that found
// the GPU busy (utilization at least kBusyPercent, or every sample when utilization cannot be read), and every
// clock event reason any busy sample saw.
class LoadSampler {
 public:
  static constexpr unsigned kBusyPercent = 50;
  void add(const LoadSample& sample);

  int samples() const { return samples_; }
  int busy_samples() const { return static_cast<int>(sm_clocks_.size()); }
  Reading<unsigned> sm_clock_mhz() const;  // median over busy samples
  Reading<double> power_draw_w() const;    // median over busy samples
  std::uint64_t clock_event_reasons() const { return reasons_; }

 private:
  int samples_ = 0;
  std::string unread_;  // why the last sample had no SM clock
  std::vector<unsigned> sm_clocks_;
  std::vector<double> powers_;
  std::uint64_t reasons_ = 0;
};

// The record's form of a GPU: each reading under its name (null when unread) and, under "unavailable", each
// missing reading's reason by name. Keys: name, sm_clock_mhz, sm_clock_max_mhz, memory_clock_mhz,
// memory_clock_max_mhz, power_limit_w, power_default_limit_w, power_draw_w, mig_enabled, ecc_enabled,
// pcie_generation, pcie_max_generation, pcie_width, pcie_max_width, clock_event_reasons (names).
nlohmann::json to_json(const GpuState& state);
// {samples, busy_samples, sm_clock_mhz, power_draw_w, clock_event_reasons, clock_limiters, unavailable}: what the
// doctor adds to a run's record as gpu.under_load.
nlohmann::json to_json(const LoadSampler& load);

}  // namespace rosetta
