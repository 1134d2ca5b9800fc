// Synthetic IMDB-shaped text: shapes and ranges like read_imdb's, determinism for a seed, independent splits,
// balanced labels, the documented generation rule re-derived from Philox, the planted sentiment words, and
// learnability (a bag-of-tokens perceptron trained on the train split scores > 90% on the test split).
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <set>
#include <vector>

#include "datasets/imdb.h"
#include "datasets/shuffle.h"
#include "datasets/synthetic_text.h"
#include "tests/support/temp_dir.h"

namespace rosetta {
namespace {

SyntheticTextOptions small(std::uint64_t seed) {
  SyntheticTextOptions o;
  o.train_examples = 2000;
  o.test_examples = 1000;
  o.seed = seed;
  return o;
}

bool same_bytes(const Tensor& a, const Tensor& b) {
  return a.nbytes() == b.nbytes() && std::equal(static_cast<const char*>(a.raw()),
                                                static_cast<const char*>(a.raw()) + a.nbytes(),
                                                static_cast<const char*>(b.raw()));
}

TEST(SyntheticText, DefaultsAreImdbSized) {
  const SyntheticTextOptions o;
  EXPECT_EQ(o.train_examples, 25000);
  EXPECT_EQ(o.test_examples, 25000);
  EXPECT_EQ(o.max_length, kImdbMaxLength);
  EXPECT_EQ(o.vocabulary, kImdbVocabulary);
}

TEST(SyntheticText, ShapesAndRangesMatchTheImdbReader) {
  const SyntheticTextOptions o = small(1);
  const DatasetSplits s = synthetic_text(o);
  EXPECT_EQ(s.train.inputs.shape(), (Shape{2000, 150}));
  EXPECT_EQ(s.test.inputs.shape(), (Shape{1000, 150}));
  EXPECT_EQ(s.train.inputs.dtype(), DType::i32);
  EXPECT_EQ(s.train.batch_dtype(), DType::i32);
  EXPECT_EQ(s.train.labels.shape(), (Shape{2000}));
  EXPECT_EQ(s.train.num_classes, 2);
  EXPECT_EQ(s.train.name, "synthetic imdb train");
  EXPECT_EQ(s.test.name, "synthetic imdb test");
  EXPECT_NO_THROW(s.train.validate());
  EXPECT_NO_THROW(s.test.validate());
  // Each row: the start char, words in [3, vocabulary) for a length in [min_length, max_length], then zeros.
  double total_length = 0;
  for (const Dataset* d : {&s.train, &s.test}) {
    for (std::int64_t i = 0; i < d->size(); ++i) {
      const std::int32_t* row = d->inputs.data<std::int32_t>() + i * 150;
      ASSERT_EQ(row[0], kImdbStartChar);
      std::int64_t length = 1;
      while (length < 150 && row[length] != 0) {
        ASSERT_GE(row[length], kImdbIndexFrom);
        ASSERT_LT(row[length], kImdbVocabulary);
        ++length;
      }
      for (std::int64_t t = length; t < 150; ++t) ASSERT_EQ(row[t], 0) << d->name << " row " << i;
      ASSERT_GE(length, o.min_length);
      total_length += static_cast<double>(length);
    }
  }
  // Lengths are uniform in [20, 150]: mean 85, standard deviation ~38; over 3000 rows the mean's standard
  // error is ~0.7, so +-3 is over 4 standard errors.
  EXPECT_NEAR(total_length / 3000.0, 85.0, 3.0);
}

TEST(SyntheticText, DeterministicForASeedAndSplitsIndependent) {
  const DatasetSplits a = synthetic_text(small(7)), b = synthetic_text(small(7)), c = synthetic_text(small(8));
  EXPECT_TRUE(same_bytes(a.train.inputs, b.train.inputs));
  EXPECT_TRUE(same_bytes(a.train.labels, b.train.labels));
  EXPECT_TRUE(same_bytes(a.test.inputs, b.test.inputs));
  EXPECT_FALSE(same_bytes(a.train.inputs, c.train.inputs));
  EXPECT_FALSE(same_bytes(a.train.labels, c.train.labels));
  SyntheticTextOptions more_test = small(7);
  more_test.test_examples = 1500;
  EXPECT_TRUE(same_bytes(synthetic_text(more_test).train.inputs, a.train.inputs));
  // Train and test differ even at equal sizes.
  SyntheticTextOptions equal = small(3);
  equal.test_examples = equal.train_examples;
  const DatasetSplits e = synthetic_text(equal);
  EXPECT_FALSE(same_bytes(e.train.inputs, e.test.inputs));
}

TEST(SyntheticText, LabelsAreBalancedAndShuffled) {
  SyntheticTextOptions o = small(5);
  o.train_examples = 2001;
  const DatasetSplits s = synthetic_text(o);
  for (const Dataset* d : {&s.train, &s.test}) {
    std::int64_t ones = 0;
    for (std::int64_t i = 0; i < d->size(); ++i) ones += d->labels.data<std::int32_t>()[i];
    EXPECT_LE(std::abs(2 * ones - d->size()), 1) << d->name;
  }
  std::vector<std::int32_t> first(s.train.labels.data<std::int32_t>(), s.train.labels.data<std::int32_t>() + 8);
  EXPECT_NE(first, (std::vector<std::int32_t>{0, 1, 0, 1, 0, 1, 0, 1}));
}

TEST(SyntheticText, SignalWordsAreDistinctAndPlanted) {
  const SyntheticTextOptions o = small(11);
  const Tensor signal = synthetic_text_signal_words(o);
  ASSERT_EQ(signal.shape(), (Shape{2, 25}));
  const std::int32_t* w = signal.data<std::int32_t>();
  const std::set<std::int32_t> all(w, w + 50);
  EXPECT_EQ(all.size(), 50u);
  EXPECT_GE(*all.begin(), kImdbIndexFrom);
  EXPECT_LT(*all.rbegin(), kImdbVocabulary);
  const std::set<std::int32_t> negative(w, w + 25), positive(w + 25, w + 50);
  const DatasetSplits s = synthetic_text(o);
  std::int64_t own_exceeds_other = 0;
  for (std::int64_t i = 0; i < s.train.size(); ++i) {
    const std::int32_t label = s.train.labels.data<std::int32_t>()[i];
    const std::set<std::int32_t>& own = label == 1 ? positive : negative;
    const std::set<std::int32_t>& other = label == 1 ? negative : positive;
    std::int64_t own_count = 0, other_count = 0;
    for (std::int64_t t = 1; t < 150; ++t) {
      const std::int32_t token = s.train.inputs.data<std::int32_t>()[i * 150 + t];
      own_count += own.count(token);
      other_count += other.count(token);
    }
    ASSERT_GE(own_count, 2) << "example " << i;  // 2-5 planted at distinct positions
    own_exceeds_other += own_count > other_count;
  }
  // Planted: own 2-5 > other 0-1. Only a background word that happens to be a sentiment word of the other class
  // (probability 25 / 29997 per word, ~85 words) can tie: ~7% of examples at most, so >= 90% must hold.
  EXPECT_GE(static_cast<double>(own_exceeds_other) / static_cast<double>(s.train.size()), 0.9);
}

// The test split's first rows re-derived from the rule written in synthetic_text.h.
TEST(SyntheticText, RowsFollowTheDocumentedRule) {
  const SyntheticTextOptions o = small(13);
  const DatasetSplits s = synthetic_text(o);
  const Tensor signal = synthetic_text_signal_words(o);
  PhiloxWords draw(o.seed, philox_step_stream(kSyntheticTextTokenUse, 1));
  for (std::int64_t i = 0; i < 3; ++i) {
    const std::int32_t label = s.test.labels.data<std::int32_t>()[i];
    std::vector<std::int32_t> row(150, 0);
    const std::int64_t length = 20 + draw.below(131);
    row[0] = 1;
    for (std::int64_t t = 1; t < length; ++t) row[t] = static_cast<std::int32_t>(3 + draw.below(29997));
    const std::int64_t own = 2 + draw.below(4), other = draw.below(2);
    std::vector<std::int64_t> p(static_cast<std::size_t>(length - 1));
    std::iota(p.begin(), p.end(), std::int64_t{1});
    for (std::int64_t k = 0; k < own + other; ++k) {
      std::swap(p[k], p[k + draw.below(static_cast<std::uint32_t>(length - 1 - k))]);
      const std::int64_t cls = k < own ? label : 1 - label;
      row[p[k]] = signal.data<std::int32_t>()[cls * 25 + draw.below(25)];
    }
    const std::int32_t* actual = s.test.inputs.data<std::int32_t>() + i * 150;
    EXPECT_EQ(std::vector<std::int32_t>(actual, actual + 150), row) << "test example " << i;
  }
  // Labels: i % 2 permuted by philox_shuffle on the label stream.
  std::vector<std::int64_t> order(1000);
  std::iota(order.begin(), order.end(), std::int64_t{0});
  philox_shuffle(order.data(), 1000, o.seed, philox_step_stream(kSyntheticTextLabelUse, 1));
  for (std::int64_t i = 0; i < 1000; ++i) ASSERT_EQ(s.test.labels.data<std::int32_t>()[i], order[i] % 2) << i;
}

// A perceptron over token presence (a bag of tokens, no positions), trained for 10 passes over the train split.
// The planted words separate the classes (own-class count always exceeds the other's, bar rare coincidences), so
// a linear bag-of-tokens model can reach ~99%; noise from 30000 rarely seen background words costs a few points.
// Chance is 50%; > 90% shows the signal is learnable from the data alone.
TEST(SyntheticText, BagOfTokensClassifierLearnsIt) {
  const DatasetSplits s = synthetic_text(small(2));
  auto bag = [](const Dataset& d, std::int64_t i) {
    const std::int32_t* row = d.inputs.data<std::int32_t>() + i * 150;
    std::set<std::int32_t> tokens(row + 1, row + 150);
    tokens.erase(0);
    return std::vector<std::int32_t>(tokens.begin(), tokens.end());
  };
  std::vector<double> weight(kImdbVocabulary, 0.0);
  double bias = 0.0;
  auto score = [&](const std::vector<std::int32_t>& tokens) {
    double sum = bias;
    for (std::int32_t t : tokens) sum += weight[t];
    return sum;
  };
  for (int pass = 0; pass < 10; ++pass) {
    for (std::int64_t i = 0; i < s.train.size(); ++i) {
      const std::vector<std::int32_t> tokens = bag(s.train, i);
      const double y = s.train.labels.data<std::int32_t>()[i] == 1 ? 1.0 : -1.0;
      if (y * score(tokens) <= 0.0) {
        for (std::int32_t t : tokens) weight[t] += y;
        bias += y;
      }
    }
  }
  std::int64_t correct = 0;
  for (std::int64_t i = 0; i < s.test.size(); ++i) {
    const bool positive = score(bag(s.test, i)) > 0.0;
    correct += positive == (s.test.labels.data<std::int32_t>()[i] == 1);
  }
  EXPECT_GT(static_cast<double>(correct) / static_cast<double>(s.test.size()), 0.9);
}

TEST(SyntheticText, TokenFileRoundTrip) {
  testing::TempDir dir;
  const DatasetSplits s = synthetic_text(small(4));
  write_imdb_tokens(s, dir.file("synthetic.npz"));
  const DatasetSplits back = read_imdb(dir.file("synthetic.npz"));
  EXPECT_TRUE(same_bytes(back.train.inputs, s.train.inputs));
  EXPECT_TRUE(same_bytes(back.train.labels, s.train.labels));
  EXPECT_TRUE(same_bytes(back.test.inputs, s.test.inputs));
  EXPECT_TRUE(same_bytes(back.test.labels, s.test.labels));
  EXPECT_EQ(dir.listing(), std::vector<std::string>{"synthetic.npz"});
}

TEST(SyntheticText, RejectsBadOptions) {
  SyntheticTextOptions o = small(0);
  o.min_length = 7;
  EXPECT_THROW(synthetic_text(o), Error);
  o = small(0);
  o.min_length = 151;
  EXPECT_THROW(synthetic_text(o), Error);
  o = small(0);
  o.train_examples = -1;
  EXPECT_THROW(synthetic_text(o), Error);
  o = small(0);
  o.vocabulary = 100;
  EXPECT_THROW(synthetic_text(o), Error);
  o = small(0);
  o.signal_words = 0;
  EXPECT_THROW(synthetic_text(o), Error);
}

}  // namespace
}  // namespace rosetta
