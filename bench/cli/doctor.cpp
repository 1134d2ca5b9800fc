// The doctor's checks, in the order they print. Invariants: a check's line is printed when it is decided, never
// revised; what a check throws becomes its fail line (guarded), except the InputErrors of the start (the --json
// folder, the reference index), which end the doctor with exit 2 before any line; every figure on a line was
// measured in this run or read from a record; the workloads run as child processes of this same binary, in a
// temporary folder removed at the end, and each is killed if it outlives its timeout.
#include "bench/cli/doctor.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <sstream>
#include <thread>

#include "bench/cli/arguments.h"
#include "bench/cli/doctor_reference.h"
#include "bench/cli/result_record.h"
#include "runtime/context.h"
#include "runtime/device.h"
#include "runtime/nvml.h"
#include "runtime/safetensors.h"
#include "runtime/tensor.h"
#include "runtime/timer.h"

extern char** environ;

namespace rosetta::cli {
namespace {

using nlohmann::json;

// ---------------------------------------------------------------------------------------------------- the checklist

enum class Status { ok, warn, fail, skip };
const char* status_name(Status s) {
  switch (s) {
    case Status::ok: return "ok";
    case Status::warn: return "warn";
    case Status::fail: return "fail";
    case Status::skip: return "skip";
  }
  return "?";
}

struct Check {
  std::string name;
  Status status;
  std::string detail;
  std::vector<std::string> notes;  // explanations, one per line under the check
  json data;                       // what the findings file keeps of it
};

// Prints each check as it is added: "  ok    name          detail", its notes indented below.
class Checklist {
 public:
  void add(Check check) {
    std::printf("  %-5s %-18s %s\n", status_name(check.status), check.name.c_str(), check.detail.c_str());
    for (const std::string& note : check.notes) std::printf("        %-18s - %s\n", "", note.c_str());
    std::fflush(stdout);
    checks_.push_back(std::move(check));
  }
  void add(std::string name, Status status, std::string detail) { add({std::move(name), status, std::move(detail), {}, {}}); }
  int count(Status s) const {
    return static_cast<int>(std::count_if(checks_.begin(), checks_.end(), [s](const Check& c) { return c.status == s; }));
  }
  json to_json() const {
    json all = json::array();
    for (const Check& c : checks_)
      all.push_back({{"name", c.name}, {"status", status_name(c.status)}, {"detail", c.detail}, {"notes", c.notes},
                     {"data", c.data}});
    return all;
  }

 private:
  std::vector<Check> checks_;
};

// Runs a check; what it throws (a CUDA call that failed, a file its run wrote that cannot be read) is that check's
// fail line, and the doctor goes on with the next.
void guarded(Checklist& list, const std::string& name, const std::function<void()>& check) {
  try {
    check();
  } catch (const std::exception& e) {
    list.add(name, Status::fail, e.what());
  }
}

std::string format(const char* pattern, double value) {
  char text[96];
  std::snprintf(text, sizeof text, pattern, value);
  return text;
}

template <class T>
std::string reading_text(const Reading<T>& r, const std::function<std::string(const T&)>& show) {
  return r.value ? show(*r.value) : "unread (" + r.reason + ")";
}

// ------------------------------------------------------------------------------------ running this binary again

// A folder of its own under the system's temporary folder, removed with everything in it.
class TempFolder {
 public:
  TempFolder() {
    std::string pattern = (std::filesystem::temp_directory_path() / "rosetta-doctor-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr)
      ROSETTA_INPUT_ERROR("doctor: cannot make a temporary folder " << pattern << ": " << std::strerror(errno));
    path_ = pattern;
  }
  ~TempFolder() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempFolder(const TempFolder&) = delete;
  TempFolder& operator=(const TempFolder&) = delete;
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

std::string last_line_of(const std::string& path) {
  std::ifstream in(path);
  std::string line, last;
  while (std::getline(in, line))
    if (!line.empty()) last = line;
  return last;
}

struct ChildRun {
  int exit_code = 0;  // -N: killed by signal N
  bool timed_out = false;
  double seconds = 0;
  std::string log;
  std::string failure() const {  // why it did not succeed, empty when it did
    if (timed_out) return format("did not finish in %.0f s", seconds) + " (killed)";
    if (exit_code == 0) return {};
    return (exit_code < 0 ? "killed by signal " + std::to_string(-exit_code) : "exit " + std::to_string(exit_code)) +
           ": " + last_line_of(log);
  }
};

// `exe args...` with stdout and stderr in `log` and this environment plus `extra_env` ("NAME=value", each only
// where NAME is unset); `poll` runs every 50 ms while it does.
ChildRun run_child(const std::string& exe, const std::vector<std::string>& args, const std::string& log,
                   double timeout_s, const std::function<void()>& poll,
                   const std::vector<std::string>& extra_env = {}) {
  std::vector<char*> argv{const_cast<char*>(exe.c_str())};
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::vector<char*> env;
  for (char** e = environ; *e != nullptr; ++e) env.push_back(*e);
  for (const std::string& e : extra_env)
    if (std::getenv(e.substr(0, e.find('=')).c_str()) == nullptr) env.push_back(const_cast<char*>(e.c_str()));
  env.push_back(nullptr);
  posix_spawn_file_actions_t files;
  posix_spawn_file_actions_init(&files);
  posix_spawn_file_actions_addopen(&files, STDOUT_FILENO, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&files, STDOUT_FILENO, STDERR_FILENO);
  pid_t pid = 0;
  const int spawned = posix_spawn(&pid, exe.c_str(), &files, nullptr, argv.data(), env.data());
  posix_spawn_file_actions_destroy(&files);
  if (spawned != 0) ROSETTA_INPUT_ERROR("doctor: cannot run " << exe << ": " << std::strerror(spawned));
  ChildRun run;
  run.log = log;
  SteadyTimer timer;
  int status = 0;
  for (;;) {
    const pid_t done = waitpid(pid, &status, WNOHANG);
    if (done == pid) break;
    if (done < 0 && errno != EINTR) ROSETTA_FAIL("waitpid(" << pid << "): " << std::strerror(errno));
    if (timer.elapsed_s() > timeout_s) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      run.timed_out = true;
      break;
    }
    poll();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  run.seconds = timer.elapsed_s();
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
  return run;
}

json read_record(const std::string& path) {
  std::ifstream in(path);
  if (!in) return nullptr;
  try {
    return json::parse(in);
  } catch (const json::parse_error&) {
    return nullptr;
  }
}

// ------------------------------------------------------------------------------------------- the build, no GPU

// The CPU runs check that the CPU path works, not its speed. On a shared machine OpenMP's default spin-waiting
// makes a team whose threads are descheduled many times slower (88 s instead of 12 s for the CNN's 40 steps on
// this project's 2-core build machine under load), so the doctor's CPU runs wait passively unless told otherwise.
const std::vector<std::string> kCpuRunEnvironment{"OMP_WAIT_POLICY=PASSIVE"};

std::string rosetta_path() {
  std::error_code error;
  const std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", error);
  if (error) ROSETTA_INPUT_ERROR("doctor: cannot find this binary (/proc/self/exe): " << error.message());
  return exe.string();
}

void check_build(Checklist& list) {
  list.add("build", Status::ok,
           std::string("rosetta ") + ROSETTA_VERSION + " (" + ROSETTA_BUILD_TYPE + " build), " +
               (built_with_cuda() ? std::string("CUDA paths built for ") + ROSETTA_CUDA_ARCHITECTURES
                                  : std::string("CUDA paths not built (ROSETTA_CUDA=OFF)")));
  if (!built_with_cuda()) return list.add("libraries", Status::skip, "CUDA paths not built: no CUDA, cuDNN or cuBLAS");
  const LibraryVersions v = library_versions();
  const std::string text = "CUDA runtime " + v.cuda_runtime + ", cuDNN " + v.cudnn + ", cuBLAS " + v.cublas;
  const bool read = v.cuda_runtime != "unavailable" && v.cublas != "unavailable";
  list.add("libraries", read ? Status::ok : Status::fail,
           read ? text + " in use" : text + ": a library did not answer its version query (see docs/doctor.md)");
}

// The step losses of a --log-steps file.
std::vector<double> step_losses(const std::string& path) {
  std::ifstream in(path);
  std::vector<double> losses;
  long step = 0;
  double loss = 0;
  while (in >> step >> loss) losses.push_back(loss);
  return losses;
}

// A few CPU training steps: the run succeeds and the mean of its last five losses is below 0.9 x its first five
// (a model whose gradients are broken stays at 1.0x; the two workloads reach about 0.55x and 0.75x here).
void check_cpu_training(Checklist& list, const std::string& exe, const TempFolder& dir, const std::string& workload,
                        std::int64_t steps, const std::vector<std::string>& workload_args) {
  constexpr std::size_t kMean = 5;
  constexpr double kFalls = 0.9;
  const std::string log = dir.file(workload + "-cpu-steps.txt");
  std::vector<std::string> args{"train", workload, "--device", "cpu", "--epochs", "1", "--max-steps",
                                std::to_string(steps), "--test-batches", "0", "--log-steps", log};
  args.insert(args.end(), workload_args.begin(), workload_args.end());
  const ChildRun run = run_child(exe, args, dir.file(workload + "-cpu.log"), 300, [] {}, kCpuRunEnvironment);
  const std::string name = "cpu " + workload;
  if (!run.failure().empty()) return list.add(name, Status::fail, "rosetta train " + workload + ": " + run.failure());
  const std::vector<double> losses = step_losses(log);
  if (losses.size() != static_cast<std::size_t>(steps))
    return list.add(name, Status::fail, "the step log has " + std::to_string(losses.size()) + " losses, expected " +
                                            std::to_string(steps));
  double first = 0, last = 0;
  for (std::size_t i = 0; i < kMean; ++i) first += losses[i] / kMean, last += losses[losses.size() - 1 - i] / kMean;
  const bool falls = std::isfinite(last) && last < kFalls * first;
  const std::string text = std::to_string(steps) + " steps, loss " + format("%.3f", first) + " -> " +
                           format("%.3f", last) + " (means of the first and last 5)" + format(", %.1f s", run.seconds);
  list.add({name, falls ? Status::ok : Status::fail,
            falls ? text : text + ": the loss does not fall (below 0.9x expected)", {}, {{"losses", losses}}});
}

// A tiny ResNet-50 forward: one 64x64 image with random weights gives 2048 finite features, not all zero.
void check_cpu_extraction(Checklist& list, const std::string& exe, const TempFolder& dir) {
  const std::string features = dir.file("features.safetensors");
  const ChildRun run = run_child(exe,
                                 {"extract", "resnet50", "--device", "cpu", "--random-weights", "--batch", "1",
                                  "--images", "1", "--image-size", "64", "--features-out", features},
                                 dir.file("resnet50-cpu.log"), 300, [] {}, kCpuRunEnvironment);
  if (!run.failure().empty())
    return list.add("cpu resnet50", Status::fail, "rosetta extract resnet50: " + run.failure());
  const Tensor f = SafetensorsFile::open(features).read("features");
  const std::vector<float> v = f.to_vector();
  const bool finite = std::all_of(v.begin(), v.end(), [](float x) { return std::isfinite(x); });
  const bool nonzero = std::any_of(v.begin(), v.end(), [](float x) { return x != 0; });
  const bool good = f.shape() == Shape{1, 2048} && finite && nonzero;
  list.add("cpu resnet50", good ? Status::ok : Status::fail,
           "one 64x64 image: features " + f.shape().str() + (finite ? ", finite" : ", NOT finite") +
               (nonzero ? "" : ", all zero") + format(", %.1f s", run.seconds));
}

// ------------------------------------------------------------------------------------------------------ the GPU

// PCIe line rates per lane (GB/s) by generation, from the PCIe specifications' transfer rates and encodings.
double pcie_lane_gbs(unsigned generation) {
  constexpr double kRates[] = {0, 0.25, 0.5, 0.9846, 1.9692, 3.9385, 7.5625};
  return generation < std::size(kRates) ? kRates[generation] : 0;
}

// Pinned host-to-device copies (cudaMemcpyAsync on the copy stream, timed by CUDA events): the median of 10.
// `during` runs while the copies are in flight (a PCIe link trains down when idle: its state is read under load).
struct Bandwidth {
  double median_gbs = 0, min_gbs = 0, max_gbs = 0;
};
Bandwidth measure_h2d(const std::function<void()>& during) {
  constexpr std::int64_t kFloats = std::int64_t(64) << 20;  // 256 MiB
  constexpr int kRepetitions = 10;
  Tensor host = Tensor::empty({kFloats}, DType::f32, Device::cpu, /*pinned=*/true);
  std::memset(host.data<float>(), 0, host.nbytes());  // every page touched before the timing
  Tensor device = Tensor::empty({kFloats}, DType::f32, Device::cuda);
  const Context& ctx = Context::cuda();
  device.copy_from(host, ctx.copy_stream());  // warm-up
  std::vector<std::unique_ptr<CudaEventTimer>> timers;
  for (int r = 0; r < kRepetitions; ++r) {
    timers.push_back(std::make_unique<CudaEventTimer>());
    timers.back()->start(ctx.copy_stream());
    device.copy_from(host, ctx.copy_stream());
    timers.back()->stop(ctx.copy_stream());
  }
  during();
  std::vector<double> gbs;
  for (const auto& t : timers) gbs.push_back(double(host.nbytes()) / (1e-3 * t->elapsed_ms()) / 1e9);
  std::sort(gbs.begin(), gbs.end());
  return {(gbs[kRepetitions / 2 - 1] + gbs[kRepetitions / 2]) / 2, gbs.front(), gbs.back()};
}

void check_gpu_state(Checklist& list, const GpuState& s) {
  const auto mhz = [](const unsigned& v) { return std::to_string(v) + " MHz"; };
  if (s.sm_clock_max_mhz.value) {
    list.add("clocks", Status::ok,
             "SM max " + mhz(*s.sm_clock_max_mhz.value) + ", memory max " +
                 reading_text<unsigned>(s.memory_clock_max_mhz, mhz) + " (under load: see below)");
  } else {
    list.add("clocks", Status::skip, "unread: " + s.sm_clock_max_mhz.reason);
  }
  const auto watts = [](const double& w) { return format("%.0f W", w); };
  if (s.power_limit_w.value && s.power_default_limit_w.value) {
    const bool below = *s.power_limit_w.value < *s.power_default_limit_w.value;
    list.add("power limit", below ? Status::warn : Status::ok,
             "limit " + watts(*s.power_limit_w.value) + (below ? ", BELOW its default " : ", its default ") +
                 watts(*s.power_default_limit_w.value) + ", drawing " + reading_text<double>(s.power_draw_w, watts));
  } else {
    list.add("power limit", Status::skip,
             "unread: " + (s.power_limit_w.value ? s.power_default_limit_w.reason : s.power_limit_w.reason));
  }
  if (s.mig_enabled.value) {
    list.add("mig", *s.mig_enabled.value ? Status::warn : Status::ok,
             *s.mig_enabled.value ? "MIG is on: rosetta runs on one slice, not the whole GPU" : "off");
  } else {
    list.add("mig", Status::skip, "unread: " + s.mig_enabled.reason);
  }
  if (s.ecc_enabled.value) {
    list.add("ecc", Status::ok, *s.ecc_enabled.value ? "on" : "off");
  } else {
    list.add("ecc", Status::skip, "unread: " + s.ecc_enabled.reason);
  }
}

void check_link_and_bandwidth(Checklist& list, const Reading<NvmlDevice>& nvml_device) {
  Reading<GpuState> under_copy = Reading<GpuState>::missing(nvml_device.reason);
  const Bandwidth b = measure_h2d([&] {
    if (nvml_device.value) under_copy = Reading<GpuState>::of(nvml_device.value->state());
  });
  double expected = 0;
  if (under_copy.value && under_copy.value->pcie_generation.value && under_copy.value->pcie_width.value &&
      under_copy.value->pcie_max_generation.value && under_copy.value->pcie_max_width.value) {
    const GpuState& s = *under_copy.value;
    const unsigned gen = *s.pcie_generation.value, width = *s.pcie_width.value;
    const unsigned max_gen = *s.pcie_max_generation.value, max_width = *s.pcie_max_width.value;
    const bool below = gen < max_gen || width < max_width;
    list.add("pcie", below ? Status::warn : Status::ok,
             "gen " + std::to_string(gen) + " x" + std::to_string(width) + " while copying" +
                 (below ? ", BELOW the gen " : ", the most it can run (gen ") + std::to_string(max_gen) + " x" +
                 std::to_string(max_width) + (below ? " it can run: reseat the card or check the slot and BIOS" : ")"));
    expected = pcie_lane_gbs(max_gen) * max_width;
  } else {
    list.add("pcie", Status::skip,
             "unread: " + (under_copy.value ? under_copy.value->pcie_generation.reason : under_copy.reason));
  }
  // Pinned copies reach about 80-90% of the line rate on a healthy link; below 60% something is in the way.
  constexpr double kHealthyFraction = 0.6;
  const std::string measured = format("pinned host-to-device %.1f GB/s", b.median_gbs) +
                               format(" (median of 10 x 256 MiB, min %.1f", b.min_gbs) +
                               format(", max %.1f)", b.max_gbs);
  const json data = {{"median_gbs", b.median_gbs}, {"min_gbs", b.min_gbs}, {"max_gbs", b.max_gbs}};
  if (expected == 0) return list.add({"bandwidth", Status::ok, measured + "; no link rate to compare with", {}, data});
  const bool low = b.median_gbs < kHealthyFraction * expected;
  list.add({"bandwidth", low ? Status::warn : Status::ok,
            measured + format(", %.0f%% of the link's ", 100 * b.median_gbs / expected) +
                format("%.1f GB/s line rate", expected) +
                (low ? ": low (another copy running, a NUMA-remote host buffer, or a degraded link)" : ""),
            {}, data});
}

// ----------------------------------------------------------------------------------- the workloads on the GPU

std::string text_setting(const json& ref, const char* key, const std::string& otherwise) {
  if (!ref.is_object() || !ref.contains(key) || ref[key].is_null()) return otherwise;
  const json& v = ref[key];
  if (v.is_boolean()) return v.get<bool>() ? "on" : "off";
  return v.is_string() ? v.get<std::string>() : v.dump();
}
std::int64_t integer_setting(const json& ref, const char* key, std::int64_t otherwise) {
  return ref.is_object() && ref.contains(key) && ref[key].is_number_integer() ? ref[key].get<std::int64_t>() : otherwise;
}

// The workload's command, short, with the reference record's settings (its defaults without one). Training runs
// three epochs of 200 batches of synthetic data (the steady state is epochs 2 and 3, and a step costs what it costs
// in a full epoch); the extraction at most 1280 images.
std::vector<std::string> gpu_command(const std::string& workload, const json& ref, const TempFolder& dir,
                                     const std::string& record) {
  // Fresh caches: the user's convolution and RNN algorithm caches are neither read nor written.
  const std::string cache = dir.file("conv-algorithms.json");
  const std::string precision = text_setting(ref, "precision", "fp32");
  if (workload == "resnet50") {
    const std::int64_t batch = integer_setting(ref, "batch", 32);
    const std::int64_t images = std::max(batch, std::min<std::int64_t>(integer_setting(ref, "images", 1280), 1280) /
                                                    batch * batch);
    return {"extract", "resnet50", "--device", "cuda", "--random-weights", "--batch", std::to_string(batch),
            "--images", std::to_string(images), "--image-size", text_setting(ref, "image_size", "224"),
            "--precision", precision, "--layout", text_setting(ref, "layout", "auto"), "--fold-bn",
            text_setting(ref, "fold_bn", "on"), "--fuse", text_setting(ref, "fuse", "on"), "--autotune",
            text_setting(ref, "autotune", "on"), "--graph", text_setting(ref, "graph", "on"), "--algo-cache", cache,
            "--json", record};
  }
  const std::int64_t batch = integer_setting(ref, "batch", 64);
  constexpr std::int64_t kBatchesPerEpoch = 200;
  std::vector<std::string> args{"train", workload, "--device", "cuda", "--epochs", "3", "--batch", std::to_string(batch),
                                "--synthetic-train", std::to_string(batch * kBatchesPerEpoch), "--synthetic-test",
                                std::to_string(batch * 2), "--test-batches", "1", "--precision", precision,
                                "--autotune", text_setting(ref, "autotune", "on"), "--graph",
                                text_setting(ref, "graph", "on"), "--json", record};
  if (workload == "cnn") {
    args.insert(args.end(), {"--algo-cache", cache});
    if (text_setting(ref, "dropout", "on") == "off") args.push_back("--no-dropout");
  } else {
    args.insert(args.end(), {"--rnn", text_setting(ref, "rnn", "cudnn"), "--layout", text_setting(ref, "layout", "tnc"),
                             "--rnn-cache", dir.file("rnn-algorithms.json")});
    if (text_setting(ref, "rnn_algorithm_autotuned", "on") == "off" && ref.contains("rnn_algorithm"))
      args.insert(args.end(), {"--rnn-algo", text_setting(ref, "rnn_algorithm", "auto")});
  }
  return args;
}

void check_gpu_workload(Checklist& list, const std::string& exe, const TempFolder& dir, const std::string& workload,
                        const References& refs, const Reading<NvmlDevice>& nvml_device, const json& gpu_state,
                        LoadSampler& all_load) {
  const auto ref = refs.records.find(workload);
  const json reference = ref != refs.records.end() ? ref->second : json();
  const std::string record_path = dir.file(workload + ".json");
  LoadSampler load;
  EnergyMeter meter;
  meter.start();
  const ChildRun run = run_child(exe, gpu_command(workload, reference, dir, record_path), dir.file(workload + ".log"),
                                 300, [&] {
                                   if (!nvml_device.value) return;
                                   const LoadSample s = nvml_device.value->sample();
                                   load.add(s);
                                   all_load.add(s);
                                 });
  meter.stop();
  const std::string name = "gpu " + workload;
  if (!run.failure().empty()) return list.add(name, Status::fail, "rosetta " + workload + ": " + run.failure());
  json record = read_record(record_path);
  if (!record.is_object()) return list.add(name, Status::fail, "the run wrote no readable record " + record_path);
  record["gpu"] = gpu_state;
  record["gpu"]["under_load"] = to_json(load);
  record["environment"] = library_environment();
  const Reading<double> joules = meter.joules();
  json data = {{"record", record}, {"reference", ref != refs.records.end() ? json(refs.paths.at(workload)) : json()},
               {"energy_joules", joules.value ? json(*joules.value) : json()}};
  if (!joules.value) data["unavailable"]["energy_joules"] = joules.reason;
  const std::string took = format(", %.1f s", run.seconds) + (joules.value ? format(", %.0f J", *joules.value) : "");
  if (ref == refs.records.end()) {
    const Reading<Steady> steady = steady_per_example(record);
    return list.add({name, Status::ok,
                     (steady.value ? format("%.2f us per example", 1e6 * steady.value->median_s) : steady.reason) +
                         took + "; " + (refs.none.empty() ? "no reference record of " + workload + " for this GPU model"
                                                          : refs.none),
                     {}, data});
  }
  const Comparison c = compare_with_reference(reference, record);
  data["comparison"] = {{"ratio", c.ratio}, {"band", c.band}, {"summary", c.summary}, {"explanations", c.explanations}};
  const Status status = c.verdict == Comparison::Verdict::slower           ? Status::warn
                        : c.verdict == Comparison::Verdict::not_comparable ? Status::skip
                                                                           : Status::ok;
  const std::string faster = c.verdict == Comparison::Verdict::faster ? " (faster: the reference may be stale)" : "";
  list.add({name, status, c.summary + faster + took, c.explanations, data});
}

void check_clocks_under_load(Checklist& list, const GpuState& state, const LoadSampler& load) {
  // "Far below": a GPU under a steady load holds most of its boost clock; below 75% it is being held down.
  constexpr double kFarBelow = 0.75;
  const Reading<unsigned> clock = load.sm_clock_mhz();
  if (!clock.value || !state.sm_clock_max_mhz.value)
    return list.add("clocks under load", Status::skip,
                    clock.value ? "no maximum to compare with: " + state.sm_clock_max_mhz.reason : clock.reason);
  const double fraction = double(*clock.value) / *state.sm_clock_max_mhz.value;
  const std::vector<std::string> limiters = clock_limiter_names(load.clock_event_reasons());
  std::string held;
  for (const std::string& l : limiters) held += (held.empty() ? "" : ", ") + l;
  const bool low = fraction < kFarBelow;
  list.add({"clocks under load", low ? Status::warn : Status::ok,
            "SM " + std::to_string(*clock.value) + " MHz, the median of " + std::to_string(load.busy_samples()) +
                " busy samples during the workloads" + format(", %.0f%% of its maximum", 100 * fraction) +
                (held.empty() ? "" : "; held down by " + held) +
                (low ? ": cooling, power delivery or a clock setting (nvidia-smi -q -d PERFORMANCE)" : ""),
            {}, to_json(load)});
}

// ------------------------------------------------------------------------------------------------ the doctor

std::string default_references() { return std::string(ROSETTA_RESULTS_DIR) + "/reference.json"; }

// The reference records, read before any check runs: the records of this GPU model with a GPU, every record the
// index names without one (each is read and checked). The line that reports them, with the status it deserves. A
// given --references that is missing, or any index or record that is malformed, is an InputError (exit 2); the
// default index may be absent (a binary carried away from its source tree), which is a skip.
struct ReferenceCheck {
  References refs;  // this GPU model's
  Check line;
};
ReferenceCheck read_references(const DoctorOptions& o, const std::string& gpu_name) {
  const std::string path = o.references_path.empty() ? default_references() : o.references_path;
  ReferenceCheck r;
  std::error_code error;
  if (o.references_path.empty() && !std::filesystem::exists(path, error)) {
    r.refs.none = "no reference index at " + path + " (pass --references FILE)";
    r.line = {"references", Status::skip, r.refs.none, {}, {}};
    return r;
  }
  const ReferenceIndex index = read_reference_index(path);
  std::string listed;
  if (!gpu_name.empty()) {
    r.refs = references_for(index, gpu_name);
    for (const auto& [workload, record] : r.refs.records)
      listed += (listed.empty() ? "" : ", ") + workload + " " + record.value("date", "?").substr(0, 10);
    r.line = {"references", r.refs.none.empty() ? Status::ok : Status::skip,
              r.refs.none.empty() ? gpu_name + ": " + listed : r.refs.none, {}, {{"index", path}}};
    return r;
  }
  for (const auto& [device, workloads] : index.devices)
    listed += (listed.empty() ? "" : "; ") + device + " (" +
              std::to_string(references_for(index, device).records.size()) + " records)";
  r.line = {"references", Status::ok, path + ": " + (listed.empty() ? "lists no GPU model" : listed), {}, {}};
  return r;
}

void run_cpu_path(Checklist& list, const std::string& exe, const TempFolder& dir, const DoctorOptions& o,
                  const ReferenceCheck& references) {
  const Reading<unsigned> seen = Nvml::system().device_count();
  if (!built_with_cuda()) {
    list.add("driver", Status::skip, "this build has no CUDA paths (ROSETTA_CUDA=OFF): it uses no driver");
  } else if (seen.value && *seen.value > 0) {
    list.add("driver", Status::fail,
             "the driver sees " + std::to_string(*seen.value) + " GPU(s) but CUDA cannot use them (see gpu)");
  } else {
    list.add("driver", Status::skip, seen.value ? "NVML sees no GPU" : seen.reason);
  }
  list.add("gpu", Status::skip, probe_cuda().reason);
  for (const char* name : {"clocks", "power limit", "mig", "ecc", "gpu workloads", "pcie", "bandwidth"})
    list.add(name, Status::skip, "no GPU");
  list.add(references.line);
  if (o.quick) return list.add("cpu workloads", Status::skip, "--quick: no workload runs");
  guarded(list, "cpu cnn", [&] {
    check_cpu_training(list, exe, dir, "cnn", 40,
                       {"--batch", "16", "--synthetic-train", "1024", "--synthetic-test", "64",
                        "--synthetic-label-noise", "0"});
  });
  guarded(list, "cpu gru", [&] {
    check_cpu_training(list, exe, dir, "gru", 50,
                       {"--lr", "0.003", "--synthetic-train", "4000", "--synthetic-test", "256",
                        "--synthetic-signal-words", "1", "--synthetic-min-length", "145"});
  });
  guarded(list, "cpu resnet50", [&] { check_cpu_extraction(list, exe, dir); });
}

void run_gpu_path(Checklist& list, const std::string& exe, const TempFolder& dir, const DoctorOptions& o,
                  const ReferenceCheck& references, json& findings) {
  const Nvml& nvml = Nvml::system();
  const LibraryVersions v = library_versions();
  const Reading<std::string> driver = nvml.driver_version();
  const double driver_cuda = std::atof(v.cuda_driver.c_str()), runtime_cuda = std::atof(v.cuda_runtime.c_str());
  const std::string versions = (driver.value ? *driver.value : "version unread (" + driver.reason + ")") +
                               ", supports CUDA " + v.cuda_driver + " (the runtime: " + v.cuda_runtime + ")";
  list.add("driver", driver_cuda < runtime_cuda ? Status::fail : Status::ok,
           driver_cuda < runtime_cuda ? versions + ": the driver is older than the runtime, upgrade it" : versions);
  const CudaDeviceInfo gpu = cuda_devices().at(0);
  list.add("gpu", Status::ok,
           gpu.name + ", sm_" + std::to_string(gpu.major) + std::to_string(gpu.minor) + ", " +
               std::to_string(gpu.multiprocessors) + " SMs" + format(", %.1f GiB", gpu.memory_bytes / 1073741824.0) +
               (cuda_devices().size() > 1 ? " (device 0 of " + std::to_string(cuda_devices().size()) + ")" : ""));
  const Reading<NvmlDevice> nvml_device = nvml.device(0);
  json gpu_state = nullptr;
  if (nvml_device.value) {
    list.add("nvml", Status::ok, "reads " + gpu.name + " (CUDA device 0)");
    const GpuState state = nvml_device.value->state();
    gpu_state = to_json(state);
    check_gpu_state(list, state);
  } else {
    list.add("nvml", Status::skip, nvml_device.reason);
    for (const char* name : {"clocks", "power limit", "mig", "ecc"}) list.add(name, Status::skip, "no NVML");
  }
  findings["gpu"] = gpu_state;
  list.add(references.line);
  if (o.quick) {
    list.add("gpu workloads", Status::skip, "--quick: no workload runs");
  } else {
    LoadSampler all_load;
    for (const std::string workload : {"cnn", "gru", "resnet50"})
      guarded(list, "gpu " + workload, [&] {
        check_gpu_workload(list, exe, dir, workload, references.refs, nvml_device, gpu_state, all_load);
      });
    if (nvml_device.value) {
      check_clocks_under_load(list, nvml_device.value->state(), all_load);
    } else {
      list.add("clocks under load", Status::skip, nvml_device.reason);
    }
  }
  // Last: the copies need a CUDA context in this process, and under the exclusive-process compute mode a context
  // held here would keep the workloads' processes off the GPU.
  guarded(list, "bandwidth", [&] { check_link_and_bandwidth(list, nvml_device); });
}

void run_doctor(const DoctorOptions& o) {
  check_output_folder("--json", o.json_path);
  SteadyTimer total;
  const bool gpu = cuda_available();
  const ReferenceCheck references = read_references(o, gpu ? cuda_devices().at(0).name : "");
  const TempFolder dir;
  const std::string exe = rosetta_path();
  std::printf("rosetta doctor: %s\n", gpu ? "checking this installation and its GPU"
                                          : "no usable GPU here: checking the build and the CPU path");
  std::fflush(stdout);
  Checklist list;
  json findings = base_record("doctor", gpu ? Device::cuda : Device::cpu);
  findings.erase("workload");
  check_build(list);
  if (gpu) {
    run_gpu_path(list, exe, dir, o, references, findings);
  } else {
    run_cpu_path(list, exe, dir, o, references);
  }
  const int warned = list.count(Status::warn), failed = list.count(Status::fail);
  const int ok = list.count(Status::ok), skipped = list.count(Status::skip);
  const bool healthy = warned == 0 && failed == 0;
  const std::string counts = std::to_string(ok) + " ok, " + std::to_string(warned) + " warn, " +
                             std::to_string(failed) + " fail, " + std::to_string(skipped) + " skip";
  const std::string checked = o.quick ? "the build works (--quick: no workload ran)" : "the build and the CPU path work";
  const std::string summary =
      !healthy ? "deviations found: " + counts + "; see the warn and fail lines (docs/doctor.md says what to do)"
      : gpu    ? "healthy: " + counts
               : "healthy, without a GPU: " + checked + "; the GPU checks were skipped (" + counts + ")";
  findings["schema"] = "rosetta-doctor-findings";
  findings["version"] = 1;
  findings["verdict"] = healthy ? "healthy" : "deviations found";
  findings["exit_code"] = healthy ? 0 : 1;
  findings["seconds"] = total.elapsed_s();
  findings["checks"] = list.to_json();
  if (!o.json_path.empty()) write_record(o.json_path, findings);
  std::printf("summary: %s, in %.1f s\n", summary.c_str(), total.elapsed_s());
  std::fflush(stdout);
  if (!healthy)
    throw Error("doctor: " + std::to_string(warned + failed) + " deviation(s) found");
}

}  // namespace

void add_doctor_command(CLI::App& app, DoctorOptions& o) {
  CLI::App* cmd = app.add_subcommand("doctor", "check this installation: versions, GPU state, bandwidth, and short "
                                               "runs of the workloads against the reference records (exit 0 healthy, "
                                               "1 deviations, 2 could not run)");
  cmd->add_option("--json", o.json_path, "write the findings (JSON) here");
  cmd->add_option("--references", o.references_path, "the reference index (default: " + default_references() + ")");
  cmd->add_flag("--quick", o.quick, "skip the workload runs (seconds instead of about a minute)");
  cmd->callback([&o] { run_doctor(o); });
}

}  // namespace rosetta::cli
