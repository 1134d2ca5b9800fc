// What a training run's checkpoint must agree on with the run that resumes it (layers/training_checkpoint.h): the
// options shared by every workload (workload, batch, seed, shuffle, learning rate, precision) and the training data
// itself (its name, size and a fingerprint of its bytes), to which each workload adds its own.
#pragma once
#include <cstdint>

#include "bench/cli/training.h"
#include "datasets/dataset.h"
#include "layers/training_checkpoint.h"

namespace rosetta::cli {

// FNV-1a (64-bit) over the inputs' and labels' bytes: the same data in the same order, or a different checkpoint.
std::uint64_t data_fingerprint(const Dataset& data);

CheckpointOptions checkpoint_options(const TrainingFlags& flags, const TrainingWorkload& workload,
                                     const Dataset& train);

}  // namespace rosetta::cli
