// The JSON result record of DESIGN.md ("Results"), one per run, shared by every workload and by the peers'
// records: workload, framework and version, device name, driver/CUDA/cuDNN versions, precision, batch size,
// epochs or images, seconds (with and without the autotuning epoch), throughput, accuracy, final loss, commit,
// date. Written atomically (runtime/atomic_file.h).
#pragma once
#include <nlohmann/json.hpp>
#include <string>

#include "runtime/device.h"

namespace rosetta::cli {

// The fields every record shares, filled from this build and the device: framework, framework_version,
// device, driver, cuda, cudnn, cublas, commit, date.
nlohmann::json base_record(const std::string& workload, Device device);
void write_record(const std::string& path, const nlohmann::json& record);

}  // namespace rosetta::cli
