// AlgorithmCacheFile: the convolution algorithm cache's file around a CUDA run (kernels/conv.h): loaded at
// construction, saved by save() (creating its folder), with one line each saying what happened; a file that cannot be
// used (corrupt, old format version, another GPU or cuDNN) is one "rosetta: note:" line on stderr, and the run
// searches afresh and saves over it. Nothing on the CPU, which has no algorithm search. Default path: $XDG_CACHE_HOME/rosetta/conv-algorithms.json, else ~/.cache/rosetta/..., else
// ./.rosetta-conv-algorithms.json.
#pragma once
#include <string>

#include "runtime/context.h"

namespace rosetta::cli {

class AlgorithmCacheFile {
 public:
  // path empty: the default path.
  AlgorithmCacheFile(const Context& ctx, const std::string& path);
  void save() const;

 private:
  const Context& ctx_;
  std::string path_;  // empty: not used (a CPU run)
};

}  // namespace rosetta::cli
