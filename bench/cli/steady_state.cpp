#include "bench/cli/steady_state.h"

#include <algorithm>

#include "runtime/error.h"

namespace rosetta::cli {

double SteadyState::median_s() const {
  ROSETTA_CHECK(!seconds.empty(), "a steady state without repetitions");
  std::vector<double> sorted = seconds;
  std::sort(sorted.begin(), sorted.end());
  const std::size_t n = sorted.size();
  return n % 2 ? sorted[n / 2] : 0.5 * (sorted[n / 2 - 1] + sorted[n / 2]);
}
double SteadyState::min_s() const { return *std::min_element(seconds.begin(), seconds.end()); }
double SteadyState::max_s() const { return *std::max_element(seconds.begin(), seconds.end()); }

nlohmann::json SteadyState::to_json() const {
  return {{"unit", unit},          {"examples_per_repetition", examples_per_repetition},
          {"repetitions", seconds.size()}, {"seconds", seconds},
          {"median_s", median_s()}, {"min_s", min_s()}, {"max_s", max_s()}};
}

std::vector<std::int64_t> WindowPlan::boundaries() const {
  std::vector<std::int64_t> steps_at;
  for (int i = 0; i <= count && count > 0; ++i) steps_at.push_back(first + i * steps);
  return steps_at;
}

WindowPlan plan_windows(std::int64_t steps_per_epoch, std::int64_t total_steps) {
  const std::int64_t steady_steps = total_steps - steps_per_epoch;
  const std::int64_t whole_steady_epochs = steps_per_epoch > 0 ? std::max<std::int64_t>(0, steady_steps) / steps_per_epoch : 0;
  if (whole_steady_epochs >= kMinRepetitions || steady_steps < kMinRepetitions) return {};
  return {steps_per_epoch, steady_steps / kMinRepetitions, kMinRepetitions};
}

std::optional<SteadyState> training_steady_state(std::int64_t steps_per_epoch, std::int64_t total_steps,
                                                 std::int64_t batch, const std::vector<double>& epoch_seconds,
                                                 const std::vector<double>& window_seconds, std::string& why) {
  const WindowPlan windows = plan_windows(steps_per_epoch, total_steps);
  if (windows.count > 0) {
    ROSETTA_CHECK(window_seconds.size() == static_cast<std::size_t>(windows.count),
                  "planned " << windows.count << " windows, timed " << window_seconds.size());
    return SteadyState{"window", windows.steps * batch, window_seconds};
  }
  const std::int64_t whole_steady_epochs = total_steps / std::max<std::int64_t>(1, steps_per_epoch) - 1;
  if (whole_steady_epochs >= kMinRepetitions) {
    // Epoch e (0-based) ran whole when (e + 1) * steps_per_epoch <= total_steps.
    const std::vector<double> steady(epoch_seconds.begin() + 1, epoch_seconds.begin() + 1 + whole_steady_epochs);
    return SteadyState{"epoch", steps_per_epoch * batch, steady};
  }
  why = "fewer than " + std::to_string(kMinRepetitions) + " steps after the first epoch (" +
        std::to_string(std::max<std::int64_t>(0, total_steps - steps_per_epoch)) +
        "): the first epoch carries setup and autotuning, so the run has no steady state to time";
  return std::nullopt;
}

}  // namespace rosetta::cli
