// The GRU algorithm cache, device-neutral (kernels/gru_algorithm_cache_file.h, kernels/gru_algorithm_cache.h), on any
// machine: the file round-trips every field; a missing file is a note; malformed files (syntax, structure, each
// field's type and range, the winner-among-the-candidates rule) are one InputError line naming the file, the entry
// and the field; hostile files are refused before they are read or built; and the process-wide cache turns every bad
// file into a one-line note and a fresh search (nothing loaded), keeps other GPUs' entries, finds a choice by its
// whole key only, and writes its file atomically. The search (kernels/gru_search.h), with stand-ins for planning and
// timing: a plan takes the cache's choice and times nothing, also after the file's round trip (a second run);
// otherwise it times every candidate, records refusals, keeps and caches the fastest; a cached choice that no longer
// plans is searched afresh; cuDNN's standard algorithm must plan.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "kernels/gru_algorithm_cache.h"
#include "kernels/gru_search.h"
#include "tests/support/input_error.h"
#include "tests/support/peak_memory.h"
#include "tests/support/temp_dir.h"

namespace rosetta {
namespace {

using kernels::GruCacheChoice;
using kernels::GruCacheContents;
using kernels::GruCacheEntry;
using kernels::GruCacheKey;
using testing::expect_message;
using testing::input_error;
using testing::TempDir;

GruCacheKey imdb_key() {
  GruCacheKey key;
  key.gpu = "NVIDIA H100 80GB HBM3", key.cudnn = "9.19.0";
  key.shape = kernels::GruShape{150, 64, 125, 100};
  return key;
}

// Three entries that differ in every field.
std::vector<GruCacheEntry> two_entries() {
  GruCacheEntry a{imdb_key(), {}};
  a.choice.algorithm = kernels::GruCudnnAlgorithm::persist_static_small_h, a.choice.milliseconds = 0.56647;
  GruCacheEntry b;
  b.key.gpu = "NVIDIA H200", b.key.cudnn = "9.20.1";
  b.key.shape = kernels::GruShape{1, 1000, 3, 33};
  b.key.precision = Precision::tf32, b.key.padded_io = true;
  b.choice.algorithm = kernels::GruCudnnAlgorithm::standard, b.choice.milliseconds = 12.5;
  GruCacheEntry c{imdb_key(), {}};  // auto's search, won by the persistent GRU: no cuDNN algorithm
  c.key.candidates = kernels::GruImplementation::automatic;
  c.choice.implementation = kernels::GruImplementation::persistent, c.choice.milliseconds = 0.25;
  return {a, b, c};
}

void expect_same(const GruCacheEntry& a, const GruCacheEntry& b) {
  EXPECT_TRUE(a.key == b.key) << a.key.gpu << " " << a.key.shape.str();
  EXPECT_EQ(a.key.shape.str(), b.key.shape.str());
  EXPECT_EQ(a.key.precision, b.key.precision);
  EXPECT_EQ(a.key.padded_io, b.key.padded_io);
  EXPECT_TRUE(a.choice == b.choice);
  EXPECT_EQ(a.choice.milliseconds, b.choice.milliseconds);  // the double round-trips exactly
}

std::string error_of(const std::string& text) {
  return input_error([&] { kernels::parse_gru_cache_text(text, "rnn.json"); });
}

std::string replaced(std::string text, const std::string& from, const std::string& to) {
  const std::size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  return at == std::string::npos ? text : text.replace(at, from.size(), to);
}

TEST(GruCacheText, RoundTripsEveryField) {
  const std::vector<GruCacheEntry> entries = two_entries();
  const std::string text = kernels::gru_cache_text(entries);
  const GruCacheContents read = kernels::parse_gru_cache_text(text, "c");
  EXPECT_EQ(read.note, "");
  ASSERT_EQ(read.entries.size(), 3u);
  for (std::size_t i = 0; i < 3; ++i) expect_same(read.entries[i], entries[i]);
  for (const char* field : {"\"io\": \"padded\"", "\"precision\": \"tf32\"", "\"candidates\": \"cudnn\"",
                            "\"algorithm\": \"persist_static_small_h\"", "\"cell\": \"gru\"",
                            "\"candidates\": \"auto\"", "\"implementation\": \"persistent\"", "\"algorithm\": null"})
    EXPECT_NE(text.find(field), std::string::npos) << field;
  EXPECT_EQ(kernels::gru_cache_text(read.entries), text);
}

TEST(GruCacheText, AnotherFormatVersionYieldsNothingAndANote) {
  const std::string text = replaced(kernels::gru_cache_text(two_entries()), "\"version\": 1", "\"version\": 2");
  const GruCacheContents read = kernels::parse_gru_cache_text(text, "c");
  EXPECT_TRUE(read.entries.empty());
  EXPECT_EQ(read.note, "format version 2, this rosetta reads version 1");
}

TEST(GruCacheText, MalformedFilesNameTheFileEntryAndField) {
  const std::string valid = kernels::gru_cache_text(two_entries());
  expect_message(error_of("{\"format\": \"rosetta-rnn-algorithms\", \"version\": 1, "), {"rnn.json", "not valid JSON"});
  expect_message(error_of("[1, 2]"), {"rnn.json", "not a rosetta RNN algorithm cache"});
  expect_message(error_of(replaced(valid, "rosetta-rnn-algorithms", "rosetta-conv-algorithms")),
                 {"not a rosetta RNN algorithm cache"});
  expect_message(error_of("{\"format\": \"rosetta-rnn-algorithms\", \"version\": 1}"), {"rnn.json", "\"entries\""});
  expect_message(error_of(replaced(valid, "\"t\": 150", "\"t\": \"150\"")), {"rnn.json", "entries[0].t", "an integer"});
  expect_message(error_of(replaced(valid, "\"n\": 64", "\"n\": 0")), {"entries[0].n", "[1, 2147483647]"});
  expect_message(error_of(replaced(valid, "\"h\": 100", "\"h\": 2147483648")), {"entries[0].h", "[1, 2147483647]"});
  expect_message(error_of(replaced(valid, "\"t\": 150", "\"t\": 2147483647")), {"entries[0].t", "32-bit"});
  expect_message(error_of(replaced(valid, "\"cell\": \"gru\"", "\"cell\": \"lstm\"")), {"entries[0].cell", "\"gru\""});
  expect_message(error_of(replaced(valid, "\"gpu\": \"NVIDIA H200\"", "\"gpu\": \"\"")), {"entries[1].gpu", "string"});
  expect_message(error_of(replaced(valid, "\"cudnn\": \"9.19.0\"", "\"cudnn\": 9")), {"entries[0].cudnn", "string"});
  expect_message(error_of(replaced(valid, "\"precision\": \"fp32\"", "\"precision\": \"bf16\"")),
                 {"entries[0].precision", "fp32 or tf32"});
  expect_message(error_of(replaced(valid, "\"io\": \"packed\"", "\"io\": \"sparse\"")), {"entries[0].io"});
  expect_message(error_of(replaced(valid, "\"candidates\": \"cudnn\"", "\"candidates\": \"naive\"")),
                 {"entries[0].candidates", "searches"});
  expect_message(error_of(replaced(valid, "\"implementation\": \"cudnn\"", "\"implementation\": \"naive\"")),
                 {"entries[0].implementation", "not one of the candidates"});
  expect_message(error_of(replaced(valid, "\"implementation\": \"cudnn\"", "\"implementation\": \"fast\"")),
                 {"entries[0].implementation", "an implementation name"});
  expect_message(error_of(replaced(valid, "\"algorithm\": \"standard\"", "\"algorithm\": null")),
                 {"entries[1].algorithm", "cuDNN RNN algorithm"});
  expect_message(error_of(replaced(valid, "\"algorithm\": null", "\"algorithm\": \"standard\"")),
                 {"entries[2].algorithm", "expected null"});
  expect_message(error_of(replaced(valid, "\"candidates\": \"auto\"", "\"candidates\": \"cudnn\"")),
                 {"entries[2].implementation", "not one of the candidates cudnn"});
  expect_message(error_of(replaced(valid, "\"candidates\": \"auto\"", "\"candidates\": \"persistent\"")),
                 {"entries[2].candidates", "cudnn or auto"});
  expect_message(error_of(replaced(valid, "\"milliseconds\": 12.5", "\"milliseconds\": -1")),
                 {"entries[1].milliseconds", ">= 0"});
  expect_message(error_of(replaced(valid, "\"milliseconds\"", "\"ms\"")), {"entries[0].milliseconds", "missing"});
  expect_message(error_of(replaced(valid, "\"entries\": [", "\"entries\": [7, ")), {"entries[0]", "expected an object"});
  expect_message(error_of(replaced(valid, "\"gpu\"", "\"cudnn\": \"x\", \"gpu\"")), {"key 'cudnn' appears twice"});
}

TEST(GruCacheFileReader, MissingFileIsANoteAndADirectoryAnError) {
  TempDir dir;
  const GruCacheContents none = kernels::read_gru_cache_file(dir.file("absent.json"));
  EXPECT_TRUE(none.entries.empty());
  EXPECT_TRUE(none.missing);
  expect_message(input_error([&] { kernels::read_gru_cache_file(dir.path().string()); }),
                 {dir.path().string(), "an RNN algorithm cache"});
  testing::write_file(dir.file("c.json"), kernels::gru_cache_text(two_entries()));
  EXPECT_EQ(kernels::read_gru_cache_file(dir.file("c.json")).entries.size(), 3u);
}

// A 20 GB (sparse) file is refused from its size, before a byte is read; a file of 2^16 + 1 values before its
// document is built; a deep one before it nests.
TEST(GruCacheFileReader, HostileFilesAreRefusedBeforeTheyAreReadOrBuilt) {
  TempDir dir;
  const std::string huge = dir.file("huge.json");
  testing::write_file(huge, "{");
  std::filesystem::resize_file(huge, std::uint64_t{20} << 30);
  const testing::MeasuredRun run = testing::run_measured([&] { kernels::read_gru_cache_file(huge); });
  expect_message(run.outcome, {huge, "21474836480 bytes, above the cap of 1048576 bytes"});
  EXPECT_LT(run.peak_growth, std::uint64_t{4} << 20);

  std::string values = "{\"entries\": [";
  for (std::size_t i = 0; i < kernels::kGruCacheMaxValues; ++i) values += i ? ",{}" : "{}";
  expect_message(error_of(values + "]}"), {"rnn.json holds more than 65536 JSON values"});
  expect_message(error_of(std::string(17, '[') + std::string(17, ']')), {"rnn.json nests more than 16"});
}

// The process-wide cache's rules, on a cache of its own.
TEST(GruAlgorithmCache, FindsAChoiceByItsWholeKeyOnly) {
  kernels::GruAlgorithmCache cache;
  const GruCacheEntry entry = two_entries()[0];
  cache.insert(entry.key, entry.choice);
  ASSERT_TRUE(cache.find(entry.key));
  EXPECT_TRUE(*cache.find(entry.key) == entry.choice);
  // Every field of the key counts: another GPU, cuDNN, shape, precision, I/O layout, candidates.
  for (int field = 0; field < 7; ++field) {
    GruCacheKey other = entry.key;
    if (field == 0) other.gpu = "NVIDIA H200";
    if (field == 1) other.cudnn = "9.20.0";
    if (field == 2) other.shape.n = 65;
    if (field == 3) other.shape.t = 1;
    if (field == 4) other.precision = Precision::tf32;
    if (field == 5) other.padded_io = true;
    if (field == 6) other.candidates = kernels::GruImplementation::automatic;
    EXPECT_FALSE(cache.find(other)) << "field " << field;
  }
  GruCacheChoice retimed = entry.choice;
  retimed.algorithm = kernels::GruCudnnAlgorithm::standard;
  cache.insert(entry.key, retimed);
  EXPECT_EQ(cache.size(), 1u);
  EXPECT_TRUE(*cache.find(entry.key) == retimed);
}

TEST(GruAlgorithmCache, SavesAtomicallyAndLoadsEveryIdentitysEntries) {
  TempDir dir;
  const std::string path = dir.file("sub/folder/rnn-algorithms.json");
  kernels::GruAlgorithmCache written;
  for (const GruCacheEntry& e : two_entries()) written.insert(e.key, e.choice);
  EXPECT_EQ(written.unsaved(), 3u);
  written.save(path);  // creates the folders
  EXPECT_EQ(written.unsaved(), 0u);
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
  kernels::GruAlgorithmCache read;
  const kernels::GruCacheLoad load = read.load(path);
  EXPECT_EQ(load.note, "");
  EXPECT_EQ(load.entries, 3u);  // the H200's entry too: kept, and saved again, though an H100 run never matches it
  ASSERT_EQ(read.entries().size(), 3u);
  for (const GruCacheEntry& e : two_entries()) EXPECT_TRUE(*read.find(e.key) == e.choice);
  EXPECT_EQ(read.unsaved(), 0u);
}

// A cache only saves time: every bad file is one line and a fresh search, never an error.
TEST(GruAlgorithmCache, ABadFileLoadsNothingAndSaysWhyInOneLine) {
  TempDir dir;
  kernels::GruAlgorithmCache cache;
  const kernels::GruCacheLoad missing = cache.load(dir.file("absent.json"));
  EXPECT_EQ(missing.entries, 0u);
  EXPECT_EQ(missing.note, "no file yet");
  const std::string valid = kernels::gru_cache_text(two_entries());
  const std::pair<std::string, std::string> bad[] = {
      {"{\"format\": \"rosetta-rnn-algorithms\", \"version\"", "not valid JSON"},
      {replaced(valid, "\"version\": 1", "\"version\": 7"), "format version 7"},
      {replaced(valid, "\"milliseconds\": 12.5", "\"milliseconds\": \"fast\""), "entries[1].milliseconds"},
      {replaced(valid, "\"algorithm\": \"standard\"", "\"algorithm\": \"persist_tiny\""), "entries[1].algorithm"}};
  for (const auto& [text, reason] : bad) {
    testing::write_file(dir.file("bad.json"), text);
    const kernels::GruCacheLoad load = cache.load(dir.file("bad.json"));
    EXPECT_EQ(load.entries, 0u) << reason;
    EXPECT_EQ(cache.size(), 0u) << reason << ": a bad file adds nothing, not even its good entries";
    EXPECT_NE(load.note.find("ignored"), std::string::npos) << load.note;
    EXPECT_NE(load.note.find(reason), std::string::npos) << load.note;
    EXPECT_EQ(load.note.find('\n'), std::string::npos) << load.note;
  }
  // The fresh search's choice then replaces the bad file whole.
  const GruCacheEntry e = two_entries()[0];
  cache.insert(e.key, e.choice);
  cache.save(dir.file("bad.json"));
  EXPECT_EQ(kernels::read_gru_cache_file(dir.file("bad.json")).entries.size(), 1u);
}

TEST(GruAlgorithmCache, AFileThatCannotBeWrittenIsOneInputError) {
  TempDir dir;
  testing::write_file(dir.file("plain"), "a file where a folder should be");
  kernels::GruAlgorithmCache cache;
  expect_message(input_error([&] { cache.save(dir.file("plain/rnn-algorithms.json")); }),
                 {"plain/rnn-algorithms.json"});
}

// A stand-in twin: candidate i plans unless refused, and takes times[i] milliseconds; every call is counted.
struct FakeTwin {
  std::vector<double> times;
  std::vector<bool> refuses;
  int timed = 0, adopted = 0;
  bool refuse_adopt = false;
  std::function<void(const GruCacheChoice&)> adopt() {
    return [this](const GruCacheChoice&) {
      ROSETTA_CHECK(!refuse_adopt, "the cached choice no longer plans");
      ++adopted;
    };
  }
  std::function<double(std::size_t)> time() {
    return [this](std::size_t i) {
      ++timed;
      ROSETTA_CHECK(!refuses[i], "candidate " << i << " refused");
      return times[i];
    };
  }
};

TEST(GruSearch, CandidatesAreCudnnsFourAlgorithmsAndForAutoThePersistentGru) {
  const std::vector<GruCacheChoice> cudnn = kernels::gru_search_candidates(kernels::GruImplementation::cudnn);
  ASSERT_EQ(cudnn.size(), 4u);
  EXPECT_EQ(cudnn[0].algorithm, kernels::GruCudnnAlgorithm::standard);
  const std::vector<GruCacheChoice> automatic = kernels::gru_search_candidates(kernels::GruImplementation::automatic);
  ASSERT_EQ(automatic.size(), 5u);
  EXPECT_EQ(automatic[4].implementation, kernels::GruImplementation::persistent);
  EXPECT_THROW(kernels::gru_search_candidates(kernels::GruImplementation::naive), Error);
}

TEST(GruSearch, TimesEveryCandidateThenTakesTheCachedChoiceAlsoAfterTheFilesRoundTrip) {
  kernels::GruAlgorithmCache cache;
  GruCacheKey key = imdb_key();
  key.candidates = kernels::GruImplementation::automatic;
  const std::vector<GruCacheChoice> candidates = kernels::gru_search_candidates(key.candidates);
  FakeTwin twin{{5.0, 13.0, 12.0, 0.57, 0.25}, {false, false, true, false, false}};
  const kernels::GruSearchResult first = kernels::search_gru(cache, key, candidates, twin.adopt(), twin.time());
  EXPECT_EQ(first.source, kernels::GruChoiceSource::timed);
  EXPECT_EQ(twin.timed, 5);
  EXPECT_EQ(twin.adopted, 0);
  EXPECT_EQ(first.index, 4u);
  EXPECT_EQ(first.choice.implementation, kernels::GruImplementation::persistent);
  EXPECT_EQ(first.choice.milliseconds, 0.25);
  ASSERT_EQ(first.trials.size(), 5u);
  EXPECT_FALSE(first.trials[2].accepted);
  EXPECT_NE(first.trials[2].refusal.find("candidate 2 refused"), std::string::npos);
  EXPECT_EQ(first.trials[3].milliseconds, 0.57);
  ASSERT_TRUE(cache.find(key));
  EXPECT_TRUE(*cache.find(key) == first.choice);

  const kernels::GruSearchResult second = kernels::search_gru(cache, key, candidates, twin.adopt(), twin.time());
  EXPECT_EQ(second.source, kernels::GruChoiceSource::cache);
  EXPECT_EQ(twin.timed, 5) << "nothing timed from the cache";
  EXPECT_EQ(twin.adopted, 1);
  EXPECT_TRUE(second.choice == first.choice);
  EXPECT_TRUE(second.trials.empty());

  // A second run: a fresh process's cache, loaded from the file the first one saved.
  TempDir dir;
  cache.save(dir.file("rnn-algorithms.json"));
  kernels::GruAlgorithmCache next_run;
  EXPECT_EQ(next_run.load(dir.file("rnn-algorithms.json")).entries, 1u);
  const kernels::GruSearchResult third = kernels::search_gru(next_run, key, candidates, twin.adopt(), twin.time());
  EXPECT_EQ(third.source, kernels::GruChoiceSource::cache);
  EXPECT_EQ(twin.timed, 5);
  EXPECT_TRUE(third.choice == first.choice);
  // Another key (cudnn's own search of the same shape) is not the auto search's.
  GruCacheKey cudnn_key = key;
  cudnn_key.candidates = kernels::GruImplementation::cudnn;
  FakeTwin cudnn_twin{{5.0, 13.0, 12.0, 0.57}, {false, false, false, false}};
  const kernels::GruSearchResult cudnn = kernels::search_gru(
      next_run, cudnn_key, kernels::gru_search_candidates(cudnn_key.candidates), cudnn_twin.adopt(), cudnn_twin.time());
  EXPECT_EQ(cudnn.source, kernels::GruChoiceSource::timed);
  EXPECT_EQ(cudnn.choice.algorithm, kernels::GruCudnnAlgorithm::persist_static_small_h);
  EXPECT_EQ(next_run.size(), 2u);
}

TEST(GruSearch, ACachedChoiceThatNoLongerPlansIsSearchedAfresh) {
  kernels::GruAlgorithmCache cache;
  const GruCacheKey key = imdb_key();
  GruCacheChoice stale;
  stale.algorithm = kernels::GruCudnnAlgorithm::persist_dynamic;
  cache.insert(key, stale);
  FakeTwin twin{{5.0, 13.0, 12.0, 0.57}, {false, false, false, false}};
  twin.refuse_adopt = true;
  const kernels::GruSearchResult result =
      kernels::search_gru(cache, key, kernels::gru_search_candidates(key.candidates), twin.adopt(), twin.time());
  EXPECT_EQ(result.source, kernels::GruChoiceSource::timed);
  EXPECT_EQ(twin.timed, 4);
  EXPECT_EQ(cache.find(key)->algorithm, kernels::GruCudnnAlgorithm::persist_static_small_h);
}

TEST(GruSearch, TheStandardAlgorithmMustPlanAndTiesKeepTheFirst) {
  kernels::GruAlgorithmCache cache;
  const GruCacheKey key = imdb_key();
  const std::vector<GruCacheChoice> candidates = kernels::gru_search_candidates(key.candidates);
  FakeTwin refused{{5.0, 1.0, 1.0, 1.0}, {true, false, false, false}};
  EXPECT_THROW(kernels::search_gru(cache, key, candidates, refused.adopt(), refused.time()), Error);
  EXPECT_EQ(cache.size(), 0u);
  FakeTwin ties{{2.0, 1.0, 1.0, 3.0}, {false, false, false, false}};
  EXPECT_EQ(kernels::search_gru(cache, key, candidates, ties.adopt(), ties.time()).index, 1u);
}

}  // namespace
}  // namespace rosetta
