// The file of the cuDNN convolution algorithm cache (kernels/cuda/conv_algorithm_cache.h), device-neutral: its
// reader, validation and writer need no GPU and no cuDNN, so the CPU tests and the fuzz target run them anywhere.
//
// File layout (one JSON object):
//   {"format": "rosetta-conv-algorithms", "version": 1, "gpu": "<device name>", "cudnn": "9.19.0",
//    "entries": [{"pass": "forward", "device": 0, "dtype": "f32", "layout": "NCHW", "n": 64, "c": 3, "h": 32,
//                 "w": 32, "k": 50, "r": 3, "s": 3, "pad_h": 1, "pad_w": 1, "stride_h": 1, "stride_w": 1,
//                 "dilation_h": 1, "dilation_w": 1, "groups": 1, "precision": "fp32", "deterministic": false,
//                 "algo": 1, "math_type": 3, "workspace_bytes": 0, "time_ms": 0.05, "algo_deterministic": true}]}
// "layout" is "NCHW" or "NHWC"; "dtype" is "bf16" exactly when "precision" is "bf16"; "algo" is one of cuDNN's
// legacy algorithms of the pass; "math_type" a cudnnMathType_t, CUDNN_FMA_MATH in an fp32 entry.
//
// Invariants: a file of another identity (GPU model, cuDNN version) or format version yields no entries and a note
// saying why, never a half-used file; every other entry is validated before any is returned, so a bad file adds
// nothing; a malformed file is one InputError line naming the file (and the entry and field). Bounds, checked
// before the work: the file is at most kConvCacheMaxBytes, read once; its JSON at most 16 deep and
// kConvCacheMaxValues values (runtime/json_input.h), so time is linear and memory a small multiple of the cap.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "kernels/conv.h"

namespace rosetta::kernels {

// One entry holds 51 JSON values in ~500 bytes; the three workloads make fewer than 200 entries. 16 MiB and 2^20
// values (~20,000 entries) leave a hundredfold room and bound the parsed file to ~100 MB.
constexpr std::uint64_t kConvCacheMaxBytes = std::uint64_t{16} << 20;
constexpr std::size_t kConvCacheMaxValues = std::size_t{1} << 20;

// cudnnMathType_t: CUDNN_DEFAULT_MATH (0) to CUDNN_FMA_MATH (3); kernels/cuda checks them against cudnn.h.
constexpr int kCudnnMathTypes = 4;
constexpr int kCudnnFmaMath = 3;

// Which GPU model and cuDNN version a cache file belongs to.
struct ConvCacheIdentity {
  std::string gpu;    // cudaDeviceProp::name, e.g. "NVIDIA H100 80GB HBM3"
  std::string cudnn;  // version of the loaded library, e.g. "9.19.0"
};

// One cached choice: the device, the pass, the shape and the options that change cuDNN's answer (precision,
// layout, determinism), and what the search chose (backend cudnn).
struct ConvCacheEntry {
  int device = 0;
  ConvPass pass = ConvPass::forward;
  ConvShape shape;
  ConvOptions options;
  ConvAlgorithmChoice choice;
};

// What a cache file holds for `identity`: its entries, or none and the note saying why (no file yet, another
// identity, another format version).
struct ConvCacheContents {
  std::vector<ConvCacheEntry> entries;
  std::string note;  // empty when the file was used
};

// The file at `path`; a missing file is a note, not an error.
ConvCacheContents read_conv_cache_file(const std::string& path, const ConvCacheIdentity& identity);
// The same checks on the file's text (`path` names it in messages).
ConvCacheContents parse_conv_cache_text(const std::string& text, const std::string& path,
                                        const ConvCacheIdentity& identity);
// The file's text for `entries` under `identity`, in the given order; parse_conv_cache_text reads it back exactly.
std::string conv_cache_text(const std::vector<ConvCacheEntry>& entries, const ConvCacheIdentity& identity);

}  // namespace rosetta::kernels
