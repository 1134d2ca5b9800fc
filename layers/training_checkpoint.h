// Training checkpoints: one safetensors file holding everything a training run needs to continue as if it had
// never stopped: the parameters (under their names), the model's and optimizer's state buffers (under
// "state/<name>": momentum or Adam's moments and step, the dropout step counter), and in its metadata the format,
// the global step, the parameter arena's layout (ParameterSet::layout_fingerprint: the state buffers are laid out
// like it) and the options that must match for the continuation to be the same computation (workload, batch, seed,
// data, precision, ...). The data order is a pure function of (seed, epoch) (datasets/batcher.h) and
// dropout of (seed, step), so the step is the whole of the data cursor and of the random state.
// Invariants: the file is written atomically (runtime/safetensors.h), never with a non-finite value; loading
// checks the format, every must-match option, every name, dtype and shape before any value is copied, and
// refuses a mismatch with one InputError line naming the field, the checkpoint's value and this run's.
#pragma once
#include <cstdint>
#include <string>

#include "layers/parameters.h"
#include "runtime/safetensors.h"

namespace rosetta {

inline constexpr const char* kTrainingCheckpointFormat = "rosetta-training-checkpoint";
inline constexpr int kTrainingCheckpointVersion = 1;

// The options a continuation must share with the run that wrote the checkpoint: name -> value as text.
using CheckpointOptions = SafetensorsMetadata;

// Writes `parameters` and `state` (device or host tensors) with `options` and the global `step`.
void save_training_checkpoint(const std::string& path, const ParameterSet& parameters, const NamedTensors& state,
                              const CheckpointOptions& options, std::int64_t step);

// The metadata of checkpoint `path` after checking its format, version, step and every one of `options` (before
// any model exists: a wrong checkpoint is refused before setup); `step` gets the global step to continue from.
SafetensorsMetadata read_training_checkpoint_header(const std::string& path, const CheckpointOptions& options,
                                                    std::int64_t& step);

// Refuses a checkpoint (its metadata, read by the function above) whose state is laid out for another parameter
// arena than `parameters`' (ParameterSet::layout_fingerprint), with one InputError line naming `path`.
void check_training_checkpoint_arena(const SafetensorsMetadata& metadata, const std::string& path,
                                     const ParameterSet& parameters);

// Checks `path` as above and against this run's parameters and state buffers (names, dtypes, shapes), copies the
// values into them and returns the global step to continue from.
std::int64_t load_training_checkpoint(const std::string& path, ParameterSet& parameters, const NamedTensors& state,
                                      const CheckpointOptions& options);

}  // namespace rosetta
