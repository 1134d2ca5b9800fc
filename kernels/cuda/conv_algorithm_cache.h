// The process-wide cache of convolution choices (backend and algorithm per pass and shape), and its file.
//
// make_conv_plan with autotune on asks this cache before it times any candidate (kernels/cuda/conv_search.cpp), and
// stores what the search chose with every candidate it timed, so each distinct shape is searched once per process.
// The cache can be saved to and loaded from a JSON file, so a second run skips the search altogether. Heuristic
// choices (autotune off) are not cached: cudnnGet*_v7 is cheap and needs no buffers.
//
// Invariants:
// - ConvAlgorithmKey holds every field that changes the answer. It is a POD compared and hashed as raw bytes, so it
//   is only made through make_conv_algorithm_key, which zeroes it (padding included) first.
// - The file (its format, checks and bounds: kernels/conv_algorithm_cache_file.h, device-neutral) is tied to one GPU
//   model and one cuDNN version (its identity); a file of another identity, another format version or a malformed
//   one is rejected with a note and adds nothing, never half-used and never fatal. Saving writes a temporary file
//   and renames it over the old one, so an interrupted save never leaves a broken file behind.
// - All members are thread-safe.
#pragma once
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "kernels/conv.h"
#include "kernels/conv_algorithm_cache_file.h"

namespace rosetta::kernels::cuda {

struct ConvAlgorithmKey {
  std::int32_t device;      // CUDA device index
  std::int32_t data_type;   // cudnnDataType_t of x, w and y (CUDNN_DATA_FLOAT, or CUDNN_DATA_BFLOAT16 in bf16)
  std::int32_t layout;      // cudnnTensorFormat_t (CUDNN_TENSOR_NCHW or CUDNN_TENSOR_NHWC)
  std::int32_t pass;        // ConvPass
  std::int64_t n, c, h, w;  // input (N, C, H, W)
  std::int64_t k, r, s;     // filter (K, C, R, S)
  std::int32_t pad_h, pad_w, stride_h, stride_w, dilation_h, dilation_w, groups;
  std::int32_t precision;        // rosetta::Precision: fp32 allows only CUDNN_FMA_MATH, tf32 / bf16 allow tensor ops
  std::int32_t deterministic;    // 1: only algorithms cuDNN reports as deterministic
  std::int32_t epilogue;         // ConvEpilogue: what a fused backend builds into the forward (any for the others)
  std::int32_t backend_request;  // -1: every backend timed; else the forced ConvBackend
  std::int32_t reserved;         // always 0; makes the size a multiple of 8 so the struct has no tail padding
};

// The zeroed key of `shape` for `pass` on CUDA device `device`, in float (bf16 for precision bf16), options.layout,
// dilation 1, groups 1, with the options' forced backend and, for the forward, their epilogue (a gradient pass's
// key is the same for a plan declared for an epilogue and one that is not: conv_pass_options).
ConvAlgorithmKey make_conv_algorithm_key(int device, const ConvShape& shape, const ConvOptions& options, ConvPass pass);
bool operator==(const ConvAlgorithmKey& a, const ConvAlgorithmKey& b);
inline bool operator!=(const ConvAlgorithmKey& a, const ConvAlgorithmKey& b) { return !(a == b); }
struct ConvAlgorithmKeyHash {
  std::size_t operator()(const ConvAlgorithmKey& key) const;  // FNV-1a over the bytes
};

using kernels::ConvCacheIdentity;

// What the cache keeps per key: the choice and every candidate the search timed (fastest first).
struct CachedConvChoice {
  ConvAlgorithmChoice choice;
  std::vector<ConvAlgorithmChoice> candidates;
};
bool operator==(const CachedConvChoice& a, const CachedConvChoice& b);

class ConvAlgorithmCache {
 public:
  std::optional<CachedConvChoice> find(const ConvAlgorithmKey& key) const;
  void insert(const ConvAlgorithmKey& key, const CachedConvChoice& value);
  std::size_t size() const;
  // Every entry, in a fixed order (by key bytes): what save() writes.
  std::vector<std::pair<ConvAlgorithmKey, CachedConvChoice>> entries() const;
  // Forgets every entry and resets the statistics.
  void clear();

  void count_plan(bool searched);
  // A candidate that failed while it was timed (dropped from the search): counted, and the last reason kept.
  void count_failed_candidate(const std::string& reason);
  ConvAutotuneStats stats() const;

  // Adds the file's entries (an entry already in the cache keeps its value). A missing file loads nothing with a
  // note; a malformed one, or one written for another identity or format version, loads nothing and is rejected
  // with the note saying why (kernels/conv_algorithm_cache_file.h). Never throws for the file's content.
  ConvCacheLoad load(const std::string& path, const ConvCacheIdentity& identity);
  // Writes every entry under `identity` to path (through path + ".tmp" and a rename). Creates missing parent
  // folders. Throws InputError naming the file when it cannot be written.
  void save(const std::string& path, const ConvCacheIdentity& identity) const;

 private:
  mutable std::mutex mutex_;
  std::unordered_map<ConvAlgorithmKey, CachedConvChoice, ConvAlgorithmKeyHash> entries_;
  ConvAutotuneStats stats_;
};

// The one cache make_conv_plan uses.
ConvAlgorithmCache& conv_algorithm_cache();
// The identity of this process's GPU (device 0, the one rosetta runs on) and loaded cuDNN.
ConvCacheIdentity current_conv_cache_identity();
// The process-wide cache's file against this process's identity is kernels/conv.inc's load_conv_algorithm_cache and
// save_conv_algorithm_cache, defined with the cache.

}  // namespace rosetta::kernels::cuda
