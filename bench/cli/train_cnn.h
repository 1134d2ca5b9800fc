// `rosetta train cnn`: the CIFAR-10 CNN workload by DESIGN.md's protocol (training.h's skeleton): its flags, its data
// (CIFAR-10 binary files or the learnable synthetic set) and its model (models/cifar_vgg.h, SGD with momentum).
#pragma once
#include <CLI/CLI.hpp>
#include <cstdint>
#include <string>

#include "bench/cli/training.h"

namespace rosetta::cli {

struct TrainCnnOptions {
  TrainingFlags common;         // --device --epochs --batch --lr --seed --precision ... (training.h)
  std::string data_dir;         // CIFAR-10 binary files; empty: the learnable synthetic set
  std::string data_name;        // for the record; default "cifar10" with data_dir, else "synthetic"
  bool synthetic = false;
  float momentum = 0.9f;
  bool no_dropout = false;
  std::string fuse = "on";                 // the fused step (models/cifar_vgg_fused.h); off: one kernel per layer
  std::string relu_order = "before-pool";  // or after-pool (the seed's order)
  std::string layout = "auto";             // nchw, nhwc, or auto (nhwc for bf16, and for tf32 on a GPU)
  std::string pad_channels = "auto";       // a multiple 1..64, or auto (8 in nhwc, 1 in nchw)
  std::string export_data_dir;  // write the data set as CIFAR-10 binary files and stop
  std::int64_t synthetic_train = 50000, synthetic_test = 10000;
  float synthetic_label_noise = 0.25f;  // datasets/synthetic.h
};

// Registers the command's flags on `train`; the callback runs the workload.
void add_train_cnn_command(CLI::App& train, TrainCnnOptions& options);
void run_train_cnn(const TrainCnnOptions& options);

}  // namespace rosetta::cli
