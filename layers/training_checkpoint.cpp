#include "layers/training_checkpoint.h"

#include <vector>

namespace rosetta {
namespace {

const char* const kStatePrefix = "state/";

std::string metadata_value(const SafetensorsFile& file, const std::string& key) {
  const auto it = file.metadata().find(key);
  if (it == file.metadata().end())
    ROSETTA_INPUT_ERROR(file.path() << ": not a " << kTrainingCheckpointFormat << " (no \"" << key
                                    << "\" in its metadata)");
  return it->second;
}

// The file's tensor `name`, checked against `like` (dtype and shape) and read to the host.
Tensor read_matching(const SafetensorsFile& file, const std::string& name, const Tensor& like) {
  const SafetensorsEntry* entry = file.find(name);
  if (entry == nullptr) ROSETTA_INPUT_ERROR(file.path() << ": no tensor " << name << " (a checkpoint of another model?)");
  if (entry->dtype != like.dtype() || entry->shape != like.shape())
    ROSETTA_INPUT_ERROR(file.path() << ": " << name << " is " << entry->dtype_name << " " << entry->shape.str()
                                    << ", this run's is " << dtype_name(like.dtype()) << " " << like.shape().str());
  Tensor host = Tensor::empty(entry->shape, *entry->dtype);
  file.read_into(*entry, host);
  const std::int64_t bad = host.dtype() == DType::f32 || host.dtype() == DType::bf16 ? first_non_finite(host) : -1;
  if (bad >= 0) ROSETTA_INPUT_ERROR(file.path() << ": " << name << " holds a non-finite value at element " << bad);
  return host;
}

// Checks the header of `file`; returns the step.
std::int64_t checked_step(const SafetensorsFile& file, const CheckpointOptions& options) {
  const std::string& path = file.path();
  if (metadata_value(file, "format") != kTrainingCheckpointFormat)
    ROSETTA_INPUT_ERROR(path << ": format is \"" << printable_text(metadata_value(file, "format"))
                             << "\", expected \"" << kTrainingCheckpointFormat << "\"");
  if (metadata_value(file, "version") != std::to_string(kTrainingCheckpointVersion))
    ROSETTA_INPUT_ERROR(path << ": checkpoint version " << printable_text(metadata_value(file, "version"))
                             << ", this rosetta reads version " << kTrainingCheckpointVersion);
  const auto check = [&](const std::string& key, const std::string& value) {
    const std::string theirs = metadata_value(file, key);
    if (theirs != value)
      ROSETTA_INPUT_ERROR(path << ": " << key << " is " << printable_text(theirs) << " in the checkpoint, " << value
                               << " in this run (it must match to resume)");
  };
  // The workload first (a checkpoint of another model is named as such), then the options, then the data's
  // fingerprint: a changed option that also changes the data (a seed of synthetic data) is named as the option.
  if (options.count("workload")) check("workload", options.at("workload"));
  for (const auto& [key, value] : options)
    if (key != "data_fingerprint") check(key, value);
  if (options.count("data_fingerprint")) check("data_fingerprint", options.at("data_fingerprint"));
  const std::string step_text = metadata_value(file, "step");
  std::int64_t step = -1;
  try {
    std::size_t used = 0;
    step = std::stoll(step_text, &used);
    if (used != step_text.size()) step = -1;
  } catch (const std::exception&) {
    step = -1;
  }
  if (step < 0) ROSETTA_INPUT_ERROR(path << ": step is \"" << printable_text(step_text) << "\", expected a count of steps");
  return step;
}

}  // namespace

void save_training_checkpoint(const std::string& path, const ParameterSet& parameters, const NamedTensors& state,
                              const CheckpointOptions& options, std::int64_t step) {
  NamedTensors tensors;
  for (int i = 0; i < parameters.size(); ++i) tensors.emplace_back(parameters.name(i), parameters.value(i).to(Device::cpu));
  for (const auto& [name, tensor] : state) tensors.emplace_back(kStatePrefix + name, tensor.to(Device::cpu));
  for (const auto& [name, tensor] : tensors) {
    const std::int64_t bad = tensor.dtype() == DType::f32 || tensor.dtype() == DType::bf16 ? first_non_finite(tensor) : -1;
    if (bad >= 0)
      ROSETTA_INPUT_ERROR(path << ": checkpoint not written: " << name << " holds a non-finite value at element " << bad);
  }
  SafetensorsMetadata metadata = options;
  metadata["format"] = kTrainingCheckpointFormat;
  metadata["version"] = std::to_string(kTrainingCheckpointVersion);
  metadata["step"] = std::to_string(step);
  metadata["arena_layout"] = parameters.layout_fingerprint();
  write_safetensors(path, tensors, metadata);
}

void check_training_checkpoint_arena(const SafetensorsMetadata& metadata, const std::string& path,
                                     const ParameterSet& parameters) {
  // The state tensors are laid out like the arena (Adam's moments): in another layout their elements would land on
  // other parameters, with every name and shape still matching.
  const auto found = metadata.find("arena_layout");
  const std::string layout = found == metadata.end() ? "" : found->second;
  if (layout != parameters.layout_fingerprint())
    ROSETTA_INPUT_ERROR(path << ": arena_layout is " << (layout.empty() ? "missing" : printable_text(layout))
                             << " in the checkpoint, " << parameters.layout_fingerprint()
                             << " in this run (its optimizer state is laid out for another parameter arena: a "
                                "checkpoint of another model or of an older rosetta)");
}

SafetensorsMetadata read_training_checkpoint_header(const std::string& path, const CheckpointOptions& options,
                                                    std::int64_t& step) {
  const SafetensorsFile file = SafetensorsFile::open(path);
  step = checked_step(file, options);
  return file.metadata();
}

std::int64_t load_training_checkpoint(const std::string& path, ParameterSet& parameters, const NamedTensors& state,
                                      const CheckpointOptions& options) {
  const SafetensorsFile file = SafetensorsFile::open(path);
  const std::int64_t step = checked_step(file, options);
  check_training_checkpoint_arena(file.metadata(), path, parameters);

  // Everything read and checked before anything is copied.
  std::vector<Tensor> values, states;
  for (int i = 0; i < parameters.size(); ++i)
    values.push_back(read_matching(file, parameters.name(i), parameters.value(i)));
  for (const auto& [name, tensor] : state) states.push_back(read_matching(file, kStatePrefix + name, tensor));
  const std::size_t expected = values.size() + states.size();
  if (file.entries().size() != expected)
    ROSETTA_INPUT_ERROR(path << ": " << file.entries().size() << " tensors, this run's checkpoint has " << expected
                             << " (a checkpoint of another model?)");
  for (int i = 0; i < parameters.size(); ++i) {
    Tensor value = parameters.value(i);
    value.copy_from(values[i]);
  }
  for (std::size_t i = 0; i < state.size(); ++i) {
    Tensor destination = state[i].second;
    destination.copy_from(states[i]);
  }
  return step;
}

}  // namespace rosetta
