#include "bench/cli/workload_common.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "bench/cli/result_record.h"
#include "datasets/batcher.h"
#include "runtime/atomic_file.h"
#include "runtime/cuda_graph.h"
#include "runtime/timer.h"
#include "kernels/conv.h"

namespace rosetta::cli {

void add_training_flags(CLI::App& cmd, TrainingFlags& f) {
  cmd.add_option("--device", f.device, "cpu or cuda (default: cuda when a device is present)")
      ->check(CLI::IsMember({"cpu", "cuda"}));
  cmd.add_option("--epochs", f.epochs, "training epochs")->capture_default_str();
  cmd.add_option("--batch", f.batch, "batch size")->capture_default_str();
  cmd.add_option("--lr", f.lr, "learning rate")->capture_default_str();
  cmd.add_option("--seed", f.seed, "seed of initial weights, shuffles and dropout masks")->capture_default_str();
  cmd.add_option("--precision", f.precision, "fp32 (strict FP32) or tf32")->capture_default_str();
  cmd.add_option("--autotune", f.autotune, "on: time cuDNN's algorithms per shape and keep the fastest (convolutions: cudnnFind; the GRU: its RNN "
                 "algorithms); off: cuDNN's heuristics (the GRU: its standard algorithm)")->capture_default_str();
  cmd.add_option("--graph", f.graph, "on: capture the training step in a CUDA graph")->capture_default_str();
  cmd.add_option("--init", f.init_path, "start from these weights (safetensors, PyTorch names)");
  cmd.add_option("--save", f.save_path, "save the final weights here (safetensors)");
  cmd.add_option("--json", f.json_path, "write the result record (JSON) here");
  cmd.add_option("--log-steps", f.log_steps_path, "write one line per step: step loss");
  cmd.add_option("--max-steps", f.max_steps, "stop after this many steps (0: save the initial weights and stop)");
  cmd.add_flag("--no-shuffle", f.no_shuffle, "take batches in file order");
  cmd.add_option("--test-batches", f.test_batches, "test batches for the accuracy (default all; 0: no test pass)");
  cmd.add_option("--algo-cache", f.algo_cache_path, "cuDNN algorithm cache file (default ~/.cache/rosetta/...)");
}

Device resolve_device(const std::string& name) {
  if (name.empty()) return cuda_available() ? Device::cuda : Device::cpu;
  if (name == "cpu") return Device::cpu;
  ROSETTA_CHECK_ARG(cuda_available(), "--device cuda: " << probe_cuda().reason);
  return Device::cuda;
}

Precision parse_precision(const std::string& name, std::initializer_list<Precision> allowed) {
  Precision p{};
  const bool known = precision_from_name(name.c_str(), &p);
  std::string names;
  bool is_allowed = false;
  for (Precision a : allowed) {
    names += (names.empty() ? "" : ", ") + std::string(precision_name(a));
    is_allowed = is_allowed || (known && a == p);
  }
  ROSETTA_CHECK_ARG(is_allowed, "--precision " << name << ": expected one of " << names);
  return p;
}

bool parse_on_off(const char* flag, const std::string& value) {
  ROSETTA_CHECK_ARG(value == "on" || value == "off", flag << " " << value << ": expected on or off");
  return value == "on";
}

namespace {
// $XDG_CACHE_HOME/rosetta/conv-algorithms.json, else ~/.cache/rosetta/..., else ./.rosetta-conv-algorithms.json.
std::string default_algorithm_cache_path() {
  const char* xdg = std::getenv("XDG_CACHE_HOME");
  const char* home = std::getenv("HOME");
  if (xdg != nullptr && *xdg != '\0') return std::string(xdg) + "/rosetta/conv-algorithms.json";
  if (home != nullptr && *home != '\0') return std::string(home) + "/.cache/rosetta/conv-algorithms.json";
  return ".rosetta-conv-algorithms.json";
}
}  // namespace

AlgorithmCacheFile::AlgorithmCacheFile(const Context& ctx, const std::string& path) : ctx_(ctx) {
  if (ctx.device() != Device::cuda) return;  // the CPU has no algorithm search
  path_ = path.empty() ? default_algorithm_cache_path() : path;
  const kernels::ConvCacheLoad load = kernels::load_conv_algorithm_cache(ctx, path_);
  if (!load.note.empty()) {
    std::printf("  cuDNN algorithm cache %s: %s\n", path_.c_str(), load.note.c_str());
  } else {
    std::printf("  cuDNN algorithm cache %s: %zu choices loaded\n", path_.c_str(), load.entries);
  }
}

void AlgorithmCacheFile::save() const {
  if (path_.empty()) return;
  kernels::save_conv_algorithm_cache(ctx_, path_);
  const kernels::ConvAutotuneStats stats = kernels::conv_autotune_stats(ctx_);
  std::printf("  autotune: %lld convolution shapes searched, %lld from the cache; saved to %s\n",
              static_cast<long long>(stats.searched), static_cast<long long>(stats.from_cache), path_.c_str());
}

void print_run_header(const char* workload, Device device, const std::string& precision, const std::string& data,
                      std::int64_t batch, const std::string& switches) {
  std::printf("rosetta %s on %s: precision %s, batch %lld, data %s, %s\n", workload, device_name(device),
              precision.c_str(), static_cast<long long>(batch), data.c_str(), switches.c_str());
  if (device == Device::cpu) std::printf("  (no GPU in use: this is the CPU reference path, slow by design)\n");
  std::fflush(stdout);
}

namespace {
std::string accuracy_text(double accuracy) {
  if (std::isnan(accuracy)) return "not measured";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f%%", 100.0 * accuracy);
  return buf;
}

double mean_loss(const Tensor& step_losses, std::int64_t first, std::int64_t last) {
  const float* l = step_losses.data<float>();
  double sum = 0;
  for (std::int64_t i = first; i < last; ++i) sum += l[i];
  return last > first ? sum / double(last - first) : 0.0;
}
}  // namespace

void print_epoch_line(int epoch, int epochs, const Tensor& step_losses, std::int64_t first, std::int64_t last,
                      std::int64_t batch, double epoch_seconds, double total_seconds) {
  std::printf("epoch %d/%d  loss %.4f  %.0f examples/s  %.3f s  (elapsed %.3f s)\n", epoch + 1, epochs,
              mean_loss(step_losses, first, last), double((last - first) * batch) / epoch_seconds, epoch_seconds,
              total_seconds);
  std::fflush(stdout);
}

double test_accuracy(const Dataset& test, std::int64_t batch, std::int64_t max_batches, const Context& ctx,
                     const EvaluateBatch& evaluate, bool time_major) {
  if (max_batches == 0 || test.size() < batch) return std::nan("");
  Batcher batches(test, batch, ctx.device(), /*shuffle=*/false, 0, time_major);
  const std::int64_t count = max_batches < 0 ? batches.batches_per_epoch() : std::min(max_batches, batches.batches_per_epoch());
  Tensor inputs = Tensor::empty(batches.input_shape(), batches.input_dtype(), ctx.device());
  Tensor labels = Tensor::empty({batch}, DType::i32, ctx.device());
  Tensor correct = Tensor::zeros({1}, DType::i32, ctx.device());
  batches.start_epoch(0);
  for (std::int64_t b = 0; b < count; ++b) {
    batches.next_into(ctx, inputs, labels);
    evaluate(inputs, labels, correct);
  }
  ctx.synchronize();
  const std::int32_t right = correct.to(Device::cpu).data<std::int32_t>()[0];
  return double(right) / double(count * batch);
}

void run_timed_training(const Context& ctx, Batcher& batches, const TrainingFlags& flags, bool use_graph,
                        const TrainingSteps& model, TrainingSummary& summary) {
  // Eager steps before the capture let cuBLAS and cuDNN finish their lazy initialisation outside it.
  constexpr std::int64_t kEagerStepsBeforeCapture = 2;
  const Device device = ctx.device();
  summary.steps_per_epoch = batches.batches_per_epoch();
  const std::int64_t all_steps = summary.steps_per_epoch * flags.epochs;
  const std::int64_t total_steps = flags.max_steps > 0 ? std::min(flags.max_steps, all_steps) : all_steps;
  Tensor inputs = Tensor::empty(batches.input_shape(), batches.input_dtype(), device);  // the step's fixed batch
  Tensor labels = Tensor::empty({batches.batch_size()}, DType::i32, device);          // (B,)
  summary.step_losses = Tensor::empty({total_steps}, DType::f32, Device::cpu, device == Device::cuda);  // (steps,)
  CudaGraph graph;

  SteadyTimer total;
  model.setup();
  summary.setup_seconds = total.elapsed_s();
  std::int64_t step = 0;
  for (int epoch = 0; epoch < flags.epochs && step < total_steps; ++epoch) {
    SteadyTimer epoch_timer;
    const std::int64_t first = step;
    batches.start_epoch(epoch);
    for (std::int64_t b = 0; b < summary.steps_per_epoch && step < total_steps; ++b, ++step) {
      batches.next_into(ctx, inputs, labels);
      if (use_graph && step >= kEagerStepsBeforeCapture) {
        if (!graph.captured()) graph.capture(ctx, [&] { model.step(inputs, labels); });
        graph.launch(ctx);
      } else {
        model.step(inputs, labels);
      }
      summary.step_losses.view(step, {1}).copy_from(model.loss(), ctx.stream());
    }
    ctx.synchronize();
    summary.epoch_seconds.push_back(epoch_timer.elapsed_s() + (epoch == 0 ? summary.setup_seconds : 0.0));
    print_epoch_line(epoch, flags.epochs, summary.step_losses, first, step, batches.batch_size(),
                     summary.epoch_seconds.back(), total.elapsed_s());
  }
  summary.seconds_total = total.elapsed_s();
  summary.steps = step;
}

void print_summary(const TrainingSummary& s) {
  const double first = s.epoch_seconds.empty() ? 0 : s.epoch_seconds[0];
  std::printf("trained %lld steps in %.3f s (setup and autotuning %.3f s)", static_cast<long long>(s.steps),
              s.seconds_total, s.setup_seconds);
  if (s.epoch_seconds.size() > 1) std::printf("; without the first epoch %.3f s", s.seconds_total - first);
  std::printf("\n");
  std::printf("test accuracy %s  final loss %.4f\n", accuracy_text(s.test_accuracy).c_str(),
              s.steps > 0 ? s.step_losses.data<float>()[s.steps - 1] : 0.0f);
  std::fflush(stdout);
}

nlohmann::json training_record(const TrainingSummary& s) {
  nlohmann::json r = base_record(s.workload, s.device);
  const double first = s.epoch_seconds.empty() ? 0 : s.epoch_seconds[0];
  const double steady = s.seconds_total - first;
  const std::int64_t steady_steps = s.steps - std::min(s.steps, s.steps_per_epoch);
  r["precision"] = s.precision;
  r["batch"] = s.batch;
  r["epochs"] = s.epochs;
  r["steps"] = s.steps;
  r["seconds_total"] = s.seconds_total;
  r["seconds_setup"] = s.setup_seconds;
  r["seconds_without_first_epoch"] = steady;
  r["seconds_per_epoch"] = s.epoch_seconds;
  r[s.workload == "gru" ? "sequences_per_second" : "images_per_second"] = steady > 0 ? double(steady_steps * s.batch) / steady : double(s.steps * s.batch) / s.seconds_total;
  r["test_accuracy"] = std::isnan(s.test_accuracy) ? nlohmann::json(nullptr) : nlohmann::json(s.test_accuracy);
  r["final_loss"] = s.steps > 0 ? s.step_losses.data<float>()[s.steps - 1] : 0.0f;
  r["data"] = s.data;
  return r;
}

void write_step_log(const std::string& path, const Tensor& step_losses, std::int64_t steps) {
  std::string text;
  char line[64];
  const float* l = step_losses.data<float>();
  for (std::int64_t i = 0; i < steps; ++i) {
    std::snprintf(line, sizeof line, "%lld %.9g\n", static_cast<long long>(i + 1), l[i]);
    text += line;
  }
  write_file_atomically(path, text);
}

}  // namespace rosetta::cli
