// The algorithm cache file's reader and writer, as specified in conv_algorithm_cache_file.h.
#include "kernels/conv_algorithm_cache_file.h"

#include <filesystem>
#include <nlohmann/json.hpp>

#include "runtime/error.h"
#include "runtime/input_file.h"
#include "runtime/json_input.h"

namespace rosetta::kernels {
namespace {

using json = nlohmann::json;

constexpr const char* kFormat = "rosetta-conv-algorithms";
constexpr int kFormatVersion = 1;
// The file nests three deep (the file, "entries", an entry); 16 leaves a misplaced bracket its field message.
constexpr int kMaxDepth = 16;

int algorithm_count(ConvPass pass) {
  switch (pass) {
    case ConvPass::forward: return kCudnnForwardAlgorithms;
    case ConvPass::backward_data: return kCudnnBackwardDataAlgorithms;
    case ConvPass::backward_filter: return kCudnnBackwardFilterAlgorithms;
  }
  return 0;
}

bool pass_from_name(const std::string& name, ConvPass* pass) {
  for (ConvPass p : {ConvPass::forward, ConvPass::backward_data, ConvPass::backward_filter}) {
    if (name == conv_pass_name(p)) {
      *pass = p;
      return true;
    }
  }
  return false;
}

// Reads one field of a cache-file entry, or throws InputError naming the file, the entry and the field.
class EntryReader {
 public:
  EntryReader(const json& entry, const std::string& path, std::size_t index)
      : entry_(entry), path_(path), index_(index) {}

  const json& field(const char* name) const {
    const auto it = entry_.find(name);
    if (it == entry_.end()) fail(name, "missing");
    return *it;
  }
  std::int64_t integer(const char* name, std::int64_t lo, std::int64_t hi) const {
    const json& v = field(name);
    if (!v.is_number_integer()) fail(name, "expected an integer");
    if (v.is_number_unsigned() && v.get<std::uint64_t>() > static_cast<std::uint64_t>(hi))
      fail(name, "out of range [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
    const std::int64_t value = v.get<std::int64_t>();
    if (value < lo || value > hi) fail(name, "out of range [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
    return value;
  }
  std::uint64_t unsigned_integer(const char* name) const {
    const json& v = field(name);
    if (!v.is_number_unsigned()) fail(name, "expected a non-negative integer");
    return v.get<std::uint64_t>();
  }
  double number(const char* name) const {
    const json& v = field(name);
    if (!v.is_number()) fail(name, "expected a number");
    return v.get<double>();
  }
  bool boolean(const char* name) const {
    const json& v = field(name);
    if (!v.is_boolean()) fail(name, "expected true or false");
    return v.get<bool>();
  }
  std::string string(const char* name) const {
    const json& v = field(name);
    if (!v.is_string()) fail(name, "expected a string");
    return v.get<std::string>();
  }
  [[noreturn]] void fail(const char* name, const std::string& what) const {
    ROSETTA_INPUT_ERROR("conv algorithm cache " << path_ << ": entries[" << index_ << "]." << name << ": " << what);
  }

 private:
  const json& entry_;
  const std::string& path_;
  std::size_t index_;
};

ConvCacheEntry parse_entry(const json& value, const std::string& path, std::size_t index) {
  if (!value.is_object())
    ROSETTA_INPUT_ERROR("conv algorithm cache " << path << ": entries[" << index << "]: expected an object");
  const EntryReader read(value, path, index);
  constexpr std::int64_t kMaxDim = 0x7fffffff;
  ConvCacheEntry entry;
  if (!pass_from_name(read.string("pass"), &entry.pass))
    read.fail("pass", "expected forward, backward_data or backward_filter");
  const std::string dtype = read.string("dtype");
  if (dtype != "f32" && dtype != "bf16") read.fail("dtype", "expected f32 or bf16");
  const std::string layout = read.string("layout");
  if (layout != "NCHW" && layout != "NHWC") read.fail("layout", "expected NCHW or NHWC");
  Precision precision{};
  if (!precision_from_name(read.string("precision").c_str(), &precision))
    read.fail("precision", "expected fp32, tf32 or bf16");
  if ((precision == Precision::bf16) != (dtype == "bf16"))
    read.fail("dtype", "bf16 data goes with precision bf16 (and only with it)");
  read.integer("dilation_h", 1, 1);  // rosetta's convolutions have dilation 1 and one group
  read.integer("dilation_w", 1, 1);
  read.integer("groups", 1, 1);

  ConvShape& shape = entry.shape;
  shape.n = read.integer("n", 1, kMaxDim);
  shape.c = read.integer("c", 1, kMaxDim);
  shape.h = read.integer("h", 1, kMaxDim);
  shape.w = read.integer("w", 1, kMaxDim);
  shape.k = read.integer("k", 1, kMaxDim);
  shape.r = read.integer("r", 1, kMaxDim);
  shape.s = read.integer("s", 1, kMaxDim);
  shape.pad_h = static_cast<int>(read.integer("pad_h", 0, kMaxDim));
  shape.pad_w = static_cast<int>(read.integer("pad_w", 0, kMaxDim));
  shape.stride_h = static_cast<int>(read.integer("stride_h", 1, kMaxDim));
  shape.stride_w = static_cast<int>(read.integer("stride_w", 1, kMaxDim));
  entry.options.precision = precision;
  entry.options.deterministic = read.boolean("deterministic");
  entry.options.layout = layout == "NHWC" ? Layout::nhwc : Layout::nchw;
  entry.device = static_cast<int>(read.integer("device", 0, 1023));

  ConvAlgorithmChoice& choice = entry.choice;
  choice.backend = ConvBackend::cudnn;
  choice.algo = static_cast<std::int32_t>(read.integer("algo", 0, algorithm_count(entry.pass) - 1));
  choice.math_type = static_cast<std::int32_t>(read.integer("math_type", 0, kCudnnMathTypes - 1));
  if (precision == Precision::fp32 && choice.math_type != kCudnnFmaMath)
    read.fail("math_type", "an fp32 entry must run under CUDNN_FMA_MATH (" + std::to_string(kCudnnFmaMath) + ")");
  choice.workspace_bytes = read.unsigned_integer("workspace_bytes");
  choice.time_ms = static_cast<float>(read.number("time_ms"));
  choice.deterministic = read.boolean("algo_deterministic");
  return entry;
}

json entry_json(const ConvCacheEntry& e) {
  const ConvShape& s = e.shape;
  return json{{"pass", conv_pass_name(e.pass)},
              {"device", e.device},
              {"dtype", e.options.precision == Precision::bf16 ? "bf16" : "f32"},
              {"layout", e.options.layout == Layout::nhwc ? "NHWC" : "NCHW"},
              {"n", s.n},
              {"c", s.c},
              {"h", s.h},
              {"w", s.w},
              {"k", s.k},
              {"r", s.r},
              {"s", s.s},
              {"pad_h", s.pad_h},
              {"pad_w", s.pad_w},
              {"stride_h", s.stride_h},
              {"stride_w", s.stride_w},
              {"dilation_h", 1},
              {"dilation_w", 1},
              {"groups", 1},
              {"precision", precision_name(e.options.precision)},
              {"deterministic", e.options.deterministic},
              {"algo", e.choice.algo},
              {"math_type", e.choice.math_type},
              {"workspace_bytes", e.choice.workspace_bytes},
              {"time_ms", e.choice.time_ms},
              {"algo_deterministic", e.choice.deterministic}};
}

}  // namespace

ConvCacheContents parse_conv_cache_text(const std::string& text, const std::string& path,
                                        const ConvCacheIdentity& identity) {
  ConvCacheContents result;
  const json doc = parse_json_input(text, "conv algorithm cache " + path, {kMaxDepth, kConvCacheMaxValues});
  const bool is_cache_file = doc.is_object() && doc.contains("format") && doc["format"].is_string() &&
                             doc["format"].get<std::string>() == kFormat && doc.contains("version") &&
                             doc["version"].is_number_integer();
  if (!is_cache_file)
    ROSETTA_INPUT_ERROR("conv algorithm cache " << path << ": not a rosetta conv algorithm cache (no \"format\": \""
                                                << kFormat << "\" and integer \"version\")");
  if (doc["version"].get<std::int64_t>() != kFormatVersion) {
    result.note = "ignored conv algorithm cache " + path + ": format version " + doc["version"].dump() +
                  ", this rosetta reads version " + std::to_string(kFormatVersion);
    return result;
  }
  if (!doc.contains("gpu") || !doc["gpu"].is_string() || !doc.contains("cudnn") || !doc["cudnn"].is_string() ||
      !doc.contains("entries") || !doc["entries"].is_array())
    ROSETTA_INPUT_ERROR("conv algorithm cache " << path
                                                << ": needs string \"gpu\", string \"cudnn\" and array \"entries\"");
  const std::string gpu = doc["gpu"].get<std::string>(), cudnn = doc["cudnn"].get<std::string>();
  if (gpu != identity.gpu || cudnn != identity.cudnn) {
    result.note = "ignored conv algorithm cache " + path + ": written for " + printable_text(gpu) + " with cuDNN " +
                  printable_text(cudnn) + ", this is " + identity.gpu + " with cuDNN " + identity.cudnn;
    return result;
  }
  const json& entries = doc["entries"];
  for (std::size_t i = 0; i < entries.size(); ++i) result.entries.push_back(parse_entry(entries[i], path, i));
  return result;
}

ConvCacheContents read_conv_cache_file(const std::string& path, const ConvCacheIdentity& identity) {
  std::error_code error;
  if (std::filesystem::status(path, error).type() == std::filesystem::file_type::not_found) {
    ConvCacheContents none;
    none.note = "no conv algorithm cache at " + path + " yet";
    return none;
  }
  const InputFile file(path, "a conv algorithm cache");
  if (file.size() > kConvCacheMaxBytes)
    ROSETTA_INPUT_ERROR("conv algorithm cache " << path << ": " << file.size() << " bytes, above the cap of "
                                                << kConvCacheMaxBytes << " bytes");
  std::string text(static_cast<std::size_t>(file.size()), '\0');
  file.read_at(0, text.data(), text.size(), "the cache");
  return parse_conv_cache_text(text, path, identity);
}

std::string conv_cache_text(const std::vector<ConvCacheEntry>& entries, const ConvCacheIdentity& identity) {
  json doc{{"format", kFormat},
           {"version", kFormatVersion},
           {"gpu", identity.gpu},
           {"cudnn", identity.cudnn},
           {"entries", json::array()}};
  for (const ConvCacheEntry& entry : entries) doc["entries"].push_back(entry_json(entry));
  return doc.dump(1) + "\n";
}

}  // namespace rosetta::kernels
