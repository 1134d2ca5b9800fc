#include "bench/cli/algorithm_cache_file.h"

#include <cstdio>
#include <cstdlib>

#include "kernels/conv.h"

namespace rosetta::cli {
namespace {

std::string default_algorithm_cache_path() {
  const char* xdg = std::getenv("XDG_CACHE_HOME");
  const char* home = std::getenv("HOME");
  if (xdg != nullptr && *xdg != '\0') return std::string(xdg) + "/rosetta/conv-algorithms.json";
  if (home != nullptr && *home != '\0') return std::string(home) + "/.cache/rosetta/conv-algorithms.json";
  return ".rosetta-conv-algorithms.json";
}

}  // namespace

AlgorithmCacheFile::AlgorithmCacheFile(const Context& ctx, const std::string& path) : ctx_(ctx) {
  if (ctx.device() != Device::cuda) return;
  path_ = path.empty() ? default_algorithm_cache_path() : path;
  const kernels::ConvCacheLoad load = kernels::load_conv_algorithm_cache(ctx, path_);
  if (load.rejected) {
    // A corrupt, old or foreign cache is not the user's input: one line on stderr, then a fresh search that the
    // save at the end writes over it.
    std::fprintf(stderr, "rosetta: note: %s\n", load.note.c_str());
  } else if (!load.note.empty()) {
    std::printf("  convolution algorithm cache %s: %s\n", path_.c_str(), load.note.c_str());
  } else {
    std::printf("  convolution algorithm cache %s: %zu choices loaded\n", path_.c_str(), load.entries);
  }
}

void AlgorithmCacheFile::save() const {
  if (path_.empty()) return;
  kernels::save_conv_algorithm_cache(ctx_, path_);
  const kernels::ConvAutotuneStats stats = kernels::conv_autotune_stats(ctx_);
  std::printf("  autotune: %lld convolution shapes searched, %lld from the cache; saved to %s\n",
              static_cast<long long>(stats.searched), static_cast<long long>(stats.from_cache), path_.c_str());
  if (stats.failed_candidates > 0)
    std::printf("  autotune: %lld candidates failed while timed and were dropped; the last: %s\n",
                static_cast<long long>(stats.failed_candidates), stats.last_failure.c_str());
}

}  // namespace rosetta::cli
