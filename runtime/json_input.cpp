// The two-pass bounded JSON parse of json_input.h, and printable_text.
#include "runtime/json_input.h"

#include <cstdio>
#include <set>
#include <vector>

#include "runtime/error.h"

namespace rosetta {
namespace {

using json = nlohmann::json;

// The first pass: nlohmann's SAX interface, counting and checking, building no document. Each failure throws.
class Checker : public nlohmann::json_sax<json> {
 public:
  Checker(const std::string& where, const JsonInputLimits& limits, const JsonDuplicateKey& on_duplicate)
      : where_(where), limits_(limits), on_duplicate_(on_duplicate) {}

  bool null() override { return count(); }
  bool boolean(bool) override { return count(); }
  bool number_integer(number_integer_t) override { return count(); }
  bool number_unsigned(number_unsigned_t) override { return count(); }
  bool number_float(number_float_t, const string_t&) override { return count(); }
  bool string(string_t&) override { return count(); }
  bool binary(binary_t&) override { return count(); }  // never called for JSON text
  bool start_object(std::size_t) override {
    open_container();
    objects_.push_back(Object{objects_.empty() ? "" : objects_.back().last_key, {}, {}});
    return true;
  }
  bool key(string_t& key) override {
    count();
    Object& object = objects_.back();
    if (!object.keys.insert(key).second) {
      if (on_duplicate_) on_duplicate_(objects_.size(), object.owner, key);
      ROSETTA_INPUT_ERROR(where_ << ": key '" << printable_text(key) << "' appears twice in one object");
    }
    object.last_key = key;
    return true;
  }
  bool end_object() override {
    objects_.pop_back();
    --depth_;
    return true;
  }
  bool start_array(std::size_t) override {
    open_container();
    return true;
  }
  bool end_array() override {
    --depth_;
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& e) override {
    ROSETTA_INPUT_ERROR(where_ << " is not valid JSON: " << printable_text(json_error_text(e), 400));
  }

 private:
  struct Object {
    std::string owner;  // the key this object is the value of
    std::set<std::string> keys;
    std::string last_key;
  };
  bool count() {
    if (++values_ > limits_.max_values)
      ROSETTA_INPUT_ERROR(where_ << " holds more than " << limits_.max_values
                                 << " JSON values (keys, scalars, arrays and objects), the cap");
    return true;
  }
  void open_container() {
    count();
    if (depth_ >= limits_.max_depth)
      ROSETTA_INPUT_ERROR(where_ << " nests more than " << limits_.max_depth << " arrays or objects deep");
    ++depth_;
  }

  const std::string& where_;
  const JsonInputLimits& limits_;
  const JsonDuplicateKey& on_duplicate_;
  std::vector<Object> objects_;  // the open objects, innermost last
  int depth_ = 0;                // open arrays and objects
  std::size_t values_ = 0;
};

}  // namespace

json parse_json_input(const std::string& text, const std::string& where, const JsonInputLimits& limits,
                      const JsonDuplicateKey& on_duplicate) {
  Checker checker(where, limits, on_duplicate);
  json::sax_parse(text, &checker);  // throws InputError on the first fault; a text that returns is valid JSON
  return json::parse(text);
}

std::string json_error_text(const json::exception& e) {
  std::string text = e.what();
  const auto close = text.find("] ");
  if (text.rfind("[json.exception.", 0) == 0 && close != std::string::npos) text = text.substr(close + 2);
  return text;
}

std::string printable_text(const std::string& text, std::size_t max_chars) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (out.size() >= max_chars && (c & 0xC0) != 0x80) return out + "...";  // cut between characters
    if (c == '\n') {
      out += "\\n";
    } else if (c < 0x20 || c == 0x7f) {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\x%02x", c);
      out += escaped;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

}  // namespace rosetta
