// NVML through dlopen: the few prototypes rosetta calls, declared here from NVIDIA's NVML API reference (not copied
// from nvml.h), and one checked call for every entry point. See nvml.h for the invariants.
#include "runtime/nvml.h"

#include <dlfcn.h>

#include <algorithm>
#include <cstdio>

#if ROSETTA_WITH_CUDA
#include <cuda_runtime.h>
#endif

namespace rosetta {
namespace {

// nvmlReturn_t, nvmlDevice_t and the enumerators used, with NVML's values.
using nvmlReturn_t = int;
struct nvmlDevice_st;
using nvmlDevice_t = nvmlDevice_st*;
constexpr nvmlReturn_t kNvmlSuccess = 0;        // NVML_SUCCESS
constexpr int kClockSm = 1, kClockMemory = 2;   // nvmlClockType_t: NVML_CLOCK_SM, NVML_CLOCK_MEM
constexpr unsigned kMigEnabled = 1;             // NVML_DEVICE_MIG_ENABLE
constexpr int kFeatureEnabled = 1;              // nvmlEnableState_t: NVML_FEATURE_ENABLED
struct nvmlUtilization_t {
  unsigned gpu, memory;  // percent of the last sample period with a kernel running / memory read or written
};
constexpr unsigned kNameBuffer = 96;            // NVML_DEVICE_NAME_V2_BUFFER_SIZE
constexpr unsigned kDriverVersionBuffer = 80;   // NVML_SYSTEM_DRIVER_VERSION_BUFFER_SIZE

// Every entry point after nvmlInit_v2, with its parameters; the last parameter is where the value is written.
#define ROSETTA_NVML_FUNCTIONS(X)                                                   \
  X(nvmlSystemGetDriverVersion, char*, unsigned)                                    \
  X(nvmlDeviceGetCount_v2, unsigned*)                                               \
  X(nvmlDeviceGetHandleByPciBusId_v2, const char*, nvmlDevice_t*)                   \
  X(nvmlDeviceGetName, nvmlDevice_t, char*, unsigned)                               \
  X(nvmlDeviceGetClockInfo, nvmlDevice_t, int, unsigned*)                           \
  X(nvmlDeviceGetMaxClockInfo, nvmlDevice_t, int, unsigned*)                        \
  X(nvmlDeviceGetPowerManagementLimit, nvmlDevice_t, unsigned*)                     \
  X(nvmlDeviceGetPowerManagementDefaultLimit, nvmlDevice_t, unsigned*)              \
  X(nvmlDeviceGetPowerUsage, nvmlDevice_t, unsigned*)                               \
  X(nvmlDeviceGetMigMode, nvmlDevice_t, unsigned*, unsigned*)                       \
  X(nvmlDeviceGetEccMode, nvmlDevice_t, int*, int*)                                 \
  X(nvmlDeviceGetCurrPcieLinkGeneration, nvmlDevice_t, unsigned*)                   \
  X(nvmlDeviceGetMaxPcieLinkGeneration, nvmlDevice_t, unsigned*)                    \
  X(nvmlDeviceGetCurrPcieLinkWidth, nvmlDevice_t, unsigned*)                        \
  X(nvmlDeviceGetMaxPcieLinkWidth, nvmlDevice_t, unsigned*)                         \
  X(nvmlDeviceGetTotalEnergyConsumption, nvmlDevice_t, unsigned long long*)         \
  X(nvmlDeviceGetCurrentClocksEventReasons, nvmlDevice_t, unsigned long long*)      \
  X(nvmlDeviceGetUtilizationRates, nvmlDevice_t, nvmlUtilization_t*)

template <class F>
F symbol(void* library, const char* name) {
  return reinterpret_cast<F>(dlsym(library, name));
}

}  // namespace

struct NvmlApi {
  std::string library;  // the name it was loaded by, for messages
  nvmlReturn_t (*nvmlInit_v2)() = nullptr;
  nvmlReturn_t (*nvmlShutdown)() = nullptr;
  const char* (*nvmlErrorString)(nvmlReturn_t) = nullptr;
#define ROSETTA_NVML_MEMBER(name, ...) nvmlReturn_t (*name)(__VA_ARGS__) = nullptr;
  ROSETTA_NVML_FUNCTIONS(ROSETTA_NVML_MEMBER)
#undef ROSETTA_NVML_MEMBER
};

namespace {

// Calls `fn`: empty on success, else the function's name and nvmlErrorString's text, or why it is absent.
template <class... Params, class... Args>
std::string call(const NvmlApi& api, const char* name, nvmlReturn_t (*fn)(Params...), Args... args) {
  if (fn == nullptr) return api.library + " has no " + name + ": a driver older than the function";
  const nvmlReturn_t status = fn(args...);
  if (status == kNvmlSuccess) return {};
  const char* text = api.nvmlErrorString(status);
  return std::string(name) + ": " + (text != nullptr ? text : "NVML error " + std::to_string(status));
}

// fn(args..., &value) as a Reading.
template <class Out, class... Params, class... Args>
Reading<Out> read(const NvmlApi& api, const char* name, nvmlReturn_t (*fn)(Params...), Args... args) {
  Out value{};
  std::string failure = call(api, name, fn, args..., &value);
  if (!failure.empty()) return Reading<Out>::missing(std::move(failure));
  return Reading<Out>::of(value);
}
#define ROSETTA_NVML_CALL(api, fn, ...) call(api, #fn, (api).fn, __VA_ARGS__)
#define ROSETTA_NVML_READ(Out, api, fn, ...) read<Out>(api, #fn, (api).fn, __VA_ARGS__)

template <class T, class F>
auto map(const Reading<T>& r, F f) -> Reading<decltype(f(*r.value))> {
  using U = decltype(f(*r.value));
  return r.value ? Reading<U>::of(f(*r.value)) : Reading<U>::missing(r.reason);
}

double milliwatts_to_watts(unsigned mw) { return mw / 1000.0; }

// The current of a (current, pending) mode pair.
template <class Mode>
Reading<bool> current_mode(const std::string& failure, Mode current, Mode enabled) {
  if (!failure.empty()) return Reading<bool>::missing(failure);
  return Reading<bool>::of(current == enabled);
}

nvmlDevice_t handle_of(void* handle) { return static_cast<nvmlDevice_t>(handle); }

template <class T>
T median(std::vector<T> values) {
  std::sort(values.begin(), values.end());
  const std::size_t n = values.size();
  return n % 2 == 1 ? values[n / 2] : static_cast<T>((values[n / 2 - 1] + values[n / 2]) / 2);
}

}  // namespace

const Nvml& Nvml::system() {
  static const Nvml nvml("libnvidia-ml.so.1");
  return nvml;
}

Nvml::Nvml(const std::string& library) {
  library_ = dlopen(library.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (library_ == nullptr) {
    const char* why = dlerror();
    reason_ = "no NVML: " + (why != nullptr ? std::string(why) : library + " could not be loaded");
    return;
  }
  api_ = std::make_unique<NvmlApi>();
  NvmlApi* api = api_.get();
  api->library = library;
  api->nvmlInit_v2 = symbol<decltype(api->nvmlInit_v2)>(library_, "nvmlInit_v2");
  api->nvmlShutdown = symbol<decltype(api->nvmlShutdown)>(library_, "nvmlShutdown");
  api->nvmlErrorString = symbol<decltype(api->nvmlErrorString)>(library_, "nvmlErrorString");
#define ROSETTA_NVML_LOAD(name, ...) api->name = symbol<decltype(api->name)>(library_, #name);
  ROSETTA_NVML_FUNCTIONS(ROSETTA_NVML_LOAD)
#undef ROSETTA_NVML_LOAD
  if (api->nvmlInit_v2 == nullptr || api->nvmlShutdown == nullptr || api->nvmlErrorString == nullptr) {
    reason_ = "no NVML: " + library + " has no nvmlInit_v2, nvmlShutdown or nvmlErrorString (not NVML)";
    return;
  }
  const nvmlReturn_t status = api->nvmlInit_v2();
  if (status != kNvmlSuccess) {
    const char* text = api->nvmlErrorString(status);
    reason_ = std::string("no NVML: nvmlInit_v2: ") + (text != nullptr ? text : "NVML error " + std::to_string(status));
    return;
  }
  initialised_ = true;
}

Nvml::~Nvml() {
  // A destructor has no one to report to: nvmlShutdown's and dlclose's statuses are dropped at teardown.
  if (initialised_) api_->nvmlShutdown();
  if (library_ != nullptr) dlclose(library_);
}

Reading<std::string> Nvml::driver_version() const {
  if (!available()) return Reading<std::string>::missing(reason_);
  char version[kDriverVersionBuffer] = {};
  std::string failure = ROSETTA_NVML_CALL(*api_, nvmlSystemGetDriverVersion, version, kDriverVersionBuffer);
  if (!failure.empty()) return Reading<std::string>::missing(std::move(failure));
  return Reading<std::string>::of(version);
}

Reading<unsigned> Nvml::device_count() const {
  if (!available()) return Reading<unsigned>::missing(reason_);
  return read<unsigned>(*api_, "nvmlDeviceGetCount_v2", api_->nvmlDeviceGetCount_v2);
}

Reading<NvmlDevice> Nvml::device(int cuda_device) const {
  if (!available()) return Reading<NvmlDevice>::missing(reason_);
#if ROSETTA_WITH_CUDA
  char bus_id[32] = {};
  const cudaError_t status = cudaDeviceGetPCIBusId(bus_id, sizeof bus_id, cuda_device);
  if (status != cudaSuccess) {
    cudaGetLastError();  // not sticky, but leave no error for the next CUDA call to find
    return Reading<NvmlDevice>::missing("cudaDeviceGetPCIBusId(device " + std::to_string(cuda_device) +
                                        "): " + cudaGetErrorString(status));
  }
  nvmlDevice_t handle = nullptr;
  std::string failure = ROSETTA_NVML_CALL(*api_, nvmlDeviceGetHandleByPciBusId_v2, bus_id, &handle);
  if (!failure.empty()) return Reading<NvmlDevice>::missing(failure + " (PCI bus id " + bus_id + ")");
  return Reading<NvmlDevice>::of(NvmlDevice(api_.get(), handle));
#else
  (void)cuda_device;
  return Reading<NvmlDevice>::missing("no CUDA device: rosetta was built without CUDA (ROSETTA_CUDA=OFF)");
#endif
}

GpuState NvmlDevice::state() const {
  const NvmlApi& api = *api_;
  const nvmlDevice_t d = handle_of(handle_);
  GpuState s;
  char name[kNameBuffer] = {};
  std::string failure = ROSETTA_NVML_CALL(api, nvmlDeviceGetName, d, name, kNameBuffer);
  s.name = failure.empty() ? Reading<std::string>::of(name) : Reading<std::string>::missing(failure);
  s.sm_clock_mhz = ROSETTA_NVML_READ(unsigned, api, nvmlDeviceGetClockInfo, d, kClockSm);
  s.sm_clock_max_mhz = ROSETTA_NVML_READ(unsigned, api, nvmlDeviceGetMaxClockInfo, d, kClockSm);
  s.memory_clock_mhz = ROSETTA_NVML_READ(unsigned, api, nvmlDeviceGetClockInfo, d, kClockMemory);
  s.memory_clock_max_mhz = ROSETTA_NVML_READ(unsigned, api, nvmlDeviceGetMaxClockInfo, d, kClockMemory);
  s.power_limit_w = map(ROSETTA_NVML_READ(unsigned, api, nvmlDeviceGetPowerManagementLimit, d), milliwatts_to_watts);
  s.power_default_limit_w =
      map(ROSETTA_NVML_READ(unsigned, api, nvmlDeviceGetPowerManagementDefaultLimit, d), milliwatts_to_watts);
  s.power_draw_w = map(ROSETTA_NVML_READ(unsigned, api, nvmlDeviceGetPowerUsage, d), milliwatts_to_watts);
  unsigned mig = 0, mig_pending = 0;
  s.mig_enabled = current_mode(ROSETTA_NVML_CALL(api, nvmlDeviceGetMigMode, d, &mig, &mig_pending), mig, kMigEnabled);
  int ecc = 0, ecc_pending = 0;
  s.ecc_enabled =
      current_mode(ROSETTA_NVML_CALL(api, nvmlDeviceGetEccMode, d, &ecc, &ecc_pending), ecc, kFeatureEnabled);
  s.pcie_generation = ROSETTA_NVML_READ(unsigned, api, nvmlDeviceGetCurrPcieLinkGeneration, d);
  s.pcie_max_generation = ROSETTA_NVML_READ(unsigned, api, nvmlDeviceGetMaxPcieLinkGeneration, d);
  s.pcie_width = ROSETTA_NVML_READ(unsigned, api, nvmlDeviceGetCurrPcieLinkWidth, d);
  s.pcie_max_width = ROSETTA_NVML_READ(unsigned, api, nvmlDeviceGetMaxPcieLinkWidth, d);
  s.clock_event_reasons =
      map(ROSETTA_NVML_READ(unsigned long long, api, nvmlDeviceGetCurrentClocksEventReasons, d),
          [](unsigned long long bits) { return static_cast<std::uint64_t>(bits); });
  return s;
}

LoadSample NvmlDevice::sample() const {
  const NvmlApi& api = *api_;
  const nvmlDevice_t d = handle_of(handle_);
  LoadSample s;
  s.sm_clock_mhz = ROSETTA_NVML_READ(unsigned, api, nvmlDeviceGetClockInfo, d, kClockSm);
  s.utilization_percent = map(ROSETTA_NVML_READ(nvmlUtilization_t, api, nvmlDeviceGetUtilizationRates, d),
                              [](const nvmlUtilization_t& u) { return u.gpu; });
  s.power_draw_w = map(ROSETTA_NVML_READ(unsigned, api, nvmlDeviceGetPowerUsage, d), milliwatts_to_watts);
  s.clock_event_reasons =
      map(ROSETTA_NVML_READ(unsigned long long, api, nvmlDeviceGetCurrentClocksEventReasons, d),
          [](unsigned long long bits) { return static_cast<std::uint64_t>(bits); });
  return s;
}

Reading<std::uint64_t> NvmlDevice::total_energy_mj() const {
  return map(ROSETTA_NVML_READ(unsigned long long, *api_, nvmlDeviceGetTotalEnergyConsumption, handle_of(handle_)),
             [](unsigned long long mj) { return static_cast<std::uint64_t>(mj); });
}

namespace {
// nvmlClocksEventReason* bits (NVML API reference, "NvmlClocksEventReasons").
struct ReasonBit {
  std::uint64_t bit;
  const char* name;
  bool holds_clocks_down;  // lowers clocks under load (not idle, a sync group or a clock the user set)
};
constexpr ReasonBit kReasonBits[] = {
    {0x1, "gpu_idle", false},
    {0x2, "applications_clocks_setting", false},
    {0x4, "sw_power_cap", true},
    {0x8, "hw_slowdown", true},
    {0x10, "sync_boost", false},
    {0x20, "sw_thermal_slowdown", true},
    {0x40, "hw_thermal_slowdown", true},
    {0x80, "hw_power_brake_slowdown", true},
    {0x100, "display_clock_setting", false},
};

std::vector<std::string> reason_names(std::uint64_t reasons, bool limiters_only) {
  std::vector<std::string> names;
  for (const ReasonBit& r : kReasonBits) {
    if ((reasons & r.bit) && (r.holds_clocks_down || !limiters_only)) names.push_back(r.name);
    reasons &= ~r.bit;
  }
  for (std::uint64_t bit = 1; bit != 0; bit <<= 1) {
    if (!(reasons & bit)) continue;
    char hex[24];
    std::snprintf(hex, sizeof hex, "0x%llx", static_cast<unsigned long long>(bit));
    names.push_back(hex);
  }
  return names;  // a bit the list does not know (a newer limiter) is named by its value, and counts as a limiter
}
}  // namespace

std::vector<std::string> clock_event_reason_names(std::uint64_t reasons) { return reason_names(reasons, false); }
std::vector<std::string> clock_limiter_names(std::uint64_t reasons) { return reason_names(reasons, true); }

EnergyMeter::EnergyMeter(int cuda_device, const Nvml& nvml) : device_(nvml.device(cuda_device)) {}

void EnergyMeter::start() {
  start_mj_ = device_.value ? device_.value->total_energy_mj() : Reading<std::uint64_t>::missing(device_.reason);
  stop_mj_ = Reading<std::uint64_t>::missing("the meter was not stopped");
}

void EnergyMeter::stop() {
  stop_mj_ = device_.value ? device_.value->total_energy_mj() : Reading<std::uint64_t>::missing(device_.reason);
}

Reading<double> EnergyMeter::joules() const {
  if (!start_mj_.value) return Reading<double>::missing(start_mj_.reason);
  if (!stop_mj_.value) return Reading<double>::missing(stop_mj_.reason);
  if (*stop_mj_.value < *start_mj_.value)
    return Reading<double>::missing("the energy counter went backwards (the driver reloaded during the interval)");
  return Reading<double>::of(double(*stop_mj_.value - *start_mj_.value) / 1000.0);
}

void LoadSampler::add(const LoadSample& s) {
  ++samples_;
  if (s.utilization_percent.value && *s.utilization_percent.value < kBusyPercent) return;
  if (!s.sm_clock_mhz.value) {
    unread_ = s.sm_clock_mhz.reason;
    return;
  }
  sm_clocks_.push_back(*s.sm_clock_mhz.value);
  if (s.power_draw_w.value) powers_.push_back(*s.power_draw_w.value);
  if (s.clock_event_reasons.value) reasons_ |= *s.clock_event_reasons.value;
}

Reading<unsigned> LoadSampler::sm_clock_mhz() const {
  if (!sm_clocks_.empty()) return Reading<unsigned>::of(median(sm_clocks_));
  if (!unread_.empty()) return Reading<unsigned>::missing(unread_);
  return Reading<unsigned>::missing(samples_ == 0 ? "no sample was taken"
                                                  : "no sample found the GPU busy (utilization >= " +
                                                        std::to_string(kBusyPercent) + "%)");
}

Reading<double> LoadSampler::power_draw_w() const {
  if (!powers_.empty()) return Reading<double>::of(median(powers_));
  return Reading<double>::missing(sm_clocks_.empty() ? sm_clock_mhz().reason
                                                     : "no busy sample could read the power draw");
}

namespace {
template <class T>
void put(nlohmann::json& j, const char* key, const Reading<T>& r) {
  if (r.value) {
    j[key] = *r.value;
  } else {
    j[key] = nullptr;
    j["unavailable"][key] = r.reason;
  }
}
}  // namespace

nlohmann::json to_json(const GpuState& s) {
  nlohmann::json j = nlohmann::json::object();
  put(j, "name", s.name);
  put(j, "sm_clock_mhz", s.sm_clock_mhz);
  put(j, "sm_clock_max_mhz", s.sm_clock_max_mhz);
  put(j, "memory_clock_mhz", s.memory_clock_mhz);
  put(j, "memory_clock_max_mhz", s.memory_clock_max_mhz);
  put(j, "power_limit_w", s.power_limit_w);
  put(j, "power_default_limit_w", s.power_default_limit_w);
  put(j, "power_draw_w", s.power_draw_w);
  put(j, "mig_enabled", s.mig_enabled);
  put(j, "ecc_enabled", s.ecc_enabled);
  put(j, "pcie_generation", s.pcie_generation);
  put(j, "pcie_max_generation", s.pcie_max_generation);
  put(j, "pcie_width", s.pcie_width);
  put(j, "pcie_max_width", s.pcie_max_width);
  put(j, "clock_event_reasons", map(s.clock_event_reasons, clock_event_reason_names));
  return j;
}

nlohmann::json to_json(const LoadSampler& load) {
  nlohmann::json j = {{"samples", load.samples()}, {"busy_samples", load.busy_samples()}};
  put(j, "sm_clock_mhz", load.sm_clock_mhz());
  put(j, "power_draw_w", load.power_draw_w());
  j["clock_event_reasons"] = clock_event_reason_names(load.clock_event_reasons());
  j["clock_limiters"] = clock_limiter_names(load.clock_event_reasons());
  return j;
}

}  // namespace rosetta
