// The file of the GRU algorithm cache (kernels/gru_algorithm_cache.h), device-neutral: its reader, checks and writer
// need no GPU and no cuDNN, so the CPU tests and the fuzz target run them anywhere. It is a file of its own, beside the
// convolution cache's (kernels/conv_algorithm_cache_file.h) and sharing none of its code or format.
//
// File layout (one JSON object):
//   {"format": "rosetta-rnn-algorithms", "version": 1,
//    "entries": [{"gpu": "NVIDIA H100 80GB HBM3", "cudnn": "9.19.0", "cell": "gru", "t": 150, "n": 64, "i": 125,
//                 "h": 100, "precision": "fp32", "io": "packed", "candidates": "cudnn",
//                 "implementation": "cudnn", "algorithm": "persist_static_small_h", "milliseconds": 0.566}]}
// Each entry is one key (the GPU model and cuDNN version it was timed on, the shape, precision, I/O layout and the
// implementations the search compared) and its choice (the implementation and cuDNN algorithm that won, and the
// winner's median forward + backward time). Entries of other GPUs and cuDNN versions are kept in the file; a run
// uses only those of its own. "io" is "packed" or "padded" (GruOptions::padded_io); "precision" fp32 or tf32;
// "candidates" the implementation asked for, one that searches (cudnn: its algorithms; auto: those and the
// persistent GRU); "implementation" the winner, one of the candidates; "algorithm" a cuDNN algorithm name when the
// winner is cudnn, else null.
//
// Invariants: every entry is checked before any is returned, so a bad file adds nothing; a malformed file is one
// InputError line naming the file (and the entry and field); a file of another format version yields no entries
// and a note. Bounds, checked before the work: the file is at most kGruCacheMaxBytes, read once; its JSON at most
// 16 deep and kGruCacheMaxValues values (runtime/json_input.h), so time is linear and memory a small multiple of
// the cap.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "kernels/gru.h"

namespace rosetta::kernels {

// One entry holds 29 JSON values in ~330 bytes; a machine sees a handful of GRU shapes. 1 MiB and 2^16 values
// (~2,000 entries) leave a hundredfold room and bound the parsed file to a few MB.
constexpr std::uint64_t kGruCacheMaxBytes = std::uint64_t{1} << 20;
constexpr std::size_t kGruCacheMaxValues = std::size_t{1} << 16;

// What makes a timing reusable: the GPU model and cuDNN version, and every option that changes which candidate
// wins. Compared field by field (std::map key).
struct GruCacheKey {
  std::string gpu;    // cudaDeviceProp::name
  std::string cudnn;  // version of the loaded library, "9.19.0"
  GruShape shape;
  Precision precision = Precision::fp32;  // fp32 or tf32
  bool padded_io = false;
  GruImplementation candidates = GruImplementation::cudnn;  // the implementation asked for (it searched)
};
bool operator<(const GruCacheKey& a, const GruCacheKey& b);
bool operator==(const GruCacheKey& a, const GruCacheKey& b);

// What the search chose for a key.
struct GruCacheChoice {
  GruImplementation implementation = GruImplementation::cudnn;
  GruCudnnAlgorithm algorithm = GruCudnnAlgorithm::standard;  // cudnn only
  double milliseconds = 0;  // the winner's median forward + backward when it was timed
};
bool operator==(const GruCacheChoice& a, const GruCacheChoice& b);

struct GruCacheEntry {
  GruCacheKey key;
  GruCacheChoice choice;
};

// What a cache file holds: its entries, or none and the note saying why (no file yet, another format version).
struct GruCacheContents {
  std::vector<GruCacheEntry> entries;
  std::string note;     // empty when the file was used
  bool missing = false;  // there is no file at the path
};

// The file at `path`; a missing file is a note, not an error.
GruCacheContents read_gru_cache_file(const std::string& path);
// The same checks on the file's text (`path` names it in messages).
GruCacheContents parse_gru_cache_text(const std::string& text, const std::string& path);
// The file's text for `entries`, in the given order; parse_gru_cache_text reads it back exactly.
std::string gru_cache_text(const std::vector<GruCacheEntry>& entries);

}  // namespace rosetta::kernels
