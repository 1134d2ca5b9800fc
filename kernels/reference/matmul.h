// The matrix product with its epilogue in plain loops (kernels/matmul.h), templated on the scalar type so the tests
// run it in double: y = act(op(a) op(b) + z + bias[col]) per batch, each element's sum in order of the depth.
#pragma once
#include <cstdint>

#include "kernels/matmul.h"

namespace rosetta::kernels::reference {

// Element (i, j) of op(x) for a stored row-major matrix with row length `row`, transposed or not.
template <typename T>
T element(const T* x, bool transposed, std::int64_t row, std::int64_t i, std::int64_t j) {
  return transposed ? x[j * row + i] : x[i * row + j];
}

// bias (n) or null, z (as y) or null; the epilogue of `epilogue` decides whether bias and the ReLU apply.
template <typename T>
void matmul(const MatmulShape& s, MatmulEpilogue epilogue, const T* a, const T* b, const T* bias, const T* z, T* y) {
  for (std::int64_t p = 0; p < s.batch; ++p) {
    const T* ap = a + p * s.batch_stride_a;
    const T* bp = b + p * s.batch_stride_b;
    const std::int64_t yp = p * s.batch_stride_y;
    for (std::int64_t i = 0; i < s.m; ++i)
      for (std::int64_t j = 0; j < s.n; ++j) {
        T sum = T(0);
        for (std::int64_t q = 0; q < s.k; ++q)
          sum += element(ap, s.trans_a, s.row_a(), i, q) * element(bp, s.trans_b, s.row_b(), q, j);
        const std::int64_t at = yp + i * s.row_y() + j;
        if (z) sum += z[at];
        if (epilogue != MatmulEpilogue::none) sum += bias[j];
        if (epilogue == MatmulEpilogue::bias_relu && sum < T(0)) sum = T(0);
        y[at] = sum;
      }
  }
}

}  // namespace rosetta::kernels::reference
