// The process-wide cuDNN convolution algorithm cache and its JSON file (see conv_algorithm_cache.h).
//
// File layout (one object):
//   {"format": "rosetta-conv-algorithms", "version": 1, "gpu": "<device name>", "cudnn": "9.19.0",
//    "entries": [{"pass": "forward", "device": 0, "dtype": "f32", "layout": "NCHW", "n": 64, "c": 3, "h": 32,
//                 "w": 32, "k": 50, "r": 3, "s": 3, "pad_h": 1, "pad_w": 1, "stride_h": 1, "stride_w": 1,
//                 "dilation_h": 1, "dilation_w": 1, "groups": 1, "precision": "fp32", "deterministic": false,
//                 "algo": 1, "math_type": 3, "workspace_bytes": 0, "time_ms": 0.05, "algo_deterministic": true}]}
// "layout" is "NCHW" or "NHWC"; "dtype" is "bf16" exactly when "precision" is "bf16".
// Every entry is validated before any is added, so a bad file changes nothing.
#include "kernels/cuda/conv_algorithm_cache.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <type_traits>

#include "runtime/atomic_file.h"
#include "runtime/cuda_check.h"

namespace rosetta::kernels::cuda {
namespace {

static_assert(std::is_trivially_copyable_v<ConvAlgorithmKey> && std::is_standard_layout_v<ConvAlgorithmKey>,
              "ConvAlgorithmKey is compared and hashed as bytes");
static_assert(sizeof(ConvAlgorithmKey) == 4 * 4 + 7 * 8 + 10 * 4, "ConvAlgorithmKey must have no padding");
static_assert(kCudnnForwardAlgorithms == CUDNN_CONVOLUTION_FWD_ALGO_COUNT &&
                  kCudnnBackwardDataAlgorithms == CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT &&
                  kCudnnBackwardFilterAlgorithms == CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT,
              "kernels/conv.h's algorithm name tables have cuDNN's sizes");

constexpr const char* kFormat = "rosetta-conv-algorithms";
constexpr int kFormatVersion = 1;

int algorithm_count(ConvPass pass) {
  switch (pass) {
    case ConvPass::forward: return CUDNN_CONVOLUTION_FWD_ALGO_COUNT;
    case ConvPass::backward_data: return CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT;
    case ConvPass::backward_filter: return CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT;
  }
  return 0;
}

bool pass_from_name(const std::string& name, ConvPass* pass) {
  for (ConvPass p : {ConvPass::forward, ConvPass::backward_data, ConvPass::backward_filter}) {
    if (name == conv_pass_name(p)) {
      *pass = p;
      return true;
    }
  }
  return false;
}

// Reads one field of a cache-file entry, or throws InputError naming the file, the entry and the field.
class EntryReader {
 public:
  EntryReader(const nlohmann::json& entry, const std::string& path, std::size_t index)
      : entry_(entry), path_(path), index_(index) {}

  const nlohmann::json& field(const char* name) const {
    const auto it = entry_.find(name);
    if (it == entry_.end()) fail(name, "missing");
    return *it;
  }
  std::int64_t integer(const char* name, std::int64_t lo, std::int64_t hi) const {
    const nlohmann::json& v = field(name);
    if (!v.is_number_integer()) fail(name, "expected an integer");
    if (v.is_number_unsigned() && v.get<std::uint64_t>() > static_cast<std::uint64_t>(hi))
      fail(name, "out of range [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
    const std::int64_t value = v.get<std::int64_t>();
    if (value < lo || value > hi) fail(name, "out of range [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
    return value;
  }
  std::uint64_t unsigned_integer(const char* name) const {
    const nlohmann::json& v = field(name);
    if (!v.is_number_unsigned()) fail(name, "expected a non-negative integer");
    return v.get<std::uint64_t>();
  }
  double number(const char* name) const {
    const nlohmann::json& v = field(name);
    if (!v.is_number()) fail(name, "expected a number");
    return v.get<double>();
  }
  bool boolean(const char* name) const {
    const nlohmann::json& v = field(name);
    if (!v.is_boolean()) fail(name, "expected true or false");
    return v.get<bool>();
  }
  std::string string(const char* name) const {
    const nlohmann::json& v = field(name);
    if (!v.is_string()) fail(name, "expected a string");
    return v.get<std::string>();
  }
  [[noreturn]] void fail(const char* name, const std::string& what) const {
    ROSETTA_INPUT_ERROR("conv algorithm cache " << path_ << ": entries[" << index_ << "]." << name << ": " << what);
  }

 private:
  const nlohmann::json& entry_;
  const std::string& path_;
  std::size_t index_;
};

std::pair<ConvAlgorithmKey, ConvAlgorithmChoice> parse_entry(const nlohmann::json& entry, const std::string& path,
                                                             std::size_t index) {
  if (!entry.is_object())
    ROSETTA_INPUT_ERROR("conv algorithm cache " << path << ": entries[" << index << "]: expected an object");
  const EntryReader read(entry, path, index);
  constexpr std::int64_t kMaxDim = 0x7fffffff;
  ConvPass pass{};
  if (!pass_from_name(read.string("pass"), &pass))
    read.fail("pass", "expected forward, backward_data or backward_filter");
  const std::string dtype = read.string("dtype");
  if (dtype != "f32" && dtype != "bf16") read.fail("dtype", "expected f32 or bf16");
  const std::string layout = read.string("layout");
  if (layout != "NCHW" && layout != "NHWC") read.fail("layout", "expected NCHW or NHWC");
  Precision precision{};
  if (!precision_from_name(read.string("precision").c_str(), &precision))
    read.fail("precision", "expected fp32, tf32 or bf16");
  if ((precision == Precision::bf16) != (dtype == "bf16"))
    read.fail("dtype", "bf16 data goes with precision bf16 (and only with it)");
  read.integer("dilation_h", 1, 1);  // rosetta's convolutions have dilation 1 and one group
  read.integer("dilation_w", 1, 1);
  read.integer("groups", 1, 1);

  ConvShape shape;
  shape.n = read.integer("n", 1, kMaxDim);
  shape.c = read.integer("c", 1, kMaxDim);
  shape.h = read.integer("h", 1, kMaxDim);
  shape.w = read.integer("w", 1, kMaxDim);
  shape.k = read.integer("k", 1, kMaxDim);
  shape.r = read.integer("r", 1, kMaxDim);
  shape.s = read.integer("s", 1, kMaxDim);
  shape.pad_h = static_cast<int>(read.integer("pad_h", 0, kMaxDim));
  shape.pad_w = static_cast<int>(read.integer("pad_w", 0, kMaxDim));
  shape.stride_h = static_cast<int>(read.integer("stride_h", 1, kMaxDim));
  shape.stride_w = static_cast<int>(read.integer("stride_w", 1, kMaxDim));
  ConvOptions options;
  options.precision = precision;
  options.deterministic = read.boolean("deterministic");
  options.layout = layout == "NHWC" ? Layout::nhwc : Layout::nchw;
  const int device = static_cast<int>(read.integer("device", 0, 1023));

  ConvAlgorithmChoice choice;
  choice.backend = ConvBackend::cudnn;
  choice.algo = static_cast<std::int32_t>(read.integer("algo", 0, algorithm_count(pass) - 1));
  choice.math_type = static_cast<std::int32_t>(read.integer("math_type", CUDNN_DEFAULT_MATH, CUDNN_FMA_MATH));
  if (precision == Precision::fp32 && choice.math_type != CUDNN_FMA_MATH)
    read.fail("math_type", "an fp32 entry must run under CUDNN_FMA_MATH (" + std::to_string(CUDNN_FMA_MATH) + ")");
  choice.workspace_bytes = read.unsigned_integer("workspace_bytes");
  choice.time_ms = static_cast<float>(read.number("time_ms"));
  choice.deterministic = read.boolean("algo_deterministic");
  return {make_conv_algorithm_key(device, shape, options, pass), choice};
}

nlohmann::json entry_json(const ConvAlgorithmKey& key, const ConvAlgorithmChoice& choice) {
  return nlohmann::json{{"pass", conv_pass_name(static_cast<ConvPass>(key.pass))},
                        {"device", key.device},
                        {"dtype", key.data_type == CUDNN_DATA_BFLOAT16 ? "bf16" : "f32"},
                        {"layout", key.layout == CUDNN_TENSOR_NHWC ? "NHWC" : "NCHW"},
                        {"n", key.n},
                        {"c", key.c},
                        {"h", key.h},
                        {"w", key.w},
                        {"k", key.k},
                        {"r", key.r},
                        {"s", key.s},
                        {"pad_h", key.pad_h},
                        {"pad_w", key.pad_w},
                        {"stride_h", key.stride_h},
                        {"stride_w", key.stride_w},
                        {"dilation_h", key.dilation_h},
                        {"dilation_w", key.dilation_w},
                        {"groups", key.groups},
                        {"precision", precision_name(static_cast<Precision>(key.precision))},
                        {"deterministic", key.deterministic != 0},
                        {"algo", choice.algo},
                        {"math_type", choice.math_type},
                        {"workspace_bytes", choice.workspace_bytes},
                        {"time_ms", choice.time_ms},
                        {"algo_deterministic", choice.deterministic}};
}

}  // namespace

ConvAlgorithmKey make_conv_algorithm_key(int device, const ConvShape& shape, const ConvOptions& options,
                                         ConvPass pass) {
  ConvAlgorithmKey key;
  std::memset(&key, 0, sizeof key);
  key.device = device;
  key.data_type = options.precision == Precision::bf16 ? CUDNN_DATA_BFLOAT16 : CUDNN_DATA_FLOAT;
  key.layout = options.layout == Layout::nhwc ? CUDNN_TENSOR_NHWC : CUDNN_TENSOR_NCHW;
  key.pass = static_cast<std::int32_t>(pass);
  key.n = shape.n;
  key.c = shape.c;
  key.h = shape.h;
  key.w = shape.w;
  key.k = shape.k;
  key.r = shape.r;
  key.s = shape.s;
  key.pad_h = shape.pad_h;
  key.pad_w = shape.pad_w;
  key.stride_h = shape.stride_h;
  key.stride_w = shape.stride_w;
  key.dilation_h = 1;
  key.dilation_w = 1;
  key.groups = 1;
  key.precision = static_cast<std::int32_t>(options.precision);
  key.deterministic = options.deterministic ? 1 : 0;
  return key;
}

bool operator==(const ConvAlgorithmKey& a, const ConvAlgorithmKey& b) { return std::memcmp(&a, &b, sizeof a) == 0; }

std::size_t ConvAlgorithmKeyHash::operator()(const ConvAlgorithmKey& key) const {
  const auto* bytes = reinterpret_cast<const unsigned char*>(&key);
  std::uint64_t hash = 0xcbf29ce484222325ULL;
  for (std::size_t i = 0; i < sizeof key; ++i) {
    hash ^= bytes[i];
    hash *= 0x100000001b3ULL;
  }
  return static_cast<std::size_t>(hash);
}

std::optional<ConvAlgorithmChoice> ConvAlgorithmCache::find(const ConvAlgorithmKey& key) const {
  std::lock_guard<std::mutex> lock(mutex_);
  const auto it = entries_.find(key);
  if (it == entries_.end()) return std::nullopt;
  return it->second;
}

void ConvAlgorithmCache::insert(const ConvAlgorithmKey& key, const ConvAlgorithmChoice& choice) {
  std::lock_guard<std::mutex> lock(mutex_);
  entries_[key] = choice;
}

std::size_t ConvAlgorithmCache::size() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return entries_.size();
}

std::vector<std::pair<ConvAlgorithmKey, ConvAlgorithmChoice>> ConvAlgorithmCache::entries() const {
  std::vector<std::pair<ConvAlgorithmKey, ConvAlgorithmChoice>> sorted;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    sorted.assign(entries_.begin(), entries_.end());
  }
  std::sort(sorted.begin(), sorted.end(),
            [](const auto& a, const auto& b) { return std::memcmp(&a.first, &b.first, sizeof(ConvAlgorithmKey)) < 0; });
  return sorted;
}

void ConvAlgorithmCache::clear() {
  std::lock_guard<std::mutex> lock(mutex_);
  entries_.clear();
  stats_ = ConvAutotuneStats{};
}

void ConvAlgorithmCache::count_plan(bool searched) {
  std::lock_guard<std::mutex> lock(mutex_);
  ++(searched ? stats_.searched : stats_.from_cache);
}

ConvAutotuneStats ConvAlgorithmCache::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return stats_;
}

ConvCacheLoad ConvAlgorithmCache::load(const std::string& path, const ConvCacheIdentity& identity) {
  ConvCacheLoad result;
  std::ifstream in(path);
  if (!in) {
    result.note = "no conv algorithm cache at " + path + " yet";
    return result;
  }
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    ROSETTA_INPUT_ERROR("conv algorithm cache " << path << ": not valid JSON: " << e.what());
  }
  const bool is_cache_file = doc.is_object() && doc.contains("format") && doc["format"].is_string() &&
                             doc["format"].get<std::string>() == kFormat && doc.contains("version") &&
                             doc["version"].is_number_integer();
  if (!is_cache_file)
    ROSETTA_INPUT_ERROR("conv algorithm cache " << path << ": not a rosetta conv algorithm cache (no \"format\": \""
                                                << kFormat << "\" and integer \"version\")");
  if (doc["version"].get<std::int64_t>() != kFormatVersion) {
    result.note = "ignored conv algorithm cache " + path + ": format version " + doc["version"].dump() +
                  ", this rosetta reads version " + std::to_string(kFormatVersion);
    return result;
  }
  if (!doc.contains("gpu") || !doc["gpu"].is_string() || !doc.contains("cudnn") || !doc["cudnn"].is_string() ||
      !doc.contains("entries") || !doc["entries"].is_array())
    ROSETTA_INPUT_ERROR("conv algorithm cache " << path
                                                << ": needs string \"gpu\", string \"cudnn\" and array \"entries\"");
  const std::string gpu = doc["gpu"].get<std::string>(), cudnn = doc["cudnn"].get<std::string>();
  if (gpu != identity.gpu || cudnn != identity.cudnn) {
    result.note = "ignored conv algorithm cache " + path + ": written for " + gpu + " with cuDNN " + cudnn +
                  ", this is " + identity.gpu + " with cuDNN " + identity.cudnn;
    return result;
  }
  std::vector<std::pair<ConvAlgorithmKey, ConvAlgorithmChoice>> parsed;
  const nlohmann::json& entries = doc["entries"];
  for (std::size_t i = 0; i < entries.size(); ++i) parsed.push_back(parse_entry(entries[i], path, i));
  std::lock_guard<std::mutex> lock(mutex_);
  for (const auto& [key, choice] : parsed) entries_.emplace(key, choice);
  result.entries = parsed.size();
  return result;
}

void ConvAlgorithmCache::save(const std::string& path, const ConvCacheIdentity& identity) const {
  nlohmann::json doc{{"format", kFormat},
                     {"version", kFormatVersion},
                     {"gpu", identity.gpu},
                     {"cudnn", identity.cudnn},
                     {"entries", nlohmann::json::array()}};
  for (const auto& [key, choice] : entries()) doc["entries"].push_back(entry_json(key, choice));

  const std::filesystem::path target(path);
  std::error_code error;
  if (target.has_parent_path()) std::filesystem::create_directories(target.parent_path(), error);
  if (error) ROSETTA_INPUT_ERROR("cannot write conv algorithm cache " << path << ": " << error.message());
  write_file_atomically(path, doc.dump(1) + "\n");
}

ConvAlgorithmCache& conv_algorithm_cache() {
  static ConvAlgorithmCache cache;
  return cache;
}

ConvCacheIdentity current_conv_cache_identity() {
  cudaDeviceProp prop{};
  ROSETTA_CUDA_CHECK(cudaGetDeviceProperties(&prop, 0));
  const std::size_t version = cudnnGetVersion();  // 9.19.0 -> 91900
  return ConvCacheIdentity{prop.name, std::to_string(version / 10000) + "." + std::to_string(version % 10000 / 100) +
                                          "." + std::to_string(version % 100)};
}

ConvCacheLoad load_conv_algorithm_cache(const Context&, const std::string& path) {
  return conv_algorithm_cache().load(path, current_conv_cache_identity());
}

void save_conv_algorithm_cache(const Context&, const std::string& path) {
  conv_algorithm_cache().save(path, current_conv_cache_identity());
}

ConvAutotuneStats conv_autotune_stats(const Context&) { return conv_algorithm_cache().stats(); }

}  // namespace rosetta::kernels::cuda
