#include "bench/cli/result_record.h"

#include <cctype>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>

#include "runtime/device.h"
#include "runtime/atomic_file.h"
#include "commit.h"
#include "runtime/error.h"
#include "runtime/nvml.h"

namespace rosetta::cli {
namespace {
std::string utc_now() {
  const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// The kernel driver's version ("580.159.04"): from the kernel module's file, else from nvidia-smi (some virtual
// machines hide the file), else the CUDA API version the driver reports.
std::string driver_version(const std::string& cuda_api_version) {
  std::ifstream in("/proc/driver/nvidia/version");
  std::string word, previous;
  while (in >> word) {
    if (previous == "Module" && !word.empty() && std::isdigit(static_cast<unsigned char>(word[0]))) return word;
    previous = word;
  }
  if (std::FILE* smi = popen("nvidia-smi --query-gpu=driver_version --format=csv,noheader 2>/dev/null", "r")) {
    char line[64] = {};
    const bool read = std::fgets(line, sizeof line, smi) != nullptr;
    pclose(smi);
    std::string version = read ? line : "";
    while (!version.empty() && std::isspace(static_cast<unsigned char>(version.back()))) version.pop_back();
    if (!version.empty() && std::isdigit(static_cast<unsigned char>(version[0]))) return version;
  }
  return "CUDA " + cuda_api_version;
}

std::string device_description(Device device) {
  if (device == Device::cpu) return "cpu";
  const std::vector<CudaDeviceInfo> devices = cuda_devices();
  return devices.empty() ? "cuda" : devices[0].name;
}
}  // namespace

nlohmann::json base_record(const std::string& workload, Device device) {
  const LibraryVersions v = library_versions();
  nlohmann::json r;
  r["workload"] = workload;
  r["framework"] = "rosetta";
  r["framework_version"] = ROSETTA_VERSION;
  r["device"] = device_description(device);
  r["driver"] = device == Device::cuda ? nlohmann::json(driver_version(v.cuda_driver)) : nlohmann::json(nullptr);
  if (device == Device::cuda) {  // clocks, power limit, PCIe link, MIG, ECC at the time of the record (runtime/nvml.h)
    const Reading<NvmlDevice> gpu = Nvml::system().device(0);
    r["gpu"] = gpu.value ? to_json(gpu.value->state()) : nlohmann::json{{"unavailable", gpu.reason}};
  }
  r["cuda"] = v.cuda_runtime;
  r["cudnn"] = v.cudnn;
  r["cublas"] = v.cublas;
  r["commit"] = ROSETTA_COMMIT;
  r["date"] = utc_now();
  return r;
}

void write_record(const std::string& path, const nlohmann::json& record) { write_file_atomically(path, record.dump(2) + "\n"); }

nlohmann::json convolution_record(const std::string& name, const kernels::ConvPlan& plan, bool fused) {
  const auto pass_record = [&](kernels::ConvPass pass) {
    const kernels::ConvAlgorithmChoice& c = plan.of(pass);
    return nlohmann::json{{"backend", kernels::conv_backend_name(c.backend)},
                          {"choice", kernels::conv_choice_name(pass, c)},
                          {"time_ms", c.time_ms}};
  };
  nlohmann::json entry = pass_record(kernels::ConvPass::forward);
  entry["name"] = name;
  entry["shape"] = plan.shape.str();
  entry["fused"] = fused;
  if (!plan.options.forward_only)
    for (kernels::ConvPass pass : {kernels::ConvPass::backward_data, kernels::ConvPass::backward_filter})
      entry[kernels::conv_pass_name(pass)] = pass_record(pass);
  return entry;
}

}  // namespace rosetta::cli
