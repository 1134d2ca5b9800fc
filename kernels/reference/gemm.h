// Plain-loop GEMM, generic over the scalar type: the definition of kernels/gemm.inc that tests run in double.
// Row-major; C (m, n) = alpha * op(A) op(B) + beta * C with A (m, k) or (k, m) when trans_a, B (k, n) or (n, k)
// when trans_b. Each element is one sum over p = 0..k-1 in order, in T; beta == 0 ignores C's contents.
// The float CPU twin (kernels/cpu/gemm.cpp) is a blocked version of this loop that sums the same products in
// the same order in double, so it equals this loop run in double and rounded once to float.
#pragma once
#include <cstdint>

namespace rosetta::kernels::reference {

template <typename T>
void gemm(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k, T alpha, const T* a,
          const T* b, T beta, T* c) {
  for (std::int64_t i = 0; i < m; ++i) {
    for (std::int64_t j = 0; j < n; ++j) {
      T sum = 0;
      for (std::int64_t p = 0; p < k; ++p) {
        const T a_ip = trans_a ? a[p * m + i] : a[i * k + p];  // op(A) (m, k)
        const T b_pj = trans_b ? b[j * k + p] : b[p * n + j];  // op(B) (k, n)
        sum += a_ip * b_pj;
      }
      c[i * n + j] = beta == T(0) ? alpha * sum : alpha * sum + beta * c[i * n + j];
    }
  }
}

}  // namespace rosetta::kernels::reference
