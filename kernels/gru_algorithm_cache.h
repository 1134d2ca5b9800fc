// The process-wide cache of the GRU's timed implementation and algorithm choices, and its file (format and bounds:
// kernels/gru_algorithm_cache_file.h). Device-neutral: the key carries the GPU model and cuDNN version as text, so the
// CPU tests run every path of it; the CUDA twin's search (kernels/cuda/gru_search.cpp) asks it before timing and
// stores what the timing chose, so each key is timed once per process, and once per machine with the file.
//
// Invariants:
// - The key holds every field that changes which candidate wins (kernels/gru_algorithm_cache_file.h); entries of
//   other GPUs and cuDNN versions are kept (and saved again) but never match this process's key.
// - load never fails on the file's content: a missing, unreadable, malformed or other-version file adds nothing and
//   its one-line note says why; the search then runs afresh and save() replaces the file whole.
// - save writes through an AtomicFile (runtime/atomic_file.h), so an interrupted save never leaves a broken file.
// - All members are thread-safe.
#pragma once
#include <cstddef>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "kernels/gru_algorithm_cache_file.h"

namespace rosetta::kernels {

// What loading a cache file did: the entries it added (of every GPU and cuDNN version in the file), or a note saying
// why it added none.
struct GruCacheLoad {
  std::size_t entries = 0;
  std::string note;  // empty when the file was used
};

class GruAlgorithmCache {
 public:
  std::optional<GruCacheChoice> find(const GruCacheKey& key) const;
  // Adds or replaces the choice for `key` (a new timing replaces an old one).
  void insert(const GruCacheKey& key, const GruCacheChoice& choice);
  std::size_t size() const;
  // Every entry, ordered by key: what save() writes.
  std::vector<GruCacheEntry> entries() const;
  // Entries inserted since the last load or save: whether the file needs writing.
  std::size_t unsaved() const;
  // Forgets every entry.
  void clear();

  // Adds the file's entries (an entry already in the cache keeps its value).
  GruCacheLoad load(const std::string& path);
  // Writes every entry to `path` atomically, creating missing folders. Throws InputError naming the file when it
  // cannot be written.
  void save(const std::string& path);

 private:
  mutable std::mutex mutex_;
  std::map<GruCacheKey, GruCacheChoice> entries_;
  std::size_t unsaved_ = 0;
};

// The one cache GRU plans use.
GruAlgorithmCache& gru_algorithm_cache();

}  // namespace rosetta::kernels
