// The file of the convolution algorithm cache (kernels/cuda/conv_algorithm_cache.h), device-neutral: its reader,
// validation and writer need no GPU and no cuDNN, so the CPU tests and the fuzz target run them anywhere.
//
// File layout, format version 2 (one JSON object):
//   {"format": "rosetta-conv-algorithms", "version": 2, "gpu": "<device name>", "cudnn": "9.19.0",
//    "entries": [{"pass": "forward", "device": 0, "dtype": "bf16", "layout": "NHWC", "n": 32, "c": 64, "h": 56,
//                 "w": 56, "k": 256, "r": 1, "s": 1, "pad_h": 0, "pad_w": 0, "stride_h": 1, "stride_w": 1,
//                 "dilation_h": 1, "dilation_w": 1, "groups": 1, "precision": "bf16", "deterministic": false,
//                 "epilogue": "bias+residual+relu", "backend_request": "auto",
//                 "choice": {"backend": "cublaslt", "algo": 21, "math_type": 0, "variant": 2,
//                            "workspace_bytes": 0, "time_ms": 0.041, "find_time_ms": 0, "deterministic": true},
//                 "candidates": [<every candidate the search timed, as "choice", fastest first>]}]}
// "layout" is "NCHW" or "NHWC"; "dtype" is "bf16" exactly when "precision" is "bf16"; "epilogue" is a ConvEpilogue
// name and needs a forward entry unless "any"; "backend_request" is "auto" or the forced backend's name. A choice's
// backend is "cudnn" (legacy: "algo" one of its algorithms of the pass, "math_type" a cudnnMathType_t,
// CUDNN_FMA_MATH in an fp32 entry, "variant" 0), "cudnn-graph" (forward, NHWC, tf32 or bf16: "algo" the engine's
// global index, "variant" its position in the heuristics' list) or "cublaslt" (forward: "algo" the algorithm id,
// "variant" its position in the heuristics' list; NHWC, or NCHW in fp32/tf32) or "direct" (forward or filter
// gradient: "algo" the tiling, "variant" its position among the backend's candidates); under a forced backend the choice is
// that backend's or legacy cuDNN's (the fallback where the forced one declines). time_ms is the median event-timed
// call (0: untimed), find_time_ms what cudnnFind reported (0: not a Find result).
//
// Invariants: every entry is validated before any is returned, so a bad file adds nothing. parse_conv_cache_text
// throws one InputError line naming the file (and the entry and field) for a malformed text; a file of another
// identity (GPU model, cuDNN version) or format version yields no entries and a note saying why. read_conv_cache_file
// never throws for what the file holds: a missing file is a note, and a corrupt, old-version or foreign file is
// `rejected` with a one-line note (the caller searches afresh and overwrites it). Bounds, checked before the work:
// the file is at most kConvCacheMaxBytes, read once; its JSON at most 16 deep and kConvCacheMaxValues values
// (runtime/json_input.h); an entry at most kConvCacheMaxCandidates candidates; so time is linear and memory a small
// multiple of the cap.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "kernels/conv.h"

namespace rosetta::kernels {

// An entry with its choice and ~16 candidates holds ~200 JSON values in ~4 KB; ResNet-50 in three precisions at
// five batch sizes makes ~350 entries, the other workloads fewer than 100. 16 MiB and 2^20 values (~5,000 such
// entries) leave tenfold room and bound the parsed file to ~100 MB.
constexpr std::uint64_t kConvCacheMaxBytes = std::uint64_t{16} << 20;
constexpr std::size_t kConvCacheMaxValues = std::size_t{1} << 20;
constexpr std::size_t kConvCacheMaxCandidates = 64;
// A heuristics list position ("variant") is below this (the backends ask for at most a few dozen).
constexpr int kConvMaxVariants = 64;

// cudnnMathType_t: CUDNN_DEFAULT_MATH (0) to CUDNN_FMA_MATH (3); kernels/cuda checks them against cudnn.h.
constexpr int kCudnnMathTypes = 4;
constexpr int kCudnnFmaMath = 3;

// Which GPU model and cuDNN version a cache file belongs to.
struct ConvCacheIdentity {
  std::string gpu;    // cudaDeviceProp::name, e.g. "NVIDIA H100 80GB HBM3"
  std::string cudnn;  // version of the loaded library, e.g. "9.19.0"
};

// One cached choice: the device, the pass, the shape and the options that change the answer (precision, layout,
// determinism, the declared epilogue, the forced backend), what the search chose, and every candidate it timed.
struct ConvCacheEntry {
  int device = 0;
  ConvPass pass = ConvPass::forward;
  ConvShape shape;
  ConvOptions options;
  ConvAlgorithmChoice choice;
  std::vector<ConvAlgorithmChoice> candidates;  // fastest first; empty when none were recorded
};

// What a cache file holds for `identity`: its entries, or none and the note saying why (no file yet, rejected).
struct ConvCacheContents {
  std::vector<ConvCacheEntry> entries;
  std::string note;       // empty when the file was used
  bool rejected = false;  // the file exists and was not used: corrupt, another format version or identity
};

// The file at `path`, as above: a missing file is a note, a file that cannot be used a rejection with its note.
ConvCacheContents read_conv_cache_file(const std::string& path, const ConvCacheIdentity& identity);
// The checks on the file's text (`path` names it in messages): throws InputError when malformed.
ConvCacheContents parse_conv_cache_text(const std::string& text, const std::string& path,
                                        const ConvCacheIdentity& identity);
// The file's text for `entries` under `identity`, in the given order; parse_conv_cache_text reads it back exactly.
std::string conv_cache_text(const std::vector<ConvCacheEntry>& entries, const ConvCacheIdentity& identity);

}  // namespace rosetta::kernels
