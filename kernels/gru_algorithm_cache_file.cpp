// The GRU algorithm cache file's reader and writer, as specified in gru_algorithm_cache_file.h.
#include "kernels/gru_algorithm_cache_file.h"

#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <tuple>

#include "runtime/error.h"
#include "runtime/input_file.h"
#include "runtime/json_input.h"

namespace rosetta::kernels {
namespace {

using json = nlohmann::json;

constexpr const char* kFormat = "rosetta-rnn-algorithms";
constexpr int kFormatVersion = 1;
constexpr int kMaxDepth = 16;  // the file nests three deep; 16 leaves a misplaced bracket its field message
constexpr std::size_t kMaxNameBytes = 256;  // a GPU's name or a version: far longer than any real one

// Whether a search asked for with `candidates` can end with `winner`: cuDNN's search keeps one of cuDNN's algorithms,
// the automatic one that or the persistent GRU.
bool can_win(GruImplementation candidates, GruImplementation winner) {
  if (candidates == GruImplementation::cudnn) return winner == GruImplementation::cudnn;
  return candidates == GruImplementation::automatic &&
         (winner == GruImplementation::cudnn || winner == GruImplementation::persistent);
}

// The checks of one entry's fields; each failure is one InputError line naming the file, the entry and the field.
class EntryFields {
 public:
  EntryFields(const json& entry, const std::string& path, std::size_t index) : entry_(entry), path_(path), index_(index) {}

  [[noreturn]] void reject(const char* field, const std::string& expected) const {
    ROSETTA_INPUT_ERROR("RNN algorithm cache " << path_ << ": entries[" << index_ << "]." << field << ": " << expected);
  }
  const json& at(const char* field) const {
    const auto found = entry_.find(field);
    if (found == entry_.end()) reject(field, "missing");
    return *found;
  }
  std::string text(const char* field) const {
    const json& v = at(field);
    if (!v.is_string() || v.get_ref<const std::string&>().empty() ||
        v.get_ref<const std::string&>().size() > kMaxNameBytes)
      reject(field, "expected a string of 1 to " + std::to_string(kMaxNameBytes) + " bytes");
    return v.get<std::string>();
  }
  std::int64_t dimension(const char* field) const {
    const json& v = at(field);
    constexpr std::int64_t kMax = 2147483647;
    if (!v.is_number_integer() || (v.is_number_unsigned() && v.get<std::uint64_t>() > std::uint64_t(kMax)) ||
        v.get<std::int64_t>() < 1 || v.get<std::int64_t>() > kMax)
      reject(field, "expected an integer in [1, " + std::to_string(kMax) + "]");
    return v.get<std::int64_t>();
  }
  // The one of `values` whose name() the field holds.
  template <typename Enum, std::size_t Count>
  Enum one_of(const char* field, const Enum (&values)[Count], const char* (*name)(Enum), const char* expected) const {
    const json& v = at(field);
    if (v.is_string())
      for (Enum value : values)
        if (v.get_ref<const std::string&>() == name(value)) return value;
    reject(field, expected);
  }

 private:
  const json& entry_;
  const std::string& path_;
  std::size_t index_;
};

const char* io_name(bool padded) { return padded ? "padded" : "packed"; }

GruCacheEntry parse_entry(const json& value, const std::string& path, std::size_t index) {
  if (!value.is_object())
    ROSETTA_INPUT_ERROR("RNN algorithm cache " << path << ": entries[" << index << "]: expected an object");
  const EntryFields fields(value, path, index);
  GruCacheEntry entry;
  GruCacheKey& key = entry.key;
  key.gpu = fields.text("gpu");
  key.cudnn = fields.text("cudnn");
  if (!fields.at("cell").is_string() || fields.at("cell").get<std::string>() != "gru") fields.reject("cell", "expected \"gru\"");
  key.shape = GruShape{fields.dimension("t"), fields.dimension("n"), fields.dimension("i"), fields.dimension("h")};
  if (!gru_shape_fits_int(key.shape))
    fields.reject("t", "the shape " + key.shape.str() + " has tensors beyond 32-bit element counts");
  key.precision = fields.one_of("precision", {Precision::fp32, Precision::tf32}, precision_name, "expected fp32 or tf32");
  key.padded_io = fields.one_of("io", {false, true}, io_name, "expected packed or padded");
  key.candidates = fields.one_of("candidates", {GruImplementation::cudnn, GruImplementation::automatic},
                                 gru_implementation_name, "expected an implementation that searches: cudnn or auto");
  GruCacheChoice& choice = entry.choice;
  choice.implementation = fields.one_of("implementation", kGruImplementations, gru_implementation_name,
                                        "expected an implementation name");
  if (!can_win(key.candidates, choice.implementation))
    fields.reject("implementation", std::string("not one of the candidates ") + gru_implementation_name(key.candidates));
  if (choice.implementation == GruImplementation::cudnn) {
    choice.algorithm = fields.one_of("algorithm",
                                     {GruCudnnAlgorithm::standard, GruCudnnAlgorithm::persist_static,
                                      GruCudnnAlgorithm::persist_dynamic, GruCudnnAlgorithm::persist_static_small_h},
                                     gru_cudnn_algorithm_name, "expected a cuDNN RNN algorithm name");
  } else if (!fields.at("algorithm").is_null()) {
    fields.reject("algorithm", "expected null: the winner is not cuDNN");
  }
  const json& ms = fields.at("milliseconds");
  if (!ms.is_number() || !std::isfinite(ms.get<double>()) || ms.get<double>() < 0)
    fields.reject("milliseconds", "expected a finite number >= 0");
  choice.milliseconds = ms.get<double>();
  return entry;
}

json entry_json(const GruCacheEntry& e) {
  const GruCacheKey& k = e.key;
  const GruCacheChoice& c = e.choice;
  return json{{"gpu", k.gpu},
              {"cudnn", k.cudnn},
              {"cell", "gru"},
              {"t", k.shape.t},
              {"n", k.shape.n},
              {"i", k.shape.i},
              {"h", k.shape.h},
              {"precision", precision_name(k.precision)},
              {"io", io_name(k.padded_io)},
              {"candidates", gru_implementation_name(k.candidates)},
              {"implementation", gru_implementation_name(c.implementation)},
              {"algorithm", c.implementation == GruImplementation::cudnn ? json(gru_cudnn_algorithm_name(c.algorithm))
                                                                         : json(nullptr)},
              {"milliseconds", c.milliseconds}};
}

auto key_tuple(const GruCacheKey& k) {
  return std::tie(k.gpu, k.cudnn, k.shape.t, k.shape.n, k.shape.i, k.shape.h, k.precision, k.padded_io, k.candidates);
}

}  // namespace

bool operator<(const GruCacheKey& a, const GruCacheKey& b) { return key_tuple(a) < key_tuple(b); }
bool operator==(const GruCacheKey& a, const GruCacheKey& b) { return key_tuple(a) == key_tuple(b); }
bool operator==(const GruCacheChoice& a, const GruCacheChoice& b) {
  return a.implementation == b.implementation && a.milliseconds == b.milliseconds &&
         (a.implementation != GruImplementation::cudnn || a.algorithm == b.algorithm);
}

GruCacheContents parse_gru_cache_text(const std::string& text, const std::string& path) {
  GruCacheContents result;
  const json doc = parse_json_input(text, "RNN algorithm cache " + path, {kMaxDepth, kGruCacheMaxValues});
  const bool is_cache_file = doc.is_object() && doc.contains("format") && doc["format"].is_string() &&
                             doc["format"].get<std::string>() == kFormat && doc.contains("version") &&
                             doc["version"].is_number_integer();
  if (!is_cache_file)
    ROSETTA_INPUT_ERROR("RNN algorithm cache " << path << ": not a rosetta RNN algorithm cache (no \"format\": \""
                                               << kFormat << "\" and integer \"version\")");
  if (doc["version"].get<std::int64_t>() != kFormatVersion) {
    result.note = "format version " + doc["version"].dump() + ", this rosetta reads version " +
                  std::to_string(kFormatVersion);
    return result;
  }
  if (!doc.contains("entries") || !doc["entries"].is_array())
    ROSETTA_INPUT_ERROR("RNN algorithm cache " << path << ": needs an array \"entries\"");
  const json& entries = doc["entries"];
  for (std::size_t i = 0; i < entries.size(); ++i) result.entries.push_back(parse_entry(entries[i], path, i));
  return result;
}

GruCacheContents read_gru_cache_file(const std::string& path) {
  std::error_code error;
  if (std::filesystem::status(path, error).type() == std::filesystem::file_type::not_found) {
    GruCacheContents none;
    none.note = "no file yet";
    none.missing = true;
    return none;
  }
  const InputFile file(path, "an RNN algorithm cache");
  if (file.size() > kGruCacheMaxBytes)
    ROSETTA_INPUT_ERROR("RNN algorithm cache " << path << ": " << file.size() << " bytes, above the cap of "
                                               << kGruCacheMaxBytes << " bytes");
  std::string text(static_cast<std::size_t>(file.size()), '\0');
  file.read_at(0, text.data(), text.size(), "the cache");
  return parse_gru_cache_text(text, path);
}

std::string gru_cache_text(const std::vector<GruCacheEntry>& entries) {
  json doc{{"format", kFormat}, {"version", kFormatVersion}, {"entries", json::array()}};
  for (const GruCacheEntry& entry : entries) doc["entries"].push_back(entry_json(entry));
  return doc.dump(1) + "\n";
}

}  // namespace rosetta::kernels
