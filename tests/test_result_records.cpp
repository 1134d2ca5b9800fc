// The result record's measurements (bench/cli/steady_state.h, run_metrics.h, models/flops.h): the steady state and
// its spread, the achieved TFLOP/s, nulls with reasons, and the schema (docs/schema/result-record.schema.json) that
// every record rosetta writes follows; the validator itself rejects what it must.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "bench/cli/peak_rates.h"
#include "bench/cli/run_metrics.h"
#include "bench/cli/steady_state.h"
#include "models/flops.h"
#include "tests/support/cli.h"
#include "tests/support/python.h"

namespace rosetta {
namespace {

using cli::SteadyState;

TEST(SteadyState, MedianMinMaxOfTheRepetitions) {
  const SteadyState odd{"epoch", 100, {3.0, 1.0, 2.0, 5.0, 4.0}};
  EXPECT_EQ(odd.median_s(), 3.0);
  EXPECT_EQ(odd.min_s(), 1.0);
  EXPECT_EQ(odd.max_s(), 5.0);
  EXPECT_EQ(odd.examples_per_second(), 100.0 / 3.0);
  const SteadyState even{"window", 10, {4.0, 1.0, 2.0, 3.0}};
  EXPECT_EQ(even.median_s(), 2.5) << "an even count: the mean of the middle two";
  EXPECT_DOUBLE_EQ(even.tflops(1e12), 10.0 / 2.5);
}

TEST(SteadyState, EpochsWhenThereAreFiveAfterTheFirstElseWindows) {
  // 10 epochs of 100 steps: the 9 epochs after the first.
  std::string why;
  const std::vector<double> ten(10, 1.0);
  auto steady = cli::training_steady_state(100, 1000, 64, ten, {}, why);
  ASSERT_TRUE(steady);
  EXPECT_EQ(steady->unit, "epoch");
  EXPECT_EQ(steady->seconds.size(), 9u);
  EXPECT_EQ(steady->examples_per_repetition, 100 * 64);
  EXPECT_EQ(cli::plan_windows(100, 1000).count, 0) << "no windows when epochs suffice";

  // 3 epochs of 390 steps (the GRU): 780 steps after the first, in 5 windows of 156 starting at step 390.
  const cli::WindowPlan plan = cli::plan_windows(390, 1170);
  EXPECT_EQ(plan.count, 5);
  EXPECT_EQ(plan.first, 390);
  EXPECT_EQ(plan.steps, 156);
  EXPECT_EQ(plan.boundaries(), (std::vector<std::int64_t>{390, 546, 702, 858, 1014, 1170}));
  steady = cli::training_steady_state(390, 1170, 64, {2.0, 1.0, 1.0}, {0.2, 0.2, 0.3, 0.2, 0.2}, why);
  ASSERT_TRUE(steady);
  EXPECT_EQ(steady->unit, "window");
  EXPECT_EQ(steady->examples_per_repetition, 156 * 64);
  EXPECT_EQ(steady->median_s(), 0.2);

  // A run capped inside its first epoch, or with fewer than 5 steps after it: none, and why.
  EXPECT_FALSE(cli::training_steady_state(100, 50, 64, {1.0}, {}, why));
  EXPECT_NE(why.find("fewer than 5 steps after the first epoch"), std::string::npos) << why;
  EXPECT_FALSE(cli::training_steady_state(100, 104, 64, {1.0, 0.1}, {}, why));
}

TEST(ModelFlops, CountsDerivedByHand) {
  // CifarVGG forward multiply-adds: conv1 3*50*9*1024 = 1,382,400; conv2 50*50*9*1024 = 23,040,000; conv3
  // 50*100*9*256 = 11,520,000; conv4 100*100*9*256 = 23,040,000; fc1 6400*512 = 3,276,800; fc2 512*10 = 5,120:
  // 62,264,320. Training: forward + weight gradients + data gradients but conv1's.
  EXPECT_EQ(cnn_training_flops_per_example(), 2.0 * (3 * 62264320.0 - 1382400.0));
  // ImdbGRU at T = 150: per step 300 * (125 + 100) = 67,500 multiply-adds, l_out 200; three passes.
  EXPECT_EQ(gru_training_flops_per_example(150), 2.0 * 3.0 * (150 * 67500.0 + 200.0));
  // ResNet-50 at 224x224 without fc: 4,087,136,256 multiply-adds (fvcore reports 4.09 G for the same network).
  EXPECT_EQ(resnet50_forward_flops_per_image(224), 2.0 * 4087136256.0);
}

// The peers' records (bench/peers/common/result_record.py) count what rosetta's do: the same FLOPs per example,
// the same datasheet peaks, the same steady-state windows. Exact equality: both compute the same integers and
// products in double, in the same order.
TEST(PeerRecords, CountFlopsPeaksAndWindowsAsRosettaDoes) {
  const std::vector<std::string> devices = {"NVIDIA H200", "NVIDIA H200 NVL", "NVIDIA H100 80GB HBM3",
                                            "NVIDIA H100 PCIe", "NVIDIA H100 NVL", "NVIDIA A100-SXM4-80GB",
                                            "NVIDIA GeForce RTX 4090"};
  const std::vector<std::pair<std::int64_t, std::int64_t>> runs = {{390, 1170}, {100, 1000}, {781, 781},
                                                                   {781, 790}, {10, 14}, {10, 15}, {10, 70}};
  std::string script = "import sys\nsys.path.insert(0, '" + testing::source_dir() +
                       "/bench/peers/common')\nimport result_record as r\n"
                       "print(repr(r.cnn_training_flops_per_example()))\n";
  std::vector<double> expected = {cnn_training_flops_per_example()};
  for (std::int64_t steps : {150, 80, 1}) {
    script += "print(repr(r.gru_training_flops_per_example(" + std::to_string(steps) + ")))\n";
    expected.push_back(gru_training_flops_per_example(steps));
  }
  for (std::int64_t size : {224, 64, 32}) {
    script += "print(repr(r.resnet50_forward_flops_per_image(" + std::to_string(size) + ")))\n";
    expected.push_back(resnet50_forward_flops_per_image(size));
  }
  for (const std::string& device : devices) {
    for (const char* precision : {"fp32", "tf32", "bf16"}) {
      script += "p = r.peak_rate('" + device + "', '" + precision + "')\nprint(p[0] if p else -1)\n";
      const std::optional<cli::PeakRate> peak = cli::peak_rate(device, precision);
      expected.push_back(peak ? peak->tflops : -1);
    }
  }
  for (const auto& [per_epoch, total] : runs) {
    script += "print(*r.plan_windows(" + std::to_string(per_epoch) + ", " + std::to_string(total) + "))\n";
    const cli::WindowPlan plan = cli::plan_windows(per_epoch, total);
    for (double v : {double(plan.count ? plan.first : 0), double(plan.steps), double(plan.count)}) expected.push_back(v);
  }
  const std::vector<double> got = testing::python_numbers(script);
  ASSERT_EQ(got.size(), expected.size());
  for (std::size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i], expected[i]) << "value " << i;
}

TEST(RunMetrics, NullsCarryTheirReasons) {
  nlohmann::json record{{"device", "NVIDIA H200"}, {"precision", "bf16"}};
  cli::RunMeasurements m;
  m.steady = SteadyState{"pass", 1000, {0.1, 0.1, 0.1, 0.1, 0.1}};
  m.flops_per_example = 8e9;
  m.energy_unit = "1000 images";
  m.energy_joules_per_unit = Reading<double>::missing("no counter");
  m.peak_memory_bytes = Reading<double>::of(1234);
  cli::add_measurements(record, m);
  EXPECT_DOUBLE_EQ(record["metrics"]["tflops"].get<double>(), 8e9 * 1000 / 0.1 / 1e12);
  EXPECT_DOUBLE_EQ(record["metrics"]["peak_tflops"].get<double>(), 989.4) << "H200 dense BF16";
  EXPECT_DOUBLE_EQ(record["metrics"]["peak_fraction"].get<double>(), 80.0 / 989.4);
  EXPECT_EQ(record["metrics"]["peak_memory_bytes"], 1234);
  EXPECT_TRUE(record["metrics"]["energy_joules_per_unit"].is_null());
  EXPECT_EQ(record["unavailable"]["metrics.energy_joules_per_unit"], "no counter");

  nlohmann::json cpu{{"device", "cpu"}, {"precision", "fp32"}};
  m.steady.reset();
  m.why_no_steady = "too short";
  cli::add_measurements(cpu, m);
  EXPECT_TRUE(cpu["steady"].is_null());
  EXPECT_EQ(cpu["unavailable"]["steady"], "too short");
  for (const char* field : {"metrics.tflops", "metrics.peak_tflops", "metrics.peak_fraction"})
    EXPECT_TRUE(cpu["unavailable"].contains(field)) << field;
}

// A three-epoch GRU run on the CPU: windows (fewer than 5 epochs after the first), a valid record whose throughput
// is the median window's.
TEST(ResultRecords, ShortGruRunHasWindowsAndFollowsTheSchema) {
  testing::TempDir dir;
  const testing::CliRun run =
      testing::run_rosetta(dir, "train gru --device cpu --epochs 3 --batch 8 --synthetic-train 48 --synthetic-test 16 "
                                "--json " + dir.file("gru.json"));
  ASSERT_EQ(run.status, 0) << run.output;
  EXPECT_NE(run.output.find("steady state: 5 windows"), std::string::npos) << run.output;
  const nlohmann::json r = nlohmann::json::parse(testing::read_file(dir.file("gru.json")));
  // 6 steps per epoch, 12 after the first: 5 windows of 2 steps of 8 reviews.
  EXPECT_EQ(r["steady"]["unit"], "window");
  EXPECT_EQ(r["steady"]["examples_per_repetition"], 16);
  const double median = r["steady"]["median_s"].get<double>();
  EXPECT_LE(r["steady"]["min_s"].get<double>(), median);
  EXPECT_GE(r["steady"]["max_s"].get<double>(), median);
  EXPECT_DOUBLE_EQ(r["sequences_per_second"].get<double>(), 16 / median);
  testing::expect_valid_record(dir, dir.file("gru.json"));
}

// A run inside its first epoch has no steady state: null throughput, never 0, with the reason.
TEST(ResultRecords, FirstEpochOnlyRunWritesNullsWithReasons) {
  testing::TempDir dir;
  const testing::CliRun run = testing::run_rosetta(
      dir, "train cnn --device cpu --epochs 1 --max-steps 2 --batch 4 --synthetic-train 64 --synthetic-test 8 "
           "--json " + dir.file("cnn.json"));
  ASSERT_EQ(run.status, 0) << run.output;
  const nlohmann::json r = nlohmann::json::parse(testing::read_file(dir.file("cnn.json")));
  EXPECT_TRUE(r["steady"].is_null());
  EXPECT_TRUE(r["images_per_second"].is_null());
  EXPECT_TRUE(r["unavailable"].contains("steady"));
  testing::expect_valid_record(dir, dir.file("cnn.json"));
}

TEST(ResultRecords, TheValidatorRejectsAnUnexplainedNull) {
  testing::TempDir dir;
  testing::CliRun run = testing::run_rosetta(
      dir, "train cnn --device cpu --epochs 1 --max-steps 1 --batch 4 --synthetic-train 16 --synthetic-test 8 --json " +
               dir.file("r.json"));
  ASSERT_EQ(run.status, 0) << run.output;
  nlohmann::json r = nlohmann::json::parse(testing::read_file(dir.file("r.json")));
  r["unavailable"].erase("metrics.tflops");
  testing::write_file(dir.file("bad.json"), r.dump());
  const std::string log = dir.file("v.log");
  EXPECT_EQ(testing::run_command(testing::python_interpreter() + " '" + testing::source_dir() +
                                     "/bench/report/validate_record.py' '" + dir.file("bad.json") + "'",
                                 log),
            1);
  EXPECT_NE(testing::read_file(log).find("metrics.tflops: null without a reason"), std::string::npos)
      << testing::read_file(log);
  r["images_per_second"] = 0;  // the schema: a throughput is positive or null
  testing::write_file(dir.file("zero.json"), r.dump());
  EXPECT_EQ(testing::run_command(testing::python_interpreter() + " '" + testing::source_dir() +
                                     "/bench/report/validate_record.py' '" + dir.file("zero.json") + "'",
                                 log),
            1);
}

}  // namespace
}  // namespace rosetta
