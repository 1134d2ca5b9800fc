// The convolution algorithm cache's file, device-neutral (kernels/conv_algorithm_cache_file.h), on any machine:
// every field round-trips (each backend's choice and the timed candidates); a file of another GPU, cuDNN or format
// version yields nothing and a note; a missing file is a note; malformed text (syntax, structure, each field's type
// and range, the fp32 math rule, the bf16 rule, each backend's rules) is one InputError line naming the file, the
// entry and the field, and the file reader turns it into a rejection (a one-line note, no entries, no exception);
// and the bounds (file size, value count, nesting, candidates) refuse hostile files before they are read or built.
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

// Three entries that differ in every field: an fp32 legacy cuDNN forward with its timed candidates (Find's time
// beside), a bf16 filter gradient, and a bf16 NHWC forward declared for its epilogue under a forced backend.
std::vector<ConvCacheEntry> three_entries() {
  ConvCacheEntry a;
  a.device = 0, a.pass = ConvPass::forward;
  a.shape.n = 64, a.shape.c = 3, a.shape.h = 32, a.shape.w = 32, a.shape.k = 50, a.shape.r = 3, a.shape.s = 3;
  a.shape.pad_h = a.shape.pad_w = 1;
  a.options.forward_only = true;
  a.choice.backend = kernels::ConvBackend::cudnn, a.choice.algo = 1, a.choice.math_type = kernels::kCudnnFmaMath;
  a.choice.time_ms = 0.125f, a.choice.find_time_ms = 0.5f, a.choice.deterministic = true;
  kernels::ConvAlgorithmChoice slower = a.choice;
  slower.algo = 7, slower.time_ms = 0.25f, slower.find_time_ms = 0.375f, slower.workspace_bytes = 1 << 20;
  a.candidates = {a.choice, slower};
  ConvCacheEntry b;
  b.device = 3, b.pass = ConvPass::backward_filter;
  b.shape.n = 32, b.shape.c = 64, b.shape.h = 56, b.shape.w = 55, b.shape.k = 128, b.shape.r = 7, b.shape.s = 5;
  b.shape.pad_h = 3, b.shape.pad_w = 2, b.shape.stride_h = 2, b.shape.stride_w = 1;
  b.options.precision = Precision::bf16, b.options.layout = Layout::nhwc, b.options.deterministic = true;
  b.choice.backend = kernels::ConvBackend::cudnn, b.choice.algo = 6, b.choice.math_type = 1;
  b.choice.workspace_bytes = 123456789012ULL, b.choice.time_ms = 1.5f, b.choice.deterministic = false;
  ConvCacheEntry c;
  c.device = 1, c.pass = ConvPass::forward;
  c.shape.n = 8, c.shape.c = 256, c.shape.h = 28, c.shape.w = 28, c.shape.k = 512, c.shape.r = 1, c.shape.s = 1;
  c.shape.stride_h = c.shape.stride_w = 2;
  c.options.precision = Precision::bf16, c.options.layout = Layout::nhwc, c.options.forward_only = true;
  c.options.epilogue = kernels::ConvEpilogue::bias;
  c.options.backend = kernels::ConvBackend::cublaslt;
  c.choice.backend = kernels::ConvBackend::cublaslt, c.choice.algo = 66, c.choice.variant = 3;
  c.choice.workspace_bytes = 4096, c.choice.time_ms = 0.0625f;
  kernels::ConvAlgorithmChoice graph;
  graph.backend = kernels::ConvBackend::cudnn_graph, graph.algo = 12, graph.variant = 1, graph.time_ms = 0.07f;
  c.candidates = {c.choice};
  ConvCacheEntry d = c;  // the same layer free to choose: the graph API's engine won
  d.options.backend.reset();
  d.choice = graph, d.candidates = {graph, c.choice};
  return {a, b, c, d};
}

void expect_same(const ConvCacheEntry& a, const ConvCacheEntry& b) {
  EXPECT_EQ(a.device, b.device);
  EXPECT_EQ(a.pass, b.pass);
  EXPECT_EQ(a.shape.str(), b.shape.str());
  EXPECT_EQ(a.shape.n, b.shape.n);
  EXPECT_EQ(a.options.precision, b.options.precision);
  EXPECT_EQ(a.options.layout, b.options.layout);
  EXPECT_EQ(a.options.deterministic, b.options.deterministic);
  EXPECT_EQ(a.options.epilogue, b.options.epilogue);
  EXPECT_EQ(a.options.backend, b.options.backend);
  EXPECT_TRUE(a.choice == b.choice);
  EXPECT_TRUE(a.candidates == b.candidates);
}

std::string error_of(const std::string& text) {
  return input_error([&] { kernels::parse_conv_cache_text(text, "cache.json", kH100); });
}

// `text` with the (n+1)-th occurrence of `from` replaced by `to`.
std::string replaced(std::string text, const std::string& from, const std::string& to, int n = 0) {
  std::size_t at = text.find(from);
  for (int i = 0; i < n && at != std::string::npos; ++i) at = text.find(from, at + 1);
  EXPECT_NE(at, std::string::npos) << from;
  return text.replace(at, from.size(), to);
}

TEST(ConvCacheText, RoundTripsEveryField) {
  const std::vector<ConvCacheEntry> entries = three_entries();
  const ConvCacheContents read = kernels::parse_conv_cache_text(kernels::conv_cache_text(entries, kH100), "c", kH100);
  EXPECT_EQ(read.note, "");
  EXPECT_FALSE(read.rejected);
  ASSERT_EQ(read.entries.size(), entries.size());
  for (std::size_t i = 0; i < entries.size(); ++i) expect_same(read.entries[i], entries[i]);
  EXPECT_NE(kernels::conv_cache_text(entries, kH100).find("\"dtype\": \"bf16\""), std::string::npos);
}

// The direct backend's entries (conv1's forward and filter gradient, forced): they round-trip; a direct choice of a
// data gradient is refused (the direct kernels do not run it).
TEST(ConvCacheText, DirectEntriesRoundTripAndServeNoDataGradient) {
  ConvCacheEntry e;
  e.pass = ConvPass::backward_filter;
  e.shape.n = 64, e.shape.c = 3, e.shape.h = e.shape.w = 32, e.shape.k = 50, e.shape.r = e.shape.s = 3;
  e.shape.pad_h = e.shape.pad_w = 1;
  e.options.backend = kernels::ConvBackend::direct;
  e.choice.backend = kernels::ConvBackend::direct, e.choice.algo = 256, e.choice.variant = 0;
  e.choice.workspace_bytes = 1605632, e.choice.time_ms = 0.02f;
  e.candidates = {e.choice};
  ConvCacheEntry f = e;
  f.pass = ConvPass::forward, f.choice.algo = 8, f.choice.workspace_bytes = 0, f.candidates = {f.choice};
  const std::string text = kernels::conv_cache_text({e, f}, kH100);
  const ConvCacheContents read = kernels::parse_conv_cache_text(text, "c", kH100);
  ASSERT_EQ(read.entries.size(), 2u) << read.note;
  expect_same(read.entries[0], e);
  expect_same(read.entries[1], f);
  expect_message(error_of(replaced(text, "\"pass\": \"backward_filter\"", "\"pass\": \"backward_data\"")),
                 {"entries[0]", "backend", "direct runs the forward pass and the filter gradient"});
}

TEST(ConvCacheText, AnotherIdentityOrVersionYieldsNothingAndANote) {
  const std::string text = kernels::conv_cache_text(three_entries(), kH100);
  for (const ConvCacheIdentity& other : {ConvCacheIdentity{"NVIDIA H200", "9.19.0"}, ConvCacheIdentity{kH100.gpu, "9.20.0"}}) {
    const ConvCacheContents read = kernels::parse_conv_cache_text(text, "c", other);
    EXPECT_TRUE(read.entries.empty());
    EXPECT_NE(read.note.find("ignored"), std::string::npos) << read.note;
    EXPECT_NE(read.note.find(other.gpu + " with cuDNN " + other.cudnn), std::string::npos) << read.note;
  }
  for (const char* other : {"\"version\": 1", "\"version\": 3"}) {
    const ConvCacheContents read = kernels::parse_conv_cache_text(replaced(text, "\"version\": 2", other), "c", kH100);
    EXPECT_TRUE(read.entries.empty());
    EXPECT_NE(read.note.find(std::string("format version ") + other[11]), std::string::npos) << read.note;
  }
}

TEST(ConvCacheText, MalformedFilesNameTheFileEntryAndField) {
  const std::string valid = kernels::conv_cache_text(three_entries(), kH100);
  expect_message(error_of("{\"format\": \"rosetta-conv-algorithms\", \"version\": 2, "), {"cache.json", "not valid JSON"});
  expect_message(error_of("[1, 2, 3]"), {"cache.json", "not a rosetta conv algorithm cache"});
  expect_message(error_of("{\"format\": 5, \"version\": 1}"), {"not a rosetta conv algorithm cache"});
  expect_message(error_of("{\"format\": \"rosetta-conv-algorithms\", \"version\": 2, \"gpu\": \"x\"}"), {"entries"});
  expect_message(error_of(replaced(valid, "\"n\": 64", "\"n\": \"64\"")), {"cache.json", "entries[0].n", "an integer"});
  expect_message(error_of(replaced(valid, "\"n\": 64", "\"n\": 0")), {"entries[0].n", "out of range [1, 2147483647]"});
  // The first entry's candidates come before its choice (the writer sorts keys): candidates[0] is its choice.
  expect_message(error_of(replaced(valid, "\"algo\": 1", "\"algo\": 99")),
                 {"entries[0].candidates[0].algo", "out of range [0, 7]"});
  expect_message(error_of(replaced(valid, "\"algo\": 6", "\"algo\": 7")), {"entries[1].choice.algo", "out of range [0, 6]"});
  expect_message(error_of(replaced(valid, "\"math_type\": 3", "\"math_type\": 1")),
                 {"entries[0].candidates[0].math_type", "CUDNN_FMA_MATH"});
  expect_message(error_of(replaced(valid, "\"math_type\": 1", "\"math_type\": 4")), {"entries[1].choice.math_type", "out of range"});
  expect_message(error_of(replaced(valid, "\"dtype\": \"f32\"", "\"dtype\": \"bf16\"")), {"entries[0].dtype", "bf16 data"});
  expect_message(error_of(replaced(valid, "\"groups\": 1", "\"groups\": 2")), {"entries[0].groups"});
  expect_message(error_of(replaced(valid, "\"pass\": \"forward\"", "\"pass\": \"sideways\"")), {"entries[0].pass"});
  expect_message(error_of(replaced(valid, "\"time_ms\": 0.125", "\"time\": 0.125")),
                 {"entries[0].candidates[0].time_ms", "missing"});
  expect_message(error_of(replaced(valid, "\"time_ms\": 0.125", "\"time_ms\": -1")), {"time_ms", ">= 0"});
  expect_message(error_of(replaced(valid, "\"epilogue\": \"any\"", "\"epilogue\": \"gelu\"")), {"entries[0].epilogue"});
  expect_message(error_of(replaced(valid, "\"backend_request\": \"cublaslt\"", "\"backend_request\": \"cpu\"")),
                 {"backend_request", "expected auto, cudnn, cudnn-graph, cublaslt or direct"});
  expect_message(error_of(replaced(valid, "\"backend\": \"cudnn\"", "\"backend\": \"mkl\"")), {"backend", "expected cudnn"});
  // A backend's rules: the fused backends run the forward pass only; cudnn-graph is NHWC tf32/bf16; a forced
  // backend's entry holds that backend's choice (or the legacy fallback's).
  // entries[0] names cudnn three times (two candidates, the choice); entries[1]'s choice is the fourth.
  expect_message(error_of(replaced(valid, "\"backend\": \"cudnn\"", "\"backend\": \"cublaslt\"", 3)),
                 {"entries[1].choice.backend", "forward pass only"});
  expect_message(error_of(replaced(valid, "\"variant\": 3", "\"variant\": 64")), {"variant", "out of range [0, 63]"});
  std::string graph_under_lt = valid;
  const std::size_t forced = graph_under_lt.find("\"backend_request\": \"cublaslt\"");
  graph_under_lt.replace(graph_under_lt.find("\"backend\": \"cublaslt\"", forced), 21, "\"backend\": \"cudnn-graph\"");
  expect_message(error_of(graph_under_lt), {"the entry forced cublaslt"});
  expect_message(error_of(replaced(valid, "\"entries\": [", "\"entries\": [7, ")), {"entries[0]", "expected an object"});
  expect_message(error_of(replaced(valid, "\"gpu\"", "\"cudnn\": \"x\", \"gpu\"")), {"key 'cudnn' appears twice"});
}

// The reader never throws for what is at the path: a missing file is a note; a directory, a malformed, old-version
// or foreign file is rejected with the one line that says why (the planner searches afresh and saves over it).
TEST(ConvCacheFileReader, MissingIsANoteAndAnUnusableFileARejection) {
  TempDir dir;
  const ConvCacheContents none = kernels::read_conv_cache_file(dir.file("absent.json"), kH100);
  EXPECT_TRUE(none.entries.empty());
  EXPECT_FALSE(none.rejected);
  EXPECT_EQ(none.note, "no conv algorithm cache at " + dir.file("absent.json") + " yet");
  const auto expect_rejected = [&](const std::string& path, const std::vector<std::string>& expected) {
    const ConvCacheContents read = kernels::read_conv_cache_file(path, kH100);
    EXPECT_TRUE(read.rejected) << path;
    EXPECT_TRUE(read.entries.empty());
    EXPECT_EQ(read.note.find('\n'), std::string::npos) << read.note;
    for (const std::string& part : expected) EXPECT_NE(read.note.find(part), std::string::npos) << read.note;
    EXPECT_NE(read.note.find("searching afresh"), std::string::npos) << read.note;
  };
  expect_rejected(dir.path().string(), {dir.path().string(), "is a directory, not a conv algorithm cache"});
  const std::string valid = kernels::conv_cache_text(three_entries(), kH100);
  testing::write_file(dir.file("c.json"), valid);
  EXPECT_EQ(kernels::read_conv_cache_file(dir.file("c.json"), kH100).entries.size(), 4u);
  testing::write_file(dir.file("corrupt.json"), valid.substr(0, valid.size() / 2));
  expect_rejected(dir.file("corrupt.json"), {dir.file("corrupt.json"), "not valid JSON"});
  testing::write_file(dir.file("v1.json"), replaced(valid, "\"version\": 2", "\"version\": 1"));
  expect_rejected(dir.file("v1.json"), {dir.file("v1.json"), "format version 1"});
  testing::write_file(dir.file("bad.json"), replaced(valid, "\"n\": 64", "\"n\": -1"));
  expect_rejected(dir.file("bad.json"), {dir.file("bad.json"), "entries[0].n"});
  const ConvCacheContents foreign = kernels::read_conv_cache_file(dir.file("c.json"), {"NVIDIA H200", "9.19.0"});
  EXPECT_TRUE(foreign.rejected);
  expect_message(foreign.note, {"written for NVIDIA H100 80GB HBM3 with cuDNN 9.19.0", "searching afresh"});
}

// A 20 GB (sparse) file is refused from its size, before a byte is read; a file of 2^20 + 1 values before its
// ~100 MB document is built; a deep one before it nests.
TEST(ConvCacheFileReader, HostileFilesAreRefusedBeforeTheyAreReadOrBuilt) {
  TempDir dir;
  const std::string huge = dir.file("huge.json");
  testing::write_file(huge, "{");
  std::filesystem::resize_file(huge, std::uint64_t{20} << 30);
  const testing::MeasuredRun run = testing::run_measured([&] {
    const ConvCacheContents read = kernels::read_conv_cache_file(huge, kH100);
    if (read.rejected) throw InputError(read.note);  // the reader rejects it: its note as the outcome
  });
  expect_message(run.outcome, {huge, "21474836480 bytes, above the cap of 16777216 bytes", "searching afresh"});
  EXPECT_LT(run.peak_growth, std::uint64_t{4} << 20);

  std::string values = "{\"entries\": [";
  for (std::size_t i = 0; i < kernels::kConvCacheMaxValues; ++i) values += i ? ",{}" : "{}";
  expect_message(error_of(values + "]}"), {"cache.json holds more than 1048576 JSON values"});
  expect_message(error_of(std::string(17, '[') + std::string(17, ']')), {"cache.json nests more than 16"});
}

}  // namespace
}  // namespace rosetta
