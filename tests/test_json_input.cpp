// runtime/json_input.h, the bounded JSON parse of the safetensors header and the algorithm cache: the value and
// depth caps hold exactly at their limits and refuse one past them, before the document is built; a repeated key
// reaches the handler with its place (or gets the default line); syntax errors are one line; and the parse of
// many objects inside one container is linear (nlohmann's callback parser, which this replaces, is quadratic
// there: a million objects would take an hour).
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <tuple>

#include "runtime/json_input.h"
#include "tests/support/input_error.h"
#include "tests/support/peak_memory.h"

namespace rosetta {
namespace {

using testing::expect_message;
using testing::input_error;

std::string repeated(const std::string& item, std::size_t n) {
  std::string text;
  text.reserve(item.size() * n + 2);
  text += '[';
  for (std::size_t i = 0; i < n; ++i) text += (i ? "," : "") + item;
  return text + ']';
}

TEST(JsonInput, TheValueCapCountsEveryValueAndHoldsExactly) {
  // {"a": [1, {"b": null}]}: the object, key a, the array, 1, the inner object, key b, null: 7 values.
  const std::string text = R"({"a": [1, {"b": null}]})";
  EXPECT_EQ(parse_json_input(text, "t", {8, 7}), nlohmann::json::parse(text));
  expect_message(input_error([&] { parse_json_input(text, "t.json", {8, 6}); }),
                 {"t.json holds more than 6 JSON values", "the cap"});
}

TEST(JsonInput, TheDepthCapHoldsExactly) {
  const std::string three = "[[{\"a\": 1}]]";
  EXPECT_NO_THROW(parse_json_input(three, "t", {3, 100}));
  expect_message(input_error([&] { parse_json_input(three, "t.json", {2, 100}); }),
                 {"t.json nests more than 2 arrays or objects deep"});
}

TEST(JsonInput, RepeatedKeysReachTheHandlerWithTheirPlace) {
  expect_message(input_error([] { parse_json_input(R"({"a": 1, "a": 2})", "t.json", {8, 100}); }),
                 {"t.json: key 'a' appears twice in one object"});
  std::vector<std::tuple<std::size_t, std::string, std::string>> seen;
  const JsonDuplicateKey record = [&](std::size_t objects, const std::string& owner, const std::string& key) {
    seen.emplace_back(objects, owner, key);
    ROSETTA_INPUT_ERROR("duplicate");
  };
  for (const char* text : {R"({"x": {"k": 1, "k": 2}})", R"({"x": [{"k": 1, "k": 2}]})", R"([{"k": 1, "k": 2}])"})
    EXPECT_EQ(input_error([&] { parse_json_input(text, "t", {8, 100}, record); }), "duplicate") << text;
  const std::vector<std::tuple<std::size_t, std::string, std::string>> expected = {
      {2, "x", "k"}, {2, "x", "k"}, {1, "", "k"}};
  EXPECT_EQ(seen, expected);
}

TEST(JsonInput, SyntaxErrorsAreOneLine) {
  expect_message(input_error([] { parse_json_input("{\"a\":\n\n 1,,}", "t.json", {8, 100}); }),
                 {"t.json is not valid JSON: parse error at line 3"});
  expect_message(input_error([] { parse_json_input("[1] 2", "t.json", {8, 100}); }), {"t.json is not valid JSON"});
}

TEST(JsonInput, AMillionObjectsInOneArrayParseInLinearTimeAndTheCapComesBeforeTheDocument) {
  const std::size_t n = std::size_t{1} << 20;
  const std::string objects = repeated("{}", n - 1);  // n values with the array
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(parse_json_input(objects, "t", {4, n}).size(), n - 1);
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), 30.0)
      << "a quadratic parse takes an hour here";
  // One value more: refused by the first pass, so the ~100 MB document is never built.
  const std::string more = repeated("{}", n);
  const testing::MeasuredRun run = testing::run_measured([&] { parse_json_input(more, "t.json", {4, n}); });
  expect_message(run.outcome, {"t.json holds more than 1048576 JSON values"});
  EXPECT_LT(run.peak_growth, std::uint64_t{16} << 20);
}

TEST(JsonInput, PrintableTextEscapesAndCuts) {
  EXPECT_EQ(printable_text("a\nb\tc"), "a\\nb\\x09c");
  EXPECT_EQ(printable_text(std::string(10, 'x'), 4), "xxxx...");
  EXPECT_EQ(printable_text("\xc3\xa9\xc3\xa9", 1), "\xc3\xa9...");  // never inside a character
}

}  // namespace
}  // namespace rosetta
