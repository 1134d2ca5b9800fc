// CPU twin of kernels/gru.inc.
//
// The passes are the GEMM formulation of kernels/reference/gru.h:
//   forward   ax (TN, 3H) = x (TN, I) W_ih^T                                  one GEMM for all steps
//             per step: ah (N, 3H) = h[t-1] (N, H) W_hh^T, then the cells (biases added there)
//   backward  per step t = T-1..0: the cells' backward give d(ax)[t], d(ah)[t] and carry = dh z;
//             then carry += d(ah)[t] (N, 3H) W_hh (3H, H) is dL/dh[t-1]
//             dx (TN, I) = d(ax) W_ih;  dW_ih = d(ax)^T x;  dW_hh = d(ah)[1..T-1]^T h[0..T-2];  biases: column sums
// Every product runs on the one CPU GEMM (kernels/cpu/blocked_gemm.h: one fma chain per element, threads over its
// tiles), the per-step ones too (N x 3H x H, 2T of them); W_hh^T is a view, packed by the GEMM. The cells are
// reference::gru_cell / gru_cell_backward in float. Results do not depend on the thread count.
#include <algorithm>

#include "kernels/cpu/blocked_gemm.h"
#include "kernels/elementwise.h"
#include "kernels/gemm.h"
#include "kernels/gru.h"
#include "kernels/reference/gru.h"
#include "runtime/error.h"
#include "runtime/workspace.h"

namespace rosetta::kernels::cpu {
namespace {

using reference::kReserveAhN;
using reference::kReserveN;
using reference::kReserveR;
using reference::kReserveZ;

// The scratch of one pass: the forward's input projections ax (TN, 3H) and one step's recurrent part ah (N, 3H);
// the backward's pre-activation gradients dax and dah (TN, 3H) and the carry (N, H).
struct ForwardScratch {
  float* ax;  // (TN, 3H)
  float* ah;  // (N, 3H)
};
struct BackwardScratch {
  float* dax;    // (TN, 3H)
  float* dah;    // (TN, 3H)
  float* carry;  // (N, H)
};
ForwardScratch forward_scratch(Carver& c, const GruShape& s) {
  return {c.take<float>(s.t * s.n * 3 * s.h), c.take<float>(s.n * 3 * s.h)};
}
BackwardScratch backward_scratch(Carver& c, const GruShape& s) {
  return {c.take<float>(s.t * s.n * 3 * s.h), c.take<float>(s.t * s.n * 3 * s.h), c.take<float>(s.n * s.h)};
}

}  // namespace

void plan_gru(const Context& ctx, GruPlan& plan) {
  const GruShape& s = plan.shape;
  plan.reserve_elements = reference::reserve_elements(s);  // r, z, n and W_hn h + b_hn of every (t, n)
  ctx.workspace(std::max(workspace_bytes([&](Carver& c) { return forward_scratch(c, s); }),
                         workspace_bytes([&](Carver& c) { return backward_scratch(c, s); })));
}

void gru_forward(const Context& ctx, const GruPlan& plan, const float* x, const GruWeights& w, float* h,
                 float* reserve) {
  const GruShape& s = plan.shape;
  const Precision precision = plan.options.precision;
  const std::int64_t H = s.h, G = 3 * s.h, rows = s.t * s.n;
  const ForwardScratch scratch = carve_workspace(ctx, [&](Carver& c) { return forward_scratch(c, s); });
  float* ax = scratch.ax;
  float* ah = scratch.ah;
  gemm(ctx, false, true, rows, G, s.i, 1.0f, x, w.w_ih, 0.0f, ax, precision);
  for (std::int64_t t = 0; t < s.t; ++t) {
    const float* h_prev = t > 0 ? h + (t - 1) * s.n * H : nullptr;  // (N, H)
    if (h_prev) blocked_gemm(s.n, G, H, 1.0f, row_major(h_prev, H), transposed(w.w_hh, H), 0.0f, ah, G);
    for (std::int64_t n = 0; n < s.n; ++n) {
      const std::int64_t row = t * s.n + n;
      const float* ax_row = ax + row * G;
      const float* ah_row = ah + n * G;
      float* kept = reserve + row * 4 * H;
      for (std::int64_t k = 0; k < H; ++k) {
        const auto recurrent = [&](int g) { return (h_prev ? ah_row[g * H + k] : 0.0f) + w.b_hh[g * H + k]; };
        const reference::GruCell<float> c = reference::gru_cell(
            ax_row[k] + w.b_ih[k], ax_row[H + k] + w.b_ih[H + k], ax_row[2 * H + k] + w.b_ih[2 * H + k], recurrent(0),
            recurrent(1), recurrent(2), h_prev ? h_prev[n * H + k] : 0.0f);
        h[row * H + k] = c.h;
        reference::keep_for_backward(kept, H, k, c);
      }
    }
  }
}

void gru_backward(const Context& ctx, const GruPlan& plan, const float* x, const GruWeights& w, const float* h,
                  const float* reserve, const float* dh, float* dx, const GruGradients& grads) {
  const GruShape& s = plan.shape;
  const Precision precision = plan.options.precision;
  const std::int64_t H = s.h, G = 3 * s.h, rows = s.t * s.n;
  const BackwardScratch scratch = carve_workspace(ctx, [&](Carver& c) { return backward_scratch(c, s); });
  float* dax = scratch.dax;
  float* dah = scratch.dah;
  float* carry = scratch.carry;
  fill(ctx, carry, 0.0f, s.n * H);
  for (std::int64_t t = s.t - 1; t >= 0; --t) {
    for (std::int64_t n = 0; n < s.n; ++n) {
      const std::int64_t row = t * s.n + n;
      const float* kept = reserve + row * 4 * H;
      const float* h_prev = t > 0 ? h + (row - s.n) * H : nullptr;
      float* dax_row = dax + row * G;
      float* dah_row = dah + row * G;
      for (std::int64_t k = 0; k < H; ++k) {
        const reference::GruCellGrad<float> g = reference::gru_cell_backward(
            dh[row * H + k] + carry[n * H + k], kept[kReserveR * H + k], kept[kReserveZ * H + k],
            kept[kReserveN * H + k], kept[kReserveAhN * H + k], h_prev ? h_prev[k] : 0.0f);
        dax_row[k] = dah_row[k] = g.da_r;
        dax_row[H + k] = dah_row[H + k] = g.da_z;
        dax_row[2 * H + k] = g.da_n;
        dah_row[2 * H + k] = g.dah_n;
        carry[n * H + k] = g.dh_prev;
      }
    }
    // carry (N, H) += d(ah)[t] (N, 3H) W_hh (3H, H): dL/dh[t-1]. Not needed after step 0.
    if (t > 0) blocked_gemm(s.n, H, G, 1.0f, row_major(dah + t * s.n * G, G), row_major(w.w_hh, H), 1.0f, carry, H);
  }
  gemm(ctx, false, false, rows, s.i, G, 1.0f, dax, w.w_ih, 0.0f, dx, precision);
  gemm(ctx, true, false, G, s.i, rows, 1.0f, dax, x, 0.0f, grads.w_ih, precision);
  gemm(ctx, true, false, G, H, rows - s.n, 1.0f, dah + s.n * G, h, 0.0f, grads.w_hh, precision);
  bias_backward(ctx, dax, grads.b_ih, rows, G, 1, false);
  bias_backward(ctx, dah, grads.b_hh, rows, G, 1, false);
}

}  // namespace rosetta::kernels::cpu
