// The convolution algorithm cache's file, device-neutral (kernels/conv_algorithm_cache_file.h), on any machine:
// every field round-trips; a file of another GPU, cuDNN or format version yields nothing and a note; a missing
// file is a note; malformed files (syntax, structure, each field's type and range, the fp32 math rule, the bf16
// rule) are one InputError line naming the file, the entry and the field; and the bounds (file size, value count,
// nesting) refuse hostile files before they are read or built.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "kernels/conv_algorithm_cache_file.h"
#include "tests/support/input_error.h"
#include "tests/support/peak_memory.h"
#include "tests/support/temp_dir.h"

namespace rosetta {
namespace {

using kernels::ConvCacheContents;
using kernels::ConvCacheEntry;
using kernels::ConvCacheIdentity;
using kernels::ConvPass;
using testing::expect_message;
using testing::input_error;
using testing::TempDir;

const ConvCacheIdentity kH100{"NVIDIA H100 80GB HBM3", "9.19.0"};

// Two entries that differ in every field.
std::vector<ConvCacheEntry> two_entries() {
  ConvCacheEntry a;
  a.device = 0, a.pass = ConvPass::forward;
  a.shape.n = 64, a.shape.c = 3, a.shape.h = 32, a.shape.w = 32, a.shape.k = 50, a.shape.r = 3, a.shape.s = 3;
  a.shape.pad_h = a.shape.pad_w = 1;
  a.choice.backend = kernels::ConvBackend::cudnn, a.choice.algo = 1, a.choice.math_type = kernels::kCudnnFmaMath;
  a.choice.time_ms = 0.125f, a.choice.deterministic = true;
  ConvCacheEntry b;
  b.device = 3, b.pass = ConvPass::backward_filter;
  b.shape.n = 32, b.shape.c = 64, b.shape.h = 56, b.shape.w = 55, b.shape.k = 128, b.shape.r = 7, b.shape.s = 5;
  b.shape.pad_h = 3, b.shape.pad_w = 2, b.shape.stride_h = 2, b.shape.stride_w = 1;
  b.options.precision = Precision::bf16, b.options.layout = Layout::nhwc, b.options.deterministic = true;
  b.choice.backend = kernels::ConvBackend::cudnn, b.choice.algo = 6, b.choice.math_type = 1;
  b.choice.workspace_bytes = 123456789012ULL, b.choice.time_ms = 1.5f, b.choice.deterministic = false;
  return {a, b};
}

void expect_same(const ConvCacheEntry& a, const ConvCacheEntry& b) {
  EXPECT_EQ(a.device, b.device);
  EXPECT_EQ(a.pass, b.pass);
  EXPECT_EQ(a.shape.str(), b.shape.str());
  EXPECT_EQ(a.shape.n, b.shape.n);
  EXPECT_EQ(a.options.precision, b.options.precision);
  EXPECT_EQ(a.options.layout, b.options.layout);
  EXPECT_EQ(a.options.deterministic, b.options.deterministic);
  EXPECT_TRUE(a.choice == b.choice);
}

std::string error_of(const std::string& text) {
  return input_error([&] { kernels::parse_conv_cache_text(text, "cache.json", kH100); });
}

std::string replaced(std::string text, const std::string& from, const std::string& to) {
  const std::size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  return text.replace(at, from.size(), to);
}

TEST(ConvCacheText, RoundTripsEveryField) {
  const std::vector<ConvCacheEntry> entries = two_entries();
  const ConvCacheContents read = kernels::parse_conv_cache_text(kernels::conv_cache_text(entries, kH100), "c", kH100);
  EXPECT_EQ(read.note, "");
  ASSERT_EQ(read.entries.size(), 2u);
  for (std::size_t i = 0; i < 2; ++i) expect_same(read.entries[i], entries[i]);
  EXPECT_NE(kernels::conv_cache_text(entries, kH100).find("\"dtype\": \"bf16\""), std::string::npos);
}

TEST(ConvCacheText, AnotherIdentityOrVersionYieldsNothingAndANote) {
  const std::string text = kernels::conv_cache_text(two_entries(), kH100);
  for (const ConvCacheIdentity& other : {ConvCacheIdentity{"NVIDIA H200", "9.19.0"}, ConvCacheIdentity{kH100.gpu, "9.20.0"}}) {
    const ConvCacheContents read = kernels::parse_conv_cache_text(text, "c", other);
    EXPECT_TRUE(read.entries.empty());
    EXPECT_NE(read.note.find("ignored"), std::string::npos) << read.note;
    EXPECT_NE(read.note.find(other.gpu + " with cuDNN " + other.cudnn), std::string::npos) << read.note;
  }
  const ConvCacheContents v2 = kernels::parse_conv_cache_text(replaced(text, "\"version\": 1", "\"version\": 2"), "c", kH100);
  EXPECT_TRUE(v2.entries.empty());
  EXPECT_NE(v2.note.find("format version 2"), std::string::npos) << v2.note;
}

TEST(ConvCacheText, MalformedFilesNameTheFileEntryAndField) {
  const std::string valid = kernels::conv_cache_text(two_entries(), kH100);
  expect_message(error_of("{\"format\": \"rosetta-conv-algorithms\", \"version\": 1, "), {"cache.json", "not valid JSON"});
  expect_message(error_of("[1, 2, 3]"), {"cache.json", "not a rosetta conv algorithm cache"});
  expect_message(error_of("{\"format\": 5, \"version\": 1}"), {"not a rosetta conv algorithm cache"});
  expect_message(error_of("{\"format\": \"rosetta-conv-algorithms\", \"version\": 1, \"gpu\": \"x\"}"), {"entries"});
  expect_message(error_of(replaced(valid, "\"n\": 64", "\"n\": \"64\"")), {"cache.json", "entries[0].n", "an integer"});
  expect_message(error_of(replaced(valid, "\"n\": 64", "\"n\": 0")), {"entries[0].n", "out of range [1, 2147483647]"});
  expect_message(error_of(replaced(valid, "\"algo\": 1", "\"algo\": 99")), {"entries[0].algo", "out of range [0, 7]"});
  expect_message(error_of(replaced(valid, "\"algo\": 6", "\"algo\": 7")), {"entries[1].algo", "out of range [0, 6]"});
  expect_message(error_of(replaced(valid, "\"math_type\": 3", "\"math_type\": 1")), {"entries[0].math_type", "CUDNN_FMA_MATH"});
  expect_message(error_of(replaced(valid, "\"math_type\": 1", "\"math_type\": 4")), {"entries[1].math_type", "out of range"});
  expect_message(error_of(replaced(valid, "\"dtype\": \"f32\"", "\"dtype\": \"bf16\"")), {"entries[0].dtype", "bf16 data"});
  expect_message(error_of(replaced(valid, "\"groups\": 1", "\"groups\": 2")), {"entries[0].groups"});
  expect_message(error_of(replaced(valid, "\"pass\": \"forward\"", "\"pass\": \"sideways\"")), {"entries[0].pass"});
  expect_message(error_of(replaced(valid, "\"time_ms\"", "\"time\"")), {"entries[0].time_ms", "missing"});
  expect_message(error_of(replaced(valid, "\"entries\": [", "\"entries\": [7, ")), {"entries[0]", "expected an object"});
  expect_message(error_of(replaced(valid, "\"gpu\"", "\"cudnn\": \"x\", \"gpu\"")), {"key 'cudnn' appears twice"});
}

TEST(ConvCacheFileReader, MissingFileIsANoteAndADirectoryAnError) {
  TempDir dir;
  const ConvCacheContents none = kernels::read_conv_cache_file(dir.file("absent.json"), kH100);
  EXPECT_TRUE(none.entries.empty());
  EXPECT_EQ(none.note, "no conv algorithm cache at " + dir.file("absent.json") + " yet");
  expect_message(input_error([&] { kernels::read_conv_cache_file(dir.path().string(), kH100); }),
                 {dir.path().string(), "is a directory, not a conv algorithm cache"});
  testing::write_file(dir.file("c.json"), kernels::conv_cache_text(two_entries(), kH100));
  EXPECT_EQ(kernels::read_conv_cache_file(dir.file("c.json"), kH100).entries.size(), 2u);
}

// A 20 GB (sparse) file is refused from its size, before a byte is read; a file of 2^20 + 1 values before its
// ~100 MB document is built; a deep one before it nests.
TEST(ConvCacheFileReader, HostileFilesAreRefusedBeforeTheyAreReadOrBuilt) {
  TempDir dir;
  const std::string huge = dir.file("huge.json");
  testing::write_file(huge, "{");
  std::filesystem::resize_file(huge, std::uint64_t{20} << 30);
  const testing::MeasuredRun run = testing::run_measured([&] { kernels::read_conv_cache_file(huge, kH100); });
  expect_message(run.outcome, {huge, "21474836480 bytes, above the cap of 16777216 bytes"});
  EXPECT_LT(run.peak_growth, std::uint64_t{4} << 20);

  std::string values = "{\"entries\": [";
  for (std::size_t i = 0; i < kernels::kConvCacheMaxValues; ++i) values += i ? ",{}" : "{}";
  expect_message(error_of(values + "]}"), {"cache.json holds more than 1048576 JSON values"});
  expect_message(error_of(std::string(17, '[') + std::string(17, ']')), {"cache.json nests more than 16"});
}

}  // namespace
}  // namespace rosetta
