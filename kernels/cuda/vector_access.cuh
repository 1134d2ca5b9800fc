// Vector loads and stores for the fused element-wise kernels: N consecutive elements of T moved in the widest
// aligned words (16, 8 or 4 bytes, else one by one), so a warp reads and writes whole 128-byte lines with few
// instructions. The caller guarantees the alignment: p aligned to min(16, N * sizeof(T)) bytes (vector_aligned checks
// a base pointer on the host; offsets must be multiples of N elements).
#pragma once
#include <cuda_runtime.h>

#include <cstdint>
#include <cstring>

namespace rosetta::kernels::cuda {

// The word that moves N elements of T: the largest of 16, 8, 4 bytes that divides N * sizeof(T), or 0 (elementwise).
template <typename T, int N>
constexpr int vector_word_bytes() {
  constexpr int bytes = N * static_cast<int>(sizeof(T));
  return bytes % 16 == 0 ? 16 : bytes % 8 == 0 ? 8 : bytes % 4 == 0 ? 4 : 0;
}

// Whether `p` is aligned for vectors of N elements of T.
template <typename T, int N>
bool vector_aligned(const void* p) {
  constexpr int word = vector_word_bytes<T, N>();
  return word == 0 || reinterpret_cast<std::uintptr_t>(p) % word == 0;
}

template <int Bytes>
struct VectorWord;
template <>
struct VectorWord<16> {
  using type = uint4;
};
template <>
struct VectorWord<8> {
  using type = uint2;
};
template <>
struct VectorWord<4> {
  using type = unsigned int;
};

template <typename T, int N>
__device__ __forceinline__ void load_vector(const T* p, T (&out)[N]) {
  constexpr int word = vector_word_bytes<T, N>();
  if constexpr (word == 0) {
#pragma unroll
    for (int k = 0; k < N; ++k) out[k] = p[k];
  } else {
    using Word = typename VectorWord<word>::type;
    constexpr int words = N * static_cast<int>(sizeof(T)) / word;
#pragma unroll
    for (int k = 0; k < words; ++k) {
      const Word w = reinterpret_cast<const Word*>(p)[k];
      std::memcpy(reinterpret_cast<char*>(out) + k * word, &w, word);
    }
  }
}

template <typename T, int N>
__device__ __forceinline__ void store_vector(T* p, const T (&in)[N]) {
  constexpr int word = vector_word_bytes<T, N>();
  if constexpr (word == 0) {
#pragma unroll
    for (int k = 0; k < N; ++k) p[k] = in[k];
  } else {
    using Word = typename VectorWord<word>::type;
    constexpr int words = N * static_cast<int>(sizeof(T)) / word;
#pragma unroll
    for (int k = 0; k < words; ++k) {
      Word w;
      std::memcpy(&w, reinterpret_cast<const char*>(in) + k * word, word);
      reinterpret_cast<Word*>(p)[k] = w;
    }
  }
}

}  // namespace rosetta::kernels::cuda
