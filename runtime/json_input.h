// JSON from untrusted files (the safetensors header, the convolution algorithm cache), parsed with time linear in
// the text and memory bounded before the document is built; and printable_text, how file text enters a message.
//
// Why not json::parse alone: a parsed document takes up to ~35 times its text (a 3-byte "{}," becomes a 16-byte
// value and a heap map), and nlohmann's callback parser, the usual place for extra checks, is quadratic in the
// number of objects inside one container (3.11.2 scans the parent for a discarded value at every object end: 400 KB
// of "[{},{},...]" takes 27 s, a 100 MB safetensors header days). So parse_json_input makes two linear passes: a SAX
// pass that checks the syntax, the nesting depth, the number of values and repeated keys while building nothing but
// the key sets of the open objects; then, only for a text that passed, the DOM parse without a callback.
//
// Invariants: time linear in the text (the key sets cost a log factor); memory of the first pass at most the keys of
// the open objects, of the second at most limits.max_values values. Every failure is one InputError line that starts
// with `where` ("model.safetensors: header"), or the duplicate-key handler's own line.
#pragma once
#include <cstddef>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>

namespace rosetta {

struct JsonInputLimits {
  int max_depth = 0;           // arrays and objects open at once
  std::size_t max_values = 0;  // scalars, arrays, objects and keys in the whole document
};

// Called for a key repeated in one object; it must throw. `objects` is how many objects are open (1: the top-level
// object), `owner` the key whose value the object is ("" for the top-level object).
using JsonDuplicateKey = std::function<void(std::size_t objects, const std::string& owner, const std::string& key)>;

// The document in `text`, checked as above. Without a handler a repeated key is "<where>: key '<key>' appears twice
// in one object".
nlohmann::json parse_json_input(const std::string& text, const std::string& where, const JsonInputLimits& limits,
                                const JsonDuplicateKey& on_duplicate = {});

// nlohmann's "[json.exception.parse_error.101] parse error at ...", without the bracketed id.
std::string json_error_text(const nlohmann::json::exception& e);

// Text from a file made safe inside a one-line message: control characters escaped, text longer than `max_chars`
// cut (between characters) and marked with "...".
std::string printable_text(const std::string& text, std::size_t max_chars = 120);

}  // namespace rosetta
