// runtime/nvml.h: NVML loaded at run time. Its unavailable paths run everywhere (a library that is absent, one that
// is not NVML, a meter that was never started, samples that never found the GPU busy); the readings of a real GPU
// run where NVML and a CUDA device are present and skip, with the reason, elsewhere.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "runtime/device.h"
#include "runtime/nvml.h"

namespace rosetta {
namespace {

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

TEST(Nvml, AnAbsentLibraryIsUnavailableAndEveryReadingSaysWhy) {
  const Nvml nvml("libnvidia-ml-absent.so.0");
  EXPECT_FALSE(nvml.available());
  const std::string& reason = nvml.unavailable_reason();
  EXPECT_TRUE(contains(reason, "no NVML")) << reason;
  EXPECT_TRUE(contains(reason, "libnvidia-ml-absent.so.0")) << "dlopen's message names the library: " << reason;
  EXPECT_FALSE(nvml.driver_version().value);
  EXPECT_EQ(nvml.driver_version().reason, reason);
  EXPECT_EQ(nvml.device_count().reason, reason);
  EXPECT_FALSE(nvml.device(0).value);
  EXPECT_EQ(nvml.device(0).reason, reason);

  EnergyMeter meter(0, nvml);
  EXPECT_EQ(meter.joules().reason, "the meter was not started");
  meter.start();
  meter.stop();
  EXPECT_FALSE(meter.joules().value);
  EXPECT_EQ(meter.joules().reason, reason);
}

TEST(Nvml, ALibraryThatIsNotNvmlIsUnavailable) {
  const Nvml nvml("libm.so.6");  // loads, but has none of NVML's entry points
  EXPECT_FALSE(nvml.available());
  EXPECT_TRUE(contains(nvml.unavailable_reason(), "libm.so.6 has no nvmlInit_v2")) << nvml.unavailable_reason();
}

TEST(Nvml, ClockEventReasonsAreNamedAndLimitersPicked) {
  const std::uint64_t idle = 0x1, power_cap = 0x4, thermal = 0x40, unknown = 0x1000;
  EXPECT_EQ(clock_event_reason_names(idle | power_cap | thermal | unknown),
            (std::vector<std::string>{"gpu_idle", "sw_power_cap", "hw_thermal_slowdown", "0x1000"}));
  EXPECT_EQ(clock_limiter_names(idle | power_cap | thermal | unknown),
            (std::vector<std::string>{"sw_power_cap", "hw_thermal_slowdown", "0x1000"}));
  EXPECT_TRUE(clock_limiter_names(idle | 0x10).empty()) << "idle and sync boost do not hold clocks down";
  EXPECT_TRUE(clock_event_reason_names(0).empty());
}

LoadSample sample(unsigned clock, Reading<unsigned> utilization, double watts, std::uint64_t reasons) {
  return {Reading<unsigned>::of(clock), utilization, Reading<double>::of(watts), Reading<std::uint64_t>::of(reasons)};
}

TEST(LoadSampler, MediansOverBusySamplesOnly) {
  LoadSampler load;
  EXPECT_EQ(load.sm_clock_mhz().reason, "no sample was taken");
  load.add(sample(345, Reading<unsigned>::of(3), 60, 0x1));  // idle: left out
  EXPECT_TRUE(contains(load.sm_clock_mhz().reason, "no sample found the GPU busy")) << load.sm_clock_mhz().reason;
  load.add(sample(1980, Reading<unsigned>::of(97), 400, 0x0));
  load.add(sample(1500, Reading<unsigned>::of(99), 690, 0x4));
  load.add(sample(1900, Reading<unsigned>::missing("not supported"), 500, 0x0));  // unreadable: counts as busy
  EXPECT_EQ(load.samples(), 4);
  EXPECT_EQ(load.busy_samples(), 3);
  EXPECT_EQ(*load.sm_clock_mhz().value, 1900u);
  EXPECT_DOUBLE_EQ(*load.power_draw_w().value, 500.0);
  EXPECT_EQ(load.clock_event_reasons(), 0x4u) << "the idle sample's reasons are left out";
  const nlohmann::json j = to_json(load);
  EXPECT_EQ(j["sm_clock_mhz"], 1900);
  EXPECT_EQ(j["clock_limiters"], nlohmann::json::array({"sw_power_cap"}));
}

TEST(LoadSampler, AnUnreadableClockIsTheReason) {
  LoadSampler load;
  load.add({Reading<unsigned>::missing("nvmlDeviceGetClockInfo: Not Supported"), Reading<unsigned>::of(90),
            Reading<double>::missing("nvmlDeviceGetPowerUsage: Not Supported"),
            Reading<std::uint64_t>::missing("x")});
  EXPECT_EQ(load.sm_clock_mhz().reason, "nvmlDeviceGetClockInfo: Not Supported");
  EXPECT_FALSE(load.power_draw_w().value);
}

TEST(GpuState, JsonHasNullAndTheReasonForWhatWasNotRead) {
  GpuState s;
  s.name = Reading<std::string>::of("NVIDIA H200");
  s.sm_clock_max_mhz = Reading<unsigned>::of(1980);
  s.ecc_enabled = Reading<bool>::missing("nvmlDeviceGetEccMode: Not Supported");
  const nlohmann::json j = to_json(s);
  EXPECT_EQ(j["name"], "NVIDIA H200");
  EXPECT_EQ(j["sm_clock_max_mhz"], 1980);
  EXPECT_TRUE(j["ecc_enabled"].is_null());
  EXPECT_EQ(j["unavailable"]["ecc_enabled"], "nvmlDeviceGetEccMode: Not Supported");
  EXPECT_FALSE(j["unavailable"].contains("name"));
}

// The driver's NVML on a GPU host: the device CUDA calls 0 is the one NVML names, and the energy counter moves
// forward or says why not.
TEST(Nvml, SystemNvmlReadsTheCudaDevice) {
  const Nvml& nvml = Nvml::system();
  if (!nvml.available()) GTEST_SKIP() << nvml.unavailable_reason();
  if (!cuda_available()) GTEST_SKIP() << probe_cuda().reason;
  EXPECT_TRUE(nvml.driver_version().value) << nvml.driver_version().reason;
  ASSERT_TRUE(nvml.device_count().value) << nvml.device_count().reason;
  EXPECT_GE(*nvml.device_count().value, 1u);
  const Reading<NvmlDevice> device = nvml.device(0);
  ASSERT_TRUE(device.value) << device.reason;
  const GpuState state = device.value->state();
  ASSERT_TRUE(state.name.value) << state.name.reason;
  EXPECT_EQ(*state.name.value, cuda_devices().at(0).name);
  ASSERT_TRUE(state.sm_clock_max_mhz.value) << state.sm_clock_max_mhz.reason;
  EXPECT_GT(*state.sm_clock_max_mhz.value, 0u);

  EnergyMeter meter;
  meter.start();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  meter.stop();
  const Reading<double> joules = meter.joules();
  if (joules.value) {
    EXPECT_GE(*joules.value, 0.0);
  } else {
    EXPECT_FALSE(joules.reason.empty());
  }
}

}  // namespace
}  // namespace rosetta
