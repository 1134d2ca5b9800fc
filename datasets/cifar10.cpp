// CIFAR-10 binary reader. Every file is checked for existence and exact size before anything is allocated or read,
// and each label for range after; the pixels are copied unchanged into one (N, 3, 32, 32) u8 tensor.
#include "datasets/cifar10.h"

#include <cstring>
#include <filesystem>

#include "runtime/atomic_file.h"
#include "runtime/input_file.h"
#include "runtime/interrupt.h"

namespace rosetta {
namespace {

namespace fs = std::filesystem;

std::string join(const std::string& directory, const std::string& file) {
  return (fs::path(directory) / file).string();
}

// The file at `path`, opened, after the checks that need no read: it exists, is a regular file and has exactly
// kCifar10FileBytes bytes.
InputFile open_checked(const std::string& path) {
  std::error_code error;
  if (!fs::exists(fs::symlink_status(path, error)) || !fs::exists(fs::status(path, error))) {
    ROSETTA_INPUT_ERROR(path << ": missing CIFAR-10 file (expected the binary version: data_batch_1.bin .. "
                                "data_batch_5.bin and test_batch.bin in one directory)");
  }
  InputFile file(path, "a CIFAR-10 binary file");
  if (file.size() != static_cast<std::uint64_t>(kCifar10FileBytes)) {
    ROSETTA_INPUT_ERROR(path << ": " << file.size() << " bytes, expected " << kCifar10FileBytes << " ("
                             << kCifar10Records << " records of 1 label byte + " << kCifar10ImageBytes
                             << " pixel bytes)");
  }
  return file;
}

}  // namespace

std::vector<std::string> cifar10_train_files() {
  return {"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin"};
}

std::string cifar10_test_file() { return "test_batch.bin"; }

void decode_cifar10_records(const std::uint8_t* bytes, std::size_t size, std::int64_t records,
                            const std::string& path, std::int32_t* labels, std::uint8_t* pixels) {
  if (records < 0 || size != static_cast<std::uint64_t>(records * kCifar10RecordBytes)) {
    ROSETTA_INPUT_ERROR(path << ": " << size << " bytes, expected " << records * kCifar10RecordBytes << " ("
                             << records << " records of 1 label byte + " << kCifar10ImageBytes << " pixel bytes)");
  }
  for (std::int64_t r = 0; r < records; ++r) {
    const std::uint8_t* record = bytes + r * kCifar10RecordBytes;
    if (record[0] >= kCifar10Classes) {
      ROSETTA_INPUT_ERROR(path << ": record " << r << " has label " << int(record[0]) << ", expected 0-"
                               << kCifar10Classes - 1);
    }
    labels[r] = record[0];
    std::memcpy(pixels + r * kCifar10ImageBytes, record + 1, kCifar10ImageBytes);
  }
}

Dataset read_cifar10_files(const std::vector<std::string>& paths, const std::string& name) {
  std::vector<InputFile> files;  // every file checked before anything is allocated or read
  for (const std::string& path : paths) files.push_back(open_checked(path));
  const std::int64_t n = kCifar10Records * static_cast<std::int64_t>(paths.size());
  Dataset data;
  data.name = name;
  data.num_classes = kCifar10Classes;
  data.inputs = Tensor::empty({n, 3, 32, 32}, DType::u8);  // (N, 3, 32, 32)
  data.labels = Tensor::empty({n}, DType::i32);            // (N,)
  std::vector<std::uint8_t> file_bytes(static_cast<std::size_t>(kCifar10FileBytes));
  for (std::size_t f = 0; f < files.size(); ++f) {
    const std::int64_t first = static_cast<std::int64_t>(f) * kCifar10Records;
    files[f].read_at(0, file_bytes.data(), file_bytes.size(), "its records");
    decode_cifar10_records(file_bytes.data(), file_bytes.size(), kCifar10Records, paths[f],
                           data.labels.data<std::int32_t>() + first,
                           data.inputs.data<std::uint8_t>() + first * kCifar10ImageBytes);
  }
  return data;
}

Dataset read_cifar10_train(const std::string& directory) {
  std::vector<std::string> paths;
  for (const std::string& file : cifar10_train_files()) paths.push_back(join(directory, file));
  return read_cifar10_files(paths, "cifar10 train");
}

Dataset read_cifar10_test(const std::string& directory) {
  return read_cifar10_files({join(directory, cifar10_test_file())}, "cifar10 test");
}

DatasetSplits read_cifar10(const std::string& directory) {
  return {read_cifar10_train(directory), read_cifar10_test(directory)};
}

namespace {
// Records [first, first + kCifar10Records) of `data` into `path`, written atomically.
void write_file(const Dataset& data, std::int64_t first, const std::string& path) {
  std::vector<std::uint8_t> bytes(static_cast<std::size_t>(kCifar10FileBytes));
  const std::uint8_t* pixels = data.inputs.data<std::uint8_t>();
  const std::int32_t* labels = data.labels.data<std::int32_t>();
  for (std::int64_t r = 0; r < kCifar10Records; ++r) {
    std::uint8_t* record = bytes.data() + r * kCifar10RecordBytes;
    record[0] = static_cast<std::uint8_t>(labels[first + r]);
    std::memcpy(record + 1, pixels + (first + r) * kCifar10ImageBytes, kCifar10ImageBytes);
  }
  AtomicFile file(path);
  file.write(bytes.data(), bytes.size());
  file.commit();
}

void check_writable(const Dataset& data, std::int64_t examples) {
  ROSETTA_CHECK(data.size() == examples && data.inputs.dtype() == DType::u8 &&
                    data.inputs.shape() == Shape({examples, 3, 32, 32}),
                data.name << ": CIFAR-10 files need " << examples << " u8 (3, 32, 32) images, got "
                          << dtype_name(data.inputs.dtype()) << data.inputs.shape().str());
}
}  // namespace

void write_cifar10(const DatasetSplits& data, const std::string& directory) {
  const std::int64_t train_files = static_cast<std::int64_t>(cifar10_train_files().size());
  check_writable(data.train, train_files * kCifar10Records);
  check_writable(data.test, kCifar10Records);
  std::vector<std::string> names = cifar10_train_files();
  names.push_back(cifar10_test_file());
  AtomicFolder folder(directory, names);
  // A first SIGINT/SIGTERM abandons the export between files (runtime/interrupt.h): the folder stays as it was.
  for (std::int64_t f = 0; f < train_files; ++f) {
    write_file(data.train, f * kCifar10Records, folder.file(cifar10_train_files()[f]));
    throw_if_interrupted("during the CIFAR-10 export: " + directory + " left as it was");
  }
  write_file(data.test, 0, folder.file(cifar10_test_file()));
  folder.commit();
}

}  // namespace rosetta
