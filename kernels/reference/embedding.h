// Plain-loop embedding, generic over the scalar type: the definition that tests run in double. out[p] =
// table[ids[p]]; d_table[v] = the sum of d_out[p] over the positions p holding v, in ascending p (kernels/
// embedding.h gives the slice order the float twins use instead). Ids must lie in [0, vocab); the callers check.
#pragma once
#include <cstdint>

namespace rosetta::kernels::reference {

template <typename T>
void embedding_forward(const std::int32_t* ids, const T* table, T* out, std::int64_t count, std::int64_t dim) {
  for (std::int64_t p = 0; p < count; ++p)
    for (std::int64_t d = 0; d < dim; ++d) out[p * dim + d] = table[ids[p] * dim + d];
}

template <typename T>
void embedding_backward(const std::int32_t* ids, const T* d_out, T* d_table, std::int64_t count, std::int64_t vocab,
                        std::int64_t dim) {
  for (std::int64_t e = 0; e < vocab * dim; ++e) d_table[e] = T(0);
  for (std::int64_t p = 0; p < count; ++p)
    for (std::int64_t d = 0; d < dim; ++d) d_table[ids[p] * dim + d] += d_out[p * dim + d];
}

}  // namespace rosetta::kernels::reference
