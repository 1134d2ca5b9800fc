// The process-wide convolution choice cache (see conv_algorithm_cache.h). Its file is read, checked and
// written by kernels/conv_algorithm_cache_file.cpp; this file turns its entries into keys and back.
#include "kernels/cuda/conv_algorithm_cache.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <type_traits>

#include "runtime/atomic_file.h"
#include "runtime/cuda_check.h"

namespace rosetta::kernels::cuda {
namespace {

static_assert(std::is_trivially_copyable_v<ConvAlgorithmKey> && std::is_standard_layout_v<ConvAlgorithmKey>,
              "ConvAlgorithmKey is compared and hashed as bytes");
static_assert(sizeof(ConvAlgorithmKey) == 4 * 4 + 7 * 8 + 12 * 4, "ConvAlgorithmKey must have no padding");
static_assert(kCudnnForwardAlgorithms == CUDNN_CONVOLUTION_FWD_ALGO_COUNT &&
                  kCudnnBackwardDataAlgorithms == CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT &&
                  kCudnnBackwardFilterAlgorithms == CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT,
              "kernels/conv.h's algorithm name tables have cuDNN's sizes");

static_assert(CUDNN_DEFAULT_MATH == 0 && CUDNN_FMA_MATH == kCudnnFmaMath && kCudnnFmaMath == kCudnnMathTypes - 1,
              "kernels/conv_algorithm_cache_file.h's math types are cuDNN's");

// The file's entry for a key and its value: the inverse of make_conv_algorithm_key.
ConvCacheEntry entry_of(const ConvAlgorithmKey& key, const CachedConvChoice& value) {
  ConvCacheEntry entry;
  entry.device = key.device;
  entry.pass = static_cast<ConvPass>(key.pass);
  entry.shape.n = key.n, entry.shape.c = key.c, entry.shape.h = key.h, entry.shape.w = key.w;
  entry.shape.k = key.k, entry.shape.r = key.r, entry.shape.s = key.s;
  entry.shape.pad_h = key.pad_h, entry.shape.pad_w = key.pad_w;
  entry.shape.stride_h = key.stride_h, entry.shape.stride_w = key.stride_w;
  entry.options.precision = static_cast<Precision>(key.precision);
  entry.options.layout = key.layout == CUDNN_TENSOR_NHWC ? Layout::nhwc : Layout::nchw;
  entry.options.deterministic = key.deterministic != 0;
  entry.options.epilogue = static_cast<ConvEpilogue>(key.epilogue);
  if (key.backend_request >= 0) entry.options.backend = static_cast<ConvBackend>(key.backend_request);
  entry.choice = value.choice;
  entry.candidates = value.candidates;
  return entry;
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
  key.epilogue = static_cast<std::int32_t>(conv_pass_options(options, pass).epilogue);  // the forward's alone
  key.backend_request = options.backend ? static_cast<std::int32_t>(*options.backend) : -1;
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

bool operator==(const CachedConvChoice& a, const CachedConvChoice& b) {
  return a.choice == b.choice && a.candidates == b.candidates;
}

std::optional<CachedConvChoice> ConvAlgorithmCache::find(const ConvAlgorithmKey& key) const {
  std::lock_guard<std::mutex> lock(mutex_);
  const auto it = entries_.find(key);
  if (it == entries_.end()) return std::nullopt;
  return it->second;
}

void ConvAlgorithmCache::insert(const ConvAlgorithmKey& key, const CachedConvChoice& value) {
  std::lock_guard<std::mutex> lock(mutex_);
  entries_[key] = value;
}

std::size_t ConvAlgorithmCache::size() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return entries_.size();
}

std::vector<std::pair<ConvAlgorithmKey, CachedConvChoice>> ConvAlgorithmCache::entries() const {
  std::vector<std::pair<ConvAlgorithmKey, CachedConvChoice>> sorted;
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

void ConvAlgorithmCache::count_failed_candidate(const std::string& reason) {
  std::lock_guard<std::mutex> lock(mutex_);
  ++stats_.failed_candidates;
  stats_.last_failure = reason;
}

ConvAutotuneStats ConvAlgorithmCache::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return stats_;
}

ConvCacheLoad ConvAlgorithmCache::load(const std::string& path, const ConvCacheIdentity& identity) {
  const ConvCacheContents file = read_conv_cache_file(path, identity);
  std::lock_guard<std::mutex> lock(mutex_);
  for (const ConvCacheEntry& e : file.entries)
    entries_.emplace(make_conv_algorithm_key(e.device, e.shape, e.options, e.pass),
                     CachedConvChoice{e.choice, e.candidates});
  return ConvCacheLoad{file.entries.size(), file.note, file.rejected};
}

void ConvAlgorithmCache::save(const std::string& path, const ConvCacheIdentity& identity) const {
  std::vector<ConvCacheEntry> file;
  for (const auto& [key, value] : entries()) file.push_back(entry_of(key, value));
  const std::filesystem::path target(path);
  std::error_code error;
  if (target.has_parent_path()) std::filesystem::create_directories(target.parent_path(), error);
  if (error) ROSETTA_INPUT_ERROR("cannot write conv algorithm cache " << path << ": " << error.message());
  write_file_atomically(path, conv_cache_text(file, identity));
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
