// Synthetic IMDB-shaped token sequences: random text with class-specific sentiment words, as specified in
// synthetic_text.h.
#include "datasets/synthetic_text.h"

#include <numeric>
#include <set>
#include <utility>
#include <vector>

#include "datasets/imdb.h"
#include "datasets/shuffle.h"

namespace rosetta {
namespace {

constexpr std::int64_t kMinOwnWords = 2;    // s = 2 + below(4): 2..5 words of the example's class
constexpr std::uint32_t kOwnWordChoices = 4;
constexpr std::uint32_t kOtherWordChoices = 2;  // d = below(2): 0..1 words of the other class
constexpr std::int64_t kMaxPlaced = kMinOwnWords + kOwnWordChoices - 1 + kOtherWordChoices - 1;  // 6

void check_options(const SyntheticTextOptions& o) {
  ROSETTA_CHECK(o.train_examples >= 0 && o.test_examples >= 0,
                "synthetic text sizes must be >= 0, got " << o.train_examples << " and " << o.test_examples);
  ROSETTA_CHECK(o.min_length >= kMaxPlaced + 2 && o.min_length <= o.max_length,
                "synthetic text lengths need " << kMaxPlaced + 2 << " <= min_length <= max_length, got "
                                               << o.min_length << " and " << o.max_length);
  ROSETTA_CHECK(o.max_length < (std::int64_t{1} << 31), "synthetic text max_length " << o.max_length << " too large");
  ROSETTA_CHECK(o.signal_words >= 1, "synthetic text needs >= 1 signal word per class, got " << o.signal_words);
  ROSETTA_CHECK(o.vocabulary < (std::int64_t{1} << 31) && o.vocabulary - kImdbIndexFrom >= 4 * o.signal_words,
                "synthetic text vocabulary " << o.vocabulary << " must hold 2 * " << o.signal_words
                                             << " signal words in under half of [3, vocabulary)");
}

Dataset make_split(const SyntheticTextOptions& o, const Tensor& signal, std::int64_t n, std::uint64_t split,
                   const char* name) {
  Dataset data;
  data.name = name;
  data.num_classes = kImdbClasses;
  data.inputs = Tensor::zeros({n, o.max_length}, DType::i32);  // (N, max_length)
  data.labels = Tensor::empty({n}, DType::i32);                // (N,)

  std::vector<std::int64_t> order(static_cast<std::size_t>(n));
  std::iota(order.begin(), order.end(), std::int64_t{0});
  philox_shuffle(order.data(), n, o.seed, philox_step_stream(kSyntheticTextLabelUse, split));
  std::int32_t* labels = data.labels.data<std::int32_t>();
  for (std::int64_t i = 0; i < n; ++i) labels[i] = static_cast<std::int32_t>(order[i] % 2);

  const std::int32_t* words = signal.data<std::int32_t>();  // (2, signal_words)
  const auto background = static_cast<std::uint32_t>(o.vocabulary - kImdbIndexFrom);
  const auto lengths = static_cast<std::uint32_t>(o.max_length - o.min_length + 1);
  const auto per_class = static_cast<std::uint32_t>(o.signal_words);
  PhiloxWords draw(o.seed, philox_step_stream(kSyntheticTextTokenUse, split));
  std::vector<std::int64_t> positions;
  for (std::int64_t i = 0; i < n; ++i) {
    std::int32_t* row = data.inputs.data<std::int32_t>() + i * o.max_length;
    const std::int64_t length = o.min_length + draw.below(lengths);
    row[0] = kImdbStartChar;
    for (std::int64_t t = 1; t < length; ++t) row[t] = static_cast<std::int32_t>(kImdbIndexFrom + draw.below(background));
    const std::int64_t own = kMinOwnWords + draw.below(kOwnWordChoices);
    const std::int64_t other = draw.below(kOtherWordChoices);
    positions.resize(static_cast<std::size_t>(length - 1));
    std::iota(positions.begin(), positions.end(), std::int64_t{1});
    const std::int32_t* own_words = words + labels[i] * o.signal_words;
    const std::int32_t* other_words = words + (1 - labels[i]) * o.signal_words;
    for (std::int64_t k = 0; k < own + other; ++k) {
      const std::int64_t j = k + draw.below(static_cast<std::uint32_t>(length - 1 - k));
      std::swap(positions[static_cast<std::size_t>(k)], positions[static_cast<std::size_t>(j)]);
      row[positions[static_cast<std::size_t>(k)]] = (k < own ? own_words : other_words)[draw.below(per_class)];
    }
  }
  return data;
}

}  // namespace

Tensor synthetic_text_signal_words(const SyntheticTextOptions& o) {
  check_options(o);
  Tensor signal = Tensor::empty({2, o.signal_words}, DType::i32);  // (2, signal_words): class 0, class 1
  std::int32_t* out = signal.data<std::int32_t>();
  PhiloxWords draw(o.seed, philox_step_stream(kSyntheticTextWordsUse, 0));
  std::set<std::int32_t> taken;
  const auto background = static_cast<std::uint32_t>(o.vocabulary - kImdbIndexFrom);
  for (std::int64_t k = 0; k < 2 * o.signal_words;) {
    const auto word = static_cast<std::int32_t>(kImdbIndexFrom + draw.below(background));
    if (taken.insert(word).second) out[k++] = word;
  }
  return signal;
}

DatasetSplits synthetic_text(const SyntheticTextOptions& options) {
  const Tensor signal = synthetic_text_signal_words(options);
  return {make_split(options, signal, options.train_examples, 0, "synthetic imdb train"),
          make_split(options, signal, options.test_examples, 1, "synthetic imdb test")};
}

}  // namespace rosetta
