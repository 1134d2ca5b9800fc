// `rosetta extract resnet50` end to end on the CPU: the record and the features file; the equivalence with the
// PyTorch twin (bench/peers/pytorch/resnet50.py on Debian's torch/torchvision; skipped without them) given rosetta's
// --save-weights file and one --input file, with and without --normalize; bad arguments and files exit 2 with one
// line; bf16 (NHWC) features near fp32 on the CPU; --latency's record and the scaling report over it; on a GPU, the
// CLI with the graph in each precision, and with each --backend after a corrupt algorithm cache (skipped without a
// device).
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "models/flops.h"
#include "runtime/device.h"
#include "runtime/safetensors.h"
#include "tests/support/cli.h"
#include "tests/support/cuda.h"
#include "tests/support/features.h"
#include "tests/support/paths.h"
#include "tests/support/python.h"
#include "tests/support/temp_dir.h"

namespace rosetta {
namespace {

using testing::read_features;
using testing::relative_max_error;
using testing::write_images;

// Small runs: 4 images of 64x64 in batches of 2 (the whole network runs; the CPU path takes about a second a batch).
const std::string kSmall = " --device cpu --batch 2 ";

std::string rosetta_extract() { return testing::cli_path() + " extract resnet50"; }

TEST(ExtractResNet50, RecordAndFeatures) {
  const testing::TempDir dir;
  const std::string log = dir.file("run.log");
  ASSERT_EQ(testing::run_command(rosetta_extract() + kSmall + "--random-weights --images 4 --image-size 64 --json " +
                                     dir.file("r.json") + " --features-out " + dir.file("f.safetensors"),
                                 log),
            0)
      << testing::read_file(log);
  EXPECT_NE(testing::read_file(log).find("s per 1000 images"), std::string::npos);
  const nlohmann::json r = nlohmann::json::parse(testing::read_file(dir.file("r.json")));
  EXPECT_EQ(r["workload"], "resnet50");
  EXPECT_EQ(r["images"], 4);
  EXPECT_EQ(r["batch"], 2);
  EXPECT_EQ(r["precision"], "fp32");
  EXPECT_EQ(r["layout"], "nchw");
  EXPECT_GT(r["seconds_per_1000_images"].get<double>(), 0.0);
  EXPECT_NEAR(r["images_per_second"].get<double>() * r["seconds_per_1000_images"].get<double>(), 1000.0, 1e-6);
  // The figures are the median of --repeats (5) timed passes, with their spread.
  EXPECT_EQ(r["steady"]["unit"], "pass");
  EXPECT_EQ(r["steady"]["repetitions"], 5);
  EXPECT_NEAR(r["steady"]["median_s"].get<double>() * 1000.0 / 4, r["seconds_per_1000_images"].get<double>(), 1e-9);
  EXPECT_DOUBLE_EQ(r["metrics"]["flops_per_example"].get<double>(), resnet50_forward_flops_per_image(64));
  // Each convolution's backend and choice, named (the CPU's one algorithm here), and the stem's input channels.
  EXPECT_EQ(r["backend"], "auto");
  EXPECT_EQ(r["conv_backends"], nlohmann::json({{"cpu", 53}}));
  ASSERT_EQ(r["convolutions"].size(), 53u);
  EXPECT_EQ(r["convolutions"][0]["name"], "conv1");
  EXPECT_EQ(r["convolutions"][0]["choice"], "cpu im2col+GEMM");
  EXPECT_EQ(r["stem_channels"], 3) << "NCHW is not padded";
  testing::expect_valid_record(dir, dir.file("r.json"));
  const SafetensorsFile features = SafetensorsFile::open(dir.file("f.safetensors"));
  ASSERT_NE(features.find("features"), nullptr);
  EXPECT_EQ(features.find("features")->shape, Shape({4, 2048}));
}

// --layout nhwc on the CPU: the NCHW sums on transposed data (models/resnet50.h), so the same features bit for bit,
// and the record names the layout.
TEST(ExtractResNet50, NhwcFeaturesEqualNchw) {
  const testing::TempDir dir;
  const std::string common = kSmall + std::string("--random-weights --images 2 --image-size 64 --features-out ");
  for (const char* layout : {"nchw", "nhwc"}) {
    const std::string log = dir.file(std::string(layout) + ".log");
    ASSERT_EQ(testing::run_command(rosetta_extract() + common + dir.file(std::string(layout) + ".safetensors") +
                                       " --layout " + layout + " --json " + dir.file(std::string(layout) + ".json"),
                                   log),
              0)
        << testing::read_file(log);
  }
  EXPECT_EQ(nlohmann::json::parse(testing::read_file(dir.file("nhwc.json")))["layout"], "nhwc");
  EXPECT_EQ(read_features(dir.file("nhwc.safetensors")), read_features(dir.file("nchw.safetensors")));
}

// --precision bf16 on the CPU (each layer's output rounded to bf16, float features): within 2e-2 of the fp32
// features' norm, the bound of tests/test_resnet50.cpp (Bf16IsNearFp32OnCpu, measured 5.2e-4 there). The default
// --layout auto runs fp32 NCHW and bf16 NHWC here, and the records say so.
TEST(ExtractResNet50, Bf16FeaturesNearFp32) {
  const testing::TempDir dir;
  const std::string common = kSmall + std::string("--random-weights --images 2 --image-size 64 --features-out ");
  for (const char* precision : {"fp32", "bf16"}) {
    const std::string log = dir.file(std::string(precision) + ".log");
    ASSERT_EQ(testing::run_command(rosetta_extract() + common + dir.file(std::string(precision) + ".safetensors") +
                                       " --precision " + precision + " --json " +
                                       dir.file(std::string(precision) + ".json"),
                                   log),
              0)
        << testing::read_file(log);
  }
  const nlohmann::json bf16_record = nlohmann::json::parse(testing::read_file(dir.file("bf16.json")));
  EXPECT_EQ(bf16_record["precision"], "bf16");
  EXPECT_EQ(bf16_record["layout"], "nhwc");
  EXPECT_EQ(nlohmann::json::parse(testing::read_file(dir.file("fp32.json")))["layout"], "nchw");
  const std::vector<float> bf16 = read_features(dir.file("bf16.safetensors"));
  const std::vector<float> fp32 = read_features(dir.file("fp32.safetensors"));
  EXPECT_NE(bf16, fp32);
  EXPECT_LT(relative_max_error(bf16, fp32), 2e-2);
}

// Rosetta's CPU features against the twin's for the same weights file and images, within 1e-5 of the feature norm
// (both fp32 on the CPU, different summation orders; measured 6e-8: see tests/test_resnet50.cpp).
TEST(ExtractResNet50, FeaturesMatchThePyTorchTwin) {
  ROSETTA_REQUIRE_TORCH();
  const testing::TempDir dir;
  write_images(dir.file("images.safetensors"), 4, 64);
  const std::string twin =
      testing::python_interpreter() + " " + testing::source_dir() + "/bench/peers/pytorch/resnet50.py";
  const std::string weights = dir.file("weights.safetensors"), input = " --input " + dir.file("images.safetensors");
  ASSERT_EQ(testing::run_command(rosetta_extract() + kSmall + "--random-weights --seed 3 --images 2 --image-size 32 "
                                                             "--save-weights " + weights,
                                 dir.file("save.log")),
            0)
      << testing::read_file(dir.file("save.log"));
  for (const std::string normalize : {"", " --normalize"}) {
    SCOPED_TRACE("normalize:" + normalize);
    ASSERT_EQ(testing::run_command(rosetta_extract() + kSmall + "--weights " + weights + input + normalize +
                                       " --features-out " + dir.file("rosetta.safetensors"),
                                   dir.file("rosetta.log")),
              0)
        << testing::read_file(dir.file("rosetta.log"));
    const int twin_status = testing::run_command(twin + kSmall + "--weights " + weights + input + normalize +
                                                     " --repeats 2 --features-out " + dir.file("torch.safetensors") +
                                                     " --json " + dir.file("torch.json"),
                                                 dir.file("torch.log"));
    if (twin_status != 0 && testing::read_file(dir.file("torch.log")).find("No module named 'torchvision'") !=
                                std::string::npos)
      GTEST_SKIP() << "torchvision is not importable";
    ASSERT_EQ(twin_status, 0) << testing::read_file(dir.file("torch.log"));
    testing::expect_valid_record(dir, dir.file("torch.json"));
    const std::vector<float> ours = read_features(dir.file("rosetta.safetensors"));
    const std::vector<float> theirs = read_features(dir.file("torch.safetensors"));
    ASSERT_EQ(ours.size(), theirs.size());
    EXPECT_LT(relative_max_error(ours, theirs), 1e-5);
  }
}

// Every bad argument or file: exit status 2 and one line on stderr naming the problem.
TEST(ExtractResNet50, BadArgumentsExitTwoWithOneLine) {
  const testing::TempDir dir;
  testing::write_file(dir.file("junk.safetensors"), "not a safetensors file");
  write_images(dir.file("three.safetensors"), 3, 32);
  struct Case {
    std::string arguments, fragment;
  };
  const std::vector<Case> cases = {
      {"--images 4", "--weights FILE or --random-weights"},
      {"--random-weights --images 5", "multiple of --batch"},
      {"--random-weights --images 2 --image-size 16", "--image-size"},
      {"--random-weights --images 2 --precision fp16", "--precision: fp16 not in {fp32,tf32,bf16}"},
      {"--random-weights --images 2 --layout nchwc", "--layout: nchwc not in {auto,nchw,nhwc}"},
      {"--random-weights --images 2 --layout nhwc --fold-bn off", "--layout nhwc needs --fold-bn on"},
      {"--random-weights --images 2 --precision bf16 --layout nchw", "--precision bf16 needs --layout nhwc"},
      {"--random-weights --images 2 --precision bf16 --fold-bn off", "--precision bf16 needs --fold-bn on"},
      {"--random-weights --images 2 --fold-bn maybe", "--fold-bn: maybe not in {on,off}"},
      {"--random-weights --images 2 --image-size 100000", "--image-size: 100000 is not an integer in [32, 1024]"},
      {"--random-weights --images -2", "--images: -2 is not an integer in [1, 1000000]"},
      {"--random-weights --images 2 --repeats 0", "--repeats: 0 is not an integer in [1, 1000]"},
      {"--random-weights --images 2 --seed -1", "--seed: -1 is not an integer"},
      {"--weights " + dir.file("missing.safetensors") + " --images 2", "missing.safetensors"},
      {"--weights " + dir.file("junk.safetensors") + " --images 2", "junk.safetensors"},
      {"--weights " + dir.file("three.safetensors") + " --images 2", "missing conv1.weight"},
      {"--random-weights --input " + dir.file("three.safetensors"), "not a whole number of batches"},
      {"--random-weights --images 2 --json " + dir.file("no/such/folder/r.json"), "does not exist"},
      {"--random-weights --images 2 --backend cudnn_graph", "--backend: cudnn_graph not in {auto,cudnn,cudnn-graph,cublaslt}"},
      {"--random-weights --images 2 --backend cublaslt", "--backend cublaslt names a GPU backend"},
      // The direct kernels serve few input channels at stride 1: no layer of ResNet-50, so forcing them is refused.
      {"--random-weights --images 2 --backend direct", "--backend: direct not in {auto,cudnn,cudnn-graph,cublaslt}"},
      {"--random-weights --images 2 --pad-stem maybe", "--pad-stem: maybe not in {on,off}"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.arguments);
    const std::string err = dir.file("err.log");
    const int exit_code =
        testing::run_command(rosetta_extract() + kSmall + c.arguments + " 1>/dev/null 2>" + err, dir.file("x.log"));
    EXPECT_EQ(exit_code, 2);
    const std::string text = testing::read_file(err);
    EXPECT_NE(text.find(c.fragment), std::string::npos) << text;
    EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 1) << text;
  }
}

// --latency on the CPU at batch 1 and 2: the record's latency object (valid against the schema), then the scaling
// report (bench/report/scaling.py) over both records: a throughput column per batch, a latency row per run, a chart.
TEST(ExtractResNet50, LatencyRecordsMakeTheScalingReport) {
  const testing::TempDir dir;
  for (const std::string batch : {"1", "2"}) {
    const std::string record = dir.file("r" + batch + ".json");
    ASSERT_EQ(testing::run_command(rosetta_extract() + " --device cpu --random-weights --images 2 --image-size 32 "
                                       "--repeats 1 --latency 3 --batch " + batch + " --json " + record,
                                   dir.file("run.log")),
              0)
        << testing::read_file(dir.file("run.log"));
    EXPECT_NE(testing::read_file(dir.file("run.log")).find("latency over 3 batches of " + batch), std::string::npos);
    const nlohmann::json r = nlohmann::json::parse(testing::read_file(record));
    EXPECT_EQ(r["latency"]["batches"], 3);
    EXPECT_LE(r["latency"]["min_ms"].get<double>(), r["latency"]["p50_ms"].get<double>());
    EXPECT_LE(r["latency"]["p50_ms"].get<double>(), r["latency"]["p99_ms"].get<double>());
    EXPECT_EQ(r["latency"]["p99_ms"], r["latency"]["max_ms"]) << "3 batches: p99 is the largest";
    testing::expect_valid_record(dir, record);
  }
  const std::string log = dir.file("scaling.log");
  ASSERT_EQ(testing::run_command(testing::python_interpreter() + " '" + testing::source_dir() +
                                     "/bench/report/scaling.py' " + dir.file("r1.json") + " " + dir.file("r2.json") +
                                     " --out-md " + dir.file("s.md") + " --out-png " + dir.file("s.png"),
                                 log),
            0)
      << testing::read_file(log);
  const std::string md = testing::read_file(dir.file("s.md"));
  EXPECT_NE(md.find("| batch 1 | batch 2 |"), std::string::npos) << md;
  EXPECT_NE(md.find("| cpu | rosetta"), std::string::npos) << md;
  EXPECT_NE(md.find("| 1 | 3 |"), std::string::npos) << md;
  EXPECT_NE(md.find("| 2 | 3 |"), std::string::npos) << md;
  EXPECT_GT(testing::read_file(dir.file("s.png")).size(), 1000u) << "the chart (matplotlib is installed by setup)";
  // Bad input: one line, exit 2, nothing written.
  testing::write_file(dir.file("junk.json"), "{");
  EXPECT_EQ(testing::run_command(testing::python_interpreter() + " '" + testing::source_dir() +
                                     "/bench/report/scaling.py' " + dir.file("junk.json") + " --out-md " +
                                     dir.file("none.md"),
                                 log),
            2);
  EXPECT_FALSE(std::filesystem::exists(dir.file("none.md")));
}

TEST(ExtractResNet50Cuda, GraphRunsInEachPrecision) {
  ROSETTA_REQUIRE_CUDA();
  const testing::TempDir dir;
  write_images(dir.file("images.safetensors"), 8, 64);
  // Batches of 2: four batches, so each of the two input slots is refilled while the other's forward runs.
  const std::string base = rosetta_extract() + " --device cuda --batch 2 --random-weights --seed 2 --input " +
                           dir.file("images.safetensors") + " --algo-cache " + dir.file("algos.json");
  ASSERT_EQ(testing::run_command(rosetta_extract() + kSmall + "--random-weights --seed 2 --input " +
                                     dir.file("images.safetensors") + " --features-out " + dir.file("cpu.safetensors"),
                                 dir.file("cpu.log")),
            0)
      << testing::read_file(dir.file("cpu.log"));
  const std::vector<float> cpu = read_features(dir.file("cpu.safetensors"));
  // Tolerances as tests/test_resnet50.cpp: fp32 1e-4, tf32 1e-2, bf16 (NHWC only) 2e-2 of the feature norm. Both
  // layouts share the algorithm cache file, so later runs load NCHW and NHWC (f32 and bf16) entries written by
  // earlier ones.
  for (const std::string layout : {"nchw", "nhwc"}) {
    for (const std::string precision : {"fp32", "tf32", "bf16"}) {
      if (precision == "bf16" && layout == "nchw") continue;
      for (const std::string graph : {"on", "off"}) {
        SCOPED_TRACE(layout + " " + precision + " graph " + graph);
        const std::string out = dir.file("gpu.safetensors");
        ASSERT_EQ(testing::run_command(base + " --layout " + layout + " --precision " + precision + " --graph " + graph +
                                           " --features-out " + out + " --json " + dir.file("r.json"),
                                       dir.file("gpu.log")),
                  0)
            << testing::read_file(dir.file("gpu.log"));
        const double tolerance = precision == "fp32" ? 1e-4 : precision == "tf32" ? 1e-2 : 2e-2;
        EXPECT_LT(relative_max_error(read_features(out), cpu), tolerance);
      }
    }
  }
}

// Each --backend in bf16 and tf32 (NHWC), against the CPU features; the record names every layer's backend; a corrupt
// algorithm cache is one stderr note and a fresh search (exit 0), after which the file is good again.
TEST(ExtractResNet50Cuda, EachBackendAndACorruptCache) {
  ROSETTA_REQUIRE_CUDA();
  const testing::TempDir dir;
  write_images(dir.file("images.safetensors"), 4, 64);
  ASSERT_EQ(testing::run_command(rosetta_extract() + kSmall + "--random-weights --seed 3 --input " +
                                     dir.file("images.safetensors") + " --features-out " + dir.file("cpu.safetensors"),
                                 dir.file("cpu.log")),
            0)
      << testing::read_file(dir.file("cpu.log"));
  const std::vector<float> cpu = read_features(dir.file("cpu.safetensors"));
  const std::string cache = dir.file("algos.json");
  testing::write_file(cache, "{\"format\": \"rosetta-conv-algorithms\", \"version\": 2, \"gpu\"");  // corrupt
  const std::string base = rosetta_extract() + " --device cuda --batch 2 --random-weights --seed 3 --layout nhwc --input " +
                           dir.file("images.safetensors") + " --algo-cache " + cache;
  bool first = true;
  for (const std::string precision : {"bf16", "tf32"})
    for (const std::string backend : {"auto", "cudnn", "cudnn-graph", "cublaslt"}) {
      SCOPED_TRACE(precision + " " + backend);
      const std::string out = dir.file("gpu.safetensors"), err = dir.file("err.log");
      ASSERT_EQ(testing::run_command(base + " --precision " + precision + " --backend " + backend + " --features-out " +
                                         out + " --json " + dir.file("r.json") + " 2>" + err,
                                     dir.file("gpu.log")),
                0)
          << testing::read_file(dir.file("gpu.log")) << testing::read_file(err);
      const std::string notes = testing::read_file(err);
      if (first) {
        EXPECT_NE(notes.find("rosetta: note: conv algorithm cache " + cache), std::string::npos) << notes;
        EXPECT_NE(notes.find("searching afresh"), std::string::npos) << notes;
        EXPECT_EQ(std::count(notes.begin(), notes.end(), '\n'), 1) << notes;
        first = false;
      } else {
        EXPECT_EQ(notes, "") << "the first run saved a good cache";
      }
      EXPECT_LT(relative_max_error(read_features(out), cpu), precision == "tf32" ? 1e-2 : 2e-2);
      const nlohmann::json r = nlohmann::json::parse(testing::read_file(dir.file("r.json")));
      EXPECT_EQ(r["backend"], backend);
      int layers = 0;
      for (const auto& [name, n] : r["conv_backends"].items()) {
        EXPECT_TRUE(name == "cudnn" || name == backend || backend == "auto") << name;
        layers += n.get<int>();
      }
      EXPECT_EQ(layers, 53);
      testing::expect_valid_record(dir, dir.file("r.json"));
    }
}

}  // namespace
}  // namespace rosetta
