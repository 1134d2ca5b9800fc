// `rosetta doctor`: its comparison with reference records, on synthetic records (within the spread is healthy; a
// slower run is explained by its lower clocks, another cuDNN, TF32 turned off, or nothing found), the reference index
// (the shipped one, and broken ones), and the binary itself: on a machine without a GPU it exits 0 and says why
// each GPU check was skipped; with one, no check fails.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "bench/cli/doctor_reference.h"
#include "runtime/device.h"
#include "runtime/error.h"
#include "tests/support/cli.h"

namespace rosetta {
namespace {

using cli::Comparison;
using nlohmann::json;

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// A training record of `epochs` epochs of 100 steps at batch 64 whose steady epochs take `seconds` each (the first
// takes longer: setup and autotuning), as rosetta writes it before schema version 1.
json training_record(std::vector<double> steady_seconds) {
  std::vector<double> epochs{2.5};
  epochs.insert(epochs.end(), steady_seconds.begin(), steady_seconds.end());
  return {{"workload", "cnn"},  {"device", "NVIDIA H200"}, {"framework", "rosetta"}, {"precision", "fp32"},
          {"batch", 64},        {"epochs", epochs.size()}, {"steps", 100 * epochs.size()},
          {"seconds_per_epoch", epochs}, {"cudnn", "9.19.0"}, {"cublas", "13.1.0"}, {"cuda", "13.0"},
          {"driver", "580.159.04"}, {"graph", true}, {"autotune", true}, {"commit", "a2db53379871"},
          {"date", "2026-11-26T18:21:53Z"}};
}

bool any_contains(const std::vector<std::string>& lines, const std::string& part) {
  for (const std::string& line : lines)
    if (contains(line, part)) return true;
  return false;
}

TEST(DoctorSteady, PerExampleFromEachKindOfRecord) {
  const Reading<cli::Steady> epochs = cli::steady_per_example(training_record({1.0, 1.2, 1.1}));
  ASSERT_TRUE(epochs.value) << epochs.reason;
  EXPECT_DOUBLE_EQ(epochs.value->median_s, 1.1 / 6400);  // the first epoch is left out; 100 steps x 64 examples
  EXPECT_DOUBLE_EQ(epochs.value->min_s, 1.0 / 6400);
  EXPECT_DOUBLE_EQ(epochs.value->max_s, 1.2 / 6400);
  EXPECT_EQ(epochs.value->repetitions, 3);

  const json v1 = {{"steady", {{"unit", "window"}, {"examples_per_repetition", 640}, {"repetitions", 4},
                               {"seconds", {0.2, 0.1, 0.4, 0.3}}, {"median_s", 0.25}, {"min_s", 0.1}, {"max_s", 0.4}}}};
  const Reading<cli::Steady> windows = cli::steady_per_example(v1);
  ASSERT_TRUE(windows.value) << windows.reason;
  EXPECT_DOUBLE_EQ(windows.value->median_s, 0.25 / 640);
  EXPECT_EQ(windows.value->repetitions, 4);

  const Reading<cli::Steady> pass = cli::steady_per_example({{"seconds_per_1000_images", 0.297}});
  ASSERT_TRUE(pass.value) << pass.reason;
  EXPECT_DOUBLE_EQ(pass.value->median_s, 0.297e-3);
  EXPECT_DOUBLE_EQ(pass.value->spread(), 0.0);

  json one_epoch = training_record({});
  EXPECT_FALSE(cli::steady_per_example(one_epoch).value);
  json cut_short = training_record({1.0, 1.0});
  cut_short["steps"] = 250;  // --max-steps stopped it half way through its last epoch
  EXPECT_TRUE(contains(cli::steady_per_example(cut_short).reason, "partial")) << cli::steady_per_example(cut_short).reason;
  EXPECT_EQ(cli::steady_per_example({{"steady", nullptr}, {"unavailable", {{"steady", "a CPU run of one epoch"}}}}).reason,
            "a CPU run of one epoch");
}

TEST(DoctorCompare, ARunWithinTheSpreadIsHealthy) {
  const json reference = training_record({1.000, 1.004, 1.002, 1.003});
  json run = training_record({1.05, 1.06});
  run["cudnn"] = "9.20.0";  // a difference, but nothing to explain: the time is within the band
  const Comparison c = cli::compare_with_reference(reference, run);
  EXPECT_EQ(c.verdict, Comparison::Verdict::within) << c.summary;
  EXPECT_NEAR(c.ratio, 1.055 / 1.0025, 1e-12);
  EXPECT_DOUBLE_EQ(c.band, cli::kNoiseFloor) << "both spreads are far below the noise floor";
  EXPECT_TRUE(c.explanations.empty());
  EXPECT_TRUE(contains(c.summary, "within")) << c.summary;
}

TEST(DoctorCompare, TheBandWidensWithTheSpread) {
  const json reference = training_record({0.9, 1.0, 1.1});  // 20% spread
  const json run = training_record({1.14, 1.16});            // 15% slower, 1.7% spread
  const Comparison c = cli::compare_with_reference(reference, run);
  EXPECT_NEAR(c.band, 0.2 + 0.02 / 1.15, 1e-12);
  EXPECT_EQ(c.verdict, Comparison::Verdict::within) << c.summary;
}

TEST(DoctorCompare, ASlowerRunWithLowerClocksInItsRecordIsExplained) {
  json reference = training_record({1.0, 1.0, 1.0});
  reference["gpu"] = {{"sm_clock_max_mhz", 1980}, {"under_load", {{"sm_clock_mhz", 1980}}}};
  json run = training_record({1.6, 1.6});
  run["gpu"] = {{"sm_clock_max_mhz", 1980}, {"power_limit_w", 450}, {"power_default_limit_w", 700},
                {"under_load", {{"sm_clock_mhz", 1215}, {"clock_limiters", {"sw_power_cap"}}}}};
  const Comparison c = cli::compare_with_reference(reference, run);
  EXPECT_EQ(c.verdict, Comparison::Verdict::slower) << c.summary;
  EXPECT_NEAR(c.ratio, 1.6, 1e-12);
  EXPECT_TRUE(any_contains(c.explanations, "SM clock under load 1215 MHz here, 1980 MHz in the reference"))
      << json(c.explanations).dump(1);
  EXPECT_TRUE(any_contains(c.explanations, "clocks held down under load by sw_power_cap")) << json(c.explanations).dump(1);
  EXPECT_TRUE(any_contains(c.explanations, "power limit 450 W, below its default 700 W")) << json(c.explanations).dump(1);
  EXPECT_FALSE(any_contains(c.explanations, "no difference"));
}

TEST(DoctorCompare, WithoutTheReferenceClockTheRunsOwnMaximumIsTheMeasure) {
  const json reference = training_record({1.0, 1.0, 1.0});
  json run = training_record({1.5, 1.5});
  run["gpu"] = {{"sm_clock_max_mhz", 1980}, {"under_load", {{"sm_clock_mhz", 1200}}}};
  const Comparison c = cli::compare_with_reference(reference, run);
  EXPECT_TRUE(any_contains(c.explanations, "SM clock under load 1200 MHz, 61% of its 1980 MHz maximum"))
      << json(c.explanations).dump(1);
}

TEST(DoctorCompare, ADifferentCudnnIsNamed) {
  const json reference = training_record({1.0, 1.0, 1.0});
  json run = training_record({1.3, 1.3});
  run["cudnn"] = "9.20.0";
  run["commit"] = "0123456789ab";
  const Comparison c = cli::compare_with_reference(reference, run);
  EXPECT_EQ(c.verdict, Comparison::Verdict::slower);
  ASSERT_FALSE(c.explanations.empty());
  EXPECT_EQ(c.explanations.front(), "cuDNN 9.20.0 here, 9.19.0 in the reference");
  EXPECT_TRUE(any_contains(c.explanations, "rosetta 0123456789ab here, a2db53379871 in the reference"));
}

TEST(DoctorCompare, Tf32TurnedOffByTheEnvironmentIsNamed) {
  json reference = training_record({1.0, 1.0, 1.0});
  reference["precision"] = "tf32";
  json run = reference;
  run["seconds_per_epoch"] = {2.5, 2.0, 2.0};
  run["epochs"] = 3;
  run["steps"] = 300;
  run["environment"] = {{"NVIDIA_TF32_OVERRIDE", "0"}};
  const Comparison c = cli::compare_with_reference(reference, run);
  EXPECT_EQ(c.verdict, Comparison::Verdict::slower);
  EXPECT_TRUE(any_contains(c.explanations, "NVIDIA_TF32_OVERRIDE=0 here: TF32 is off in cuDNN and cuBLAS"))
      << json(c.explanations).dump(1);
}

TEST(DoctorCompare, SettingsAndTheLinkAreNamedAndNothingFoundIsSaid) {
  const json reference = training_record({1.0, 1.0, 1.0});
  json run = training_record({1.4, 1.4});
  run["graph"] = false;
  run["gpu"] = {{"pcie_generation", 3}, {"pcie_width", 8}, {"pcie_max_generation", 5}, {"pcie_max_width", 16},
                {"mig_enabled", true}};
  const Comparison c = cli::compare_with_reference(reference, run);
  EXPECT_TRUE(any_contains(c.explanations, "graph false here, true in the reference")) << json(c.explanations).dump(1);
  EXPECT_TRUE(any_contains(c.explanations, "PCIe link gen 3 x8, below the gen 5 x16")) << json(c.explanations).dump(1);
  EXPECT_TRUE(any_contains(c.explanations, "MIG is on")) << json(c.explanations).dump(1);

  const Comparison nothing = cli::compare_with_reference(reference, training_record({1.4, 1.4}));
  EXPECT_EQ(nothing.verdict, Comparison::Verdict::slower);
  ASSERT_EQ(nothing.explanations.size(), 1u);
  EXPECT_TRUE(contains(nothing.explanations[0], "no difference")) << nothing.explanations[0];
}

TEST(DoctorCompare, FasterAndNotComparableRuns) {
  const json reference = training_record({1.0, 1.0, 1.0});
  EXPECT_EQ(cli::compare_with_reference(reference, training_record({0.7, 0.7})).verdict, Comparison::Verdict::faster);
  const Comparison one_epoch = cli::compare_with_reference(reference, training_record({}));
  EXPECT_EQ(one_epoch.verdict, Comparison::Verdict::not_comparable);
  EXPECT_TRUE(contains(one_epoch.summary, "the run cannot be compared")) << one_epoch.summary;
}

TEST(DoctorReferences, TheShippedIndexNamesComparableRecordsOfItsGpuModels) {
  const cli::ReferenceIndex index =
      cli::read_reference_index(testing::source_dir() + "/docs/results/reference.json");
  ASSERT_FALSE(index.devices.empty());
  for (const auto& [device, workloads] : index.devices) {
    const cli::References refs = cli::references_for(index, device);
    EXPECT_TRUE(refs.none.empty()) << refs.none;
    EXPECT_EQ(refs.records.size(), 3u) << device << ": one record per workload";
    for (const auto& [workload, record] : refs.records) {
      const Reading<cli::Steady> steady = cli::steady_per_example(record);
      EXPECT_TRUE(steady.value) << refs.paths.at(workload) << ": " << steady.reason;
    }
  }
}

TEST(DoctorReferences, UnknownModelsAndBrokenIndexesSayWhat) {
  testing::TempDir dir;
  testing::write_file(dir.file("cnn.json"), training_record({1.0, 1.0}).dump());
  testing::write_file(dir.file("index.json"),
                      json({{"schema", "rosetta-doctor-references"}, {"version", 1},
                            {"devices", {{"NVIDIA H200", {{"cnn", "cnn.json"}}}}}}).dump());
  const cli::ReferenceIndex index = cli::read_reference_index(dir.file("index.json"));
  EXPECT_EQ(cli::references_for(index, "NVIDIA H200").records.size(), 1u);
  const cli::References none = cli::references_for(index, "NVIDIA A100-SXM4-80GB");
  EXPECT_TRUE(none.records.empty());
  EXPECT_TRUE(contains(none.none, "no reference records for NVIDIA A100-SXM4-80GB")) << none.none;
  EXPECT_TRUE(contains(none.none, "it has them for NVIDIA H200")) << none.none;

  testing::write_file(dir.file("gru-as-cnn.json"),
                      json({{"schema", "rosetta-doctor-references"}, {"version", 1},
                            {"devices", {{"NVIDIA H200", {{"gru", "cnn.json"}}}}}}).dump());
  EXPECT_THROW(cli::references_for(cli::read_reference_index(dir.file("gru-as-cnn.json")), "NVIDIA H200"), InputError);
  testing::write_file(dir.file("not-json.json"), "{\"schema\": ");
  EXPECT_THROW(cli::read_reference_index(dir.file("not-json.json")), InputError);
  testing::write_file(dir.file("other.json"), "{\"schema\": \"something else\", \"version\": 1, \"devices\": {}}");
  EXPECT_THROW(cli::read_reference_index(dir.file("other.json")), InputError);
  testing::write_file(dir.file("bad-workload.json"),
                      json({{"schema", "rosetta-doctor-references"}, {"version", 1},
                            {"devices", {{"NVIDIA H200", {{"vgg", "cnn.json"}}}}}}).dump());
  EXPECT_THROW(cli::read_reference_index(dir.file("bad-workload.json")), InputError);
}

// The last non-empty line of the output, and whether a checklist line has this status and name.
std::string last_line(const std::string& output) {
  std::string text = output;
  while (!text.empty() && text.back() == '\n') text.pop_back();
  return text.substr(text.rfind('\n') + 1);
}
bool has_check(const std::string& output, const std::string& status, const std::string& name) {
  char prefix[64];
  std::snprintf(prefix, sizeof prefix, "  %-5s %-18s ", status.c_str(), name.c_str());
  return contains(output, prefix);
}

TEST(DoctorCli, QuickSaysWhyEachGpuCheckIsSkippedAndWritesTheFindings) {
  testing::TempDir dir;
  const testing::CliRun run = testing::run_rosetta(dir, "doctor --quick --json " + dir.file("findings.json"));
  const json findings = json::parse(testing::read_file(dir.file("findings.json")));
  EXPECT_EQ(findings["schema"], "rosetta-doctor-findings");
  EXPECT_EQ(findings["exit_code"], run.status);
  EXPECT_TRUE(contains(last_line(run.output), "summary:")) << run.output;
  EXPECT_TRUE(has_check(run.output, "ok", "build")) << run.output;
  EXPECT_FALSE(contains(run.output, "  fail ")) << run.output;
  if (cuda_available()) return;  // the GPU checks ran; whether they warn depends on this machine
  EXPECT_EQ(run.status, 0) << run.output;
  EXPECT_TRUE(has_check(run.output, "skip", "gpu")) << run.output;
  EXPECT_TRUE(contains(run.output, probe_cuda().reason)) << "the skip says why: " << run.output;
  for (const char* name : {"clocks", "power limit", "mig", "ecc", "pcie", "bandwidth", "gpu workloads"})
    EXPECT_TRUE(has_check(run.output, "skip", name)) << name << "\n" << run.output;
  EXPECT_TRUE(has_check(run.output, "ok", "references")) << run.output;
  EXPECT_TRUE(contains(last_line(run.output), "healthy, without a GPU")) << run.output;
  EXPECT_EQ(findings["verdict"], "healthy");
  bool gpu_skip_has_reason = false;
  for (const json& check : findings["checks"])
    gpu_skip_has_reason |= check["name"] == "gpu" && check["status"] == "skip" && check["detail"] == probe_cuda().reason;
  EXPECT_TRUE(gpu_skip_has_reason) << findings["checks"].dump(1);
}

// The whole doctor: without a GPU, a few CPU steps of the CNN and the GRU lower the loss and a tiny ResNet-50 forward
// gives finite features (about 25 s on one core); with one, the short GPU runs, none of which may fail.
TEST(DoctorCli, TheWholeDoctorRuns) {
  testing::TempDir dir;
  const testing::CliRun run = testing::run_rosetta(dir, "doctor");
  EXPECT_TRUE(contains(last_line(run.output), "summary:")) << run.output;
  EXPECT_FALSE(contains(run.output, "  fail ")) << run.output;
  if (cuda_available()) {
    EXPECT_TRUE(run.status == 0 || run.status == 1) << run.output;
    for (const char* name : {"gpu cnn", "gpu gru", "gpu resnet50"}) EXPECT_TRUE(contains(run.output, name)) << name;
    return;
  }
  EXPECT_EQ(run.status, 0) << run.output;
  for (const char* name : {"cpu cnn", "cpu gru", "cpu resnet50"})
    EXPECT_TRUE(has_check(run.output, "ok", name)) << name << "\n" << run.output;
}

TEST(DoctorCli, AnUnreadableIndexOrFolderIsOneLineAndExitTwo) {
  testing::TempDir dir;
  testing::write_file(dir.file("index.json"), "{\"schema\": \"rosetta-doctor-references\", \"version\": 2}");
  testing::expect_one_line_error(testing::run_rosetta(dir, "doctor --quick --references " + dir.file("index.json")),
                                 "index.json: not a reference index");
  testing::expect_one_line_error(testing::run_rosetta(dir, "doctor --references " + dir.file("absent.json")),
                                 "absent.json");
  testing::expect_one_line_error(testing::run_rosetta(dir, "doctor --json " + dir.file("nowhere/findings.json")),
                                 "nowhere");
}

}  // namespace
}  // namespace rosetta
