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
constexpr int kFormatVersion = 2;
// The file nests five deep (the file, "entries", an entry, "candidates", a candidate); 16 leaves a misplaced
// bracket its field message.
constexpr int kMaxDepth = 16;
constexpr std::int64_t kMaxInt32 = 0x7fffffff;

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

// Reads the fields of one JSON object of the file, or throws InputError naming the file, where the object is
// ("entries[3]", "entries[3].candidates[1]") and the field.
class FieldReader {
 public:
  FieldReader(const json& object, const std::string& path, std::string where)
      : object_(object), path_(path), where_(std::move(where)) {
    if (!object.is_object())
      ROSETTA_INPUT_ERROR("conv algorithm cache " << path_ << ": " << where_ << ": expected an object");
  }

  const json& field(const char* name) const {
    const auto it = object_.find(name);
    if (it == object_.end()) fail(name, "missing");
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
  // A time in milliseconds: a finite number >= 0.
  float milliseconds(const char* name) const {
    const json& v = field(name);
    if (!v.is_number()) fail(name, "expected a number");
    const double value = v.get<double>();
    if (!(value >= 0.0 && value < 1e9)) fail(name, "expected a time in milliseconds, >= 0");
    return static_cast<float>(value);
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
    ROSETTA_INPUT_ERROR("conv algorithm cache " << path_ << ": " << where_ << "." << name << ": " << what);
  }
  const std::string& where() const { return where_; }

 private:
  const json& object_;
  const std::string& path_;
  std::string where_;
};

// One choice of an entry whose pass and options are known, with every rule of its backend (see the header).
ConvAlgorithmChoice parse_choice(const json& value, const std::string& path, const std::string& where, ConvPass pass,
                                 const ConvOptions& options) {
  const FieldReader read(value, path, where);
  ConvAlgorithmChoice choice;
  const std::string backend = read.string("backend");
  if (!conv_backend_from_name(backend, &choice.backend) || choice.backend == ConvBackend::cpu_im2col_gemm)
    read.fail("backend", "expected cudnn, cudnn-graph, cublaslt or direct");
  const bool fused_backend = choice.backend != ConvBackend::cudnn;
  if (choice.backend == ConvBackend::direct) {
    if (pass == ConvPass::backward_data) read.fail("backend", "direct runs the forward pass and the filter gradient");
  } else if (fused_backend && pass != ConvPass::forward) {
    read.fail("backend", std::string(backend) + " runs the forward pass only");
  }
  if (choice.backend == ConvBackend::cudnn_graph &&
      (options.layout != Layout::nhwc || options.precision == Precision::fp32))
    read.fail("backend", "cudnn-graph entries are NHWC tf32 or bf16");
  if (choice.backend == ConvBackend::cublaslt && options.layout == Layout::nchw && options.precision == Precision::bf16)
    read.fail("backend", "cublaslt runs bf16 in NHWC only");
  if (options.backend && choice.backend != *options.backend && choice.backend != ConvBackend::cudnn)
    read.fail("backend", std::string("the entry forced ") + conv_backend_name(*options.backend) +
                             ": its choice is that backend or cudnn");
  if (fused_backend) {
    choice.algo = static_cast<std::int32_t>(read.integer("algo", 0, kMaxInt32));
    choice.math_type = static_cast<std::int32_t>(read.integer("math_type", 0, 0));
    choice.variant = static_cast<std::int32_t>(read.integer("variant", 0, kConvMaxVariants - 1));
  } else {
    choice.algo = static_cast<std::int32_t>(read.integer("algo", 0, algorithm_count(pass) - 1));
    choice.math_type = static_cast<std::int32_t>(read.integer("math_type", 0, kCudnnMathTypes - 1));
    if (options.precision == Precision::fp32 && choice.math_type != kCudnnFmaMath)
      read.fail("math_type", "an fp32 entry must run under CUDNN_FMA_MATH (" + std::to_string(kCudnnFmaMath) + ")");
    choice.variant = static_cast<std::int32_t>(read.integer("variant", 0, 0));
  }
  choice.workspace_bytes = read.unsigned_integer("workspace_bytes");
  choice.time_ms = read.milliseconds("time_ms");
  choice.find_time_ms = read.milliseconds("find_time_ms");
  choice.deterministic = read.boolean("deterministic");
  return choice;
}

ConvCacheEntry parse_entry(const json& value, const std::string& path, std::size_t index) {
  const FieldReader read(value, path, "entries[" + std::to_string(index) + "]");
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
  shape.n = read.integer("n", 1, kMaxInt32);
  shape.c = read.integer("c", 1, kMaxInt32);
  shape.h = read.integer("h", 1, kMaxInt32);
  shape.w = read.integer("w", 1, kMaxInt32);
  shape.k = read.integer("k", 1, kMaxInt32);
  shape.r = read.integer("r", 1, kMaxInt32);
  shape.s = read.integer("s", 1, kMaxInt32);
  shape.pad_h = static_cast<int>(read.integer("pad_h", 0, kMaxInt32));
  shape.pad_w = static_cast<int>(read.integer("pad_w", 0, kMaxInt32));
  shape.stride_h = static_cast<int>(read.integer("stride_h", 1, kMaxInt32));
  shape.stride_w = static_cast<int>(read.integer("stride_w", 1, kMaxInt32));
  ConvOptions& options = entry.options;
  options.precision = precision;
  options.deterministic = read.boolean("deterministic");
  options.layout = layout == "NHWC" ? Layout::nhwc : Layout::nchw;
  if (!conv_epilogue_from_name(read.string("epilogue"), &options.epilogue))
    read.fail("epilogue", "expected any, bias, bias+relu, bias+residual or bias+residual+relu");
  if (options.epilogue != ConvEpilogue::any && entry.pass != ConvPass::forward)
    read.fail("epilogue", "only a forward entry declares an epilogue");
  const std::string request = read.string("backend_request");
  ConvBackend forced{};
  if (request != "auto") {
    if (!conv_backend_from_name(request, &forced) || forced == ConvBackend::cpu_im2col_gemm)
      read.fail("backend_request", "expected auto, cudnn, cudnn-graph, cublaslt or direct");
    options.backend = forced;
  }
  entry.device = static_cast<int>(read.integer("device", 0, 1023));
  entry.choice = parse_choice(read.field("choice"), path, read.where() + ".choice", entry.pass, options);
  const json& candidates = read.field("candidates");
  if (!candidates.is_array()) read.fail("candidates", "expected an array");
  if (candidates.size() > kConvCacheMaxCandidates)
    read.fail("candidates", std::to_string(candidates.size()) + " candidates, above the cap of " +
                                std::to_string(kConvCacheMaxCandidates));
  for (std::size_t i = 0; i < candidates.size(); ++i)
    entry.candidates.push_back(parse_choice(candidates[i], path,
                                            read.where() + ".candidates[" + std::to_string(i) + "]", entry.pass,
                                            options));
  return entry;
}

json choice_json(const ConvAlgorithmChoice& c) {
  return json{{"backend", conv_backend_name(c.backend)},
              {"algo", c.algo},
              {"math_type", c.math_type},
              {"variant", c.variant},
              {"workspace_bytes", c.workspace_bytes},
              {"time_ms", c.time_ms},
              {"find_time_ms", c.find_time_ms},
              {"deterministic", c.deterministic}};
}

json entry_json(const ConvCacheEntry& e) {
  const ConvShape& s = e.shape;
  json candidates = json::array();
  for (const ConvAlgorithmChoice& c : e.candidates) candidates.push_back(choice_json(c));
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
              {"epilogue", conv_epilogue_name(e.options.epilogue)},
              {"backend_request", e.options.backend ? conv_backend_name(*e.options.backend) : "auto"},
              {"choice", choice_json(e.choice)},
              {"candidates", candidates}};
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
  ConvCacheContents contents;
  try {
    const InputFile file(path, "a conv algorithm cache");
    if (file.size() > kConvCacheMaxBytes)
      ROSETTA_INPUT_ERROR("conv algorithm cache " << path << ": " << file.size() << " bytes, above the cap of "
                                                  << kConvCacheMaxBytes << " bytes");
    std::string text(static_cast<std::size_t>(file.size()), '\0');
    file.read_at(0, text.data(), text.size(), "the cache");
    contents = parse_conv_cache_text(text, path, identity);
  } catch (const InputError& e) {
    // The cache is rosetta's own scratch, not the user's input: a file that cannot be used is searched around and
    // overwritten, never fatal.
    contents = ConvCacheContents{};
    contents.note = e.what();
  }
  if (!contents.note.empty()) {
    contents.rejected = true;
    contents.note += "; searching afresh";
  }
  return contents;
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
