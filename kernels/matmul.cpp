// Device-neutral part of the matrix product (kernels/matmul.h): the shape's text and checks, make_matmul_plan.
#include "kernels/matmul.h"

#include <climits>
#include <sstream>

#include "runtime/error.h"

namespace rosetta::kernels {

std::string MatmulShape::str() const {
  std::ostringstream os;
  os << "matmul " << m << "x" << n << "x" << k << (trans_a ? " a^T" : " a") << (trans_b ? " b^T" : " b") << " ld ("
     << row_a() << ", " << row_b() << ", " << row_y() << ")";
  if (batch > 1)
    os << " batch " << batch << " strides (" << batch_stride_a << ", " << batch_stride_b << ", " << batch_stride_y
       << ")";
  return os.str();
}

namespace {

std::int64_t span(std::int64_t batch, std::int64_t batch_stride, std::int64_t rows, std::int64_t row,
                  std::int64_t cols) {
  return (batch - 1) * batch_stride + (rows - 1) * row + cols;
}

}  // namespace

std::int64_t MatmulShape::span_a() const {
  return span(batch, batch_stride_a, trans_a ? k : m, row_a(), trans_a ? m : k);
}
std::int64_t MatmulShape::span_b() const {
  return span(batch, batch_stride_b, trans_b ? n : k, row_b(), trans_b ? k : n);
}
std::int64_t MatmulShape::span_y() const { return span(batch, batch_stride_y, m, row_y(), n); }

const char* matmul_epilogue_name(MatmulEpilogue epilogue) {
  switch (epilogue) {
    case MatmulEpilogue::none: return "none";
    case MatmulEpilogue::bias: return "bias";
    case MatmulEpilogue::bias_relu: return "bias+relu";
  }
  return "?";
}

void check_matmul_shape(const MatmulShape& s) {
  ROSETTA_CHECK(s.m > 0 && s.n > 0 && s.k > 0 && s.batch > 0, "matmul with an empty dimension: " << s.str());
  ROSETTA_CHECK(s.lda >= 0 && s.ldb >= 0 && s.ldy >= 0 && s.batch_stride_a >= 0 && s.batch_stride_b >= 0 &&
                    s.batch_stride_y >= 0,
                "matmul with a negative stride: " << s.str());
  ROSETTA_CHECK(s.row_a() >= (s.trans_a ? s.m : s.k) && s.row_b() >= (s.trans_b ? s.k : s.n) && s.row_y() >= s.n,
                "matmul row strides below the row lengths: " << s.str());
  ROSETTA_CHECK(s.batch == 1 || s.batch_stride_y >= (s.m - 1) * s.row_y() + s.n,
                "matmul batches of y overlap: " << s.str());
  ROSETTA_CHECK(s.batch <= INT_MAX, "matmul batch count beyond 32 bits: " << s.str());
}

MatmulPlan make_matmul_plan(const Context& ctx, const MatmulShape& s, const MatmulOptions& options) {
  check_matmul_shape(s);
  MatmulPlan plan;
  plan.shape = s;
  plan.options = options;
  plan_matmul(ctx, plan);
  return plan;
}

}  // namespace rosetta::kernels
