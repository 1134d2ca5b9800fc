// CIFAR-10, binary version (https://www.cs.toronto.edu/~kriz/cifar.html): data_batch_1.bin .. data_batch_5.bin
// and test_batch.bin in one directory. Each file holds exactly 10000 records of 1 label byte (0-9) followed by
// 3072 pixel bytes: the R, G and B planes, each 32x32 row-major, i.e. one (3, 32, 32) CHW image.
//
// The reader keeps the pixels as bytes: inputs (N, 3, 32, 32) u8 (150 MB for the training set instead of 600 MB
// as f32); the Batcher decodes each batch to f32 x / 255 (Dataset's rule), the seed's preprocessing.
// Train order is the records of data_batch_1..5 in turn: the --no-shuffle order of DESIGN.md.
// Every malformed input is one InputError naming the file: missing, wrong size (expected and actual bytes),
// a label above 9 (with the record index). Bounds: the format fixes every size, and every file's is checked before
// anything is allocated or read, so a read takes the set's own 184 MB (u8 pixels, i32 labels) and one 30.7 MB
// buffer, in time linear in it, whatever the files hold.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "datasets/dataset.h"

namespace rosetta {

constexpr std::int64_t kCifar10Records = 10000;      // per file
constexpr std::int64_t kCifar10ImageBytes = 3 * 32 * 32;
constexpr std::int64_t kCifar10RecordBytes = 1 + kCifar10ImageBytes;
constexpr std::int64_t kCifar10FileBytes = kCifar10Records * kCifar10RecordBytes;  // 30,730,000
constexpr int kCifar10Classes = 10;

// The five training files then the test file, as named in the binary version.
std::vector<std::string> cifar10_train_files();
std::string cifar10_test_file();

// 50000 examples from data_batch_1..5.bin in `directory`, in file order.
Dataset read_cifar10_train(const std::string& directory);
// 10000 examples from test_batch.bin in `directory`.
Dataset read_cifar10_test(const std::string& directory);
DatasetSplits read_cifar10(const std::string& directory);

// Writes `data` as the six binary files into `directory`, committed as a whole (runtime/atomic_file.h's
// AtomicFolder: the folder holds the old six files or the new six, never a mix, and a failed or interrupted export
// leaves it as it was): how rosetta hands its synthetic set to the peers, which then read exactly what rosetta
// reads. An existing `directory` may hold only those six files (an earlier export). Needs CIFAR-10's sizes (50000
// train, 10000 test) and u8 (N, 3, 32, 32) inputs.
void write_cifar10(const DatasetSplits& data, const std::string& directory);

// The records of `paths`, in turn, as one dataset called `name`.
Dataset read_cifar10_files(const std::vector<std::string>& paths, const std::string& name);

// Checks and decodes one file's bytes, `records` records of `size` bytes in all (a whole file: kCifar10Records),
// into labels[0, records) and pixels (records, 3072); `path` names the file in the InputErrors.
void decode_cifar10_records(const std::uint8_t* bytes, std::size_t size, std::int64_t records,
                            const std::string& path, std::int32_t* labels, std::uint8_t* pixels);

}  // namespace rosetta
