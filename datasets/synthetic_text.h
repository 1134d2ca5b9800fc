// A learnable synthetic stand-in for IMDB: the same shapes and representation as read_imdb (inputs (N, 150) i32
// token ids in [0, 30000) padded with 0 after the text, labels (N,) i32 in {0, 1}), generated deterministically
// from a seed. The label is signalled by "sentiment words" mixed into random text.
//
// Words. Ids 0 (padding), 1 (start) and 2 (out of vocabulary) are reserved as in the real set. Each class c has
// `signal_words` sentiment words: 2 * signal_words distinct ids in [3, vocabulary), drawn in order from
// PhiloxWords(seed, philox_step_stream(kSyntheticTextWordsUse, 0)) as 3 + below(vocabulary - 3), a repeat being
// skipped; the first signal_words belong to class 0 (negative), the next to class 1 (positive). Both splits share
// them.
// Labels. Balanced: i % 2 for i < N, permuted by philox_shuffle on philox_step_stream(kSyntheticTextLabelUse,
// split), split 0 train, 1 test.
// Tokens. One PhiloxWords stream per split, philox_step_stream(kSyntheticTextTokenUse, split), read in this
// order for each example in turn:
//   length L = min_length + below(max_length - min_length + 1);
//   row[0] = 1 (start); row[t] = 3 + below(vocabulary - 3) for t = 1 .. L-1 (background words);
//   s = 2 + below(4) words of the example's class and d = below(2) words of the other class (so s > d);
//   their positions: a partial Fisher-Yates over p = (1, ..., L-1): for k = 0 .. s+d-1, swap p[k] with
//   p[k + below(L-1-k)]; then row[p[k]] = own[below(signal_words)] for k < s, else other[below(signal_words)];
//   row[t] = 0 for t >= L (padding after the text).
// A background word is a sentiment word with probability 2 * signal_words / (vocabulary - 3) (~0.17%), so the
// set is learnable but not trivially: a bag-of-tokens perceptron trained on 2000 examples scores ~97% on 1000 test
// examples (tests/test_synthetic_text.cpp), chance being 50%.
#pragma once
#include <cstdint>

#include "datasets/dataset.h"

namespace rosetta {

struct SyntheticTextOptions {
  std::int64_t train_examples = 25000;  // IMDB's sizes by default; small values for CPU runs
  std::int64_t test_examples = 25000;
  std::int64_t max_length = 150;        // tokens per example (the padded length)
  std::int64_t min_length = 20;         // shortest text, start char included; >= 8
  std::int64_t vocabulary = 30000;      // token ids lie in [0, vocabulary)
  std::int64_t signal_words = 25;       // sentiment words per class
  std::uint64_t seed = 0;
};

// Both splits, named "synthetic imdb train" / "synthetic imdb test", num_classes 2.
DatasetSplits synthetic_text(const SyntheticTextOptions& options);

// The sentiment words of class 0 then class 1: (2, signal_words) i32. For tests.
Tensor synthetic_text_signal_words(const SyntheticTextOptions& options);

}  // namespace rosetta
