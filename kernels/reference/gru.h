// Plain-loop GRU, generic over the scalar type: the definition of kernels/gru.h's equations (PyTorch's nn.GRU)
// that tests run in double, against torch and central differences, and that every twin is judged by. Also the
// per-element cell functions the CPU twin and the naive CUDA twin share (host and device), so all three apply the
// same formulas in the same order.
//
// Notation per step t and batch row n, gate rows r | z | n of the (3H, ...) parameters:
//   ax_g = W_ig x_t + b_ig      ah_g = W_hg h_{t-1} + b_hg      (h_{-1} = 0)
//   r = sigmoid(ax_r + ah_r)    z = sigmoid(ax_z + ah_z)    n = tanh(ax_n + r * ah_n)    h_t = (1 - z) n + z h_{t-1}
// Backward, with dh the total gradient reaching h_t (its own loss term plus what step t+1 sends back):
//   dn = dh (1 - z)          dz = dh (h_{t-1} - n)
//   da_n = dn (1 - n^2)      da_z = dz z (1 - z)      da_r = da_n ah_n r (1 - r)
//   input side:     d(ax_r, ax_z, ax_n) = (da_r, da_z, da_n)        -> dx_t = W_ih^T d(ax), dW_ih += d(ax) x_t^T
//   recurrent side: d(ah_r, ah_z, ah_n) = (da_r, da_z, da_n r)      -> dW_hh += d(ah) h_{t-1}^T
//   dh_{t-1} = dh z + W_hh^T d(ah)
// Biases take the column sums of d(ax) and d(ah).
#pragma once
#include <cmath>
#include <cstdint>
#include <vector>

#include "kernels/gru.h"
#include "runtime/philox.h"  // ROSETTA_HD

namespace rosetta::kernels::reference {

ROSETTA_HD float gru_exp(float a) {
#if defined(__CUDA_ARCH__)
  return expf(a);
#else
  return std::exp(a);
#endif
}
ROSETTA_HD double gru_exp(double a) {
#if defined(__CUDA_ARCH__)
  return ::exp(a);
#else
  return std::exp(a);
#endif
}
ROSETTA_HD float gru_tanh(float a) {
#if defined(__CUDA_ARCH__)
  return tanhf(a);
#else
  return std::tanh(a);
#endif
}
ROSETTA_HD double gru_tanh(double a) {
#if defined(__CUDA_ARCH__)
  return ::tanh(a);
#else
  return std::tanh(a);
#endif
}

// 1 / (1 + e^-a): exp overflows to inf for very negative a, and the quotient is then exactly 0.
template <typename T>
ROSETTA_HD T gru_sigmoid(T a) {
  return T(1) / (T(1) + gru_exp(-a));
}

// One cell of one step: the three gates, what the backward keeps (r, z, n, ah_n) and the new hidden value.
template <typename T>
struct GruCell {
  T r, z, n, ah_n, h;
};

template <typename T>
ROSETTA_HD GruCell<T> gru_cell(T ax_r, T ax_z, T ax_n, T ah_r, T ah_z, T ah_n, T h_prev) {
  GruCell<T> c;
  c.r = gru_sigmoid(ax_r + ah_r);
  c.z = gru_sigmoid(ax_z + ah_z);
  c.n = gru_tanh(ax_n + c.r * ah_n);
  c.ah_n = ah_n;
  c.h = (T(1) - c.z) * c.n + c.z * h_prev;
  return c;
}

// The cell's backward for a total gradient dh reaching h_t: the pre-activation gradients of both sides and the
// direct part dh z of dh_{t-1} (the caller adds W_hh^T d(ah)).
template <typename T>
struct GruCellGrad {
  T da_r, da_z, da_n;  // d(ax_r, ax_z, ax_n) = d(ah_r, ah_z) and the input side of n
  T dah_n;             // d(ah_n) = da_n r
  T dh_prev;           // dh z
};

template <typename T>
ROSETTA_HD GruCellGrad<T> gru_cell_backward(T dh, T r, T z, T n, T ah_n, T h_prev) {
  GruCellGrad<T> g;
  const T dn = dh * (T(1) - z);
  const T dz = dh * (h_prev - n);
  g.da_n = dn * (T(1) - n * n);
  g.da_z = dz * z * (T(1) - z);
  g.da_r = g.da_n * ah_n * r * (T(1) - r);
  g.dah_n = g.da_n * r;
  g.dh_prev = dh * z;
  return g;
}

// Offsets into the (T, N, 4H) reserve: r, z, n, ah_n of (t, n) at row (t * N + n), column g * H + k.
enum GruReserveSlot : int { kReserveR = 0, kReserveZ = 1, kReserveN = 2, kReserveAhN = 3 };

// Stores what the backward keeps of cell (row, k) into the row's reserve `kept` (4H: r, z, n, ah_n by slot).
template <typename T>
ROSETTA_HD void keep_for_backward(T* kept, std::int64_t H, std::int64_t k, const GruCell<T>& c) {
  kept[kReserveR * H + k] = c.r;
  kept[kReserveZ * H + k] = c.z;
  kept[kReserveN * H + k] = c.n;
  kept[kReserveAhN * H + k] = c.ah_n;
}
// Elements of that reserve: what the forward keeps for the backward (the CPU and naive twins keep the same).
inline std::int64_t reserve_elements(const GruShape& s) { return s.t * s.n * 4 * s.h; }

// x (T, N, I) -> h (T, N, H), reserve (T, N, 4H). Weights as in kernels/gru.h. Each dot product is one sum in T in
// ascending order, bias first.
template <typename T>
void gru_forward(const GruShape& s, const T* x, const T* w_ih, const T* w_hh, const T* b_ih, const T* b_hh, T* h,
                 T* reserve) {
  const std::int64_t H = s.h, I = s.i;
  for (std::int64_t t = 0; t < s.t; ++t)
    for (std::int64_t n = 0; n < s.n; ++n) {
      const std::int64_t row = t * s.n + n;
      const T* x_tn = x + row * I;                                // (I)
      const T* h_prev = t > 0 ? h + (row - s.n) * H : nullptr;  // (H), h[t-1, n]
      for (std::int64_t k = 0; k < H; ++k) {
        T ax[3], ah[3];
        for (int g = 0; g < 3; ++g) {
          const std::int64_t gate_row = g * H + k;
          T sum_x = b_ih[gate_row];
          for (std::int64_t i = 0; i < I; ++i) sum_x += w_ih[gate_row * I + i] * x_tn[i];
          T sum_h = b_hh[gate_row];
          if (h_prev)
            for (std::int64_t j = 0; j < H; ++j) sum_h += w_hh[gate_row * H + j] * h_prev[j];
          ax[g] = sum_x;
          ah[g] = sum_h;
        }
        const GruCell<T> c = gru_cell(ax[0], ax[1], ax[2], ah[0], ah[1], ah[2], h_prev ? h_prev[k] : T(0));
        h[row * H + k] = c.h;
        T* kept = reserve + row * 4 * H;
        keep_for_backward(kept, H, k, c);
      }
    }
}

// Back-propagation through time: dh_out (T, N, H) -> dx (T, N, I) and the four weight gradients (written).
// Steps run T-1 down to 0 and batch rows in order; every gradient is summed in T in that order.
template <typename T>
void gru_backward(const GruShape& s, const T* x, const T* w_ih, const T* w_hh, const T* h, const T* reserve,
                  const T* dh_out, T* dx, T* dw_ih, T* dw_hh, T* db_ih, T* db_hh) {
  const std::int64_t H = s.h, I = s.i, G = 3 * s.h;
  for (std::int64_t e = 0; e < G * I; ++e) dw_ih[e] = T(0);
  for (std::int64_t e = 0; e < G * H; ++e) dw_hh[e] = T(0);
  for (std::int64_t e = 0; e < G; ++e) db_ih[e] = db_hh[e] = T(0);
  std::vector<T> carry(static_cast<std::size_t>(s.n * H), T(0));  // dL/dh_t sent back from step t+1, (N, H)
  std::vector<T> next(carry.size());                              // dL/dh_{t-1}, (N, H)
  std::vector<T> dax(static_cast<std::size_t>(G)), dah(static_cast<std::size_t>(G));  // (3H) of one (t, n)
  for (std::int64_t t = s.t - 1; t >= 0; --t) {
    for (std::int64_t n = 0; n < s.n; ++n) {
      const std::int64_t row = t * s.n + n;
      const T* x_tn = x + row * I;
      const T* h_prev = t > 0 ? h + (row - s.n) * H : nullptr;
      const T* kept = reserve + row * 4 * H;
      for (std::int64_t k = 0; k < H; ++k) {
        const T dh = dh_out[row * H + k] + carry[static_cast<std::size_t>(n * H + k)];
        const GruCellGrad<T> g = gru_cell_backward(dh, kept[kReserveR * H + k], kept[kReserveZ * H + k],
                                                   kept[kReserveN * H + k], kept[kReserveAhN * H + k],
                                                   h_prev ? h_prev[k] : T(0));
        dax[k] = dah[k] = g.da_r;
        dax[H + k] = dah[H + k] = g.da_z;
        dax[2 * H + k] = g.da_n;
        dah[2 * H + k] = g.dah_n;
        next[static_cast<std::size_t>(n * H + k)] = g.dh_prev;
      }
      for (std::int64_t j = 0; j < H; ++j) {
        T sum = next[static_cast<std::size_t>(n * H + j)];
        for (std::int64_t r = 0; r < G; ++r) sum += w_hh[r * H + j] * dah[r];
        next[static_cast<std::size_t>(n * H + j)] = sum;
      }
      for (std::int64_t i = 0; i < I; ++i) {
        T sum = T(0);
        for (std::int64_t r = 0; r < G; ++r) sum += w_ih[r * I + i] * dax[r];
        dx[row * I + i] = sum;
      }
      for (std::int64_t r = 0; r < G; ++r) {
        for (std::int64_t i = 0; i < I; ++i) dw_ih[r * I + i] += dax[r] * x_tn[i];
        if (h_prev)
          for (std::int64_t j = 0; j < H; ++j) dw_hh[r * H + j] += dah[r] * h_prev[j];
        db_ih[r] += dax[r];
        db_hh[r] += dah[r];
      }
    }
    carry.swap(next);
  }
}

}  // namespace rosetta::kernels::reference
