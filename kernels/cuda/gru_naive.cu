// Naive CUDA twin of kernels/gru.inc (the ablation against cuDNN's fused RNN): the GEMM formulation of
// kernels/cpu/gru.cpp on cuBLAS (kernels/gemm.h), with one fused gate kernel per step in each direction.
//   forward   ax (TN, 3H) = x W_ih^T                        one GEMM for all T steps
//             per step: ah (N, 3H) = h[t-1] W_hh^T          one GEMM (none at t = 0, where h[-1] = 0)
//                       gru_forward_cells                   biases, gates, h[t], the reserve
//   backward  per step t = T-1..0: gru_backward_cells       d(ax)[t], d(ah)[t], carry = dh z
//                       carry += d(ah)[t] W_hh              one GEMM (beta 1), not after step 0
//             dx = d(ax) W_ih, dW_ih = d(ax)^T x, dW_hh = d(ah)[1..]^T h[..T-2]: three GEMMs over all steps;
//             bias gradients with bias_backward (deterministic, kernels/elementwise.h): gru_backward_gemms, which
//             the persistent GRU shares.
// Each cell thread owns one (n, k) and applies reference::gru_cell / gru_cell_backward; nothing uses atomics, so
// results are deterministic run to run. Scratch is ctx.workspace, laid out once per pass and grown at plan time.
#include <algorithm>

#include "kernels/cuda/gru_state.h"
#include "kernels/cuda/launch.h"
#include "kernels/elementwise.h"
#include "kernels/gemm.h"
#include "kernels/gru.h"
#include "kernels/reference/gru.h"
#include "runtime/cuda_check.h"
#include "runtime/workspace.h"

namespace rosetta::kernels::cuda {
namespace {

using reference::kReserveAhN;
using reference::kReserveN;
using reference::kReserveR;
using reference::kReserveZ;

// One step. ax (N, 3H) without b_ih; ah (N, 3H) without b_hh, or null at t = 0; h_prev (N, H) or null at t = 0.
// Writes h (N, H) and reserve (N, 4H).
__global__ void gru_forward_cells(const float* ax, const float* ah, const float* b_ih, const float* b_hh,
                                  const float* h_prev, float* h, float* reserve, std::int64_t n_rows, std::int64_t H) {
  for (const std::int64_t e : grid_stride(n_rows * H)) {
    const std::int64_t n = e / H, k = e % H;
    const float* ax_row = ax + n * 3 * H;
    const float a_hr = (ah ? ah[n * 3 * H + k] : 0.0f) + b_hh[k];
    const float a_hz = (ah ? ah[n * 3 * H + H + k] : 0.0f) + b_hh[H + k];
    const float a_hn = (ah ? ah[n * 3 * H + 2 * H + k] : 0.0f) + b_hh[2 * H + k];
    const reference::GruCell<float> c =
        reference::gru_cell(ax_row[k] + b_ih[k], ax_row[H + k] + b_ih[H + k], ax_row[2 * H + k] + b_ih[2 * H + k], a_hr,
                            a_hz, a_hn, h_prev ? h_prev[e] : 0.0f);
    h[e] = c.h;
    float* kept = reserve + n * 4 * H;
    reference::keep_for_backward(kept, H, k, c);
  }
}

// One step backward. dh (N, H) the step's own output gradient; carry (N, H) in: what step t+1 sent back, out: dh z.
// reserve (N, 4H) and h_prev (N, H, null at t = 0) of the forward. Writes dax, dah (N, 3H).
__global__ void gru_backward_cells(const float* dh, float* carry, const float* reserve, const float* h_prev,
                                   float* dax, float* dah, std::int64_t n_rows, std::int64_t H) {
  for (const std::int64_t e : grid_stride(n_rows * H)) {
    const std::int64_t n = e / H, k = e % H;
    const float* kept = reserve + n * 4 * H;
    const reference::GruCellGrad<float> g =
        reference::gru_cell_backward(dh[e] + carry[e], kept[kReserveR * H + k], kept[kReserveZ * H + k],
                                     kept[kReserveN * H + k], kept[kReserveAhN * H + k], h_prev ? h_prev[e] : 0.0f);
    float* dax_row = dax + n * 3 * H;
    float* dah_row = dah + n * 3 * H;
    dax_row[k] = dah_row[k] = g.da_r;
    dax_row[H + k] = dah_row[H + k] = g.da_z;
    dax_row[2 * H + k] = g.da_n;
    dah_row[2 * H + k] = g.dah_n;
    carry[e] = g.dh_prev;
  }
}

// x (a, b, c) -> y (b, a, c)
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

void plan_naive_gru(const Context& ctx, GruPlan& plan) {
  const GruShape& s = plan.shape;
  plan.reserve_elements = reference::reserve_elements(s);  // r, z, n and W_hn h + b_hn of every (t, n)
  ctx.workspace(std::max(workspace_bytes([&](Carver& c) { return forward_scratch(c, s); }),
                         workspace_bytes([&](Carver& c) { return backward_scratch(c, s); })));
}

void naive_gru_forward(const Context& ctx, const GruPlan& plan, const float* x, const GruWeights& w, float* h,
                       float* reserve) {
  const GruShape& s = plan.shape;
  const Precision precision = plan.options.precision;
  const std::int64_t H = s.h, G = 3 * s.h, rows = s.t * s.n;
  const ForwardScratch scratch = carve_workspace(ctx, [&](Carver& c) { return forward_scratch(c, s); });
  float* ax = scratch.ax;
  float* ah = scratch.ah;
  gemm(ctx, false, true, rows, G, s.i, 1.0f, x, w.w_ih, 0.0f, ax, precision);
  for (std::int64_t t = 0; t < s.t; ++t) {
    const float* h_prev = t > 0 ? h + (t - 1) * s.n * H : nullptr;
    if (h_prev) gemm(ctx, false, true, s.n, G, H, 1.0f, h_prev, w.w_hh, 0.0f, ah, precision);
    gru_forward_cells<<<grid_for(s.n * H), kThreads, 0, ctx.stream()>>>(ax + t * s.n * G, h_prev ? ah : nullptr,
                                                                         w.b_ih, w.b_hh, h_prev, h + t * s.n * H,
                                                                         reserve + t * s.n * 4 * H, s.n, H);
    ROSETTA_LAUNCH_CHECK("gru_forward_cells step " << t << " of " << s.str());
  }
}

void naive_gru_backward(const Context& ctx, const GruPlan& plan, const float* x, const GruWeights& w, const float* h,
                        const float* reserve, const float* dh, float* dx, const GruGradients& grads) {
  const GruShape& s = plan.shape;
  const Precision precision = plan.options.precision;
  const std::int64_t H = s.h, G = 3 * s.h;
  const BackwardScratch scratch = carve_workspace(ctx, [&](Carver& c) { return backward_scratch(c, s); });
  float* dax = scratch.dax;
  float* dah = scratch.dah;
  float* carry = scratch.carry;
  ROSETTA_CUDA_CHECK(cudaMemsetAsync(carry, 0, static_cast<std::size_t>(s.n * H) * sizeof(float), ctx.stream()));
  for (std::int64_t t = s.t - 1; t >= 0; --t) {
    const std::int64_t row0 = t * s.n;
    gru_backward_cells<<<grid_for(s.n * H), kThreads, 0, ctx.stream()>>>(
        dh + row0 * H, carry, reserve + row0 * 4 * H, t > 0 ? h + (row0 - s.n) * H : nullptr, dax + row0 * G,
        dah + row0 * G, s.n, H);
    ROSETTA_LAUNCH_CHECK("gru_backward_cells step " << t << " of " << s.str());
    if (t > 0) gemm(ctx, false, false, s.n, H, G, 1.0f, dah + row0 * G, w.w_hh, 1.0f, carry, precision);
  }
  gru_backward_gemms(ctx, plan, x, w, h, dax, dah, dx, grads);
}

void gru_backward_gemms(const Context& ctx, const GruPlan& plan, const float* x, const GruWeights& w, const float* h,
                        const float* dax, const float* dah, float* dx, const GruGradients& grads) {
  const GruShape& s = plan.shape;
  const Precision precision = plan.options.precision;
  const std::int64_t H = s.h, G = 3 * s.h, rows = s.t * s.n;
  gemm(ctx, false, false, rows, s.i, G, 1.0f, dax, w.w_ih, 0.0f, dx, precision);
  gemm(ctx, true, false, G, s.i, rows, 1.0f, dax, x, 0.0f, grads.w_ih, precision);
  gemm(ctx, true, false, G, H, rows - s.n, 1.0f, dah + s.n * G, h, 0.0f, grads.w_hh, precision);
  bias_backward(ctx, dax, grads.b_ih, rows, G, 1, false);
  bias_backward(ctx, dah, grads.b_hh, rows, G, 1, false);
}

}  // namespace rosetta::kernels::cuda
