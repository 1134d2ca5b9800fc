#include "bench/cli/latency.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "runtime/error.h"

namespace rosetta::cli {

double nearest_rank_percentile(std::vector<double> values, double percent) {
  ROSETTA_CHECK(!values.empty(), "a percentile of no values");
  ROSETTA_CHECK(percent > 0 && percent <= 100, "percentile " << percent << " outside (0, 100]");
  std::sort(values.begin(), values.end());
  const double rank = std::ceil(percent / 100.0 * double(values.size()));  // 1-based
  const std::size_t at = static_cast<std::size_t>(std::clamp(rank, 1.0, double(values.size()))) - 1;
  return values[at];
}

LatencySummary summarize_latency(const std::vector<double>& seconds) {
  ROSETTA_CHECK(!seconds.empty(), "a latency summary of no batches");
  LatencySummary s;
  s.batches = static_cast<std::int64_t>(seconds.size());
  s.p50_ms = nearest_rank_percentile(seconds, 50) * 1e3;
  s.p99_ms = nearest_rank_percentile(seconds, 99) * 1e3;
  s.min_ms = *std::min_element(seconds.begin(), seconds.end()) * 1e3;
  s.max_ms = *std::max_element(seconds.begin(), seconds.end()) * 1e3;
  s.mean_ms = std::accumulate(seconds.begin(), seconds.end(), 0.0) / double(seconds.size()) * 1e3;
  return s;
}

nlohmann::json latency_json(const LatencySummary& s) {
  return {{"batches", s.batches},
          {"p50_ms", s.p50_ms},
          {"p99_ms", s.p99_ms},
          {"min_ms", s.min_ms},
          {"max_ms", s.max_ms},
          {"mean_ms", s.mean_ms},
          {"percentiles", "nearest rank: the value at 1-based rank ceil(p/100 * batches) of the sorted per-batch times"}};
}

}  // namespace rosetta::cli
