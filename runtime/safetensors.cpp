// safetensors reader and writer. The reader runs its checks in the order the format is parsed, one function
// per family: the file itself, the header length, the header text (UTF-8), the JSON (syntax, duplicate keys,
// nesting), __metadata__, each tensor entry (dtype, shape, data_offsets), and finally the layout of the data
// section (contiguous offsets, byte counts, total length). Each failure is one InputError line that names the
// file, the tensor and the field. File text quoted in a message is escaped, so the message stays one line.
#include "runtime/safetensors.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <limits>
#include <set>

#include "runtime/atomic_file.h"
#include "runtime/input_file.h"
#include "runtime/json_input.h"

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "safetensors data is little-endian; rosetta copies it as is");

namespace rosetta {
namespace {

using json = nlohmann::json;

constexpr std::uint64_t kLengthBytes = 8;               // the header length field
constexpr std::uint64_t kMaxHeaderBytes = 100'000'000;  // the reference reader's limit
// A safetensors header nests three deep (header object, entry object, shape array). Deeper input is refused
// before it is built; the limit is loose so that ordinary mistakes (a nested shape) still get their own field-level
// message.
constexpr int kMaxJsonDepth = 64;
// A tensor entry is about 16 JSON values (its key, the object, three fields, the dtype, the shape and offsets arrays
// and their numbers): ResNet-50's 320 tensors make ~5,000. 2^20 values (some 60,000 tensors) bound the parsed
// header, whatever its text, to ~100 MB (nlohmann takes at most ~100 bytes per value); the count is checked
// before the header is built.
constexpr std::size_t kMaxHeaderValues = std::size_t{1} << 20;
const std::string kMetadataKey = "__metadata__";

// The fixed-width dtypes of the safetensors format and their element sizes.
struct FormatDType {
  const char* name;
  std::size_t size;
};
constexpr FormatDType kFormatDTypes[] = {
    {"BOOL", 1}, {"U8", 1},  {"I8", 1},  {"F8_E5M2", 1}, {"F8_E4M3", 1}, {"I16", 2}, {"U16", 2}, {"F16", 2},
    {"BF16", 2}, {"I32", 4}, {"U32", 4}, {"F32", 4},     {"I64", 8},     {"U64", 8}, {"F64", 8}};

// ---- message helpers ------------------------------------------------------------------------------------

// "model.safetensors: tensor 'conv1.weight'"
std::string tensor_where(const std::string& path, const std::string& name) {
  return path + ": tensor '" + printable_text(name) + "'";
}

// A JSON value as the user wrote it, for "got ..." in a message.
std::string shown(const json& value) { return printable_text(value.dump()); }

std::string dims_str(const std::vector<std::uint64_t>& dims) {
  std::string s = "(";
  for (std::size_t i = 0; i < dims.size(); ++i) s += (i ? ", " : "") + std::to_string(dims[i]);
  return s + (dims.size() == 1 ? ",)" : ")");
}

// ---- the header length -----------------------------------------------------------------------------------

std::uint64_t read_header_length(const InputFile& in) {
  const std::string& path = in.path();
  const std::uint64_t file_size = in.size();
  if (file_size < kLengthBytes)
    ROSETTA_INPUT_ERROR(path << ": file is " << file_size << " bytes, shorter than the 8-byte header length");
  unsigned char bytes[kLengthBytes];
  in.read_at(0, bytes, kLengthBytes, "the header length");
  std::uint64_t length = 0;
  for (int i = kLengthBytes - 1; i >= 0; --i) length = length << 8 | bytes[i];  // little-endian
  if (length > kMaxHeaderBytes)
    ROSETTA_INPUT_ERROR(path << ": header length " << length << " exceeds the limit of " << kMaxHeaderBytes
                             << " bytes");
  if (length > file_size - kLengthBytes)
    ROSETTA_INPUT_ERROR(path << ": header length " << length << " extends past the end of the file (only "
                             << file_size - kLengthBytes << " bytes follow the length)");
  return length;
}

// ---- the header text -------------------------------------------------------------------------------------

// Index of the first byte that does not start a valid UTF-8 sequence (overlong forms, surrogates and code
// points above U+10FFFF are invalid, as in Rust's str::from_utf8), or npos.
std::size_t first_invalid_utf8(const std::string& text) {
  std::size_t i = 0;
  while (i < text.size()) {
    const unsigned char lead = static_cast<unsigned char>(text[i]);
    if (lead < 0x80) {
      ++i;
      continue;
    }
    std::size_t length;
    std::uint32_t code_point, smallest;
    if ((lead & 0xE0) == 0xC0) {
      length = 2, code_point = lead & 0x1F, smallest = 0x80;
    } else if ((lead & 0xF0) == 0xE0) {
      length = 3, code_point = lead & 0x0F, smallest = 0x800;
    } else if ((lead & 0xF8) == 0xF0) {
      length = 4, code_point = lead & 0x07, smallest = 0x10000;
    } else {
      return i;
    }
    if (text.size() - i < length) return i;
    for (std::size_t k = 1; k < length; ++k) {
      const unsigned char continuation = static_cast<unsigned char>(text[i + k]);
      if ((continuation & 0xC0) != 0x80) return i;
      code_point = code_point << 6 | (continuation & 0x3F);
    }
    if (code_point < smallest || code_point > 0x10FFFF || (code_point >= 0xD800 && code_point <= 0xDFFF)) return i;
    i += length;
  }
  return std::string::npos;
}

std::string read_header_text(const InputFile& in, std::uint64_t length) {
  const std::string& path = in.path();
  std::string text(length, '\0');
  in.read_at(kLengthBytes, text.data(), length, "the header");
  const std::size_t bad = first_invalid_utf8(text);
  if (bad != std::string::npos)
    ROSETTA_INPUT_ERROR(path << ": header is not valid UTF-8 (byte " << bad << " of the header)");
  return text;
}

// ---- the JSON --------------------------------------------------------------------------------------------

[[noreturn]] void fail_duplicate_key(const std::string& path, std::size_t depth, const std::string& owner,
                                     const std::string& key) {
  if (depth == 1 && key == kMetadataKey) ROSETTA_INPUT_ERROR(path << ": __metadata__ appears twice in the header");
  if (depth == 1) ROSETTA_INPUT_ERROR(tensor_where(path, key) << " appears twice in the header");
  if (depth == 2 && owner == kMetadataKey)
    ROSETTA_INPUT_ERROR(path << ": __metadata__: key '" << printable_text(key) << "' appears twice");
  if (depth == 2) ROSETTA_INPUT_ERROR(tensor_where(path, owner) << ": field '" << printable_text(key) << "' appears twice");
  ROSETTA_INPUT_ERROR(path << ": header: key '" << printable_text(key) << "' appears twice in one object");
}

// Parses the header into a JSON object, bounded (runtime/json_input.h) and refusing a repeated key with the
// message of the place it repeats in.
json parse_header_json(const std::string& text, const std::string& path) {
  const json header = parse_json_input(text, path + ": header", {kMaxJsonDepth, kMaxHeaderValues},
                                       [&](std::size_t objects, const std::string& owner, const std::string& key) {
                                         fail_duplicate_key(path, objects, owner, key);
                                       });
  if (!header.is_object()) ROSETTA_INPUT_ERROR(path << ": header is a JSON " << header.type_name() << ", not an object");
  return header;
}

// ---- __metadata__ ----------------------------------------------------------------------------------------

SafetensorsMetadata parse_metadata(const json& header, const std::string& path) {
  SafetensorsMetadata metadata;
  const auto found = header.find(kMetadataKey);
  if (found == header.end()) return metadata;
  if (!found->is_object())
    ROSETTA_INPUT_ERROR(path << ": __metadata__ is a JSON " << found->type_name() << ", expected an object of strings");
  for (const auto& [key, value] : found->items()) {
    if (!value.is_string())
      ROSETTA_INPUT_ERROR(path << ": __metadata__: value of '" << printable_text(key) << "' is " << shown(value)
                               << ", expected a string");
    metadata.emplace(key, value.get<std::string>());
  }
  return metadata;
}

// ---- one tensor entry ------------------------------------------------------------------------------------

const json& entry_field(const json& entry, const char* field, const std::string& where) {
  const auto found = entry.find(field);
  if (found == entry.end()) ROSETTA_INPUT_ERROR(where << ": field '" << field << "' is missing");
  return *found;
}

void parse_dtype(const json& value, const std::string& where, SafetensorsEntry* entry) {
  if (!value.is_string()) ROSETTA_INPUT_ERROR(where << ": dtype is " << shown(value) << ", expected a string such as \"F32\"");
  const std::string& name = value.get_ref<const std::string&>();
  for (const FormatDType& known : kFormatDTypes) {
    if (name != known.name) continue;
    entry->dtype_name = name;
    entry->element_size = known.size;
    DType dtype;
    if (dtype_from_name(name, &dtype)) entry->dtype = dtype;
    return;
  }
  ROSETTA_INPUT_ERROR(where << ": dtype '" << printable_text(name) << "' is not a safetensors dtype");
}

// Dimensions: non-negative integers, at most Shape::kMaxDims of them, with an element count that fits int64.
Shape parse_shape(const json& value, const std::string& where) {
  if (!value.is_array())
    ROSETTA_INPUT_ERROR(where << ": shape is " << shown(value) << ", expected an array of non-negative integers");
  std::vector<std::uint64_t> dims;
  for (std::size_t i = 0; i < value.size(); ++i) {
    if (!value[i].is_number_unsigned())
      ROSETTA_INPUT_ERROR(where << ": shape[" << i << "] is " << shown(value[i]) << ", expected a non-negative integer");
    dims.push_back(value[i].get<std::uint64_t>());
  }
  if (dims.size() > static_cast<std::size_t>(Shape::kMaxDims))
    ROSETTA_INPUT_ERROR(where << ": shape " << dims_str(dims) << " has " << dims.size()
                              << " dimensions; rosetta holds at most " << Shape::kMaxDims);
  const std::uint64_t limit = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
  std::uint64_t count = 1;
  for (std::uint64_t d : dims) {
    if (d > limit || (d != 0 && count > limit / d))
      ROSETTA_INPUT_ERROR(where << ": shape " << dims_str(dims) << " has more elements than fit in 64 bits");
    count *= d;
  }
  return Shape(dims.begin(), dims.end());
}

void parse_data_offsets(const json& value, const std::string& where, SafetensorsEntry* entry) {
  if (!value.is_array() || value.size() != 2 || !value[0].is_number_unsigned() || !value[1].is_number_unsigned())
    ROSETTA_INPUT_ERROR(where << ": data_offsets is " << shown(value)
                              << ", expected [begin, end] as two non-negative integers");
  entry->begin = value[0].get<std::uint64_t>();
  entry->end = value[1].get<std::uint64_t>();
}

SafetensorsEntry parse_entry(const std::string& name, const json& value, const std::string& path) {
  const std::string where = tensor_where(path, name);
  if (!value.is_object())
    ROSETTA_INPUT_ERROR(where << " is " << shown(value) << ", expected an object with dtype, shape and data_offsets");
  SafetensorsEntry entry;
  entry.name = name;
  parse_dtype(entry_field(value, "dtype", where), where, &entry);
  entry.shape = parse_shape(entry_field(value, "shape", where), where);
  parse_data_offsets(entry_field(value, "data_offsets", where), where, &entry);
  return entry;
}

// Every entry but __metadata__, sorted by data offset (ties by name, so the order never depends on the header).
std::vector<SafetensorsEntry> parse_entries(const json& header, const std::string& path) {
  std::vector<SafetensorsEntry> entries;
  for (const auto& [name, value] : header.items())
    if (name != kMetadataKey) entries.push_back(parse_entry(name, value, path));
  std::sort(entries.begin(), entries.end(), [](const SafetensorsEntry& a, const SafetensorsEntry& b) {
    if (a.begin != b.begin) return a.begin < b.begin;
    if (a.end != b.end) return a.end < b.end;
    return a.name < b.name;
  });
  return entries;
}

// ---- the data section ------------------------------------------------------------------------------------

void check_byte_count(const SafetensorsEntry& entry, const std::string& where) {
  const std::uint64_t count = static_cast<std::uint64_t>(entry.shape.numel());
  if (count > std::numeric_limits<std::uint64_t>::max() / entry.element_size)
    ROSETTA_INPUT_ERROR(where << ": shape " << entry.shape.str() << " of " << entry.dtype_name
                              << " needs more bytes than fit in 64 bits");
  const std::uint64_t needed = count * entry.element_size;
  if (needed != entry.nbytes())
    ROSETTA_INPUT_ERROR(where << ": data_offsets [" << entry.begin << ", " << entry.end << "] hold " << entry.nbytes()
                              << " bytes, but shape " << entry.shape.str() << " of " << entry.dtype_name
                              << " needs " << needed);
}

// In offset order the tensors tile the data section exactly: the first begins at 0, each begins where the
// previous ends (no hole, no overlap), each holds numel * element size bytes, and the last ends at the end of
// the file (no trailing bytes, nothing missing).
void check_layout(const std::vector<SafetensorsEntry>& entries, std::uint64_t data_bytes, const std::string& path) {
  std::uint64_t next = 0;
  const SafetensorsEntry* previous = nullptr;
  for (const SafetensorsEntry& entry : entries) {
    const std::string where = tensor_where(path, entry.name);
    const std::string offsets = "data_offsets [" + std::to_string(entry.begin) + ", " + std::to_string(entry.end) + "]";
    if (entry.end < entry.begin) ROSETTA_INPUT_ERROR(where << ": " << offsets << " end before they begin");
    if (previous == nullptr && entry.begin != 0)
      ROSETTA_INPUT_ERROR(where << ": " << offsets << " leave a hole: the first tensor must begin at 0");
    if (entry.begin > next)
      ROSETTA_INPUT_ERROR(where << ": " << offsets << " leave a hole of " << entry.begin - next << " bytes after "
                                << "tensor '" << printable_text(previous->name) << "', which ends at " << next);
    if (entry.begin < next)
      ROSETTA_INPUT_ERROR(where << ": " << offsets << " overlap tensor '" << printable_text(previous->name) << "' ["
                                << previous->begin << ", " << previous->end << "]");
    check_byte_count(entry, where);
    next = entry.end;
    previous = &entry;
  }
  if (data_bytes > next)
    ROSETTA_INPUT_ERROR(path << ": data section holds " << data_bytes << " bytes, but the tensors end at " << next
                             << " (" << data_bytes - next << " trailing bytes)");
  if (data_bytes < next)
    ROSETTA_INPUT_ERROR(path << ": data section holds " << data_bytes << " bytes, but the tensors end at " << next
                             << " (the file is truncated by " << next - data_bytes << " bytes)");
}

// ---- writing ---------------------------------------------------------------------------------------------

// The header JSON for `tensors` laid out back to back in the given order, padded with spaces to a multiple
// of 8 bytes. Caller mistakes (a repeated name, an undefined tensor) are Errors, raised before any file exists.
std::string build_header(const NamedTensors& tensors, const SafetensorsMetadata& metadata, const std::string& path) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header[kMetadataKey] = metadata;
  std::set<std::string> names;
  std::uint64_t offset = 0;
  for (const auto& [name, tensor] : tensors) {
    ROSETTA_CHECK(name != kMetadataKey, path << ": a tensor cannot be called " << kMetadataKey);
    ROSETTA_CHECK(names.insert(name).second, path << ": tensor '" << name << "' is listed twice");
    ROSETTA_CHECK(tensor.defined(), path << ": tensor '" << name << "' is undefined");
    nlohmann::ordered_json shape = nlohmann::ordered_json::array();
    for (std::int64_t d : tensor.shape()) shape.push_back(d);
    const std::uint64_t end = offset + tensor.nbytes();
    header[name] = {{"dtype", dtype_name(tensor.dtype())}, {"shape", shape}, {"data_offsets", {offset, end}}};
    offset = end;
  }
  std::string text;
  try {
    text = header.dump();
  } catch (const nlohmann::ordered_json::exception& e) {  // a name or metadata string that is not UTF-8
    ROSETTA_FAIL(path << ": cannot write the safetensors header: " << json_error_text(e));
  }
  text.append((kLengthBytes - text.size() % kLengthBytes) % kLengthBytes, ' ');
  return text;
}

}  // namespace

// ---- SafetensorsFile -------------------------------------------------------------------------------------

SafetensorsFile SafetensorsFile::open(const std::string& path) {
  const InputFile in(path, "a safetensors file");
  const std::uint64_t file_size = in.size();
  const std::uint64_t header_length = read_header_length(in);
  const std::string text = read_header_text(in, header_length);
  const json header = parse_header_json(text, path);
  SafetensorsFile file;
  file.path_ = path;
  file.data_start_ = kLengthBytes + header_length;
  file.metadata_ = parse_metadata(header, path);
  file.entries_ = parse_entries(header, path);
  check_layout(file.entries_, file_size - file.data_start_, path);
  return file;
}

const SafetensorsEntry* SafetensorsFile::find(const std::string& name) const {
  for (const SafetensorsEntry& entry : entries_)
    if (entry.name == name) return &entry;
  return nullptr;
}

Tensor SafetensorsFile::read(const std::string& name) const {
  const SafetensorsEntry* entry = find(name);
  if (entry == nullptr) ROSETTA_INPUT_ERROR(path_ << ": no tensor named '" << printable_text(name) << "'");
  if (!entry->dtype)
    ROSETTA_INPUT_ERROR(tensor_where(path_, name) << ": dtype " << entry->dtype_name << " is not one rosetta's tensors hold");
  Tensor tensor = Tensor::empty(entry->shape, *entry->dtype);
  read_into(*entry, tensor);
  return tensor;
}

void SafetensorsFile::read_into(const SafetensorsEntry& entry, const Tensor& destination) const {
  const std::string where = tensor_where(path_, entry.name);
  if (!entry.dtype) ROSETTA_INPUT_ERROR(where << ": dtype " << entry.dtype_name << " is not one rosetta's tensors hold");
  ROSETTA_CHECK(destination.device() == Device::cpu && destination.dtype() == *entry.dtype &&
                    destination.numel() == entry.shape.numel(),
                where << " (" << entry.dtype_name << " " << entry.shape.str() << ") read into a "
                      << device_name(destination.device()) << " " << dtype_name(destination.dtype()) << " tensor "
                      << destination.shape().str());
  if (entry.nbytes() == 0) return;
  const InputFile in(path_, "a safetensors file");
  if (in.size() < data_start_ + entry.end)
    ROSETTA_INPUT_ERROR(where << ": its bytes end at byte " << data_start_ + entry.end << " but the file has "
                              << in.size() << " (was the file changed after it was opened?)");
  in.read_at(data_start_ + entry.begin, destination.raw(), static_cast<std::size_t>(entry.nbytes()),
             "tensor " + printable_text(entry.name));
}

// ---- write_safetensors -----------------------------------------------------------------------------------

void write_safetensors(const std::string& path, const NamedTensors& tensors, const SafetensorsMetadata& metadata) {
  const std::string header = build_header(tensors, metadata, path);
  AtomicFile file(path);
  unsigned char length[kLengthBytes];
  for (std::uint64_t i = 0, n = header.size(); i < kLengthBytes; ++i, n >>= 8) length[i] = static_cast<unsigned char>(n & 0xFF);
  file.write(length, kLengthBytes);
  file.write(header.data(), header.size());
  for (const auto& named : tensors) {
    const Tensor& tensor = named.second;
    if (tensor.nbytes() == 0) continue;
    const Tensor host = tensor.device() == Device::cpu ? tensor : tensor.to(Device::cpu);
    file.write(host.raw(), host.nbytes());
  }
  file.commit();
}

}  // namespace rosetta
