// CPU twin of kernels/loss.inc: reference::softmax_cross_entropy and reference::count_correct in float (on float or bf16 logits).
#include "kernels/loss.h"

#include "kernels/reference/loss.h"

namespace rosetta::kernels::cpu {

void softmax_cross_entropy(const Context&, const float* logits, const std::int32_t* labels, float* loss,
                           float* dlogits, std::int64_t n, std::int64_t k, std::int64_t mean_over) {
  reference::softmax_cross_entropy(logits, labels, loss, dlogits, n, k, mean_over);
}

void softmax_cross_entropy(const Context&, const bf16* logits, const std::int32_t* labels, float* loss, bf16* dlogits,
                           std::int64_t n, std::int64_t k, std::int64_t mean_over) {
  reference::softmax_cross_entropy(logits, labels, loss, dlogits, n, k, mean_over);
}

void count_correct(const Context&, const bf16* logits, const std::int32_t* labels, std::int32_t* correct,
                   std::int64_t n, std::int64_t k) {
  correct[0] += static_cast<std::int32_t>(reference::count_correct(logits, labels, n, k));
}

void count_correct(const Context&, const float* logits, const std::int32_t* labels, std::int32_t* correct,
                   std::int64_t n, std::int64_t k) {
  correct[0] += static_cast<std::int32_t>(reference::count_correct(logits, labels, n, k));
}

}  // namespace rosetta::kernels::cpu
