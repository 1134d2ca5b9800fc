// The process-wide cache of cuDNN convolution algorithm choices, and its file.
//
// make_conv_plan with autotune on asks this cache before it runs cudnnFind*AlgorithmEx, and stores what the
// search chose, so each distinct shape is searched once per process. The cache can be saved to and loaded from a
// small JSON file, so a second run skips the search altogether. Heuristic choices (autotune off) are not cached:
// cudnnGet*_v7 is cheap and needs no buffers.
//
// Invariants:
// - ConvAlgorithmKey holds every field that changes cuDNN's answer. It is a POD compared and hashed as raw bytes,
//   so it is only made through make_conv_algorithm_key, which zeroes it (padding included) first.
// - A file is tied to one GPU model and one cuDNN version (its identity); a file of another identity is ignored
//   with a note, never half-used. A malformed file is an InputError naming the file. Saving writes a temporary
//   file and renames it over the old one, so an interrupted save never leaves a broken file behind.
// - All members are thread-safe.
#pragma once
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "kernels/conv.h"

namespace rosetta::kernels::cuda {

enum class ConvPass : std::int32_t { forward = 0, backward_data = 1, backward_filter = 2 };
constexpr int kConvPassCount = 3;
// "forward", "backward_data", "backward_filter"
const char* conv_pass_name(ConvPass pass);

struct ConvAlgorithmKey {
  std::int32_t device;      // CUDA device index
  std::int32_t data_type;   // cudnnDataType_t of x, w and y (CUDNN_DATA_FLOAT, or CUDNN_DATA_BFLOAT16 in bf16)
  std::int32_t layout;      // cudnnTensorFormat_t (CUDNN_TENSOR_NCHW or CUDNN_TENSOR_NHWC)
  std::int32_t pass;        // ConvPass
  std::int64_t n, c, h, w;  // input (N, C, H, W)
  std::int64_t k, r, s;     // filter (K, C, R, S)
  std::int32_t pad_h, pad_w, stride_h, stride_w, dilation_h, dilation_w, groups;
  std::int32_t precision;      // rosetta::Precision: fp32 allows only CUDNN_FMA_MATH, tf32 / bf16 allow tensor ops
  std::int32_t deterministic;  // 1: only algorithms cuDNN reports as deterministic
  std::int32_t reserved;       // always 0; makes the size a multiple of 8 so the struct has no tail padding
};

// The zeroed key of `shape` for `pass` on CUDA device `device`, in float (bf16 for precision bf16), options.layout,
// dilation 1, groups 1.
ConvAlgorithmKey make_conv_algorithm_key(int device, const ConvShape& shape, const ConvOptions& options, ConvPass pass);
bool operator==(const ConvAlgorithmKey& a, const ConvAlgorithmKey& b);
inline bool operator!=(const ConvAlgorithmKey& a, const ConvAlgorithmKey& b) { return !(a == b); }
struct ConvAlgorithmKeyHash {
  std::size_t operator()(const ConvAlgorithmKey& key) const;  // FNV-1a over the bytes
};

// What a pass runs: the algorithm and the math type it was measured with (the pass's convolution descriptor is
// set to that math type), and the workspace it needs.
struct ConvAlgorithmChoice {
  std::int32_t algo = 0;       // cudnnConvolution{Fwd,BwdData,BwdFilter}Algo_t, by the key's pass
  std::int32_t math_type = 0;  // cudnnMathType_t
  std::uint64_t workspace_bytes = 0;
  float time_ms = 0;           // cudnnFind's time for it; 0 for a heuristic choice
  bool deterministic = false;  // as cuDNN reports it
};
bool operator==(const ConvAlgorithmChoice& a, const ConvAlgorithmChoice& b);

// Which GPU model and cuDNN version a cache file belongs to.
struct ConvCacheIdentity {
  std::string gpu;    // cudaDeviceProp::name, e.g. "NVIDIA H100 80GB HBM3"
  std::string cudnn;  // version of the loaded library, e.g. "9.19.0"
};

// The result of loading a file: how many entries came in, and when none could, why (for the user).
struct ConvCacheLoad {
  std::size_t entries = 0;
  std::string note;  // empty when the file was used
};

// Autotuned plans made in this process: `searched` ran cudnnFind for at least one pass, `from_cache` took all
// three passes from the cache (filled by this process or by a file).
struct ConvAutotuneStats {
  std::int64_t searched = 0;
  std::int64_t from_cache = 0;
};

class ConvAlgorithmCache {
 public:
  std::optional<ConvAlgorithmChoice> find(const ConvAlgorithmKey& key) const;
  void insert(const ConvAlgorithmKey& key, const ConvAlgorithmChoice& choice);
  std::size_t size() const;
  // Every entry, in a fixed order (by key bytes): what save() writes.
  std::vector<std::pair<ConvAlgorithmKey, ConvAlgorithmChoice>> entries() const;
  // Forgets every entry and resets the statistics.
  void clear();

  void count_plan(bool searched);
  ConvAutotuneStats stats() const;

  // Adds the file's entries (an entry already in the cache keeps its value). A missing file, or one written
  // for another identity or format version, loads nothing and says why in the note. Throws InputError naming
  // the file when it is not a well-formed cache file.
  ConvCacheLoad load(const std::string& path, const ConvCacheIdentity& identity);
  // Writes every entry under `identity` to path (through path + ".tmp" and a rename). Creates missing parent
  // folders. Throws InputError naming the file when it cannot be written.
  void save(const std::string& path, const ConvCacheIdentity& identity) const;

 private:
  mutable std::mutex mutex_;
  std::unordered_map<ConvAlgorithmKey, ConvAlgorithmChoice, ConvAlgorithmKeyHash> entries_;
  ConvAutotuneStats stats_;
};

// The one cache make_conv_plan uses.
ConvAlgorithmCache& conv_algorithm_cache();
// The identity of this process's GPU (device 0, the one rosetta runs on) and loaded cuDNN.
ConvCacheIdentity current_conv_cache_identity();
// The process-wide cache against this process's identity: what the CLI calls around a run.
ConvCacheLoad load_conv_algorithm_cache(const std::string& path);
void save_conv_algorithm_cache(const std::string& path);
// "autotune: N shapes searched, M from cache".
ConvAutotuneStats conv_autotune_stats();

}  // namespace rosetta::kernels::cuda
