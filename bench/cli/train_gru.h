// `rosetta train gru`: the IMDB GRU workload by DESIGN.md's protocol (3 epochs of 390 complete batches of 64,
// Adam). The timed region is the training loop of all epochs, shuffle and host-to-device feed included; the
// first epoch (plans, graph capture) is reported separately. Test accuracy after training, complete batches.
#pragma once
#include <CLI/CLI.hpp>
#include <string>

#include "bench/cli/training.h"

namespace rosetta::cli {

struct TrainGruOptions {
  TrainingFlags common;         // --device --epochs --batch --lr --seed --precision ... (training.h)
  std::string data_path;        // imdb.npz (Keras) or a token file rosetta wrote; empty: the synthetic set
  std::string data_name;        // for the record; default "imdb" with data_path, else "synthetic"
  bool synthetic = false;
  std::string rnn = "auto";     // auto | cudnn | persistent | naive (CUDA only; the CPU runs its one GRU)
  std::string rnn_algorithm = "auto";  // cudnn's algorithm; auto: the fastest, timed at setup (standard with --autotune off)
  std::string layout = "tnc";   // tnc | ntc
  std::string rnn_cache_path;   // the GRU algorithm cache file; empty: beside the convolution cache
  bool no_rnn_cache = false;    // neither read nor write the GRU algorithm cache file
  std::string export_data_path; // write the data set as a preprocessed token .npz and stop
  std::int64_t synthetic_train = 25000, synthetic_test = 25000;
  std::int64_t synthetic_min_length = 20;  // shortest synthetic review (datasets/synthetic_text.h)
  std::int64_t synthetic_signal_words = 25;  // sentiment words per class (fewer: easier)
};

void add_train_gru_command(CLI::App& train, TrainGruOptions& options);
void run_train_gru(const TrainGruOptions& options);

}  // namespace rosetta::cli
