// CPU twin of the convolution passes, ConvShape::str() and make_conv_plan (which builds the CPU plan here and
// hands CUDA contexts to kernels/cuda/conv.cpp).
//
// The float passes are im2col + GEMM, per image:
//   forward          y_n (K, P)      = w (K, CRS) * col_n (CRS, P)                  P = OH * OW, CRS = C * R * S
//   backward-data    dcol_n (CRS, P) = w^T (CRS, K) * dy_n (K, P), then col2im into dx_n
//   backward-filter  dw (K, CRS)    += dy_n (K, P) * colT_n (P, CRS), images in order 0..N-1
// The GEMM computes 4x8 output tiles with the accumulators in registers and the inner loops over 8 contiguous
// columns, which the compiler vectorises. Every output element is a float sum over the depth in ascending order,
// computed by exactly one thread, so results are bit-identical for any OpenMP thread count and run to run.
// The im2col buffer is the context's workspace, sized by make_conv_plan: the passes allocate nothing.
// NHWC plans (forward only) transpose x and w to NCHW in the workspace, after the im2col buffer, run the NCHW
// forward into the workspace and transpose y back: the same sums as NCHW, so the results equal NCHW's bit for bit.
// bf16 plans (NHWC, forward-only) convert x and w to float in the workspace, after the NCHW copies, run the float
// NHWC forward and round y to bf16: the reference a bf16 cuDNN forward (float accumulation) is measured against.
// kernels/reference/conv.h is the definition these passes are tested against. The fused bias-activation forward
// is conv2d_forward followed by one pass over the output.
#include "kernels/conv.h"

#include <algorithm>
#include <climits>
#include <sstream>

#include "kernels/elementwise.h"
#include "kernels/layout.h"
#include "runtime/error.h"
#if ROSETTA_WITH_CUDA
#include "kernels/cuda/conv_state.h"
#endif

namespace rosetta::kernels {

const char* conv_layout_name(ConvLayout layout) { return layout == ConvLayout::nhwc ? "nhwc" : "nchw"; }

std::string ConvShape::str() const {
  std::ostringstream os;
  os << "x(" << n << ", " << c << ", " << h << ", " << w << ") w(" << k << ", " << c << ", " << r << ", " << s << ")";
  if (pad_h == pad_w)
    os << " pad " << pad_h;
  else
    os << " pad (" << pad_h << ", " << pad_w << ")";
  if (stride_h == stride_w)
    os << " stride " << stride_h;
  else
    os << " stride (" << stride_h << ", " << stride_w << ")";
  return os.str();
}

namespace {

// Bytes of the im2col buffer of one image: (C * R * S, OH * OW) floats.
std::size_t im2col_bytes(const ConvShape& shape) {
  return static_cast<std::size_t>(shape.c * shape.r * shape.s * shape.out_h() * shape.out_w()) * sizeof(float);
}

void validate(const ConvShape& shape, const ConvOptions& options) {
  ROSETTA_CHECK(shape.n > 0 && shape.c > 0 && shape.h > 0 && shape.w > 0 && shape.k > 0 && shape.r > 0 && shape.s > 0,
                "convolution with an empty dimension: " << shape.str());
  ROSETTA_CHECK(shape.pad_h >= 0 && shape.pad_w >= 0 && shape.stride_h > 0 && shape.stride_w > 0,
                "convolution needs pads >= 0 and strides > 0: " << shape.str());
  ROSETTA_CHECK(shape.h + 2 * shape.pad_h >= shape.r && shape.w + 2 * shape.pad_w >= shape.s,
                "convolution filter larger than the padded input: " << shape.str());
  ROSETTA_CHECK(shape.n <= INT_MAX && shape.c <= INT_MAX && shape.h <= INT_MAX && shape.w <= INT_MAX &&
                    shape.k <= INT_MAX && shape.r <= INT_MAX && shape.s <= INT_MAX,
                "convolution dimension beyond 32 bits: " << shape.str());
  ROSETTA_CHECK(options.precision != Precision::bf16 || (options.layout == ConvLayout::nhwc && options.forward_only),
                "bf16 convolutions run NHWC and forward-only (conv2d_forward_bf16): " << shape.str());
}

// Floats of an NHWC forward's NCHW copies, after the im2col buffer: x (N, C, H, W), w (K, C, R, S), y (N, K, OH, OW).
std::int64_t nhwc_copies_floats(const ConvShape& s) {
  return s.n * s.c * s.h * s.w + s.k * s.c * s.r * s.s + s.n * s.k * s.out_h() * s.out_w();
}

}  // namespace

ConvPlan make_conv_plan(const Context& ctx, const ConvShape& shape, const ConvOptions& options) {
  validate(shape, options);
  ConvPlan plan{shape, options, nullptr};
  if (ctx.device() == Device::cuda) {
#if ROSETTA_WITH_CUDA
    plan.cudnn = cuda::make_cudnn_conv_state(ctx, shape, options);
#else
    ROSETTA_FAIL("a CUDA convolution plan needs a CUDA build: " << shape.str());
#endif
  } else if (options.layout == ConvLayout::nhwc) {
    ROSETTA_CHECK(options.forward_only, "CPU NHWC convolutions are forward-only (plan with forward_only): " << shape.str());
    // A bf16 plan adds the float copies of its x, w and y after the NCHW copies (the same sizes).
    const int copies = options.precision == Precision::bf16 ? 2 : 1;
    ctx.workspace(im2col_bytes(shape) + static_cast<std::size_t>(copies * nhwc_copies_floats(shape)) * sizeof(float));
  } else {
    ctx.workspace(im2col_bytes(shape));
  }
  return plan;
}

bool conv_bias_activation_supported(const ConvPlan& plan, bool relu) {
  if (plan.options.precision == Precision::bf16) return false;
  if (!plan.cudnn) return true;
#if ROSETTA_WITH_CUDA
  return relu || plan.cudnn->of(cuda::ConvPass::forward).algo == CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM;
#else
  return relu;
#endif
}

namespace cpu {
namespace {

constexpr std::int64_t kTileRows = 4;  // output rows per register tile
constexpr std::int64_t kTileCols = 8;  // output columns per register tile (two 4-wide or one 8-wide vector)

// Runs body(i) for i in [0, count), split statically over the OpenMP threads when there is OpenMP.
template <typename Body>
void parallel_for(std::int64_t count, const Body& body) {
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if (count > 1)
#endif
  for (std::int64_t i = 0; i < count; ++i) body(i);
}

// A read-only matrix with arbitrary strides: element (i, q) is data[i * row_stride + q * col_stride].
struct StridedMatrix {
  const float* data;
  std::int64_t row_stride, col_stride;
  float at(std::int64_t i, std::int64_t q) const { return data[i * row_stride + q * col_stride]; }
};

// One full kTileRows x kTileCols tile of c = a * b (+ c).
void gemm_tile(std::int64_t i0, std::int64_t j0, std::int64_t depth, const StridedMatrix& a, const float* b,
               std::int64_t ldb, float* c, std::int64_t ldc, bool accumulate) {
  float acc[kTileRows][kTileCols];
  for (std::int64_t i = 0; i < kTileRows; ++i)
    for (std::int64_t j = 0; j < kTileCols; ++j) acc[i][j] = accumulate ? c[(i0 + i) * ldc + j0 + j] : 0.0f;
  for (std::int64_t q = 0; q < depth; ++q) {
    const float* b_row = b + q * ldb + j0;
    for (std::int64_t i = 0; i < kTileRows; ++i) {
      const float a_iq = a.at(i0 + i, q);
      for (std::int64_t j = 0; j < kTileCols; ++j) acc[i][j] += a_iq * b_row[j];
    }
  }
  for (std::int64_t i = 0; i < kTileRows; ++i)
    for (std::int64_t j = 0; j < kTileCols; ++j) c[(i0 + i) * ldc + j0 + j] = acc[i][j];
}

// A partial tile at the right or bottom edge: the same sums in the same order, without register blocking.
void gemm_edge(std::int64_t i0, std::int64_t j0, std::int64_t rows, std::int64_t cols, std::int64_t depth,
               const StridedMatrix& a, const float* b, std::int64_t ldb, float* c, std::int64_t ldc, bool accumulate) {
  for (std::int64_t i = i0; i < i0 + rows; ++i)
    for (std::int64_t j = j0; j < j0 + cols; ++j) {
      float sum = accumulate ? c[i * ldc + j] : 0.0f;
      for (std::int64_t q = 0; q < depth; ++q) sum += a.at(i, q) * b[q * ldb + j];
      c[i * ldc + j] = sum;
    }
}

// c (m, n) = a (m, depth) * b (depth, n), plus c's old contents when `accumulate`. b and c are row-major with
// leading dimensions ldb and ldc. Tiles are independent; consecutive tiles share b's column panel.
void gemm(std::int64_t m, std::int64_t n, std::int64_t depth, const StridedMatrix& a, const float* b, std::int64_t ldb,
          float* c, std::int64_t ldc, bool accumulate) {
  const std::int64_t row_tiles = (m + kTileRows - 1) / kTileRows, col_tiles = (n + kTileCols - 1) / kTileCols;
  parallel_for(row_tiles * col_tiles, [&](std::int64_t t) {
    const std::int64_t i0 = t % row_tiles * kTileRows, j0 = t / row_tiles * kTileCols;
    const std::int64_t rows = std::min(kTileRows, m - i0), cols = std::min(kTileCols, n - j0);
    if (rows == kTileRows && cols == kTileCols)
      gemm_tile(i0, j0, depth, a, b, ldb, c, ldc, accumulate);
    else
      gemm_edge(i0, j0, rows, cols, depth, a, b, ldb, c, ldc, accumulate);
  });
}

bool is_pointwise(const ConvShape& s) {
  return s.r == 1 && s.s == 1 && s.stride_h == 1 && s.stride_w == 1 && s.pad_h == 0 && s.pad_w == 0;
}

// x_n (C, H, W) -> col (C * R * S, OH * OW), zeros where the window reads padding.
void im2col(const ConvShape& s, const float* x_n, float* col) {
  const std::int64_t oh_n = s.out_h(), ow_n = s.out_w();
  parallel_for(s.c * s.r * s.s, [&](std::int64_t row) {
    const std::int64_t c = row / (s.r * s.s), r = row / s.s % s.r, q = row % s.s;
    float* out = col + row * oh_n * ow_n;
    for (std::int64_t oh = 0; oh < oh_n; ++oh) {
      const std::int64_t ih = oh * s.stride_h - s.pad_h + r;
      for (std::int64_t ow = 0; ow < ow_n; ++ow) {
        const std::int64_t iw = ow * s.stride_w - s.pad_w + q;
        const bool inside = ih >= 0 && ih < s.h && iw >= 0 && iw < s.w;
        out[oh * ow_n + ow] = inside ? x_n[(c * s.h + ih) * s.w + iw] : 0.0f;
      }
    }
  });
}

// x_n (C, H, W) -> colT (OH * OW, C * R * S): the transpose of im2col, so the filter gradient's GEMM reads rows.
void im2col_transposed(const ConvShape& s, const float* x_n, float* col_t) {
  const std::int64_t oh_n = s.out_h(), ow_n = s.out_w(), crs = s.c * s.r * s.s;
  parallel_for(oh_n, [&](std::int64_t oh) {
    for (std::int64_t ow = 0; ow < ow_n; ++ow) {
      float* out = col_t + (oh * ow_n + ow) * crs;
      for (std::int64_t c = 0; c < s.c; ++c)
        for (std::int64_t r = 0; r < s.r; ++r) {
          const std::int64_t ih = oh * s.stride_h - s.pad_h + r;
          for (std::int64_t q = 0; q < s.s; ++q) {
            const std::int64_t iw = ow * s.stride_w - s.pad_w + q;
            const bool inside = ih >= 0 && ih < s.h && iw >= 0 && iw < s.w;
            out[(c * s.r + r) * s.s + q] = inside ? x_n[(c * s.h + ih) * s.w + iw] : 0.0f;
          }
        }
    }
  });
}

// dcol (C * R * S, OH * OW) -> dx_n (C, H, W): each dx element sums the col entries that copied it, in the
// fixed order (r, q, oh, ow). One thread per channel, so no two threads write the same element.
void col2im(const ConvShape& s, const float* dcol, float* dx_n) {
  const std::int64_t oh_n = s.out_h(), ow_n = s.out_w();
  parallel_for(s.c, [&](std::int64_t c) {
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

float* im2col_buffer(const Context& ctx, const ConvShape& shape) {
  return static_cast<float*>(ctx.workspace(im2col_bytes(shape)));
}

void check_cpu_plan(const Context& ctx, const ConvPlan& plan, const char* pass) {
  ROSETTA_CHECK(ctx.device() == Device::cpu && !plan.cudnn,
                pass << " on the CPU needs a CPU context and a CPU plan: " << plan.shape.str());
}

void check_backward_planned(const ConvPlan& plan, const char* pass) {
  ROSETTA_CHECK(!plan.options.forward_only, pass << " with a forward-only plan: " << plan.shape.str());
}

}  // namespace

namespace {

// The NCHW forward: x (N, C, H, W), w (K, C, R, S) -> y (N, K, OH, OW); col is the im2col buffer (unused when
// pointwise).
void forward_nchw(const ConvShape& s, const float* x, const float* w, float* y, float* col) {
  const std::int64_t p = s.out_h() * s.out_w(), crs = s.c * s.r * s.s;
  for (std::int64_t n = 0; n < s.n; ++n) {
    const float* x_n = x + n * s.c * s.h * s.w;          // (C, H, W)
    if (!is_pointwise(s)) im2col(s, x_n, col);            // (CRS, P)
    gemm(s.k, p, crs, StridedMatrix{w, crs, 1}, is_pointwise(s) ? x_n : col, p, y + n * s.k * p, p, false);
  }
}

// The workspace of an NHWC plan: the im2col buffer, then the NCHW copies (nhwc_copies_floats), then for a bf16 plan
// (copies 2) the float copies of its NHWC x, w and y (the same sizes).
float* nhwc_workspace(const Context& ctx, const ConvShape& s, int copies) {
  return static_cast<float*>(
      ctx.workspace(im2col_bytes(s) + static_cast<std::size_t>(copies * nhwc_copies_floats(s)) * sizeof(float)));
}

// The NHWC forward: x and w transposed to NCHW in the workspace, the NCHW forward, y transposed back.
void forward_nhwc(const Context& ctx, const ConvShape& s, const float* x, const float* w, float* y) {
  float* col = nhwc_workspace(ctx, s, 1);
  float* x_nchw = col + im2col_bytes(s) / sizeof(float);  // (N, C, H, W)
  float* w_kcrs = x_nchw + s.n * s.c * s.h * s.w;         // (K, C, R, S)
  float* y_nchw = w_kcrs + s.k * s.c * s.r * s.s;         // (N, K, OH, OW)
  nhwc_to_nchw(ctx, x, x_nchw, s.n, s.c, s.h * s.w);
  nhwc_to_nchw(ctx, w, w_kcrs, s.k, s.c, s.r * s.s);
  forward_nchw(s, x_nchw, w_kcrs, y_nchw, col);
  nchw_to_nhwc(ctx, y_nchw, y, s.n, s.k, s.out_h() * s.out_w());
}

}  // namespace

void conv2d_forward(const Context& ctx, const ConvPlan& plan, const float* x, const float* w, float* y) {
  check_cpu_plan(ctx, plan, "conv2d_forward");
  const ConvShape& s = plan.shape;
  ROSETTA_CHECK(plan.options.precision != Precision::bf16,
                "conv2d_forward with a bf16 plan (use conv2d_forward_bf16): " << s.str());
  if (plan.options.layout == ConvLayout::nchw) {
    forward_nchw(s, x, w, y, is_pointwise(s) ? nullptr : im2col_buffer(ctx, s));
    return;
  }
  forward_nhwc(ctx, s, x, w, y);
}

void conv2d_forward_bf16(const Context& ctx, const ConvPlan& plan, const std::uint16_t* x, const std::uint16_t* w,
                         std::uint16_t* y) {
  check_cpu_plan(ctx, plan, "conv2d_forward_bf16");
  const ConvShape& s = plan.shape;
  ROSETTA_CHECK(plan.options.precision == Precision::bf16, "conv2d_forward_bf16 with a "
                                                               << precision_name(plan.options.precision)
                                                               << " plan: " << s.str());
  const std::int64_t x_n = s.n * s.h * s.w * s.c, w_n = s.k * s.r * s.s * s.c, y_n = s.n * s.out_h() * s.out_w() * s.k;
  float* x_f32 = nhwc_workspace(ctx, s, 2) + im2col_bytes(s) / sizeof(float) + nhwc_copies_floats(s);  // (N, H, W, C)
  float* w_f32 = x_f32 + x_n;  // (K, R, S, C)
  float* y_f32 = w_f32 + w_n;  // (N, OH, OW, K)
  bf16_to_f32(ctx, x, x_f32, x_n);
  bf16_to_f32(ctx, w, w_f32, w_n);
  forward_nhwc(ctx, s, x_f32, w_f32, y_f32);
  f32_to_bf16(ctx, y_f32, y, y_n);
}

void conv2d_backward_data(const Context& ctx, const ConvPlan& plan, const float* dy, const float* w, float* dx) {
  check_cpu_plan(ctx, plan, "conv2d_backward_data");
  check_backward_planned(plan, "conv2d_backward_data");
  const ConvShape& s = plan.shape;
  const std::int64_t p = s.out_h() * s.out_w(), crs = s.c * s.r * s.s;
  float* dcol = is_pointwise(s) ? nullptr : im2col_buffer(ctx, s);  // (CRS, P)
  for (std::int64_t n = 0; n < s.n; ++n) {
    float* dx_n = dx + n * s.c * s.h * s.w;  // (C, H, W)
    // w^T (CRS, K): element (crs, k) is w[k * CRS + crs].
    gemm(crs, p, s.k, StridedMatrix{w, 1, crs}, dy + n * s.k * p, p, dcol ? dcol : dx_n, p, false);
    if (dcol) col2im(s, dcol, dx_n);
  }
}

void conv2d_backward_filter(const Context& ctx, const ConvPlan& plan, const float* x, const float* dy, float* dw) {
  check_cpu_plan(ctx, plan, "conv2d_backward_filter");
  check_backward_planned(plan, "conv2d_backward_filter");
  const ConvShape& s = plan.shape;
  const std::int64_t p = s.out_h() * s.out_w(), crs = s.c * s.r * s.s;
  float* col_t = im2col_buffer(ctx, s);  // (P, CRS)
  for (std::int64_t n = 0; n < s.n; ++n) {
    im2col_transposed(s, x + n * s.c * s.h * s.w, col_t);
    gemm(s.k, crs, p, StridedMatrix{dy + n * s.k * p, p, 1}, col_t, crs, dw, crs, n > 0);
  }
}

void conv2d_bias_activation_forward(const Context& ctx, const ConvPlan& plan, const float* x, const float* w,
                                    const float* bias, const float* z, float z_scale, bool relu, float* y) {
  conv2d_forward(ctx, plan, x, w, y);
  const ConvShape& s = plan.shape;
  const std::int64_t p = s.out_h() * s.out_w();
  // y viewed as (outer, K, inner): NCHW (N, K, P), NHWC (N * P, K, 1).
  const bool nhwc = plan.options.layout == ConvLayout::nhwc;
  const std::int64_t outer = nhwc ? s.n * p : s.n, inner = nhwc ? 1 : p;
  parallel_for(outer * s.k, [&](std::int64_t row) {  // row = o * K + k
    const float b = bias[row % s.k];
    float* y_row = y + row * inner;
    const float* z_row = z + row * inner;
    for (std::int64_t i = 0; i < inner; ++i) {
      float v = y_row[i];
      if (z_scale != 0.0f) v += z_scale * z_row[i];
      v += b;
      y_row[i] = relu && v < 0.0f ? 0.0f : v;  // NaN passes, as cuDNN's NaN-propagating ReLU
    }
  });
}

}  // namespace cpu
}  // namespace rosetta::kernels
