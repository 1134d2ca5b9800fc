// imdb.npz: the seed's preprocessing on hand-made sequences (start char, +3, out-of-vocabulary, keep the last 150,
// pad after); Keras-shaped files written by numpy (np.savez, np.savez_compressed, and a protocol-2 pickle as
// older numpy wrote it) read back and compared with the seed's preprocessing computed by numpy; the preprocessed
// token file (rosetta writes, numpy and rosetta read); hostile files, each one InputError line naming the file,
// member and place; structurally hostile files (the 63 KB npz of issue 15 that asked for 9.6 GB, its stored and
// lying-header forms, floods of empty lists, thousands of members), each refused by a stated cap in measured,
// bounded memory; 1000 Philox-seeded mutations of each member that may only succeed or raise InputError; and
// the Batcher delivering i32 token batches unchanged.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <numeric>
#include <string>
#include <vector>

#include "datasets/batcher.h"
#include "datasets/imdb.h"
#include "datasets/npy.h"
#include "datasets/shuffle.h"
#include "datasets/zip.h"
#include "tests/support/hostile_npz.h"
#include "tests/support/input_error.h"
#include "tests/support/peak_memory.h"
#include "tests/support/pickle_builder.h"
#include "tests/support/python.h"
#include "tests/support/temp_dir.h"
#include "tests/support/zip_builder.h"

namespace rosetta {
namespace {

using testing::expect_message;
using testing::input_error;
using testing::TempDir;
using IntLists = std::vector<std::vector<std::int64_t>>;
using Bytes = std::vector<std::uint8_t>;

std::vector<std::int32_t> row(const Tensor& tokens, std::int64_t i) {
  const std::int64_t width = tokens.dim(1);
  const std::int32_t* p = tokens.data<std::int32_t>() + i * width;
  return std::vector<std::int32_t>(p, p + width);
}

// `values` followed by zeros up to `width`.
std::vector<std::int32_t> padded(std::vector<std::int32_t> values, std::size_t width = 150) {
  values.resize(width, 0);
  return values;
}

bool same_tensor(const Tensor& a, const Tensor& b) {
  return a.dtype() == b.dtype() && a.shape() == b.shape() &&
         std::equal(static_cast<const char*>(a.raw()), static_cast<const char*>(a.raw()) + a.nbytes(),
                    static_cast<const char*>(b.raw()));
}

TEST(ImdbPreprocess, StartCharShiftAndPadAfter) {
  const Tensor t = imdb_preprocess({{}, {0, 5, 17}}, ImdbOptions(), "hand");
  ASSERT_EQ(t.shape(), (Shape{2, 150}));
  ASSERT_EQ(t.dtype(), DType::i32);
  EXPECT_EQ(row(t, 0), padded({1}));
  EXPECT_EQ(row(t, 1), padded({1, 3, 8, 20}));
}

TEST(ImdbPreprocess, WordsAtOrAbove30000AfterTheShiftBecomeOov) {
  const Tensor t = imdb_preprocess({{29996, 29997, 29998, 88584, 1}}, ImdbOptions(), "hand");
  EXPECT_EQ(row(t, 0), padded({1, 29999, 2, 2, 2, 4}));
}

TEST(ImdbPreprocess, KeepsTheLast150Values) {
  std::vector<std::int64_t> words(149);
  std::iota(words.begin(), words.end(), 0);
  // 149 words + the start char = 150 values: all kept.
  std::vector<std::int32_t> expected = {1};
  for (std::int64_t w : words) expected.push_back(static_cast<std::int32_t>(w + 3));
  EXPECT_EQ(row(imdb_preprocess({words}, ImdbOptions(), "hand"), 0), expected);
  // 150 words: the start char falls away.
  words.push_back(149);
  expected.erase(expected.begin());
  expected.push_back(152);
  EXPECT_EQ(row(imdb_preprocess({words}, ImdbOptions(), "hand"), 0), expected);
  // 400 words: the last 150 (truncating='pre').
  words.resize(400);
  std::iota(words.begin(), words.end(), 1000);
  expected.clear();
  for (std::int64_t k = 250; k < 400; ++k) expected.push_back(static_cast<std::int32_t>(1000 + k + 3));
  EXPECT_EQ(row(imdb_preprocess({words}, ImdbOptions(), "hand"), 0), expected);
}

TEST(ImdbPreprocess, OptionsAndNegativeWords) {
  ImdbOptions small;
  small.max_length = 4;
  small.vocabulary = 10;
  const Tensor t = imdb_preprocess({{1, 6, 7}, {0}, {5, 6, 7, 8, 9}}, small, "hand");
  EXPECT_EQ(row(t, 0), (std::vector<std::int32_t>{1, 4, 9, 2}));
  EXPECT_EQ(row(t, 1), (std::vector<std::int32_t>{1, 3, 0, 0}));
  EXPECT_EQ(row(t, 2), (std::vector<std::int32_t>{9, 2, 2, 2}));
  expect_message(input_error([] { imdb_preprocess({{1}, {2, 3, -4}}, ImdbOptions(), "file: member 'x_train.npy'"); }),
                 {"file: member 'x_train.npy'", "sequence 1, position 2", "word id -4 is negative"});
  small.vocabulary = 3;
  EXPECT_THROW(imdb_preprocess({{1}}, small, "hand"), Error);
}

// Numpy writes Keras-shaped imdb.npz files and the seed's preprocessing of them (imdb_for_library's steps,
// restated in numpy below), which rosetta must reproduce exactly.
class ImdbNumpy : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!testing::numpy_unavailable_reason().empty()) return;
    root_ = std::filesystem::temp_directory_path() / ("rosetta_test_imdb_" + std::to_string(::getpid()));
    std::filesystem::create_directories(root_);
    const testing::PythonRun run = testing::run_python(
        "import numpy as np, pickle, zipfile, os, io\n"
        "d = r'" + root_.string() + "'\n"
        "rng = np.random.RandomState(7)\n"
        "def sequences(n):\n"
        "    out = np.empty(n, dtype=object)\n"
        "    for i in range(n):\n"
        "        out[i] = [int(w) for w in rng.randint(0, 40000, size=rng.randint(0, 400))]\n"
        "    return out\n"
        "x_train, x_test = sequences(700), sequences(500)\n"
        "x_train[3] = []\n"
        "x_train[4] = list(range(29990, 30010))\n"
        "y_train = rng.randint(0, 2, size=700).astype(np.int64)\n"
        "y_test = rng.randint(0, 2, size=500).astype(np.int64)\n"
        "np.savez(os.path.join(d, 'imdb.npz'), x_test=x_test, x_train=x_train, y_train=y_train, y_test=y_test)\n"
        "np.savez_compressed(os.path.join(d, 'imdb_compressed.npz'), x_test=x_test, x_train=x_train, y_train=y_train,"
        " y_test=y_test)\n"
        // As older numpy wrote it: a protocol-2 pickle (numpy.core.multiarray._reconstruct, _codecs.encode).
        "def old_npy(a):\n"
        "    f = io.BytesIO()\n"
        "    np.lib.format.write_array_header_1_0(f, {'descr': '|O', 'fortran_order': False, 'shape': a.shape})\n"
        "    pickle.dump(a, f, protocol=2)\n"
        "    return f.getvalue()\n"
        "with zipfile.ZipFile(os.path.join(d, 'imdb_old.npz'), 'w', compression=zipfile.ZIP_DEFLATED) as z:\n"
        "    z.writestr('x_train.npy', old_npy(x_train)); z.writestr('x_test.npy', old_npy(x_test))\n"
        "    for name, a in (('y_train.npy', y_train), ('y_test.npy', y_test)):\n"
        "        f = io.BytesIO(); np.save(f, a); z.writestr(name, f.getvalue())\n"
        "np.savez(os.path.join(d, 'small.npz'), x_train=x_train[:20], y_train=y_train[:20], x_test=x_test[:10],"
        " y_test=y_test[:10])\n"
        // The seed's preprocessing: concatenate, [1] + [w + 3], w >= 30000 -> 2, keep the last 150, pad after.
        "idx = len(x_train)\n"
        "xs = np.concatenate([x_train, x_test])\n"
        "xs = [[1] + [w + 3 for w in x] for x in xs]\n"
        "xs = [[w if w < 30000 else 2 for w in x] for x in xs]\n"
        "padded = np.zeros((len(xs), 150), dtype=np.int64)\n"
        "for i, x in enumerate(xs):\n"
        "    x = x[-150:]\n"
        "    padded[i, :len(x)] = x\n"
        "np.save(os.path.join(d, 'expected_train.npy'), padded[:idx].astype(np.int32))\n"
        "np.save(os.path.join(d, 'expected_test.npy'), padded[idx:].astype(np.int32))\n"
        "np.save(os.path.join(d, 'expected_y_train.npy'), y_train.astype(np.int32))\n"
        "np.save(os.path.join(d, 'expected_y_test.npy'), y_test.astype(np.int32))\n");
    ASSERT_EQ(run.status, 0) << run.output;
  }
  static void TearDownTestSuite() {
    if (!root_.empty()) std::filesystem::remove_all(root_);
  }
  void SetUp() override { ROSETTA_REQUIRE_NUMPY(); }

  // An .npy file written by numpy, as a tensor of int32 (N, ...) via rosetta's own npy reader.
  static Tensor expected(const std::string& name) {
    const std::string bytes = testing::read_file(file(name));
    const auto* data = reinterpret_cast<const std::uint8_t*>(bytes.data());
    const NpyHeader h = parse_npy_header(data, bytes.size(), name);
    const std::vector<std::int64_t> values = read_npy_ints(h, data, bytes.size(), name);
    Tensor t = Tensor::empty(Shape(h.shape.begin(), h.shape.end()), DType::i32);
    for (std::size_t i = 0; i < values.size(); ++i) t.data<std::int32_t>()[i] = static_cast<std::int32_t>(values[i]);
    return t;
  }
  static void expect_seed_preprocessing(const DatasetSplits& s) {
    EXPECT_EQ(s.train.name, "imdb train");
    EXPECT_EQ(s.test.name, "imdb test");
    EXPECT_EQ(s.train.num_classes, 2);
    EXPECT_EQ(s.train.inputs.shape(), (Shape{700, 150}));
    EXPECT_EQ(s.test.inputs.shape(), (Shape{500, 150}));
    EXPECT_TRUE(same_tensor(s.train.inputs, expected("expected_train.npy")));
    EXPECT_TRUE(same_tensor(s.test.inputs, expected("expected_test.npy")));
    EXPECT_TRUE(same_tensor(s.train.labels, expected("expected_y_train.npy")));
    EXPECT_TRUE(same_tensor(s.test.labels, expected("expected_y_test.npy")));
    EXPECT_EQ(row(s.train.inputs, 3), padded({1}));
    std::vector<std::int32_t> boundary = {1};
    for (std::int32_t w = 29990; w < 30010; ++w) boundary.push_back(w + 3 < 30000 ? w + 3 : 2);
    EXPECT_EQ(row(s.train.inputs, 4), padded(boundary));
  }

  static std::string file(const std::string& name) { return (root_ / name).string(); }

  static std::filesystem::path root_;  // the suite's files (TempDir is per test)
};
std::filesystem::path ImdbNumpy::root_;

TEST_F(ImdbNumpy, SavezMatchesTheSeedsPreprocessing) { expect_seed_preprocessing(read_imdb(file("imdb.npz"))); }

TEST_F(ImdbNumpy, SavezCompressedMatchesTheSeedsPreprocessing) {
  expect_seed_preprocessing(read_imdb(file("imdb_compressed.npz")));
}

TEST_F(ImdbNumpy, OldNumpyProtocol2PicklesMatchTheSeedsPreprocessing) {
  expect_seed_preprocessing(read_imdb(file("imdb_old.npz")));
}

// rosetta writes the preprocessed tokens; numpy reads them without pickle; rosetta reads them back unchanged.
TEST_F(ImdbNumpy, TokenFileRoundTrip) {
  const DatasetSplits raw = read_imdb(file("imdb.npz"));
  const std::string path = file("tokens.npz");
  write_imdb_tokens(raw, path);
  const DatasetSplits back = read_imdb(path);
  EXPECT_TRUE(same_tensor(back.train.inputs, raw.train.inputs));
  EXPECT_TRUE(same_tensor(back.train.labels, raw.train.labels));
  EXPECT_TRUE(same_tensor(back.test.inputs, raw.test.inputs));
  EXPECT_TRUE(same_tensor(back.test.labels, raw.test.labels));
  const testing::PythonRun run = testing::run_python(
      "import numpy as np, os\n"
      "d = r'" + root_.string() + "'\n"
      "f = np.load(os.path.join(d, 'tokens.npz'), allow_pickle=False)\n"
      "print(sorted(f.files))\n"
      "for k in ('x_train', 'y_train', 'x_test', 'y_test'):\n"
      "    print(k, f[k].dtype, f[k].shape)\n"
      "same = all((f[k] == np.load(os.path.join(d, e))).all() for k, e in (('x_train', 'expected_train.npy'),"
      " ('x_test', 'expected_test.npy'), ('y_train', 'expected_y_train.npy'), ('y_test', 'expected_y_test.npy')))\n"
      "print('same', same)\n");
  ASSERT_EQ(run.status, 0) << run.output;
  EXPECT_EQ(run.output,
            "['x_test', 'x_train', 'y_test', 'y_train']\n"
            "x_train int32 (700, 150)\ny_train int32 (700,)\nx_test int32 (500, 150)\ny_test int32 (500,)\n"
            "same True\n");
}

TEST_F(ImdbNumpy, BatcherDeliversTokenRowsUnchanged) {
  const DatasetSplits s = read_imdb(file("imdb.npz"));
  EXPECT_EQ(s.train.batch_dtype(), DType::i32);
  Batcher batcher(s.train, 64, Device::cpu, /*shuffle=*/false, 0);
  EXPECT_EQ(batcher.batches_per_epoch(), 10);  // 700 / 64, remainder dropped
  batcher.start_epoch(0);
  batcher.next(Context::cpu());
  const Batch second = batcher.next(Context::cpu());
  ASSERT_EQ(second.inputs.shape(), (Shape{64, 150}));
  ASSERT_EQ(second.inputs.dtype(), DType::i32);
  for (std::int64_t j = 0; j < 64; ++j) {
    ASSERT_EQ(row(second.inputs, j), row(s.train.inputs, 64 + j)) << j;
    ASSERT_EQ(second.labels.data<std::int32_t>()[j], s.train.labels.data<std::int32_t>()[64 + j]);
  }
}

// Each member of a numpy-written file, damaged at random and re-wrapped in a valid archive (so the CRC passes
// and the damage reaches the .npy, pickle and IMDB checks): only success or InputError is acceptable.
TEST_F(ImdbNumpy, MutatedMembersOnlyFailCleanly) {
  const ZipArchive zip = ZipArchive::open(file("small.npz"));  // 20 train and 10 test sequences
  std::vector<std::pair<std::string, Bytes>> members;
  for (const ZipMember& m : zip.members()) members.emplace_back(m.name, zip.read(m));
  PhiloxWords draw(99, philox_step_stream(0x6d757461u, 0));
  const std::string path = file("mutated.npz");
  int rejected = 0;
  for (int trial = 0; trial < 1000; ++trial) {
    const std::size_t target = trial % members.size();
    Bytes bytes = members[target].second;
    testing::damage_at_random(bytes, draw, 3);
    std::vector<ZipEntryView> views;
    for (std::size_t k = 0; k < members.size(); ++k) {
      const Bytes& b = k == target ? bytes : members[k].second;
      views.push_back({members[k].first, b.data(), b.size()});
    }
    write_zip_stored(path, views);
    try {
      read_imdb(path);
    } catch (const InputError& e) {
      ++rejected;
      ASSERT_EQ(std::string(e.what()).find('\n'), std::string::npos) << e.what();
      ASSERT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
    } catch (const std::exception& e) {
      FAIL() << "trial " << trial << " (member " << members[target].first << "): not an InputError: " << e.what();
    }
  }
  EXPECT_GT(rejected, 300);  // header and structure damage is caught; a changed word id is a legal file
}

// Hostile files built from parts: each member an .npy rosetta writes (or a hand-made header), in a stored zip.
class ImdbHostile : public ::testing::Test {
 protected:
  static Bytes ints(const std::vector<std::int64_t>& shape, std::vector<std::int32_t> values) {
    return npy_bytes_i32(shape, values.data());
  }
  static Bytes npy(const std::string& dict, const std::string& data) {
    return testing::npy_file(dict, Bytes(data.begin(), data.end()));
  }
  // A valid preprocessed file of 2 train and 1 test examples, with `replace` substituted for some members.
  std::string file(const std::vector<std::pair<std::string, Bytes>>& replace, const std::string& drop = "") {
    std::vector<std::int32_t> tokens(2 * 150, 0);
    tokens[0] = 1;
    tokens[150] = 1;
    std::vector<std::pair<std::string, Bytes>> members = {
        {"x_train.npy", ints({2, 150}, tokens)}, {"y_train.npy", ints({2}, {0, 1})},
        {"x_test.npy", ints({1, 150}, std::vector<std::int32_t>(150, 5))}, {"y_test.npy", ints({1}, {1})}};
    for (auto& m : members)
      for (const auto& r : replace)
        if (m.first == r.first) m.second = r.second;
    std::vector<ZipEntryView> views;
    for (const auto& m : members)
      if (m.first != drop) views.push_back({m.first, m.second.data(), m.second.size()});
    const std::string path = dir_.file("hostile.npz");
    write_zip_stored(path, views);
    return path;
  }
  std::string error_of(const std::string& path) {
    return input_error([&] { read_imdb(path); });
  }
  TempDir dir_;
};

TEST_F(ImdbHostile, TheValidBaseReads) {
  const DatasetSplits s = read_imdb(file({}));
  EXPECT_EQ(s.train.size(), 2);
  EXPECT_EQ(s.test.size(), 1);
  EXPECT_EQ(row(s.test.inputs, 0), std::vector<std::int32_t>(150, 5));
}

TEST_F(ImdbHostile, MissingMemberIsNamed) {
  const std::string path = file({}, "y_test.npy");
  expect_message(error_of(path), {path, "no member 'y_test.npy'", "'x_train.npy'"});
}

TEST_F(ImdbHostile, BadLabelsAreNamed) {
  std::string path = file({{"y_train.npy", ints({2}, {0, 2})}});
  expect_message(error_of(path), {path, "'y_train.npy'", "example 1 has label 2"});
  path = file({{"y_train.npy", ints({3}, {0, 1, 1})}});
  expect_message(error_of(path), {path, "'y_train.npy'", "shape (3,)", "expected integers of shape (2,)"});
  path = file({{"y_test.npy", npy("{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }", std::string(8, '\0'))}});
  expect_message(error_of(path), {path, "'y_test.npy'", "dtype '<f8'"});
}

TEST_F(ImdbHostile, BadTokensAreNamed) {
  std::string path = file({{"x_train.npy", ints({2, 100}, std::vector<std::int32_t>(200, 1))}});
  expect_message(error_of(path), {path, "'x_train.npy'", "shape (2, 100)", "expected (N, 150)"});
  std::vector<std::int32_t> tokens(300, 1);
  tokens[151] = 30000;
  path = file({{"x_train.npy", ints({2, 150}, tokens)}});
  expect_message(error_of(path), {path, "'x_train.npy'", "example 1, position 1", "token 30000 outside [0, 30000)"});
  tokens[151] = -1;
  path = file({{"x_train.npy", ints({2, 150}, tokens)}});
  expect_message(error_of(path), {path, "token -1 outside"});
  path = file({{"x_test.npy", npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1, 150), }", std::string(600, '\0'))}});
  expect_message(error_of(path), {path, "'x_test.npy'", "dtype '<f4'", "expected an object array"});
  path = file({{"x_test.npy", npy("{'descr': '|O', 'fortran_order': False, 'shape': (1, 150), }", "")}});
  expect_message(error_of(path), {path, "'x_test.npy'", "object array of shape (1, 150)"});
  path = file({{"x_test.npy", npy("{'descr': '|O', 'fortran_order': False, 'shape': (1,), }", "\x80\x02\x63os\nsystem\n")}});
  expect_message(error_of(path), {path, "'x_test.npy'", "byte 130", "'os.system' is not allowed"});
}

TEST_F(ImdbHostile, NotAZipOrNotThere) {
  const std::string path = dir_.file("text.npz");
  testing::write_file(path, "this is not an archive, not at all, not even close to one");
  expect_message(error_of(path), {path, "no end-of-central-directory record"});
  expect_message(error_of(dir_.file("absent.npz")), {"absent.npz", "no such file"});
}

// An imdb.npz of `x_train` (tests/support/hostile_npz.h) in `dir`.
std::string hostile_npz(const TempDir& dir, Bytes x_train, bool deflate) {
  const std::string path = dir.file("hostile.npz");
  const Bytes archive = testing::imdb_npz_with(std::move(x_train), deflate);
  testing::write_file(path, std::string(archive.begin(), archive.end()));
  return path;
}

constexpr std::uint64_t kMiB = std::uint64_t{1} << 20;

TEST(ImdbAmplification, TheIssue15NpzIsRefusedBeforeInflating) {
  TempDir dir;
  const std::int64_t references = std::int64_t{1} << 24;  // 16 M sequences of 150 tokens: 9.6 GB of int32
  const std::string path = hostile_npz(dir, testing::shared_list_npy(references, references), true);
  EXPECT_LT(std::filesystem::file_size(path), 100'000u);  // ~63 KB, as the issue's
  const testing::MeasuredRun run = testing::run_measured([&] { read_imdb(path); });
  expect_message(run.outcome, {"InputError", path, "'x_train.npy'", "compressed, more than the cap of 64 times"});
  EXPECT_LT(run.peak_growth, 16 * kMiB);
}

// Stored, the same file is 32 MB: within the inflation cap, so the token cap refuses it, from the .npy header,
// before the pickle is parsed; with a header declaring only 1000 elements, the pickle refuses the second reference.
TEST(ImdbAmplification, StoredSharedListsMeetTheTokenCapAndTheSharingRule) {
  TempDir dir;
  const std::int64_t references = std::int64_t{1} << 24;
  std::string path = hostile_npz(dir, testing::shared_list_npy(references, references), false);
  testing::MeasuredRun run = testing::run_measured([&] { read_imdb(path); });
  expect_message(run.outcome, {"InputError", path, "'x_train.npy'", "16777216 examples of 150 tokens",
                               "above the cap of 33554432 tokens per split"});
  EXPECT_LT(run.peak_growth, 96 * kMiB);  // the 32 MB member, read once
  path = hostile_npz(dir, testing::shared_list_npy(1000, 1000), false);
  expect_message(input_error([&] { read_imdb(path); }), {path, "'x_train.npy'", "a list placed in a second container"});
}

// Distinct empty lists, one byte each (EMPTY_LIST inside APPENDS): every one would become 600 bytes of tokens. A
// header at the token cap passes that check; the pickle's memory budget (16 bytes per byte) refuses the lists.
TEST(ImdbAmplification, EmptyListFloodsMeetThePickleBudget) {
  TempDir dir;
  const std::int64_t n = kImdbMaxTokens / kImdbMaxLength;
  using namespace testing::pickle_ops;
  testing::Pickle p;
  testing::array_prologue(p, n);
  for (std::int64_t i = 0; i < n; ++i) {
    if (i > 0 && i % 1000 == 0) p.op(APPENDS).op(MARK);
    p.op(EMPTY_LIST);
  }
  const std::string path = hostile_npz(dir, testing::object_npy(n, testing::array_epilogue(p).bytes()), false);
  const testing::MeasuredRun run = testing::run_measured([&] { read_imdb(path); });
  expect_message(run.outcome, {"InputError", path, "'x_train.npy'", "the memory cap for a pickle of"});
  EXPECT_LT(run.peak_growth, 64 * kMiB);  // unbounded: ~40 MB of lists, then 128 MiB of tokens
}

TEST(ImdbAmplification, ThousandsOfMembersKeepTheMessageOneShortLine) {
  TempDir dir;
  std::vector<testing::ZipBuildMember> members;
  for (int i = 0; i < 20000; ++i) members.push_back({"m" + std::to_string(i) + ".npy", {}, false, -1});
  const Bytes archive = testing::zip_bytes(members);
  const std::string path = dir.file("many.npz");
  testing::write_file(path, std::string(archive.begin(), archive.end()));
  const std::string message = input_error([&] { read_imdb(path); });
  expect_message(message, {path, "no member 'x_train.npy'", "'m0.npy'", "'m7.npy'", "and 19992 more"});
  EXPECT_LT(message.size(), 400u);
}

TEST(ImdbTokens, WriterChecksItsInput) {
  TempDir dir;
  DatasetSplits d;
  d.train.name = "bad";
  d.train.inputs = Tensor::zeros({2, 3}, DType::f32);
  d.train.labels = Tensor::zeros({2}, DType::i32);
  d.test = d.train;
  EXPECT_THROW(write_imdb_tokens(d, dir.file("x.npz")), Error);
  EXPECT_TRUE(dir.listing().empty());
}

}  // namespace
}  // namespace rosetta
