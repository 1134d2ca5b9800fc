// safetensors read/write. The format: an 8-byte little-endian header length N, N bytes of UTF-8 JSON
// {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ..., "__metadata__": {str: str}}
// padded with spaces, then the data section; offsets are bytes into the data section.
// Reader invariants: open() runs every check of the reference (Rust) reader before it returns, so a
// SafetensorsFile always describes a well-formed file: offsets contiguous from 0 in offset order, each
// tensor's bytes = numel * element size, the data section ends exactly at the last tensor. Every violation
// is one InputError line naming the file, the tensor and the field. Tensors are read on demand, never slurped.
// Bounds: the header is at most 100 MB (the reference reader's limit) and the file's size; its JSON is parsed in
// linear time with at most 2^20 values (runtime/json_input.h), counted before the document is built; a tensor read
// allocates its own bytes, which the layout check has placed inside the file.
// The reader accepts every fixed-width safetensors dtype (so `rosetta inspect` lists any such file, e.g.
// I64 num_batches_tracked buffers); only those rosetta's Tensor holds (runtime/dtype.h) can be read.
// Writer invariants: tensors go out in the order given; the file appears at `path` only after a complete,
// flushed write (through a temporary in the same folder, then rename), so a failed write leaves any existing
// file untouched and no temporary behind.
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "runtime/json_input.h"  // printable_text, for messages that quote a tensor's name
#include "runtime/tensor.h"

namespace rosetta {

using SafetensorsMetadata = std::map<std::string, std::string>;

struct SafetensorsEntry {
  std::string name;
  std::string dtype_name;          // as spelled in the file: "F32", "I64", ...
  std::optional<DType> dtype;      // empty for a dtype rosetta's Tensor cannot hold (I64, F64, BOOL, ...)
  std::size_t element_size = 0;    // bytes per element of dtype_name
  Shape shape;
  std::uint64_t begin = 0, end = 0;  // bytes into the data section
  std::uint64_t nbytes() const { return end - begin; }
};

class SafetensorsFile {
 public:
  // Reads and validates the header; throws InputError on a missing, unreadable or malformed file.
  static SafetensorsFile open(const std::string& path);

  const std::string& path() const { return path_; }
  // Sorted by data offset (the order of the data section).
  const std::vector<SafetensorsEntry>& entries() const { return entries_; }
  const SafetensorsMetadata& metadata() const { return metadata_; }
  // The entry called `name`, or nullptr.
  const SafetensorsEntry* find(const std::string& name) const;

  // A new CPU tensor holding the named tensor. InputError when the file has no such tensor or rosetta cannot
  // hold its dtype.
  Tensor read(const std::string& name) const;
  // Reads `entry` into `destination`: a CPU tensor of the entry's dtype and element count.
  void read_into(const SafetensorsEntry& entry, const Tensor& destination) const;

 private:
  std::string path_;
  std::uint64_t data_start_ = 0;  // 8 + header length: where the data section begins in the file
  std::vector<SafetensorsEntry> entries_;
  SafetensorsMetadata metadata_;
};

// Writes `tensors` (CPU or CUDA; CUDA tensors are copied to the host) in the given order, with `metadata`.
// Throws Error on a caller mistake (duplicate or empty name, the name "__metadata__", an undefined tensor)
// and InputError naming the path when the file cannot be created, written or renamed into place.
void write_safetensors(const std::string& path, const NamedTensors& tensors,
                       const SafetensorsMetadata& metadata = {});

}  // namespace rosetta
