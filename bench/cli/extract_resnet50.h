// `rosetta extract resnet50`: the ResNet-50 feature-extraction workload by DESIGN.md's protocol. Images (random in
// [0, 1) from Philox like the seed's, or --input) are fed in complete batches; one untimed warm-up pass over all of
// them (setup and cuDNN autotuning before it, the CUDA graph captured in it), then --repeats timed passes (the steady
// state: its median, min and max are the figures), each, for each batch, the host-to-device copy, the forward and
// the copy of the features back to the host, timed until the device is done. With --latency N, N more batches
// (cycling through the images) are each timed on their own, the device idle before each: copy in, forward, features
// out, between two CUDA events (host clock on the CPU); their p50 and p99 (bench/cli/latency.h) are reported.
// On a GPU the copy of each batch runs on the copy stream into the other of two input slots while the previous
// batch's forward runs (bench/cli/input_double_buffer.h), as any feeding loop should; the copies stay in the timed
// passes. Reports seconds per 1000 images and images/s of the median pass. Under mpirun (bench/cli/distributed.h)
// the batches are shared out in contiguous ranges, one per rank in rank order, and rank 0 gathers the features in
// that order: the features of N ranks are one process's; the time is the slowest rank's.
#pragma once
#include <CLI/CLI.hpp>
#include <cstdint>
#include <string>

namespace rosetta::cli {

struct ExtractResNet50Options {
  std::string weights_path;       // torchvision-named safetensors
  bool random_weights = false;    // Philox weights under --seed (ResNet50::init_random)
  std::string device;             // "cpu" | "cuda"; empty: cuda when present
  std::int64_t batch = 32;
  std::int64_t images = 1280;
  std::int64_t image_size = 224;
  int repeats = 5;  // timed passes
  std::string precision = "fp32";
  std::string layout = "auto";  // auto | nchw | nhwc
  std::uint64_t seed = 0;
  std::string json_path, features_path, input_path, save_weights_path;
  bool normalize = false;
  bool profile = false;  // one more pass, eager, op by op (profile_report.h)
  std::string fold_bn = "on", fuse = "on", autotune = "on", graph = "on";
  std::string backend = "auto";  // auto | cudnn | cudnn-graph | cublaslt (kernels/conv.h ConvBackend)
  std::string pad_stem = "on";   // NHWC: the stem's input channels padded to 16 bytes' worth
  std::int64_t latency = 0;      // after the timed passes: this many batches timed one at a time (0: none)
  std::string algo_cache_path;    // empty: the default cache file
  std::string comm = "auto";      // auto | nccl (bench/cli/distributed.h)
};

void add_extract_resnet50_command(CLI::App& extract, ExtractResNet50Options& options);
void run_extract_resnet50(const ExtractResNet50Options& options);

}  // namespace rosetta::cli
