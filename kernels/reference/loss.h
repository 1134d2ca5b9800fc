// Plain-loop softmax cross-entropy and arg-max rule, generic over the scalar type: float is what kernels/cpu
// runs, double is what the gradient check runs. This is the definition of kernels/loss.inc.
// Invariants: each row is max-subtracted before exp (no overflow for any finite logits); sums, the log and the
// batch mean are taken in double whatever T is, and every output is rounded to T once.
#pragma once
#include <cmath>
#include <cstdint>

#include "runtime/error.h"
#include "runtime/half.h"
#include "runtime/philox.h"  // ROSETTA_HD

namespace rosetta::kernels::reference {

// The arg-max order shared by both twins of count_correct: NaN is larger than any number (as torch.argmax),
// a larger number beats a smaller one, and between equal values (or two NaNs) the lower index wins. It is a
// total order on (value, index), so a parallel reduction finds the same row maximum as a left-to-right scan.
ROSETTA_HD bool argmax_prefers(float value, std::int64_t index, float best_value, std::int64_t best_index) {
  const bool value_nan = value != value, best_nan = best_value != best_value;
  if (value_nan != best_nan) return value_nan;
  if (!value_nan && value != best_value) return value > best_value;
  return index < best_index;
}

// loss[0] = sum_i [logsumexp(logits_i) - logits_i[label_i]] / m;  dlogits_i = (softmax(logits_i) - onehot_i) / m,
// m = mean_over (n, or the global batch these n rows are a share of). logits, dlogits (n, k); labels (n). Throws on
// a label outside [0, k). Logits X, loss L and gradient G may differ in type (bf16 logits and gradient, float loss).
template <typename X, typename L, typename G>
void softmax_cross_entropy(const X* logits, const std::int32_t* labels, L* loss, G* dlogits, std::int64_t n,
                           std::int64_t k, std::int64_t mean_over) {
  ROSETTA_CHECK(n > 0 && k > 0, "softmax_cross_entropy needs a non-empty batch, got logits (" << n << ", " << k << ")");
  ROSETTA_CHECK(mean_over >= n, "softmax_cross_entropy: a mean over " << mean_over << " rows of which " << n
                                                                      << " are here");
  double total = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    const X* row = logits + i * k;  // (k)
    const auto value = [&](std::int64_t j) { return static_cast<double>(static_cast<compute_t<X>>(row[j])); };
    const std::int32_t label = labels[i];
    ROSETTA_CHECK(label >= 0 && label < k, "row " << i << ": label " << label << " outside [0, " << k << ")");
    double row_max = value(0);
    for (std::int64_t j = 1; j < k; ++j) row_max = std::fmax(row_max, value(j));
    double sum = 0;
    for (std::int64_t j = 0; j < k; ++j) sum += std::exp(value(j) - row_max);
    total += row_max + std::log(sum) - value(label);
    for (std::int64_t j = 0; j < k; ++j) {
      const double probability = std::exp(value(j) - row_max) / sum;
      const double gradient = (probability - (j == label ? 1.0 : 0.0)) / static_cast<double>(mean_over);
      dlogits[i * k + j] = static_cast<G>(static_cast<compute_t<G>>(gradient));
    }
  }
  loss[0] = static_cast<L>(total / static_cast<double>(mean_over));
}

// Number of rows of logits (n, k) whose arg-max under argmax_prefers equals the label.
template <typename T>
std::int64_t count_correct(const T* logits, const std::int32_t* labels, std::int64_t n, std::int64_t k) {
  std::int64_t correct = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    const T* row = logits + i * k;  // (k)
    std::int64_t best = 0;
    for (std::int64_t j = 1; j < k; ++j)
      if (argmax_prefers(static_cast<float>(row[j]), j, static_cast<float>(row[best]), best)) best = j;
    if (k > 0 && best == labels[i]) ++correct;
  }
  return correct;
}

}  // namespace rosetta::kernels::reference
