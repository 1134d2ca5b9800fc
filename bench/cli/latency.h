// Latency statistics of a run's per-batch times (rosetta extract resnet50 --latency): each batch timed on its own
// (copy in, forward, features out, with the device idle before it), then summarised.
//
// Percentiles by the nearest-rank method: the p-th percentile of n sorted times is the value at 1-based rank
// ceil(p / 100 * n), so it is always one of the measured times; p50 of 100 batches is the 50th smallest, p99 the 99th
// (with fewer than 100 batches p99 is the largest: ask for at least 100 for it to mean something).
#pragma once
#include <cstdint>
#include <vector>

#include <nlohmann/json.hpp>

namespace rosetta::cli {

struct LatencySummary {
  std::int64_t batches = 0;
  double p50_ms = 0, p99_ms = 0, min_ms = 0, max_ms = 0, mean_ms = 0;
};

// The nearest-rank percentile (0 < percent <= 100) of `values`, which must not be empty (they need not be sorted).
double nearest_rank_percentile(std::vector<double> values, double percent);
// The summary of per-batch times in seconds (at least one).
LatencySummary summarize_latency(const std::vector<double>& seconds);
// The record's "latency" object: the summary and the rule that defines its percentiles.
nlohmann::json latency_json(const LatencySummary& summary);

}  // namespace rosetta::cli
