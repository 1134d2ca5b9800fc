// Matrix product with a fused epilogue, planned: y = act(op(a) op(b) + z + bias[col]), strided-batched, on float
// or bf16 storage with float accumulation. The CNN's fully connected layers (bias + ReLU forward) and ResNet-50's
// 1x1 convolutions in NHWC (kernels/cuda/conv_backend_cublaslt.cpp: x (N*H*W, C) times w^T, the residual through z)
// run on it. On CUDA it is one cublasLtMatmul whose epilogue holds the bias and the ReLU and whose beta * C holds the
// residual; on the CPU the one blocked GEMM (kernels/cpu/blocked_gemm.h), then the epilogue.
//
// Invariants: a MatmulPlan is made once per shape outside the step (make_matmul_plan); on CUDA it chooses the
// cuBLASLt algorithm by timing the heuristics' candidates with CUDA events (kernels/cuda/timing.h) and grows the
// context's workspace, so a call creates nothing on the device, allocates nothing and never synchronises. The
// epilogue and the residual are part of the plan (cuBLASLt builds them into the kernel); room is left for the
// backward epilogues (ReLU's gradient, the bias gradient) as further MatmulEpilogue values.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "kernels/dispatch.h"
#include "runtime/context.h"
#include "runtime/half.h"

namespace rosetta::kernels {

// Row-major: y (m, n) = op(a) (m, k) op(b) (k, n); a is stored (m, k), or (k, m) when trans_a; b is stored (k, n),
// or (n, k) when trans_b (PyTorch's Linear weight (out, in)). Row strides in elements (0: packed, the stored row
// length); `batch` independent products, each operand `batch_stride_*` elements after the previous (0 for a or b:
// the same matrix in every product; y's stride holds a whole (m, n) with its row stride). z (the residual) is
// shaped and strided as y.
struct MatmulShape {
  std::int64_t m = 0, n = 0, k = 0;
  bool trans_a = false, trans_b = false;
  std::int64_t lda = 0, ldb = 0, ldy = 0;
  std::int64_t batch = 1;
  std::int64_t batch_stride_a = 0, batch_stride_b = 0, batch_stride_y = 0;

  std::int64_t row_a() const { return lda ? lda : (trans_a ? m : k); }  // stored row length of a
  std::int64_t row_b() const { return ldb ? ldb : (trans_b ? k : n); }
  std::int64_t row_y() const { return ldy ? ldy : n; }
  // Elements from each operand's first to its last over all batches (what a buffer holding it must have).
  std::int64_t span_a() const;
  std::int64_t span_b() const;
  std::int64_t span_y() const;  // also z's
  std::string str() const;  // "matmul 100352x256x64 a b^T ld (64, 64, 256)" (+ " batch 896 strides (...)")
};

// What follows the product, in order: + z (MatmulOptions::residual), + bias[col], then the activation.
enum class MatmulEpilogue : std::int32_t { none = 0, bias = 1, bias_relu = 2 };
const char* matmul_epilogue_name(MatmulEpilogue epilogue);  // "none", "bias", "bias+relu"

struct MatmulOptions {
  Precision precision = Precision::fp32;  // fp32 strict (CUBLAS_COMPUTE_32F), tf32 (..._FAST_TF32), bf16 data
  MatmulEpilogue epilogue = MatmulEpilogue::none;
  bool residual = false;  // y = op(a) op(b) + z before the bias (cuBLASLt: beta = 1, C = z)
  bool autotune = true;   // time the heuristics' candidates (CUDA); false: their first
};

// The algorithm a CUDA plan runs: cuBLASLt's algorithm id (CUBLASLT_ALGO_CONFIG_ID), its position in the heuristics'
// list (which, with the id as a check, remakes it), its workspace and its median event-timed call (0: untimed).
// The CPU plan's is all zeros.
struct MatmulAlgorithmChoice {
  std::int32_t algo = 0;
  std::int32_t variant = 0;
  std::uint64_t workspace_bytes = 0;
  float time_ms = 0;
};

struct CublasLtMatmulState;  // kernels/cuda/matmul.cpp: the descriptors and the chosen algorithm; null on the CPU

struct MatmulPlan {
  MatmulShape shape;
  MatmulOptions options;
  MatmulAlgorithmChoice choice;
  std::shared_ptr<const CublasLtMatmulState> cublaslt;
};

// Throws, naming the shape, unless sizes are > 0, strides >= 0, row strides at least the row lengths, the batches
// of y do not overlap and the batch count fits cuBLASLt's 32 bits.
void check_matmul_shape(const MatmulShape& shape);
// Checks the shape, then the twin of ctx's device plans its part.
MatmulPlan make_matmul_plan(const Context& ctx, const MatmulShape& shape, const MatmulOptions& options);

namespace cpu {
#include "kernels/matmul.inc"
}
namespace cuda {
#include "kernels/matmul.inc"
}
ROSETTA_OP(plan_matmul)
ROSETTA_OP(matmul)
ROSETTA_OP(find_matmul_algorithms)
ROSETTA_OP(matmul_plan_with_choice)

}  // namespace rosetta::kernels
