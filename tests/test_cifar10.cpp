// CIFAR-10 binary reader against generated files: six valid files of 10000 records each (written once for the
// suite), whose bytes are a known function of (file, record, byte), plus malformed variants: truncated,
// oversized, a bad label, a missing file, a directory in a file's place, a sparse 20 GB file refused from its
// size before anything is read; and the record decoder on its own.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "datasets/batcher.h"
#include "datasets/cifar10.h"
#include "tests/support/peak_memory.h"

namespace rosetta {
namespace {

namespace fs = std::filesystem;

// File f: 0-4 data_batch_{f+1}.bin, 5 test_batch.bin.
std::uint8_t expected_label(int f, std::int64_t r) { return static_cast<std::uint8_t>((f * 3 + r * 7) % 10); }
std::uint8_t expected_pixel(int f, std::int64_t r, std::int64_t k) {
  static const std::vector<std::int64_t> byte_term = [] {  // the part that depends on k only
    std::vector<std::int64_t> t(kCifar10ImageBytes);
    for (std::int64_t i = 0; i < kCifar10ImageBytes; ++i) t[i] = i * 31 + (i * i) % 251;
    return t;
  }();
  return static_cast<std::uint8_t>((f * 7919 + r * 104729 + byte_term[k]) & 0xff);
}

std::vector<std::uint8_t> file_bytes(int f) {
  std::vector<std::uint8_t> bytes(static_cast<std::size_t>(kCifar10FileBytes));
  for (std::int64_t r = 0; r < kCifar10Records; ++r) {
    std::uint8_t* record = bytes.data() + r * kCifar10RecordBytes;
    record[0] = expected_label(f, r);
    for (std::int64_t k = 0; k < kCifar10ImageBytes; ++k) record[1 + k] = expected_pixel(f, r, k);
  }
  return bytes;
}

void write_file(const fs::path& path, const std::vector<std::uint8_t>& bytes) {
  std::FILE* file = std::fopen(path.c_str(), "wb");
  ASSERT_NE(file, nullptr) << path;
  ASSERT_EQ(std::fwrite(bytes.data(), 1, bytes.size(), file), bytes.size()) << path;
  ASSERT_EQ(std::fclose(file), 0) << path;
}

// The InputError message of `read`, or a failure when it does not throw one.
std::string input_error(const std::function<void()>& read) {
  try {
    read();
  } catch (const InputError& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected an InputError";
  return "";
}

void expect_contains(const std::string& message, const std::string& part) {
  EXPECT_NE(message.find(part), std::string::npos) << "'" << message << "' lacks '" << part << "'";
}

class Cifar10 : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    root_ = fs::temp_directory_path() / ("rosetta_test_cifar10_" + std::to_string(::getpid()));
    fs::create_directories(root_ / "valid");
    std::vector<std::string> names = cifar10_train_files();
    names.push_back(cifar10_test_file());
    for (int f = 0; f < 6; ++f) write_file(root_ / "valid" / names[f], file_bytes(f));
  }
  static void TearDownTestSuite() { fs::remove_all(root_); }

  // A fresh directory under the suite's root.
  static fs::path make_dir(const std::string& name) {
    const fs::path dir = root_ / name;
    fs::create_directories(dir);
    return dir;
  }
  static fs::path valid(const std::string& file) { return root_ / "valid" / file; }

  static fs::path root_;
};
fs::path Cifar10::root_;

TEST_F(Cifar10, TrainIsDataBatches1To5InTurn) {
  const Dataset train = read_cifar10_train((root_ / "valid").string());
  EXPECT_EQ(train.name, "cifar10 train");
  EXPECT_EQ(train.num_classes, 10);
  ASSERT_EQ(train.inputs.shape(), (Shape{50000, 3, 32, 32}));
  ASSERT_EQ(train.inputs.dtype(), DType::u8);
  ASSERT_EQ(train.labels.shape(), (Shape{50000}));
  ASSERT_EQ(train.labels.dtype(), DType::i32);
  const std::uint8_t* pixels = train.inputs.data<std::uint8_t>();
  const std::int32_t* labels = train.labels.data<std::int32_t>();
  std::int64_t label_mismatches = 0, pixel_mismatches = 0;
  for (int f = 0; f < 5; ++f) {
    for (std::int64_t r = 0; r < kCifar10Records; ++r) {
      const std::int64_t n = f * kCifar10Records + r;
      label_mismatches += labels[n] != expected_label(f, r);
      for (std::int64_t k = 0; k < kCifar10ImageBytes; ++k)
        pixel_mismatches += pixels[n * kCifar10ImageBytes + k] != expected_pixel(f, r, k);
    }
  }
  EXPECT_EQ(label_mismatches, 0);
  EXPECT_EQ(pixel_mismatches, 0);
}

TEST_F(Cifar10, ImagesAreRgbPlanesRowMajor) {
  const Dataset test = read_cifar10_test((root_ / "valid").string());
  ASSERT_EQ(test.size(), 10000);
  // inputs[n, c, y, x] is record byte 1 + c*1024 + y*32 + x.
  const std::int64_t n = 4321, c = 2, y = 17, x = 5;
  EXPECT_EQ(test.inputs.data<std::uint8_t>()[((n * 3 + c) * 32 + y) * 32 + x],
            expected_pixel(5, n, c * 1024 + y * 32 + x));
  EXPECT_EQ(test.labels.data<std::int32_t>()[n], expected_label(5, n));
}

TEST_F(Cifar10, BatchesDecodePixelsAsXOver255Exactly) {
  // float(x) / 255 in f32 is correctly rounded; so is the double quotient rounded to float, because double has
  // more than 2 * 24 + 2 bits (double rounding is innocuous for division). Hence exact equality.
  for (int byte = 0; byte < 256; ++byte) {
    EXPECT_EQ(pixel_value(static_cast<std::uint8_t>(byte)), static_cast<float>(byte / 255.0)) << byte;
  }
  const Dataset test = read_cifar10_test((root_ / "valid").string());
  Batcher batcher(test, 64, Device::cpu, /*shuffle=*/false, 0);
  batcher.start_epoch(0);
  EXPECT_EQ(batcher.batches_per_epoch(), 156);  // 10000 / 64, remainder dropped
  for (std::int64_t b = 0; b < 3; ++b) {
    const Batch batch = batcher.next(Context::cpu());
    ASSERT_EQ(batch.inputs.shape(), (Shape{64, 3, 32, 32}));
    ASSERT_EQ(batch.inputs.dtype(), DType::f32);
    const float* values = batch.inputs.data<float>();
    for (std::int64_t j = 0; j < 64; ++j) {
      const std::int64_t r = b * 64 + j;
      ASSERT_EQ(batch.labels.data<std::int32_t>()[j], expected_label(5, r));
      for (std::int64_t k = 0; k < kCifar10ImageBytes; ++k)
        ASSERT_EQ(values[j * kCifar10ImageBytes + k], static_cast<float>(expected_pixel(5, r, k) / 255.0))
            << "record " << r << " byte " << k;
    }
  }
}

TEST_F(Cifar10, ReadsBothSplits) {
  const DatasetSplits splits = read_cifar10((root_ / "valid").string());
  EXPECT_EQ(splits.train.size(), 50000);
  EXPECT_EQ(splits.test.size(), 10000);
  EXPECT_EQ(splits.test.name, "cifar10 test");
}

TEST_F(Cifar10, TruncatedFileNamesSizes) {
  const fs::path dir = make_dir("truncated");
  fs::copy_file(valid("test_batch.bin"), dir / "test_batch.bin");
  fs::resize_file(dir / "test_batch.bin", kCifar10FileBytes - 1);
  const std::string message = input_error([&] { read_cifar10_test(dir.string()); });
  expect_contains(message, (dir / "test_batch.bin").string());
  expect_contains(message, "30729999 bytes");
  expect_contains(message, "expected 30730000");
}

TEST_F(Cifar10, OversizedFileNamesSizes) {
  const fs::path dir = make_dir("oversized");
  fs::copy_file(valid("data_batch_1.bin"), dir / "data_batch_1.bin");
  fs::resize_file(dir / "data_batch_1.bin", kCifar10FileBytes + 1);
  const std::string message = input_error([&] { read_cifar10_train(dir.string()); });
  expect_contains(message, (dir / "data_batch_1.bin").string());
  expect_contains(message, "30730001 bytes");
  expect_contains(message, "expected 30730000");
}

TEST_F(Cifar10, BadLabelNamesFileAndRecord) {
  const fs::path dir = make_dir("bad_label");
  std::vector<std::uint8_t> bytes = file_bytes(5);
  bytes[1234 * kCifar10RecordBytes] = 10;
  write_file(dir / "test_batch.bin", bytes);
  const std::string message = input_error([&] { read_cifar10_test(dir.string()); });
  expect_contains(message, (dir / "test_batch.bin").string());
  expect_contains(message, "record 1234");
  expect_contains(message, "label 10");
}

TEST_F(Cifar10, MissingFileIsNamed) {
  const fs::path dir = make_dir("missing");
  fs::create_symlink(valid("data_batch_1.bin"), dir / "data_batch_1.bin");
  fs::create_symlink(valid("data_batch_2.bin"), dir / "data_batch_2.bin");
  const std::string message = input_error([&] { read_cifar10_train(dir.string()); });
  expect_contains(message, (dir / "data_batch_3.bin").string());
  expect_contains(message, "missing");
  expect_contains(input_error([&] { read_cifar10_test((root_ / "no_such_directory").string()); }),
                  "test_batch.bin");
}

// A declared size far beyond the format's (a sparse 20 GB data_batch_5.bin) is refused from the file's size before
// any file is read or the 150 MB training tensor is filled: the read's memory is bounded by the format.
TEST_F(Cifar10, EveryFileSizeIsCheckedBeforeAnythingIsRead) {
  const fs::path dir = make_dir("sparse");
  for (int f = 0; f < 4; ++f) fs::create_symlink(valid(cifar10_train_files()[f]), dir / cifar10_train_files()[f]);
  write_file(dir / "data_batch_5.bin", {0});
  fs::resize_file(dir / "data_batch_5.bin", std::uint64_t{20} << 30);
  const testing::MeasuredRun run = testing::run_measured([&] { read_cifar10_train(dir.string()); });
  expect_contains(run.outcome, (dir / "data_batch_5.bin").string() + ": 21474836480 bytes, expected 30730000");
  EXPECT_LT(run.peak_growth, std::uint64_t{16} << 20);
}

TEST(Cifar10Records, DecodeChecksTheSizeAndEveryLabel) {
  std::vector<std::uint8_t> bytes(2 * kCifar10RecordBytes, 7);
  std::int32_t labels[2];
  std::vector<std::uint8_t> pixels(2 * kCifar10ImageBytes);
  decode_cifar10_records(bytes.data(), bytes.size(), 2, "two.bin", labels, pixels.data());
  EXPECT_EQ(labels[1], 7);
  EXPECT_EQ(pixels.back(), 7);
  expect_contains(input_error([&] { decode_cifar10_records(bytes.data(), bytes.size() - 1, 2, "two.bin", labels,
                                                           pixels.data()); }),
                  "two.bin: 6145 bytes, expected 6146 (2 records");
  bytes[kCifar10RecordBytes] = 200;
  expect_contains(input_error([&] { decode_cifar10_records(bytes.data(), bytes.size(), 2, "two.bin", labels,
                                                           pixels.data()); }),
                  "two.bin: record 1 has label 200, expected 0-9");
}

TEST_F(Cifar10, DirectoryInPlaceOfFileIsRejected) {
  const fs::path dir = make_dir("directory");
  fs::create_directories(dir / "test_batch.bin");
  expect_contains(input_error([&] { read_cifar10_test(dir.string()); }), "is a directory, not a CIFAR-10 binary file");
}

}  // namespace
}  // namespace rosetta
