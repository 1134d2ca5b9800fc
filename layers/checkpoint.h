// Parameter checkpoints: a ParameterSet saved to and loaded from one safetensors file, each parameter under
// its PyTorch state_dict name as an F32 tensor of its shape.
// Invariants: load_parameters checks the whole file against the set first (every name, shape and dtype) and
// reports every problem in one InputError, then reads every tensor to the host and refuses a NaN or infinity
// naming the tensor; only a whole, finite file is copied into the arena, and only into the parameters' own
// elements (the arena's zero padding stays zero). save_parameters refuses non-finite values the same way:
// nothing non-finite is ever saved.
#pragma once
#include <functional>
#include <string>

#include "layers/parameters.h"
#include "runtime/safetensors.h"

namespace rosetta {

// True for a tensor name that load_parameters should skip when the set does not declare it.
using IgnoreName = std::function<bool(const std::string& name)>;

// One write of every parameter's value, in declaration order (through write_safetensors: the file appears only
// when complete). The arena may live on the CPU or a CUDA device.
void save_parameters(const ParameterSet& parameters, const std::string& path, const SafetensorsMetadata& metadata = {});

// Copies every parameter's value from `path` into the (possibly CUDA) arena. The file must hold exactly the
// declared names, each F32 of the declared shape; tensors the set does not declare and `ignore` accepts (e.g.
// a classifier head, BatchNorm's num_batches_tracked) are skipped. Otherwise throws one InputError listing
// all problems: "f.safetensors: missing conv1.weight; unexpected foo; fc1.weight has shape (3, 4), expected
// (512, 6400)".
void load_parameters(ParameterSet& parameters, const std::string& path, const IgnoreName& ignore = {});

}  // namespace rosetta
