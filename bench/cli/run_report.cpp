#include "bench/cli/run_report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "bench/cli/result_record.h"
#include "bench/cli/run_metrics.h"
#include "bench/cli/steady_state.h"
#include "runtime/atomic_file.h"

namespace rosetta::cli {
namespace {

std::string accuracy_text(double accuracy) {
  if (std::isnan(accuracy)) return "not measured";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f%%", 100.0 * accuracy);
  return buf;
}

}  // namespace

void print_run_header(const char* workload, Device device, const std::string& precision, const std::string& data,
                      std::int64_t batch, const std::string& switches) {
  std::printf("rosetta %s on %s: precision %s, batch %lld, data %s, %s\n", workload, device_name(device),
              precision.c_str(), static_cast<long long>(batch), data.c_str(), switches.c_str());
  if (device == Device::cpu) std::printf("  (no GPU in use: this is the CPU reference path, slow by design)\n");
  std::fflush(stdout);
}

void print_summary(const TrainingSummary& s) {
  const double first = s.epoch_seconds.empty() ? 0 : s.epoch_seconds[0];
  std::printf("trained %lld steps in %.3f s (setup and autotuning %.3f s)", static_cast<long long>(s.steps),
              s.seconds_total, s.setup_seconds);
  if (s.epoch_seconds.size() > 1) std::printf("; without the first epoch %.3f s", s.seconds_total - first);
  std::printf("\n");
  if (s.steady) {
    std::printf("steady state: %zu %ss of %lld examples, median %.4f s (min %.4f, max %.4f), %.1f examples/s, "
                "%.3g TFLOP/s\n",
                s.steady->seconds.size(), s.steady->unit.c_str(), static_cast<long long>(s.steady->examples_per_repetition),
                s.steady->median_s(), s.steady->min_s(), s.steady->max_s(), s.steady->examples_per_second(),
                s.steady->tflops(s.flops_per_example));
  } else {
    std::printf("steady state: none (%s)\n", s.why_no_steady.c_str());
  }
  std::printf("test accuracy %s  final loss %.4f\n", accuracy_text(s.test_accuracy).c_str(),
              s.steps > 0 ? s.step_losses.data<float>()[s.steps - 1] : 0.0f);
  std::fflush(stdout);
}

nlohmann::json training_record(const TrainingSummary& s) {
  nlohmann::json r = base_record(s.workload, s.device);
  RunMeasurements m;
  m.steady = s.steady;
  m.why_no_steady = s.why_no_steady;
  m.flops_per_example = s.flops_per_example;
  m.energy_unit = "epoch";
  m.energy_joules_per_unit = s.energy_joules_per_epoch;
  m.peak_memory_bytes = s.peak_memory_bytes;
  // The protocol's totals: every epoch, and every epoch after the first (the first carries setup and autotuning);
  // a run of one epoch has no such figure, so it is null (unmeasured), as the peers write it.
  const bool later_epochs = s.epoch_seconds.size() > 1;
  const auto measured = [](bool known, double value) { return known ? nlohmann::json(value) : nlohmann::json(nullptr); };
  r["status"] = s.interrupted ? "interrupted" : "complete";
  r["precision"] = s.precision;
  r["batch"] = s.batch;
  r["epochs"] = s.epochs;
  r["steps"] = s.steps;
  if (s.first_step > 0) r["first_step"] = s.first_step;
  r["seconds_total"] = s.seconds_total;
  r["seconds_setup"] = s.setup_seconds;
  r["seconds_without_first_epoch"] = measured(later_epochs, s.seconds_total - (later_epochs ? s.epoch_seconds[0] : 0));
  r["seconds_per_epoch"] = s.epoch_seconds;
  // Throughput: the steady state's median repetition.
  r[s.workload == "gru" ? "sequences_per_second" : "images_per_second"] =
      m.steady ? nlohmann::json(m.steady->examples_per_second()) : nlohmann::json(nullptr);
  r["test_accuracy"] = measured(!std::isnan(s.test_accuracy), s.test_accuracy);
  r["final_loss"] = measured(s.steps > 0, s.steps > 0 ? s.step_losses.data<float>()[s.steps - 1] : 0.0);
  r["data"] = s.data;
  add_measurements(r, m);
  return r;
}

void write_step_log(const std::string& path, const Tensor& step_losses, std::int64_t first_step, std::int64_t steps) {
  std::string text;
  char line[64];
  const float* l = step_losses.data<float>();
  for (std::int64_t i = 0; i < steps; ++i) {
    std::snprintf(line, sizeof line, "%lld %.9g\n", static_cast<long long>(first_step + i + 1), l[i]);
    text += line;
  }
  write_file_atomically(path, text);
}

}  // namespace rosetta::cli
