// The process-wide GRU algorithm cache (see gru_algorithm_cache.h).
#include "kernels/gru_algorithm_cache.h"

#include <filesystem>

#include "runtime/atomic_file.h"
#include "runtime/error.h"

namespace rosetta::kernels {

std::optional<GruCacheChoice> GruAlgorithmCache::find(const GruCacheKey& key) const {
  std::lock_guard<std::mutex> lock(mutex_);
  const auto found = entries_.find(key);
  if (found == entries_.end()) return std::nullopt;
  return found->second;
}

void GruAlgorithmCache::insert(const GruCacheKey& key, const GruCacheChoice& choice) {
  std::lock_guard<std::mutex> lock(mutex_);
  entries_[key] = choice;
  ++unsaved_;
}

std::size_t GruAlgorithmCache::size() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return entries_.size();
}

std::vector<GruCacheEntry> GruAlgorithmCache::entries() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<GruCacheEntry> all;
  for (const auto& [key, choice] : entries_) all.push_back(GruCacheEntry{key, choice});
  return all;
}

std::size_t GruAlgorithmCache::unsaved() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return unsaved_;
}

void GruAlgorithmCache::clear() {
  std::lock_guard<std::mutex> lock(mutex_);
  entries_.clear();
  unsaved_ = 0;
}

GruCacheLoad GruAlgorithmCache::load(const std::string& path) {
  GruCacheContents file;
  try {
    file = read_gru_cache_file(path);
  } catch (const InputError& e) {
    // A cache only saves time: a bad file costs a search, never the run. The message already names the file.
    return GruCacheLoad{0, std::string("ignored (") + e.what() + "); the choices are timed afresh and the file rewritten"};
  }
  if (!file.note.empty()) return GruCacheLoad{0, file.missing ? file.note : "ignored: " + file.note};
  std::lock_guard<std::mutex> lock(mutex_);
  for (const GruCacheEntry& e : file.entries) entries_.emplace(e.key, e.choice);
  unsaved_ = 0;
  return GruCacheLoad{file.entries.size(), ""};
}

void GruAlgorithmCache::save(const std::string& path) {
  const std::string text = gru_cache_text(entries());
  const std::filesystem::path target(path);
  std::error_code error;
  if (target.has_parent_path()) std::filesystem::create_directories(target.parent_path(), error);
  if (error) ROSETTA_INPUT_ERROR("cannot write RNN algorithm cache " << path << ": " << error.message());
  write_file_atomically(path, text);
  std::lock_guard<std::mutex> lock(mutex_);
  unsaved_ = 0;
}

GruAlgorithmCache& gru_algorithm_cache() {
  static GruAlgorithmCache cache;
  return cache;
}

}  // namespace rosetta::kernels
