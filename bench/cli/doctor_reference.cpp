// Reading the reference index and records, and comparing a run's record with its reference (see the header for the
// invariants). Records are read defensively: a field that is absent, null or of another type is treated as unknown,
// never as a difference and never as zero.
#include "bench/cli/doctor_reference.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "runtime/error.h"
#include "runtime/input_file.h"

namespace rosetta::cli {
namespace {

using nlohmann::json;

json read_json(const std::string& path, const char* kind) {
  const InputFile file(path, kind);
  std::string text(file.size(), '\0');
  file.read_at(0, text.data(), text.size(), kind);
  try {
    return json::parse(text);
  } catch (const json::parse_error& e) {
    ROSETTA_INPUT_ERROR(path << ": not JSON: " << e.what());
  }
}

const char* const kWorkloads[] = {"cnn", "gru", "resnet50"};

std::string format(const char* pattern, double value) {
  char text[64];
  std::snprintf(text, sizeof text, pattern, value);
  return text;
}

// The value as the doctor prints it: strings bare, numbers and booleans as JSON writes them.
std::string text_of(const json& value) { return value.is_string() ? value.get<std::string>() : value.dump(); }

const json* find(const json& j, std::initializer_list<const char*> path) {
  const json* at = &j;
  for (const char* key : path) {
    if (!at->is_object() || !at->contains(key) || (*at)[key].is_null()) return nullptr;
    at = &(*at)[key];
  }
  return at;
}

double number_at(const json& j, std::initializer_list<const char*> path, double otherwise) {
  const json* v = find(j, path);
  return v != nullptr && v->is_number() ? v->get<double>() : otherwise;
}

template <class Values>
Steady steady_of(Values seconds, double examples) {
  std::sort(seconds.begin(), seconds.end());
  const std::size_t n = seconds.size();
  const double median = n % 2 == 1 ? seconds[n / 2] : (seconds[n / 2 - 1] + seconds[n / 2]) / 2;
  return {median / examples, seconds.front() / examples, seconds.back() / examples, static_cast<int>(n)};
}

// Library versions and the settings that choose what runs, in the words a line prints.
const std::pair<const char*, const char*> kVersions[] = {
    {"driver", "driver"}, {"cuda", "CUDA"}, {"cudnn", "cuDNN"}, {"cublas", "cuBLAS"}};
const char* const kSettings[] = {"precision", "batch", "mode", "graph", "autotune", "dropout", "layout", "rnn",
                                 "rnn_algorithm", "fold_bn", "fuse", "fused_convolutions", "image_size"};

void add_version_and_setting_differences(const json& ref, const json& run, std::vector<std::string>& out) {
  for (const auto& [key, label] : kVersions) {
    const json *a = find(run, {key}), *b = find(ref, {key});
    if (a != nullptr && b != nullptr && *a != *b)
      out.push_back(std::string(label) + " " + text_of(*a) + " here, " + text_of(*b) + " in the reference");
  }
  for (const char* key : kSettings) {
    const json *a = find(run, {key}), *b = find(ref, {key});
    if (a != nullptr && b != nullptr && *a != *b)
      out.push_back(std::string(key) + " " + text_of(*a) + " here, " + text_of(*b) + " in the reference");
  }
}

void add_gpu_differences(const json& ref, const json& run, std::vector<std::string>& out) {
  const double clock = number_at(run, {"gpu", "under_load", "sm_clock_mhz"}, 0);
  const double ref_clock = number_at(ref, {"gpu", "under_load", "sm_clock_mhz"}, 0);
  const double max_clock = number_at(run, {"gpu", "sm_clock_max_mhz"}, 0);
  if (clock > 0 && ref_clock > 0 && clock < 0.95 * ref_clock) {
    out.push_back(format("SM clock under load %.0f MHz here, ", clock) + format("%.0f MHz in the reference", ref_clock));
  } else if (clock > 0 && ref_clock == 0 && max_clock > 0 && clock < 0.9 * max_clock) {
    out.push_back(format("SM clock under load %.0f MHz, ", clock) + format("%.0f%% of its ", 100 * clock / max_clock) +
                  format("%.0f MHz maximum", max_clock));
  }
  if (const json* limiters = find(run, {"gpu", "under_load", "clock_limiters"});
      limiters != nullptr && limiters->is_array() && !limiters->empty()) {
    std::string names;
    for (const json& name : *limiters) names += (names.empty() ? "" : ", ") + text_of(name);
    out.push_back("clocks held down under load by " + names);
  }
  const double limit = number_at(run, {"gpu", "power_limit_w"}, 0);
  const double default_limit = number_at(run, {"gpu", "power_default_limit_w"}, 0);
  const double ref_limit = number_at(ref, {"gpu", "power_limit_w"}, 0);
  if (limit > 0 && default_limit > 0 && limit < default_limit)
    out.push_back(format("power limit %.0f W, below its default ", limit) + format("%.0f W", default_limit));
  else if (limit > 0 && ref_limit > 0 && limit < ref_limit)
    out.push_back(format("power limit %.0f W here, ", limit) + format("%.0f W in the reference", ref_limit));
  const double gen = number_at(run, {"gpu", "pcie_generation"}, 0), width = number_at(run, {"gpu", "pcie_width"}, 0);
  const double max_gen = number_at(run, {"gpu", "pcie_max_generation"}, 0);
  const double max_width = number_at(run, {"gpu", "pcie_max_width"}, 0);
  if (gen > 0 && width > 0 && max_gen > 0 && max_width > 0 && (gen < max_gen || width < max_width))
    out.push_back(format("PCIe link gen %.0f", gen) + format(" x%.0f, below the", width) +
                  format(" gen %.0f", max_gen) + format(" x%.0f it can run (the feed and copies)", max_width));
  if (const json* mig = find(run, {"gpu", "mig_enabled"}); mig != nullptr && *mig == true)
    out.push_back("MIG is on: the run had one slice of the GPU");
  const json *ecc = find(run, {"gpu", "ecc_enabled"}), *ref_ecc = find(ref, {"gpu", "ecc_enabled"});
  if (ecc != nullptr && ref_ecc != nullptr && *ecc != *ref_ecc)
    out.push_back(std::string("ECC ") + (*ecc == true ? "on" : "off") + " here, " + (*ref_ecc == true ? "on" : "off") +
                  " in the reference");
}

// What a variable does, for those whose effect on the time is known.
std::string effect_of(const std::string& name, const std::string& value, const json& run) {
  if (name == "NVIDIA_TF32_OVERRIDE" && value == "0")
    return find(run, {"precision"}) != nullptr && run["precision"] == "tf32" ? ": TF32 is off in cuDNN and cuBLAS"
                                                                              : ": TF32 is off in cuDNN and cuBLAS "
                                                                                "(this run asked for none)";
  if (name == "CUDA_LAUNCH_BLOCKING" && value == "1") return ": every kernel launch waits for the kernel";
  if (name.find("_LOG") != std::string::npos) return ": the library logs every call";
  return "";
}

void add_environment_differences(const json& ref, const json& run, std::vector<std::string>& out) {
  const json* env = find(run, {"environment"});
  const json* ref_env = find(ref, {"environment"});
  if (env != nullptr)
    for (const auto& [name, value] : env->items()) {
      const json* before = ref_env != nullptr ? find(*ref_env, {name.c_str()}) : nullptr;
      if (before != nullptr && *before == value) continue;
      out.push_back(name + "=" + text_of(value) + " here" +
                    (ref_env == nullptr ? "" : before != nullptr ? ", " + text_of(*before) + " in the reference"
                                                                 : ", unset in the reference") +
                    effect_of(name, text_of(value), run));
    }
  if (ref_env != nullptr)
    for (const auto& [name, value] : ref_env->items())
      if (env == nullptr || find(*env, {name.c_str()}) == nullptr)
        out.push_back(name + "=" + text_of(value) + " in the reference, unset here");
}

}  // namespace

ReferenceIndex read_reference_index(const std::string& path) {
  const json doc = read_json(path, "the doctor's reference index");
  if (!doc.is_object() || doc.value("schema", "") != "rosetta-doctor-references" || doc.value("version", 0) != 1 ||
      !doc.contains("devices") || !doc["devices"].is_object())
    ROSETTA_INPUT_ERROR(path << ": not a reference index (expected schema rosetta-doctor-references, version 1, "
                                "and a \"devices\" object)");
  ReferenceIndex index;
  index.path = path;
  const std::filesystem::path base = std::filesystem::path(path).parent_path();
  for (const auto& [device, workloads] : doc["devices"].items()) {
    if (!workloads.is_object()) ROSETTA_INPUT_ERROR(path << ": " << device << ": expected {workload: record file}");
    for (const auto& [workload, file] : workloads.items()) {
      if (std::find(std::begin(kWorkloads), std::end(kWorkloads), workload) == std::end(kWorkloads) ||
          !file.is_string())
        ROSETTA_INPUT_ERROR(path << ": " << device << ": \"" << workload
                                 << "\" must be one of cnn, gru, resnet50, naming a record file");
      index.devices[device][workload] = (base / file.get<std::string>()).string();
    }
  }
  return index;
}

References references_for(const ReferenceIndex& index, const std::string& device) {
  References refs;
  const auto entry = index.devices.find(device);
  if (entry == index.devices.end()) {
    std::string known;
    for (const auto& [name, workloads] : index.devices) known += (known.empty() ? "" : ", ") + name;
    refs.none = "no reference records for " + device + " in " + index.path +
                (known.empty() ? std::string(" (it lists none)") : " (it has them for " + known + ")");
    return refs;
  }
  for (const auto& [workload, file] : entry->second) {
    json record = read_json(file, "a result record");
    const std::string is_workload = record.is_object() ? record.value("workload", "?") : "?";
    const std::string is_device = record.is_object() ? record.value("device", "?") : "?";
    if (is_workload != workload || is_device != device)
      ROSETTA_INPUT_ERROR(file << ": listed in " << index.path << " as the " << workload << " record of " << device
                               << ", but it is a record of " << is_workload << " on " << is_device);
    refs.paths[workload] = file;
    refs.records[workload] = std::move(record);
  }
  return refs;
}

Reading<Steady> steady_per_example(const json& r) {
  if (const json* steady = find(r, {"steady"}); steady != nullptr) {
    const double examples = number_at(*steady, {"examples_per_repetition"}, 0);
    const json* seconds = find(*steady, {"seconds"});
    if (examples > 0 && seconds != nullptr && seconds->is_array() && !seconds->empty() &&
        std::all_of(seconds->begin(), seconds->end(), [](const json& s) { return s.is_number(); }))
      return Reading<Steady>::of(steady_of(seconds->get<std::vector<double>>(), examples));
    return Reading<Steady>::missing("its \"steady\" block has no seconds or examples_per_repetition");
  }
  const json* epochs = find(r, {"seconds_per_epoch"});
  const double steps = number_at(r, {"steps"}, 0), batch = number_at(r, {"batch"}, 0);
  if (epochs != nullptr && epochs->is_array() && epochs->size() >= 2 && steps > 0 && batch > 0 &&
      std::all_of(epochs->begin(), epochs->end(), [](const json& s) { return s.is_number(); })) {
    const double steps_per_epoch = steps / double(epochs->size());
    if (steps_per_epoch != std::floor(steps_per_epoch) || number_at(r, {"epochs"}, 0) != double(epochs->size()))
      return Reading<Steady>::missing("its last epoch is partial (a run cut short by --max-steps)");
    std::vector<double> after_first;
    for (auto e = epochs->begin() + 1; e != epochs->end(); ++e) after_first.push_back(e->get<double>());
    return Reading<Steady>::of(steady_of(after_first, steps_per_epoch * batch));
  }
  if (const double per_1000 = number_at(r, {"seconds_per_1000_images"}, 0); per_1000 > 0)
    return Reading<Steady>::of(steady_of(std::vector<double>{per_1000}, 1000));
  if (const json* why = find(r, {"unavailable", "steady"}); why != nullptr) return Reading<Steady>::missing(text_of(*why));
  return Reading<Steady>::missing("it has no steady-state time (fewer than two epochs, or no timed pass)");
}

Comparison compare_with_reference(const json& ref, const json& run) {
  Comparison c;
  const Reading<Steady> mine = steady_per_example(run), theirs = steady_per_example(ref);
  if (!mine.value || !theirs.value) {
    c.summary = !mine.value ? "the run cannot be compared: " + mine.reason
                            : "the reference cannot be compared: " + theirs.reason;
    return c;
  }
  const Steady& a = *mine.value;
  const Steady& b = *theirs.value;
  c.ratio = a.median_s / b.median_s;
  c.band = std::max(kNoiseFloor, a.spread() + b.spread());
  c.verdict = c.ratio > 1 + c.band   ? Comparison::Verdict::slower
              : c.ratio < 1 - c.band ? Comparison::Verdict::faster
                                     : Comparison::Verdict::within;
  c.summary = format("%.2f us per example", 1e6 * a.median_s) + format(" (median of %.0f)", a.repetitions) +
              format(", the reference %.2f", 1e6 * b.median_s) + format(" (median of %.0f", b.repetitions) +
              (ref.contains("date") ? ", " + text_of(ref["date"]).substr(0, 10) : std::string()) + format("): %+.1f%%", 100 * (c.ratio - 1)) +
              (c.verdict == Comparison::Verdict::within ? format(", within the +-%.0f%% band", 100 * c.band)
                                                        : format(", beyond the +-%.0f%% band", 100 * c.band));
  if (c.verdict == Comparison::Verdict::within) return c;
  add_version_and_setting_differences(ref, run, c.explanations);
  add_gpu_differences(ref, run, c.explanations);
  add_environment_differences(ref, run, c.explanations);
  if (c.explanations.empty())
    c.explanations.push_back("the records show no difference in versions, settings, clocks, power limit, PCIe link "
                             "or environment: look for another process on the GPU (nvidia-smi) or a busy host");
  const json *commit = find(run, {"commit"}), *ref_commit = find(ref, {"commit"});
  if (commit != nullptr && ref_commit != nullptr && *commit != *ref_commit)
    c.explanations.push_back("rosetta " + text_of(*commit) + " here, " + text_of(*ref_commit) +
                             " in the reference (a change in rosetta's code can move the time too)");
  return c;
}

json library_environment() {
  static const char* const kNames[] = {"NVIDIA_TF32_OVERRIDE", "CUDA_LAUNCH_BLOCKING", "CUDA_DEVICE_MAX_CONNECTIONS",
                                       "CUDA_MODULE_LOADING", "CUBLAS_WORKSPACE_CONFIG", "CUDNN_LOGLEVEL_DBG",
                                       "CUDNN_LOGINFO_DBG", "CUBLAS_LOGINFO_DBG", "CUBLASLT_LOG_LEVEL"};
  json env = json::object();
  for (const char* name : kNames)
    if (const char* value = std::getenv(name); value != nullptr) env[name] = value;
  return env;
}

}  // namespace rosetta::cli
