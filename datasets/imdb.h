// Keras' IMDB sentiment set (imdb.npz, https://s3.amazonaws.com/text-datasets/imdb.npz): the reader, the seed's
// preprocessing, and the preprocessed token file rosetta hands to the peers.
//
// The file: a zip (datasets/zip.h) of four .npy members (datasets/npy.h): x_train.npy and x_test.npy, 1-D object
// arrays ('|O', shape (25000,)) of Python lists of word ids whose payload is a pickle (datasets/pickle.h), and
// y_train.npy, y_test.npy, int64 labels 0/1. Word id k is the k-th most frequent word (1-based).
//
// The seed's preprocessing, verified against microsoft/DeepLearningFrameworks common/utils.py (imdb_for_library,
// called with seq_len=MAXLEN=150 and max_features=MAXFEATURES=30000 by the RNN notebooks):
//   1. x = np.concatenate([x_train, x_test]) (each sequence below is transformed on its own, so rosetta applies
//      the steps per split; the result is identical);
//   2. each sequence becomes [START_CHAR=1] + [w + INDEX_FROM=3 for w in seq];
//   3. every value w >= max_features becomes OOV_CHAR=2 (applied after the +3, to the start char too, which is
//      below 30000 anyway), so word ids >= 29997 in the file become 2;
//   4. padding is the seed's own loop, not keras' pad_sequences: `obs = obs[-seq_len:]` keeps the LAST 150
//      values (the start char falls away from longer sequences: truncating='pre'), copied to the row's start
//      of a zero array (padding='post', value 0). Keras' pad_sequences defaults would pad *before*
//      (padding='pre'); the seed did not use them. This is the layout DESIGN.md names;
//   5. x_train = rows [0, 25000), x_test = rows [25000, 50000), int32; y as int32.
// Output: DatasetSplits with inputs (N, 150) i32 token ids in [0, 30000) and labels (N,) i32 in {0, 1},
// num_classes 2, names "imdb train" / "imdb test". Train order is file order (the --no-shuffle order).
//
// Preprocessed form: a file whose x_train.npy / x_test.npy are 2-D integer arrays (N, 150) holds tokens that are
// already preprocessed (what write_imdb_tokens writes); they are read unchanged, each checked to lie in
// [0, vocabulary). The two members may differ in form; labels are the same in both forms.
// Checks (each one InputError line naming the file, member and where): the four members exist; word ids are
// non-negative; labels are 0 or 1 and as many as the sequences; dtypes and shapes are as above.
// Bounds, each checked before the work it limits: a member extracts to at most kImdbMaxMemberBytes (and to at most
// 64 times its compressed size above 1 MiB: datasets/zip.h); a split holds at most kImdbMaxTokens tokens
// (examples x max_length), checked against the .npy header's shape before the pickle is parsed or a token
// allocated; the pickle builds at most min(256 MiB, 16 bytes per byte of it + 1 MiB) (datasets/pickle.h). So
// reading any file costs well under 1 GiB, a small file little, and time is linear in the extracted bytes.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "datasets/dataset.h"

namespace rosetta {

constexpr std::int64_t kImdbMaxLength = 150;    // MAXLEN: tokens per example
constexpr std::int64_t kImdbVocabulary = 30000; // MAXFEATURES: token ids lie in [0, 30000)
constexpr std::int32_t kImdbPad = 0;
constexpr std::int32_t kImdbStartChar = 1;
constexpr std::int32_t kImdbOovChar = 2;
constexpr std::int32_t kImdbIndexFrom = 3;
constexpr int kImdbClasses = 2;
// 2^25 tokens per split: 9x Keras' 25,000 x 150, 128 MiB of int32 tokens. It caps what a small pickle of empty
// lists (2-6 bytes each) could ask for: every sequence becomes max_length tokens of 4 bytes.
constexpr std::int64_t kImdbMaxTokens = std::int64_t{1} << 25;
// A member holds at most the int64 tokens of a split at the cap (256 MiB) and a header; an x_train.npy of Keras'
// statistics is 14.6 MB.
constexpr std::uint64_t kImdbMaxMemberBytes = (std::uint64_t{kImdbMaxTokens} << 3) + (std::uint64_t{1} << 20);

struct ImdbOptions {
  std::int64_t max_length = kImdbMaxLength;
  std::int64_t vocabulary = kImdbVocabulary;
};

// Both splits of the imdb.npz (raw, or preprocessed) at `path`.
DatasetSplits read_imdb(const std::string& path, const ImdbOptions& options = ImdbOptions());

// Steps 2-4 above applied to each of `sequences` (raw word ids): (N, max_length) i32. `where` names the source in
// the InputError raised for a negative word id ("<where>: sequence i, position j: ...").
Tensor imdb_preprocess(const std::vector<std::vector<std::int64_t>>& sequences, const ImdbOptions& options,
                       const std::string& where);

// Writes `data` (inputs (N, L) i32 tokens, labels (N,) i32, for both splits) as an .npz of four stored '<i4'
// members x_train (N, L), y_train (N,), x_test (M, L), y_test (M,), through a temporary file renamed into place.
// numpy reads it with np.load(path) (no pickle); read_imdb reads it back as the preprocessed form.
void write_imdb_tokens(const DatasetSplits& data, const std::string& path);

}  // namespace rosetta
