// The steady state of a timed run (DESIGN.md's timing protocol, issue 14's spread): every repetition of the run's
// steady-state unit, so a figure is quoted as the median with its min and max, never as one run.
//   training:   each epoch after the first (the first carries setup, autotuning, compilation), when there are at
//               least kMinRepetitions of them; otherwise kMinRepetitions equal windows of the steps after the first
//               epoch (timed by a Timeline: device time on a GPU), so a 3-epoch GRU run still has a spread;
//   extraction: each timed pass over the images.
// A run too short for kMinRepetitions repetitions has no steady state: its record says null and why.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace rosetta::cli {

inline constexpr int kMinRepetitions = 5;

struct SteadyState {
  std::string unit;                         // "epoch" | "window" | "pass"
  std::int64_t examples_per_repetition = 0;  // images or sequences in one repetition
  std::vector<double> seconds;              // (repetitions)

  double median_s() const;  // of an even count: the mean of the middle two
  double min_s() const;
  double max_s() const;
  double examples_per_second() const { return double(examples_per_repetition) / median_s(); }
  // Achieved 1e12 FLOP/s of the median repetition at flops_per_example (models/flops.h).
  double tflops(double flops_per_example) const { return flops_per_example * examples_per_second() / 1e12; }
  nlohmann::json to_json() const;
};

// Where the windows of a training run lie: `count` windows of `steps` steps, the first starting at step `first`
// (the step after the first epoch). Empty when the run has no steady state or enough whole epochs after the first.
struct WindowPlan {
  std::int64_t first = 0, steps = 0;
  int count = 0;
  // The steps at which a window starts or the last one ends (count + 1 of them; none when count is 0).
  std::vector<std::int64_t> boundaries() const;
};
WindowPlan plan_windows(std::int64_t steps_per_epoch, std::int64_t total_steps);

// The steady state of a training run from its epoch times (the first included) and, when windows were planned,
// the window times; nullopt with `why` set when there is none.
std::optional<SteadyState> training_steady_state(std::int64_t steps_per_epoch, std::int64_t total_steps,
                                                 std::int64_t batch, const std::vector<double>& epoch_seconds,
                                                 const std::vector<double>& window_seconds, std::string& why);

}  // namespace rosetta::cli
