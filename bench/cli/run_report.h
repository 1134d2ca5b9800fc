// What a run tells its user and its record: the header line naming the workload, device, precision, batch, data and
// switches; a training run's summary lines, its JSON record (result_record.h's base plus the training fields) and
// its --log-steps file.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "bench/cli/training_loop.h"
#include "runtime/device.h"

namespace rosetta::cli {

// "rosetta cnn on cuda: precision fp32, batch 64, data synthetic, <switches>" (switches: the workload's own, e.g.
// "autotune on, CUDA graph on"); on the CPU a second line says it is the reference path.
void print_run_header(const char* workload, Device device, const std::string& precision, const std::string& data,
                      std::int64_t batch, const std::string& switches);
// "trained N steps in T s (setup and autotuning S s); without the first epoch ..." and "test accuracy ...".
void print_summary(const TrainingSummary& s);
nlohmann::json training_record(const TrainingSummary& s);
// One line per step: "<step> <loss>" (the global 1-based step: first_step + 1 onwards, %.9g), written atomically.
void write_step_log(const std::string& path, const Tensor& step_losses, std::int64_t first_step, std::int64_t steps);

}  // namespace rosetta::cli
