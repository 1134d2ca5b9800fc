// --profile: the profiler (runtime/profiler.h), the op classes (kernels/op_class.h), the regions the op dispatch and the
// models open, the breakdown (bench/cli/profile_report.h) and the CLI's profiled runs. The CUDA cases skip without
// a device.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <string>

#include "bench/cli/profile_report.h"
#include "kernels/elementwise.h"
#include "kernels/op_class.h"
#include "models/cifar_vgg.h"
#include "models/imdb_gru.h"
#include "runtime/allocator.h"
#include "runtime/profiler.h"
#include "tests/support/cli.h"
#include "tests/support/cuda.h"
#include "tests/support/paths.h"
#include "tests/support/temp_dir.h"

namespace rosetta {
namespace {

using testing::source_dir;

// Every ROSETTA_OP(name) of kernels/*.h.
std::set<std::string> declared_ops() {
  std::set<std::string> ops;
  const std::regex op(R"(^ROSETTA_OP\((\w+)\))");
  for (const auto& entry : std::filesystem::directory_iterator(source_dir() + "/kernels")) {
    if (entry.path().extension() != ".h") continue;
    std::ifstream in(entry.path());
    EXPECT_TRUE(in) << entry.path();
    for (std::string line; std::getline(in, line);) {
      std::smatch m;
      if (std::regex_search(line, m, op)) ops.insert(m[1]);
    }
  }
  return ops;
}

TEST(OpClass, EveryRowNamesADeclaredOpOnce) {
  // ROSETTA_OP refuses an op without a row at compile time; this catches the reverse, a row left behind.
  const std::set<std::string> ops = declared_ops();
  EXPECT_GT(ops.size(), 30u);
  std::set<std::string> rows;
  for (const kernels::OpClassRow& row : kernels::kOpClasses) {
    EXPECT_TRUE(ops.count(std::string(row.op))) << row.op << " has a class but no ROSETTA_OP";
    EXPECT_TRUE(rows.insert(std::string(row.op)).second) << row.op << " has two rows";
  }
  EXPECT_EQ(rows, ops);
  EXPECT_EQ(kernels::op_class("conv2d_backward_filter"), kernels::OpClass::conv_filter_grad);
  EXPECT_EQ(kernels::op_class("find_conv_algorithms"), kernels::OpClass::none);
}

TEST(OpClass, RecordClassesAreTheSchemas) {
  std::ifstream in(source_dir() + "/docs/schema/result-record.schema.json");
  const nlohmann::json schema = nlohmann::json::parse(in);
  const nlohmann::json& classes = schema["properties"]["profile"]["properties"]["classes"];
  EXPECT_EQ(classes["required"].get<std::vector<std::string>>(), cli::profile_class_names());
}

TEST(Profiler, OffRecordsNothing) {
  Context& ctx = Context::cpu();
  EXPECT_EQ(ctx.profiler(), nullptr) << "profiling is off by default";
  Profiler profiler(ctx);
  Tensor x = Tensor::zeros({8}, DType::f32);
  kernels::fill(ctx, x.data<float>(), 1.0f, 8);  // no attachment: not seen
  {
    const ProfilerAttachment attached(profiler);
    EXPECT_EQ(ctx.profiler(), &profiler);
    kernels::fill(ctx, x.data<float>(), 1.0f, 8);  // attached, but outside a step: not recorded
  }
  EXPECT_EQ(ctx.profiler(), nullptr) << "the attachment ends with its scope";
  profiler.finish();
  EXPECT_EQ(profiler.steps(), 0);
  EXPECT_TRUE(profiler.rows().empty());
}

TEST(Profiler, RowsArePassNameAndOccurrenceOverSteps) {
  Context& ctx = Context::cpu();
  Profiler profiler(ctx);
  const ProfilerAttachment attached(profiler);
  Tensor x = Tensor::zeros({1 << 16}, DType::f32), y = Tensor::zeros({1 << 16}, DType::f32);
  const std::int64_t n = x.numel();
  for (int step = 0; step < 3; ++step) {
    profiler.begin_step();
    {
      const ProfilePass pass(ctx, "forward");
      kernels::fill(ctx, x.data<float>(), 1.0f, n);
      kernels::relu_forward(ctx, x.data<float>(), y.data<float>(), n);
      kernels::relu_forward(ctx, y.data<float>(), x.data<float>(), n);
      const ProfileRegion outer(ctx, "outer", static_cast<int>(kernels::OpClass::copies));
      kernels::copy(ctx, x.data<float>(), y.data<float>(), n);  // nested: part of "outer"
    }
    kernels::copy(ctx, x.data<float>(), y.data<float>(), n);  // no pass
    profiler.end_step();
  }
  profiler.finish();
  ASSERT_EQ(profiler.steps(), 3);
  const auto& rows = profiler.rows();
  ASSERT_EQ(rows.size(), 5u);
  const struct {
    const char* pass;
    const char* name;
    int occurrence;
    kernels::OpClass op_class;
  } expected[] = {{"forward", "fill", 1, kernels::OpClass::elementwise},
                  {"forward", "relu_forward", 1, kernels::OpClass::elementwise},
                  {"forward", "relu_forward", 2, kernels::OpClass::elementwise},
                  {"forward", "outer", 1, kernels::OpClass::copies},
                  {"", "copy", 1, kernels::OpClass::copies}};
  double covered = 0;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    EXPECT_EQ(rows[i].pass, expected[i].pass) << i;
    EXPECT_EQ(rows[i].name, expected[i].name) << i;
    EXPECT_EQ(rows[i].occurrence, expected[i].occurrence) << i;
    EXPECT_EQ(rows[i].category, static_cast<int>(expected[i].op_class)) << i;
    EXPECT_EQ(rows[i].calls, 3) << i;
    EXPECT_GE(rows[i].seconds, 0) << i;
    covered += rows[i].seconds;
  }
  EXPECT_GE(profiler.wall_seconds(), covered) << "regions lie inside their steps";

  const nlohmann::json profile = cli::profile_record(profiler, {"step", "test"});
  EXPECT_EQ(profile["units"], 3);
  double sum = 0;
  for (const auto& [name, seconds] : profile["classes"].items()) sum += seconds.get<double>();
  EXPECT_NEAR(sum, profile["seconds_per_unit"].get<double>(), 1e-9) << "the classes and gaps add up to the wall";
  EXPECT_EQ(profile["regions"].size(), 5u);
  EXPECT_EQ(profile["regions"][4]["pass"], "(none)");
}

// Model steps: every op call is a row in its pass, and a step without a profiler still allocates nothing.
template <typename Step>
void expect_profiled_steps(const Context& ctx, Step step, const std::set<std::string>& passes, std::size_t min_rows) {
  step();  // setup's lazy work
  const auto before = allocation_count();
  step();
  EXPECT_EQ(allocation_count(), before) << "profiling off: the step allocates nothing";
  Profiler profiler(ctx);
  {
    const ProfilerAttachment attached(profiler);
    for (int i = 0; i < 2; ++i) {
      profiler.begin_step();
      step();
      profiler.end_step();
    }
  }
  profiler.finish();
  EXPECT_EQ(profiler.steps(), 2);
  EXPECT_GE(profiler.rows().size(), min_rows);
  std::set<std::string> seen;
  for (const Profiler::Row& row : profiler.rows()) {
    seen.insert(row.pass);
    EXPECT_EQ(row.calls, 2) << row.name;
  }
  EXPECT_EQ(seen, passes);
}

TEST(Profiler, CnnStepHasEveryOpCallInItsPass) {
  Context& ctx = Context::cpu();
  CifarVGG model(Device::cpu);
  model.init_glorot(1);
  CifarVggOptions options;
  options.batch = 2;
  model.setup(ctx, options);
  Tensor images = Tensor::zeros({2, 3, 32, 32}, DType::f32), labels = Tensor::zeros({2}, DType::i32);
  // forward: 4 x (conv, bias) + 5 relu + 2 pools + 3 dropouts + 2 x (gemm, bias) + counter + loss = 25 calls
  expect_profiled_steps(ctx, [&] { model.step(ctx, images, labels); }, {"forward", "backward", "update"}, 25 + 1);
}

TEST(Profiler, GruStepHasEveryOpCallInItsPass) {
  Context& ctx = Context::cpu();
  ImdbGRU model(Device::cpu);
  model.init_default(1);
  ImdbGruOptions options;
  options.batch = 2;
  options.steps = 5;
  model.setup(ctx, options);
  Tensor tokens = Tensor::zeros({5, 2}, DType::i32), labels = Tensor::zeros({2}, DType::i32);
  expect_profiled_steps(ctx, [&] { model.step(ctx, tokens, labels); }, {"forward", "backward", "update"}, 8);
}

TEST(ProfilerCuda, TimesOpsWithEventsAndLetsTheHostRunOneStepAhead) {
  ROSETTA_REQUIRE_CUDA();
  Context& ctx = Context::cuda();
  Profiler profiler(ctx);
  EXPECT_STREQ(profiler.clock(), "CUDA events on the main stream");
  Tensor x = Tensor::zeros({1 << 20}, DType::f32, Device::cuda), y = Tensor::zeros({1 << 20}, DType::f32, Device::cuda);
  const std::int64_t n = x.numel();
  {
    const ProfilerAttachment attached(profiler);
    for (int step = 0; step < 4; ++step) {
      profiler.begin_step();
      const ProfilePass pass(ctx, "forward");
      kernels::relu_forward(ctx, x.data<float>(), y.data<float>(), n);
      kernels::copy(ctx, y.data<float>(), x.data<float>(), n);
      profiler.end_step();
      EXPECT_EQ(profiler.steps(), step) << "end_step reads the step before";
    }
  }
  profiler.finish();
  ASSERT_EQ(profiler.steps(), 4);
  ASSERT_EQ(profiler.rows().size(), 2u);
  for (const Profiler::Row& row : profiler.rows()) EXPECT_GT(row.seconds, 0) << row.name;
  EXPECT_GE(profiler.wall_seconds(), profiler.rows()[0].seconds + profiler.rows()[1].seconds);
}

TEST(ProfilerCuda, CnnStepProfilesEagerlyAndAllocatesNothingOff) {
  ROSETTA_REQUIRE_CUDA();
  Context& ctx = Context::cuda();
  CifarVGG model(Device::cuda);
  model.init_glorot(1);
  CifarVggOptions options;
  options.batch = 8;
  model.setup(ctx, options);
  Tensor images = Tensor::zeros({8, 3, 32, 32}, DType::f32, Device::cuda);
  Tensor labels = Tensor::zeros({8}, DType::i32, Device::cuda);
  expect_profiled_steps(ctx, [&] { model.step(ctx, images, labels); }, {"forward", "backward", "update"}, 26);
}

// The CLI: --profile prints the breakdown and records it; the record validates against the schema.
TEST(CliProfile, TrainingAndExtractionRecordTheirBreakdown) {
  testing::TempDir dir;
  const testing::CliRun cnn = testing::run_rosetta(
      dir, "train cnn --device cpu --synthetic --synthetic-train 192 --synthetic-test 0 --batch 32 --epochs 1 "
           "--profile --json " + dir.file("cnn.json"));
  ASSERT_EQ(cnn.status, 0) << cnn.output;
  EXPECT_NE(cnn.output.find("profile: 5 steps, the host's steady clock around each op"), std::string::npos)
      << cnn.output << " (the last 20 steps, all but the first of 6)";
  EXPECT_NE(cnn.output.find("backward  conv2d_backward_filter #3"), std::string::npos) << cnn.output;
  const nlohmann::json record = nlohmann::json::parse(testing::read_file(dir.file("cnn.json")));
  EXPECT_EQ(record["profile"]["unit"], "step");
  EXPECT_GT(record["profile"]["classes"]["conv_filter_grad"].get<double>(), 0);
  testing::expect_valid_record(dir, dir.file("cnn.json"));

  const testing::CliRun resnet = testing::run_rosetta(
      dir, "extract resnet50 --device cpu --random-weights --images 2 --image-size 32 --batch 1 --repeats 1 "
           "--profile --json " + dir.file("resnet50.json"));
  ASSERT_EQ(resnet.status, 0) << resnet.output;
  const nlohmann::json r = nlohmann::json::parse(testing::read_file(dir.file("resnet50.json")));
  EXPECT_EQ(r["profile"]["unit"], "batch");
  EXPECT_EQ(r["profile"]["units"], 2);
  EXPECT_GT(r["profile"]["classes"]["conv_forward"].get<double>(), 0);
  EXPECT_GT(r["profile"]["passes"]["data"].get<double>(), 0) << "the copies in and out";
  testing::expect_valid_record(dir, dir.file("resnet50.json"));
}

// On a GPU the training's graph replays until the profiled steps, which run eagerly with events around each op.
TEST(CliProfileCuda, GraphRunProfilesItsLastStepsEagerly) {
  ROSETTA_REQUIRE_CUDA();
  testing::TempDir dir;
  const testing::CliRun run = testing::run_rosetta(
      dir, "train cnn --device cuda --synthetic --synthetic-train 1920 --synthetic-test 0 --epochs 1 --profile "
           "--json " + dir.file("cnn.json"));
  ASSERT_EQ(run.status, 0) << run.output;
  EXPECT_NE(run.output.find("profile: 20 steps, CUDA events on the main stream around each op; the profiled steps "
                            "ran eagerly"), std::string::npos) << run.output;
  const nlohmann::json record = nlohmann::json::parse(testing::read_file(dir.file("cnn.json")));
  EXPECT_TRUE(record["graph"].get<bool>()) << "the steps before the profiled ones replay the graph";
  for (const char* c : {"conv_forward", "conv_data_grad", "conv_filter_grad", "gemm", "optimizer"})
    EXPECT_GT(record["profile"]["classes"][c].get<double>(), 0) << c;
  testing::expect_valid_record(dir, dir.file("cnn.json"));
}

}  // namespace
}  // namespace rosetta
