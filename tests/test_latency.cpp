// Latency statistics (bench/cli/latency.h): nearest-rank percentiles on hand-made samples (the rule: the value at
// 1-based rank ceil(p/100 * n) of the sorted times), the summary's fields and units, and its record object.
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <random>
#include <vector>

#include "bench/cli/latency.h"
#include "runtime/error.h"

namespace rosetta {
namespace {

using cli::nearest_rank_percentile;

TEST(Latency, NearestRankPercentilesAreMeasuredValues) {
  std::vector<double> hundred(100);
  std::iota(hundred.begin(), hundred.end(), 1.0);  // 1 .. 100
  std::shuffle(hundred.begin(), hundred.end(), std::mt19937(7));  // the input need not be sorted
  EXPECT_EQ(nearest_rank_percentile(hundred, 50), 50.0);
  EXPECT_EQ(nearest_rank_percentile(hundred, 99), 99.0);
  EXPECT_EQ(nearest_rank_percentile(hundred, 100), 100.0);
  EXPECT_EQ(nearest_rank_percentile(hundred, 0.5), 1.0);
  std::vector<double> hundred_one(101);
  std::iota(hundred_one.begin(), hundred_one.end(), 1.0);
  EXPECT_EQ(nearest_rank_percentile(hundred_one, 99), 100.0);  // ceil(99.99) = 100
  EXPECT_EQ(nearest_rank_percentile(hundred_one, 50), 51.0);   // ceil(50.5) = 51
  const std::vector<double> three{3.0, 1.0, 2.0};
  EXPECT_EQ(nearest_rank_percentile(three, 50), 2.0);
  EXPECT_EQ(nearest_rank_percentile(three, 99), 3.0) << "under 100 values p99 is the largest";
  EXPECT_EQ(nearest_rank_percentile({4.5}, 99), 4.5);
  EXPECT_THROW(nearest_rank_percentile({}, 50), Error);
  EXPECT_THROW(nearest_rank_percentile(three, 0), Error);
  EXPECT_THROW(nearest_rank_percentile(three, 101), Error);
}

TEST(Latency, SummaryIsInMillisecondsAndNamesItsRule) {
  std::vector<double> seconds(200, 0.002);
  seconds[17] = 0.010;  // one slow batch: above p99's rank (198), so p99 stays 2 ms; the max shows it
  seconds[18] = 0.001;
  const cli::LatencySummary s = cli::summarize_latency(seconds);
  EXPECT_EQ(s.batches, 200);
  EXPECT_DOUBLE_EQ(s.p50_ms, 2.0);
  EXPECT_DOUBLE_EQ(s.p99_ms, 2.0);
  EXPECT_DOUBLE_EQ(s.min_ms, 1.0);
  EXPECT_DOUBLE_EQ(s.max_ms, 10.0);
  EXPECT_NEAR(s.mean_ms, (198 * 2.0 + 10.0 + 1.0) / 200, 1e-12);
  const nlohmann::json j = cli::latency_json(s);
  EXPECT_EQ(j["batches"], 200);
  EXPECT_NE(j["percentiles"].get<std::string>().find("nearest rank"), std::string::npos);
  EXPECT_THROW(cli::summarize_latency({}), Error);
}

}  // namespace
}  // namespace rosetta
