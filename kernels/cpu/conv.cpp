// CPU twin of the convolution (kernels/conv.inc): im2col + the one CPU GEMM (kernels/cpu/blocked_gemm.h), per image:
//   forward          y_n (K, P)      = w (K, CRS) * col_n (CRS, P)                  P = OH * OW, CRS = C * R * S
//   backward-data    dcol_n (CRS, P) = w^T (CRS, K) * dy_n (K, P), then col2im into dx_n
//   backward-filter  dw (K, CRS)    += dy_n (K, P) * col_n^T (P, CRS), images in order 0..N-1
// (a 1x1 convolution with stride 1 and no padding uses x_n itself as col_n). Every output element is one fma chain
// over its depth in order (for the filter gradient: across the whole batch), computed by one thread, so results are
// bit-identical for any OpenMP thread count and run to run.
// Scratch is the context's workspace, laid out once (lay_out below) and grown by plan_conv2d: the passes allocate
// nothing. NHWC plans transpose their operands to NCHW in the workspace, run the NCHW pass into the workspace and
// transpose the result back: the same sums as NCHW, so the results equal NCHW's bit for bit. bf16 plans convert their
// operands to float in the workspace, run the float pass and round the result to bf16 once: the reference a bf16
// cuDNN pass (float accumulation) is measured against. kernels/reference/conv.h is the definition these passes are
// tested against. The fused forward is conv2d_forward followed by the epilogue of kernels/reference/residual.h.
#include "kernels/conv.h"

#include <algorithm>

#include "kernels/cpu/blocked_gemm.h"
#include "kernels/cpu/parallel.h"
#include "kernels/elementwise.h"
#include "kernels/layout.h"
#include "kernels/reference/residual.h"
#include "runtime/error.h"
#include "runtime/workspace.h"

namespace rosetta::kernels {
namespace cpu {
namespace {

bool is_pointwise(const ConvShape& s) {
  return s.r == 1 && s.s == 1 && s.stride_h == 1 && s.stride_w == 1 && s.pad_h == 0 && s.pad_w == 0;
}

// x_n (C, H, W) -> col (C * R * S, OH * OW), zeros where the window reads padding.
void im2col(const ConvShape& s, const float* x_n, float* col) {
  const std::int64_t oh_n = s.out_h(), ow_n = s.out_w();
  parallel_for(s.c * s.r * s.s, oh_n * ow_n, [&](std::int64_t row) {
    const std::int64_t c = row / (s.r * s.s), r = row / s.s % s.r, q = row % s.s;
    // The outputs whose tap q reads inside the image: iw = ow * stride - pad + q in [0, W).
    const std::int64_t ow_first = std::min(ow_n, std::max<std::int64_t>(0, (s.pad_w - q + s.stride_w - 1) / s.stride_w));
    const std::int64_t ow_last = std::max(ow_first, std::min(ow_n, (s.w - 1 + s.pad_w - q) / s.stride_w + 1));
    float* out = col + row * oh_n * ow_n;
    for (std::int64_t oh = 0; oh < oh_n; ++oh, out += ow_n) {
      const std::int64_t ih = oh * s.stride_h - s.pad_h + r;
      if (ih < 0 || ih >= s.h) {
        std::fill(out, out + ow_n, 0.0f);
        continue;
      }
      const float* in = x_n + (c * s.h + ih) * s.w - s.pad_w + q;  // in[ow * stride] is x[c, ih, iw]
      std::fill(out, out + ow_first, 0.0f);
      for (std::int64_t ow = ow_first; ow < ow_last; ++ow) out[ow] = in[ow * s.stride_w];
      std::fill(out + ow_last, out + ow_n, 0.0f);
    }
  });
}

// dcol (C * R * S, OH * OW) -> dx_n (C, H, W): each dx element sums the col entries that copied it, in the
// fixed order (r, q, oh, ow). One thread per channel, so no two threads write the same element.
void col2im(const ConvShape& s, const float* dcol, float* dx_n) {
  const std::int64_t oh_n = s.out_h(), ow_n = s.out_w();
  parallel_for(s.c, s.r * s.s * oh_n * ow_n, [&](std::int64_t c) {
    float* plane = dx_n + c * s.h * s.w;
    std::fill(plane, plane + s.h * s.w, 0.0f);
    for (std::int64_t r = 0; r < s.r; ++r)
      for (std::int64_t q = 0; q < s.s; ++q) {
        const float* in = dcol + ((c * s.r + r) * s.s + q) * oh_n * ow_n;
        for (std::int64_t oh = 0; oh < oh_n; ++oh) {
          const std::int64_t ih = oh * s.stride_h - s.pad_h + r;
          if (ih < 0 || ih >= s.h) continue;
          for (std::int64_t ow = 0; ow < ow_n; ++ow) {
            const std::int64_t iw = ow * s.stride_w - s.pad_w + q;
            if (iw >= 0 && iw < s.w) plane[ih * s.w + iw] += in[oh * ow_n + ow];
          }
        }
      }
  });
}

// The workspace of a plan: the im2col buffer (CRS, P) of one image, then for NHWC the NCHW copies of x, w and y,
// then for bf16 the float copies of its x, w and y.
struct Scratch {
  float* col;                       // (CRS, P): im2col of one image
  float *x_nchw, *w_kcrs, *y_nchw;  // NHWC only: (N, C, H, W), (K, C, R, S), (N, K, OH, OW)
  float *x_f32, *w_f32, *y_f32;     // bf16 only: x, w, y in float, in the plan's layout
};

// Elements of x, w and y.
struct Sizes {
  std::int64_t x, w, y;
};
Sizes sizes(const ConvShape& s) { return {s.n * s.c * s.h * s.w, s.k * s.c * s.r * s.s, s.n * s.k * s.out_h() * s.out_w()}; }

Scratch lay_out(Carver& carver, const ConvPlan& plan) {
  const ConvShape& s = plan.shape;
  const Sizes z = sizes(s);
  const bool nhwc = plan.options.layout == Layout::nhwc, bf16_plan = plan.options.precision == Precision::bf16;
  Scratch scratch{};
  scratch.col = carver.take<float>(s.c * s.r * s.s * s.out_h() * s.out_w());
  if (nhwc) {
    scratch.x_nchw = carver.take<float>(z.x);
    scratch.w_kcrs = carver.take<float>(z.w);
    scratch.y_nchw = carver.take<float>(z.y);
  }
  if (bf16_plan) {
    scratch.x_f32 = carver.take<float>(z.x);
    scratch.w_f32 = carver.take<float>(z.w);
    scratch.y_f32 = carver.take<float>(z.y);
  }
  return scratch;
}

Scratch scratch_of(const Context& ctx, const ConvPlan& plan) {
  return carve_workspace(ctx, [&](Carver& c) { return lay_out(c, plan); });
}

void check_cpu_plan(const ConvPlan& plan, const char* pass) {
  ROSETTA_CHECK(!plan.runners[static_cast<int>(ConvPass::forward)],
                pass << " on the CPU with a plan made for CUDA: " << plan.shape.str());
}

void check_backward_planned(const ConvPlan& plan, bool bf16_data, const char* pass) {
  ROSETTA_CHECK(!plan.options.forward_only, pass << " with a forward-only plan: " << plan.shape.str());
  ROSETTA_CHECK((plan.options.precision == Precision::bf16) == bf16_data,
                pass << " of " << (bf16_data ? "bf16" : "float") << " data with a "
                     << precision_name(plan.options.precision) << " plan: " << plan.shape.str());
}

// The NCHW forward: x (N, C, H, W), w (K, C, R, S) -> y (N, K, OH, OW); col is the im2col buffer (unused when
// pointwise).
void forward_nchw(const ConvShape& s, const float* x, const float* w, float* y, float* col) {
  const std::int64_t p = s.out_h() * s.out_w(), crs = s.c * s.r * s.s;
  for (std::int64_t n = 0; n < s.n; ++n) {
    const float* x_n = x + n * s.c * s.h * s.w;  // (C, H, W)
    if (!is_pointwise(s)) im2col(s, x_n, col);   // (CRS, P)
    blocked_gemm(s.k, p, crs, 1.0f, row_major(w, crs), row_major(is_pointwise(s) ? x_n : col, p), 0.0f, y + n * s.k * p,
                 p);
  }
}

// The float forward in the plan's layout; NHWC through NCHW copies in the scratch.
void forward_f32(const Context& ctx, const ConvPlan& plan, const Scratch& scratch, const float* x, const float* w,
                 float* y) {
  const ConvShape& s = plan.shape;
  if (plan.options.layout == Layout::nchw) {
    forward_nchw(s, x, w, y, scratch.col);
    return;
  }
  change_layout(ctx, x, Layout::nhwc, scratch.x_nchw, Layout::nchw, s.n, s.c, s.h * s.w);
  change_layout(ctx, w, Layout::nhwc, scratch.w_kcrs, Layout::nchw, s.k, s.c, s.r * s.s);
  forward_nchw(s, scratch.x_nchw, scratch.w_kcrs, scratch.y_nchw, scratch.col);
  change_layout(ctx, scratch.y_nchw, Layout::nchw, y, Layout::nhwc, s.n, s.k, s.out_h() * s.out_w());
}

// The NCHW data gradient: dy (N, K, OH, OW), w (K, C, R, S) -> dx (N, C, H, W); dcol is the im2col-shaped buffer
// (unused when pointwise).
void backward_data_nchw(const ConvShape& s, const float* dy, const float* w, float* dx, float* dcol) {
  const std::int64_t p = s.out_h() * s.out_w(), crs = s.c * s.r * s.s;
  for (std::int64_t n = 0; n < s.n; ++n) {
    float* dx_n = dx + n * s.c * s.h * s.w;  // (C, H, W)
    // w^T (CRS, K): element (crs, k) is w[k * CRS + crs].
    blocked_gemm(crs, p, s.k, 1.0f, transposed(w, crs), row_major(dy + n * s.k * p, p), 0.0f,
                 is_pointwise(s) ? dx_n : dcol, p);
    if (!is_pointwise(s)) col2im(s, dcol, dx_n);
  }
}

// The NCHW filter gradient: x (N, C, H, W), dy (N, K, OH, OW) -> dw (K, C, R, S).
void backward_filter_nchw(const ConvShape& s, const float* x, const float* dy, float* dw, float* col) {
  const std::int64_t p = s.out_h() * s.out_w(), crs = s.c * s.r * s.s;
  for (std::int64_t n = 0; n < s.n; ++n) {
    const float* x_n = x + n * s.c * s.h * s.w;  // (C, H, W)
    if (!is_pointwise(s)) im2col(s, x_n, col);
    // dw (K, CRS) = dw + dy_n (K, P) col_n^T (P, CRS): images in order, one fma chain per weight across the batch.
    blocked_gemm(s.k, crs, p, 1.0f, row_major(dy + n * s.k * p, p), transposed(is_pointwise(s) ? x_n : col, p),
                 n > 0 ? 1.0f : 0.0f, dw, crs);
  }
}

// The float backward passes in the plan's layout; NHWC through NCHW copies in the scratch.
void backward_data_f32(const Context& ctx, const ConvPlan& plan, const Scratch& scratch, const float* dy,
                       const float* w, float* dx) {
  const ConvShape& s = plan.shape;
  if (plan.options.layout == Layout::nchw) {
    backward_data_nchw(s, dy, w, dx, scratch.col);
    return;
  }
  change_layout(ctx, dy, Layout::nhwc, scratch.y_nchw, Layout::nchw, s.n, s.k, s.out_h() * s.out_w());
  change_layout(ctx, w, Layout::nhwc, scratch.w_kcrs, Layout::nchw, s.k, s.c, s.r * s.s);
  backward_data_nchw(s, scratch.y_nchw, scratch.w_kcrs, scratch.x_nchw, scratch.col);
  change_layout(ctx, scratch.x_nchw, Layout::nchw, dx, Layout::nhwc, s.n, s.c, s.h * s.w);
}

void backward_filter_f32(const Context& ctx, const ConvPlan& plan, const Scratch& scratch, const float* x,
                         const float* dy, float* dw) {
  const ConvShape& s = plan.shape;
  if (plan.options.layout == Layout::nchw) {
    backward_filter_nchw(s, x, dy, dw, scratch.col);
    return;
  }
  change_layout(ctx, x, Layout::nhwc, scratch.x_nchw, Layout::nchw, s.n, s.c, s.h * s.w);
  change_layout(ctx, dy, Layout::nhwc, scratch.y_nchw, Layout::nchw, s.n, s.k, s.out_h() * s.out_w());
  backward_filter_nchw(s, scratch.x_nchw, scratch.y_nchw, scratch.w_kcrs, scratch.col);
  change_layout(ctx, scratch.w_kcrs, Layout::nchw, dw, Layout::nhwc, s.k, s.c, s.r * s.s);
}

// y (N, K, OH, OW) in the plan's layout, in place: the epilogue of kernels/reference/residual.h.
template <typename T>
void epilogue(const ConvPlan& plan, T* y, const T* bias, const T* z, bool relu) {
  const ConvShape& s = plan.shape;
  const ChannelView v = channel_view(plan.options.layout, s.n, s.k, s.out_h() * s.out_w());
  parallel_for(v.outer * v.channels, v.inner, [&](std::int64_t row) {  // row = o * K + k
    const float b = float(bias[row % v.channels]);
    for (std::int64_t i = row * v.inner; i < (row + 1) * v.inner; ++i)
      y[i] = T(reference::bias_residual_activation(float(y[i]), z ? float(z[i]) : 0.0f, b, relu));
  });
}

void forward(const Context& ctx, const ConvPlan& plan, const float* x, const float* w, float* y) {
  check_cpu_plan(plan, "conv2d_forward");
  ROSETTA_CHECK(plan.options.precision != Precision::bf16, "conv2d_forward of float data with a bf16 plan: " << plan.shape.str());
  forward_f32(ctx, plan, scratch_of(ctx, plan), x, w, y);
}

void forward(const Context& ctx, const ConvPlan& plan, const bf16* x, const bf16* w, bf16* y) {
  check_cpu_plan(plan, "conv2d_forward");
  const ConvShape& s = plan.shape;
  ROSETTA_CHECK(plan.options.precision == Precision::bf16,
                "conv2d_forward of bf16 data with a " << precision_name(plan.options.precision) << " plan: " << s.str());
  const Scratch scratch = scratch_of(ctx, plan);
  const Sizes z = sizes(s);
  convert(ctx, x, scratch.x_f32, z.x);
  convert(ctx, w, scratch.w_f32, z.w);
  forward_f32(ctx, plan, scratch, scratch.x_f32, scratch.w_f32, scratch.y_f32);
  convert(ctx, scratch.y_f32, y, z.y);
}

}  // namespace

void plan_conv2d(const Context& ctx, ConvPlan& plan) {
  const std::size_t bytes = workspace_bytes([&](Carver& c) { return lay_out(c, plan); });
  const int passes = plan.options.forward_only ? 1 : kConvPassCount;
  ConvAlgorithmChoice im2col_gemm;
  im2col_gemm.backend = ConvBackend::cpu_im2col_gemm;
  im2col_gemm.workspace_bytes = bytes;
  for (int pass = 0; pass < passes; ++pass) plan.choices[pass] = im2col_gemm;
  plan.fused_relu = plan.fused_identity = false;
  ctx.workspace(bytes);
}

void conv2d_forward(const Context& ctx, const ConvPlan& plan, const float* x, const float* w, float* y) {
  check_forward_call(plan, false, false, false);
  forward(ctx, plan, x, w, y);
}

void conv2d_forward(const Context& ctx, const ConvPlan& plan, const bf16* x, const bf16* w, bf16* y) {
  check_forward_call(plan, false, false, false);
  forward(ctx, plan, x, w, y);
}

void conv2d_backward_data(const Context& ctx, const ConvPlan& plan, const float* dy, const float* w, float* dx) {
  check_cpu_plan(plan, "conv2d_backward_data");
  check_backward_planned(plan, false, "conv2d_backward_data");
  backward_data_f32(ctx, plan, scratch_of(ctx, plan), dy, w, dx);
}

void conv2d_backward_data(const Context& ctx, const ConvPlan& plan, const bf16* dy, const bf16* w, bf16* dx) {
  check_cpu_plan(plan, "conv2d_backward_data");
  check_backward_planned(plan, true, "conv2d_backward_data");
  const Sizes z = sizes(plan.shape);
  const Scratch scratch = scratch_of(ctx, plan);
  convert(ctx, dy, scratch.y_f32, z.y);
  convert(ctx, w, scratch.w_f32, z.w);
  backward_data_f32(ctx, plan, scratch, scratch.y_f32, scratch.w_f32, scratch.x_f32);
  convert(ctx, scratch.x_f32, dx, z.x);
}

void conv2d_backward_filter(const Context& ctx, const ConvPlan& plan, const float* x, const float* dy, float* dw) {
  check_cpu_plan(plan, "conv2d_backward_filter");
  check_backward_planned(plan, false, "conv2d_backward_filter");
  backward_filter_f32(ctx, plan, scratch_of(ctx, plan), x, dy, dw);
}

void conv2d_backward_filter(const Context& ctx, const ConvPlan& plan, const bf16* x, const bf16* dy, bf16* dw) {
  check_cpu_plan(plan, "conv2d_backward_filter");
  check_backward_planned(plan, true, "conv2d_backward_filter");
  const Sizes z = sizes(plan.shape);
  const Scratch scratch = scratch_of(ctx, plan);
  convert(ctx, x, scratch.x_f32, z.x);
  convert(ctx, dy, scratch.y_f32, z.y);
  backward_filter_f32(ctx, plan, scratch, scratch.x_f32, scratch.y_f32, scratch.w_f32);
  convert(ctx, scratch.w_f32, dw, z.w);
}

void conv2d_bias_activation_forward(const Context& ctx, const ConvPlan& plan, const float* x, const float* w,
                                    const float* bias, const float* z, bool relu, float* y) {
  check_forward_call(plan, true, z != nullptr, relu);
  forward(ctx, plan, x, w, y);
  epilogue(plan, y, bias, z, relu);
}

void conv2d_bias_activation_forward(const Context& ctx, const ConvPlan& plan, const bf16* x, const bf16* w,
                                    const bf16* bias, const bf16* z, bool relu, bf16* y) {
  check_forward_call(plan, true, z != nullptr, relu);
  forward(ctx, plan, x, w, y);
  epilogue(plan, y, bias, z, relu);
}

std::vector<ConvAlgorithmChoice> find_conv_algorithms(const Context&, const ConvPlan& plan, ConvPass pass) {
  check_cpu_plan(plan, "find_conv_algorithms");
  return {plan.of(pass)};
}

ConvPlan conv_plan_with_choice(const Context&, const ConvPlan& plan, ConvPass pass, const ConvAlgorithmChoice& choice) {
  check_cpu_plan(plan, "conv_plan_with_choice");
  ROSETTA_CHECK(choice.backend == ConvBackend::cpu_im2col_gemm,
                "the CPU runs " << conv_pass_name(pass) << " with im2col + GEMM only, not " << conv_choice_name(pass, choice));
  return plan;
}

ConvCacheLoad load_conv_algorithm_cache(const Context&, const std::string& path) {
  return {0, "not read: the CPU has one convolution algorithm and no search to cache (" + path + ")"};
}

void save_conv_algorithm_cache(const Context&, const std::string&) {}

ConvAutotuneStats conv_autotune_stats(const Context&) { return {}; }

}  // namespace cpu
}  // namespace rosetta::kernels
