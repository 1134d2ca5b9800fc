#include "bench/cli/checkpointing.h"

#include <cstdio>

namespace rosetta::cli {
namespace {

std::uint64_t fnv1a(std::uint64_t hash, const Tensor& t) {
  const auto* p = static_cast<const unsigned char*>(t.raw());
  for (std::size_t i = 0; i < t.nbytes(); ++i) hash = (hash ^ p[i]) * 0x100000001b3ull;
  return hash;
}

// A float as text that reads back to the same float (9 significant digits).
std::string exact(float value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.9g", value);
  return text;
}

}  // namespace

std::uint64_t data_fingerprint(const Dataset& data) {
  return fnv1a(fnv1a(0xcbf29ce484222325ull, data.inputs), data.labels);
}

CheckpointOptions checkpoint_options(const TrainingFlags& flags, const TrainingWorkload& workload,
                                     const Dataset& train) {
  char fingerprint[24];
  std::snprintf(fingerprint, sizeof fingerprint, "%016llx", static_cast<unsigned long long>(data_fingerprint(train)));
  CheckpointOptions options{{"workload", workload.name()},
                            {"batch", std::to_string(flags.batch)},
                            {"seed", std::to_string(flags.seed)},
                            {"shuffle", flags.no_shuffle ? "off" : "on"},
                            {"lr", exact(flags.lr)},
                            {"precision", flags.precision},
                            {"train_examples", std::to_string(train.size())},
                            {"data_fingerprint", fingerprint}};
  workload.add_checkpoint_options(options);
  return options;
}

}  // namespace rosetta::cli
