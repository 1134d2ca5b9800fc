// safetensors: bit-exact round trips of every dtype rosetta holds (0-d and empty tensors included), metadata,
// the on-disk layout, one case per check of the reader (each an InputError naming the file and the field),
// structurally hostile headers read in linear time and bounded memory, writes that fail without touching a good file, and an oracle both ways with a file built by Python.
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "runtime/safetensors.h"
#include "tests/support/python.h"
#include "tests/support/cuda.h"
#include "tests/support/input_error.h"
#include "tests/support/peak_memory.h"
#include "tests/support/safetensors_cases.h"
#include "tests/support/temp_dir.h"

namespace rosetta {
namespace {

using testing::MalformedCase;
using testing::TempDir;

// A tensor whose bytes are a pattern that depends on `seed`: every byte value occurs, so a round trip that
// drops, reorders or converts anything shows up. For F32 this includes NaN payloads and infinities.
Tensor patterned(const Shape& shape, DType dtype, int seed) {
  Tensor t = Tensor::empty(shape, dtype);
  auto* bytes = static_cast<unsigned char*>(t.raw());
  for (std::size_t i = 0; i < t.nbytes(); ++i) bytes[i] = static_cast<unsigned char>(i * 37 + seed * 11 + 5);
  return t;
}

bool same_bytes(const Tensor& a, const Tensor& b) {
  return a.dtype() == b.dtype() && a.shape() == b.shape() && a.nbytes() == b.nbytes() &&
         std::memcmp(a.raw(), b.raw(), a.nbytes()) == 0;
}

// The InputError `open(path)` throws; fails the test when there is none.
std::string open_error(const std::string& path) {
  try {
    SafetensorsFile::open(path);
  } catch (const InputError& e) {
    return e.what();
  }
  ADD_FAILURE() << path << " opened without an InputError";
  return "";
}

TEST(Safetensors, RoundTripsEveryDTypeBitExact) {
  TempDir dir;
  const NamedTensors tensors = {
      {"conv.weight", patterned({4, 3, 3, 3}, DType::f32, 1)},
      {"half", patterned({7}, DType::f16, 2)},
      {"brain", patterned({2, 5}, DType::bf16, 3)},
      {"labels", patterned({3, 1}, DType::i32, 4)},
      {"bytes", patterned({1, 2, 1, 3, 2}, DType::u8, 5)},
      {"step", patterned({2}, DType::u64, 6)},
      {"scalar", patterned({}, DType::f32, 7)},
      {"empty", patterned({0, 3}, DType::f32, 8)},
  };
  const std::string path = dir.file("all.safetensors");
  write_safetensors(path, tensors);

  const SafetensorsFile file = SafetensorsFile::open(path);
  ASSERT_EQ(file.entries().size(), tensors.size());
  EXPECT_TRUE(file.metadata().empty());
  std::uint64_t offset = 0;
  for (std::size_t i = 0; i < tensors.size(); ++i) {  // written in the order given, so read back in it too
    const SafetensorsEntry& entry = file.entries()[i];
    const Tensor& original = tensors[i].second;
    EXPECT_EQ(entry.name, tensors[i].first);
    EXPECT_EQ(entry.dtype_name, dtype_name(original.dtype()));
    EXPECT_EQ(entry.shape, original.shape());
    EXPECT_EQ(entry.begin, offset);
    offset = entry.end;
    EXPECT_TRUE(same_bytes(file.read(entry.name), original)) << entry.name;
  }
  EXPECT_EQ(file.read("scalar").shape().rank(), 0);
  EXPECT_EQ(file.read("empty").numel(), 0);
}

TEST(Safetensors, RoundTripsMetadata) {
  TempDir dir;
  const SafetensorsMetadata metadata = {{"format", "pt"}, {"seed", "42"}, {"note", "caf\xc3\xa9, \"quoted\"\n"}};
  const std::string path = dir.file("meta.safetensors");
  write_safetensors(path, {{"w", patterned({2}, DType::f32, 1)}}, metadata);
  EXPECT_EQ(SafetensorsFile::open(path).metadata(), metadata);
}

TEST(Safetensors, WritesTheFormatLayout) {
  TempDir dir;
  const std::string path = dir.file("layout.safetensors");
  write_safetensors(path, {{"z", patterned({3}, DType::u8, 1)}, {"a", patterned({1}, DType::i32, 2)}});
  const std::string bytes = testing::read_file(path);
  std::uint64_t header_length = 0;
  for (int i = 7; i >= 0; --i) header_length = header_length << 8 | static_cast<unsigned char>(bytes[i]);
  EXPECT_EQ(header_length % 8, 0u) << "the header is padded to 8 bytes";
  const std::string header = bytes.substr(8, header_length);
  EXPECT_EQ(header.front(), '{');
  EXPECT_EQ(header.find_last_not_of(' '), header.find_last_of('}')) << "padding is spaces after the object";
  EXPECT_LT(header.find("\"z\""), header.find("\"a\"")) << "entries keep the given order";
  EXPECT_EQ(bytes.size(), 8 + header_length + 3 + 4);
  const SafetensorsFile file = SafetensorsFile::open(path);
  EXPECT_EQ(file.entries()[0].name, "z");
  EXPECT_EQ(file.entries()[1].begin, 3u);
}

TEST(Safetensors, WritesAndReadsAFileWithoutTensors) {
  TempDir dir;
  const std::string path = dir.file("none.safetensors");
  write_safetensors(path, {});
  EXPECT_EQ(std::filesystem::file_size(path), 16u);  // length, "{}" and 6 spaces
  EXPECT_TRUE(SafetensorsFile::open(path).entries().empty());
}

TEST(Safetensors, ReadsEntriesInOffsetOrderWhateverTheHeaderOrder) {
  TempDir dir;
  const std::string path = dir.file("order.safetensors");
  const std::string header = R"({"b": {"dtype": "U8", "shape": [2], "data_offsets": [0, 2]},)"
                             R"( "a": {"dtype": "U8", "shape": [1], "data_offsets": [2, 3]},)"
                             R"( "empty": {"dtype": "F32", "shape": [0], "data_offsets": [3, 3]}})";
  testing::write_file(path, testing::safetensors_bytes(header, "xyz"));
  const SafetensorsFile file = SafetensorsFile::open(path);
  ASSERT_EQ(file.entries().size(), 3u);
  EXPECT_EQ(file.entries()[0].name, "b");
  EXPECT_EQ(file.entries()[1].name, "a");
  EXPECT_EQ(file.entries()[2].name, "empty");
  EXPECT_EQ(file.read("a").data<std::uint8_t>()[0], 'z');
}

TEST(Safetensors, ListsForeignDTypesButReadsOnlyRosettas) {
  TempDir dir;
  const std::string path = dir.file("foreign.safetensors");
  const std::string header = R"({"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},)"
                             R"( "bn.num_batches_tracked": {"dtype": "I64", "shape": [], "data_offsets": [4, 12]}})";
  testing::write_file(path, testing::safetensors_bytes(header, std::string(12, '\0')));
  const SafetensorsFile file = SafetensorsFile::open(path);
  ASSERT_NE(file.find("bn.num_batches_tracked"), nullptr);
  EXPECT_FALSE(file.find("bn.num_batches_tracked")->dtype.has_value());
  EXPECT_EQ(file.read("w").to_vector(), std::vector<float>{0.0f});
  try {
    file.read("bn.num_batches_tracked");
    FAIL() << "an I64 tensor cannot be read into a rosetta tensor";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("I64"), std::string::npos) << e.what();
  }
  EXPECT_THROW(file.read("nope"), InputError);
}

TEST(Safetensors, ReadIntoChecksTheDestination) {
  TempDir dir;
  const std::string path = dir.file("into.safetensors");
  write_safetensors(path, {{"w", patterned({2, 3}, DType::f32, 1)}});
  const SafetensorsFile file = SafetensorsFile::open(path);
  EXPECT_THROW(file.read_into(file.entries()[0], Tensor::empty({5}, DType::f32)), Error);
  EXPECT_THROW(file.read_into(file.entries()[0], Tensor::empty({6}, DType::i32)), Error);
  Tensor flat = Tensor::empty({6}, DType::f32);  // same count, other shape: fine
  file.read_into(file.entries()[0], flat);
  EXPECT_TRUE(same_bytes(flat.reshape({2, 3}), patterned({2, 3}, DType::f32, 1)));
}

TEST(Safetensors, ByteCountMessageNamesFileTensorAndField) {
  TempDir dir;
  const std::string path = dir.file("model.safetensors");
  const std::string header = R"({"conv1.weight": {"dtype": "F32", "shape": [50, 3, 3, 3], "data_offsets": [0, 100]}})";
  testing::write_file(path, testing::safetensors_bytes(header, std::string(100, '\0')));
  EXPECT_EQ(open_error(path), path + ": tensor 'conv1.weight': data_offsets [0, 100] hold 100 bytes, but shape "
                                     "(50, 3, 3, 3) of F32 needs 5400");
}

TEST(Safetensors, MissingFileAndDirectoryAreInputErrors) {
  TempDir dir;
  EXPECT_EQ(open_error(dir.file("absent.safetensors")), dir.file("absent.safetensors") + ": no such file");
  EXPECT_EQ(open_error(dir.path().string()), dir.path().string() + ": is a directory, not a safetensors file");
}

TEST(Safetensors, FileTextInMessagesStaysOnOneLine) {
  TempDir dir;
  const std::string path = dir.file("newline.safetensors");
  testing::write_file(path, testing::safetensors_bytes(R"({"a\nb": {"dtype": "Q\t", "shape": [], "data_offsets": [0, 0]}})", ""));
  const std::string message = open_error(path);
  EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  EXPECT_NE(message.find("tensor 'a\\nb': dtype 'Q\\x09'"), std::string::npos) << message;
}

// Structurally hostile headers, each valid JSON: a million objects inside one entry (which nlohmann's callback
// parser, the reader's old JSON parse, takes an hour over), more values than the cap (refused before the ~100 MB
// document is built), and 50,000 tensors, which open in time and memory linear in the header.
TEST(Safetensors, HostileHeadersCostTimeAndMemoryLinearInTheirSize) {
  TempDir dir;
  const auto objects = [](std::size_t n) {
    std::string text = R"({"a": [)";
    for (std::size_t i = 0; i < n; ++i) text += i ? ",{}" : "{}";
    return text + "]}";
  };
  const std::string wide = dir.file("wide.safetensors");
  testing::write_file(wide, testing::safetensors_bytes(objects(1'000'000), ""));
  const auto start = std::chrono::steady_clock::now();
  testing::expect_message(open_error(wide), {wide, "tensor 'a' is [{},{}", "expected an object"});
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), 30.0);

  const std::string over = dir.file("over.safetensors");
  testing::write_file(over, testing::safetensors_bytes(objects(std::size_t{1} << 20), ""));
  const testing::MeasuredRun run = testing::run_measured([&] { SafetensorsFile::open(over); });
  testing::expect_message(run.outcome, {over + ": header holds more than 1048576 JSON values"});
  EXPECT_LT(run.peak_growth, std::uint64_t{24} << 20);  // the 3 MB header, read once, and the first pass

  std::string many = "{";
  for (int i = 0; i < 50'000; ++i)
    many += (i ? "," : "") + ("\"t" + std::to_string(i) + R"(": {"dtype": "F32", "shape": [0], "data_offsets": [0, 0]})");
  const std::string tensors = dir.file("tensors.safetensors");
  testing::write_file(tensors, testing::safetensors_bytes(many + "}", ""));
  const testing::MeasuredRun opened = testing::run_measured([&] {
    if (SafetensorsFile::open(tensors).entries().size() != 50'000u) throw std::runtime_error("lost entries");
  });
  EXPECT_EQ(opened.outcome, "ok");
  EXPECT_LT(opened.peak_growth, testing::memory_bound(std::uint64_t{128} << 20));  // a 3.6 MB header
}

// One malformed file per check of the reader.
class SafetensorsMalformed : public ::testing::TestWithParam<MalformedCase> {};

TEST_P(SafetensorsMalformed, IsOneInputErrorLineNamingFileAndField) {
  TempDir dir;
  const MalformedCase& bad = GetParam();
  const std::string path = dir.file(bad.name + ".safetensors");
  testing::write_file(path, bad.bytes);
  const std::string message = open_error(path);
  EXPECT_EQ(message.rfind(path + ": ", 0), 0u) << message;
  EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  for (const std::string& fragment : bad.fragments)
    EXPECT_NE(message.find(fragment), std::string::npos) << "no '" << fragment << "' in: " << message;
}

INSTANTIATE_TEST_SUITE_P(EveryCheck, SafetensorsMalformed, ::testing::ValuesIn(testing::malformed_cases()),
                         [](const ::testing::TestParamInfo<MalformedCase>& info) { return info.param.name; });

// A write that fails leaves the good file as it was and no temporary beside it.
TEST(Safetensors, FailedWritesLeaveTheGoodFileAlone) {
  TempDir dir;
  const std::string path = dir.file("good.safetensors");
  write_safetensors(path, {{"w", patterned({4}, DType::f32, 1)}});
  const std::string good = testing::read_file(path);

  const Tensor t = patterned({2}, DType::f32, 2);
  EXPECT_THROW(write_safetensors(path, {{"x", t}, {"x", t}}), Error);  // caller mistake, caught before writing
  EXPECT_THROW(write_safetensors(path, {{"__metadata__", t}}), Error);
  EXPECT_THROW(write_safetensors(path, {{"x", Tensor()}}), Error);
  EXPECT_EQ(testing::read_file(path), good);
  EXPECT_EQ(dir.listing(), std::vector<std::string>{"good.safetensors"});

  const std::string in_missing_dir = dir.file("no/such/dir/x.safetensors");
  EXPECT_THROW(write_safetensors(in_missing_dir, {{"x", t}}), InputError);
  EXPECT_FALSE(std::filesystem::exists(in_missing_dir));

  // The target is a non-empty directory: the data is written, the rename fails, the temporary goes away.
  const std::string occupied = dir.file("occupied");
  std::filesystem::create_directory(occupied);
  testing::write_file(occupied + "/keep", "k");
  try {
    write_safetensors(occupied, {{"x", t}});
    FAIL() << "renaming onto a directory should fail";
  } catch (const InputError& e) {
    EXPECT_EQ(std::string(e.what()).rfind(occupied + ": ", 0), 0u) << e.what();
  }
  EXPECT_EQ(dir.listing(), (std::vector<std::string>{"good.safetensors", "occupied"}));
  EXPECT_EQ(testing::read_file(occupied + "/keep"), "k");
}

TEST(Safetensors, RewriteReplacesTheFile) {
  TempDir dir;
  const std::string path = dir.file("w.safetensors");
  write_safetensors(path, {{"w", patterned({4}, DType::f32, 1)}});
  write_safetensors(path, {{"v", patterned({2}, DType::u8, 2)}});
  const SafetensorsFile file = SafetensorsFile::open(path);
  ASSERT_EQ(file.entries().size(), 1u);
  EXPECT_TRUE(same_bytes(file.read("v"), patterned({2}, DType::u8, 2)));
  EXPECT_EQ(dir.listing(), std::vector<std::string>{"w.safetensors"});
}

TEST(Safetensors, WritesCudaTensors) {
  ROSETTA_REQUIRE_CUDA();
  TempDir dir;
  const Tensor host = patterned({3, 5}, DType::f32, 4);
  const std::string path = dir.file("cuda.safetensors");
  write_safetensors(path, {{"w", host.to(Device::cuda)}, {"e", Tensor::empty({0}, DType::f32, Device::cuda)}});
  const SafetensorsFile file = SafetensorsFile::open(path);
  EXPECT_TRUE(same_bytes(file.read("w"), host));
  EXPECT_EQ(file.read("e").numel(), 0);
}

// ---- oracle: an independent writer and reader in Python (struct + json + numpy) ----------------------------

// Mode "write PATH": writes a file the C++ test knows the contents of. Mode "check PATH": verifies the file the
// C++ test wrote. Exit 0 when fine, 77 when numpy is missing (the test skips), anything else on a mismatch.
constexpr const char* kPythonOracle = R"PY(
import json, struct, sys
try:
    import numpy as np
except ImportError:
    sys.exit(77)
mode, path = sys.argv[1], sys.argv[2]
arrays = {
    "f32": np.arange(24, dtype=np.float32).reshape(2, 3, 4) * 0.5 - 3,
    "f16": np.array([1.0, -2.5, 65504.0, 0.5], dtype=np.float16),
    "i32": np.array([-1, 2**31 - 1, -2**31], dtype=np.int32),
    "u8": np.arange(256, dtype=np.uint8).reshape(16, 16),
    "u64": np.array([2**64 - 1, 0, 12345], dtype=np.uint64),
    "scalar": np.array(7.25, dtype=np.float32),
}
names = {np.float32: "F32", np.float16: "F16", np.int32: "I32", np.uint8: "U8", np.uint64: "U64"}
if mode == "write":
    header, data = {"__metadata__": {"writer": "python"}}, b""
    for name, a in arrays.items():
        header[name] = {"dtype": names[a.dtype.type], "shape": list(a.shape), "data_offsets": [len(data), len(data) + a.nbytes]}
        data += a.tobytes()
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    open(path, "wb").write(struct.pack("<Q", len(text)) + text + data)
else:
    blob = open(path, "rb").read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n].decode("utf-8"))
    assert header.pop("__metadata__") == {"writer": "rosetta"}, "metadata"
    assert list(header) == list(arrays), list(header)
    data, end = blob[8 + n:], 0
    for name, a in arrays.items():
        e = header[name]
        assert e["dtype"] == names[a.dtype.type] and e["shape"] == list(a.shape), name
        assert e["data_offsets"] == [end, end + a.nbytes], name
        end += a.nbytes
        got = np.frombuffer(data[e["data_offsets"][0]:e["data_offsets"][1]], dtype=a.dtype).reshape(a.shape)
        assert np.array_equal(got, a), name
    assert end == len(data), "trailing data"
)PY";

// Runs the oracle; returns its exit status (77: numpy missing; -1: the interpreter did not run).
int run_python_oracle(const TempDir& dir, const std::string& mode, const std::string& path) {
  const std::string python = testing::python_interpreter();
  const std::string script = dir.file("oracle.py");
  testing::write_file(script, kPythonOracle);
  const int status = std::system((python + " '" + script + "' " + mode + " '" + path + "'").c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// The values the oracle writes and expects, built independently in C++.
NamedTensors oracle_tensors() {
  std::vector<float> f32(24);
  for (int i = 0; i < 24; ++i) f32[i] = i * 0.5f - 3.0f;
  Tensor f16 = Tensor::empty({4}, DType::f16);
  const std::uint16_t half_bits[4] = {0x3C00, 0xC100, 0x7BFF, 0x3800};  // 1, -2.5, 65504, 0.5
  std::memcpy(f16.raw(), half_bits, sizeof half_bits);
  Tensor i32 = Tensor::empty({3}, DType::i32);
  const std::int32_t ints[3] = {-1, 2147483647, -2147483647 - 1};
  std::memcpy(i32.raw(), ints, sizeof ints);
  Tensor u8 = Tensor::empty({16, 16}, DType::u8);
  for (int i = 0; i < 256; ++i) u8.data<std::uint8_t>()[i] = static_cast<std::uint8_t>(i);
  Tensor u64 = Tensor::empty({3}, DType::u64);
  const std::uint64_t longs[3] = {~0ull, 0, 12345};
  std::memcpy(u64.raw(), longs, sizeof longs);
  return {{"f32", Tensor::from_vector({2, 3, 4}, f32)}, {"f16", f16}, {"i32", i32}, {"u8", u8}, {"u64", u64},
          {"scalar", Tensor::from_vector({}, {7.25f})}};
}

TEST(SafetensorsOracle, ReadsAFileWrittenByPython) {
  TempDir dir;
  const std::string path = dir.file("python.safetensors");
  const int status = run_python_oracle(dir, "write", path);
  if (status == 77 || status == -1) GTEST_SKIP() << testing::python_interpreter() << " with numpy is not available";
  ASSERT_EQ(status, 0);
  const SafetensorsFile file = SafetensorsFile::open(path);
  EXPECT_EQ(file.metadata(), (SafetensorsMetadata{{"writer", "python"}}));
  for (const auto& [name, expected] : oracle_tensors()) EXPECT_TRUE(same_bytes(file.read(name), expected)) << name;
}

TEST(SafetensorsOracle, PythonReadsOurFile) {
  TempDir dir;
  const std::string path = dir.file("rosetta.safetensors");
  write_safetensors(path, oracle_tensors(), {{"writer", "rosetta"}});
  const int status = run_python_oracle(dir, "check", path);
  if (status == 77 || status == -1) GTEST_SKIP() << testing::python_interpreter() << " with numpy is not available";
  EXPECT_EQ(status, 0) << "the Python reader rejected the file (its assertion is printed above)";
}

}  // namespace
}  // namespace rosetta
