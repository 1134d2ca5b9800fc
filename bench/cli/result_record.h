// The JSON result record of DESIGN.md ("Results"), one per run, shared by every workload and by the peers'
// records: workload, framework and version, device name, driver/CUDA/cuDNN versions, precision, batch size,
// epochs or images, seconds (with and without the autotuning epoch), throughput, accuracy, final loss, commit,
// date. Written atomically (runtime/atomic_file.h).
#pragma once
#include <nlohmann/json.hpp>
#include <string>

#include "kernels/conv.h"
#include "runtime/device.h"

namespace rosetta::cli {

// The fields every record shares, filled from this build and the device: framework, framework_version,
// device, driver, cuda, cudnn, cublas, commit, date.
nlohmann::json base_record(const std::string& workload, Device device);
void write_record(const std::string& path, const nlohmann::json& record);

// One entry of a record's `convolutions` (docs/schema): the layer's name, its planned shape, the forward's backend,
// choice and event-timed median (0: chosen untimed), whether its epilogue runs inside the forward's call (`fused`),
// and for a training plan the same three of each gradient's pass (backward_data, backward_filter).
nlohmann::json convolution_record(const std::string& name, const kernels::ConvPlan& plan, bool fused);

}  // namespace rosetta::cli
