// Parameter checkpoints through safetensors: see checkpoint.h.
#include "layers/checkpoint.h"

#include <vector>

namespace rosetta {
namespace {

// "a, b, c"
std::string joined(const std::vector<std::string>& names) {
  std::string s;
  for (const std::string& name : names) s += (s.empty() ? "" : ", ") + name;
  return s;
}

// Everything wrong with `file` as a checkpoint of `parameters`, as "; "-separated clauses; empty when it fits.
std::string mismatches(const ParameterSet& parameters, const SafetensorsFile& file, const IgnoreName& ignore) {
  std::vector<std::string> missing, unexpected, wrong;
  for (int i = 0; i < parameters.size(); ++i) {
    const SafetensorsEntry* entry = file.find(parameters.name(i));
    if (entry == nullptr) {
      missing.push_back(parameters.name(i));
    } else if (entry->dtype != DType::f32) {
      wrong.push_back(parameters.name(i) + " has dtype " + entry->dtype_name + ", expected F32");
    } else if (entry->shape != parameters.shape(i)) {
      wrong.push_back(parameters.name(i) + " has shape " + entry->shape.str() + ", expected " + parameters.shape(i).str());
    }
  }
  for (const SafetensorsEntry& entry : file.entries())
    if (parameters.find(entry.name) < 0 && !(ignore && ignore(entry.name))) unexpected.push_back(printable_text(entry.name));

  std::vector<std::string> clauses;
  if (!missing.empty()) clauses.push_back("missing " + joined(missing));
  if (!unexpected.empty()) clauses.push_back("unexpected " + joined(unexpected));
  clauses.insert(clauses.end(), wrong.begin(), wrong.end());
  std::string text;
  for (const std::string& clause : clauses) text += (text.empty() ? "" : "; ") + clause;
  return text;
}

// The parameters' values in declaration order, copied to the host, after checking every element is finite:
// nothing non-finite is ever saved.
NamedTensors finite_values(const ParameterSet& parameters, const std::string& path) {
  NamedTensors values;
  for (int i = 0; i < parameters.size(); ++i) {
    Tensor value = parameters.value(i).to(Device::cpu);
    const std::int64_t bad = first_non_finite(value);
    if (bad >= 0)
      ROSETTA_INPUT_ERROR(path << ": not saved: " << parameters.name(i) << " holds " << value.data<float>()[bad]
                               << " at element " << bad << " of " << value.numel() << " (weights must be finite)");
    values.emplace_back(parameters.name(i), value);
  }
  return values;
}

}  // namespace

void save_parameters(const ParameterSet& parameters, const std::string& path, const SafetensorsMetadata& metadata) {
  ROSETTA_CHECK(parameters.allocated(), "saving parameters to " << path << " before their arena was allocated");
  write_safetensors(path, finite_values(parameters, path), metadata);
}

void load_parameters(ParameterSet& parameters, const std::string& path, const IgnoreName& ignore) {
  ROSETTA_CHECK(parameters.allocated(), "loading parameters from " << path << " before their arena was allocated");
  const SafetensorsFile file = SafetensorsFile::open(path);
  const std::string problems = mismatches(parameters, file, ignore);
  if (!problems.empty()) ROSETTA_INPUT_ERROR(path << ": " << problems);
  // Every tensor read and checked on the host first, so only a whole, finite file reaches the arena.
  std::vector<Tensor> host(static_cast<std::size_t>(parameters.size()));
  for (int i = 0; i < parameters.size(); ++i) {
    const SafetensorsEntry& entry = *file.find(parameters.name(i));
    host[i] = Tensor::empty(entry.shape, DType::f32);
    file.read_into(entry, host[i]);
    const std::int64_t bad = first_non_finite(host[i]);
    if (bad >= 0)
      ROSETTA_INPUT_ERROR(path << ": " << parameters.name(i) << " holds " << host[i].data<float>()[bad] << " at element "
                               << bad << " of " << host[i].numel() << " (weights must be finite)");
  }
  for (int i = 0; i < parameters.size(); ++i) {
    Tensor value = parameters.value(i);  // a view: writing through it fills the arena
    value.copy_from(host[i]);
  }
}

}  // namespace rosetta
