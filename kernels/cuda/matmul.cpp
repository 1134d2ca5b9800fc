// CUDA twin of the matrix product with its epilogue (kernels/matmul.inc): one cublasLtMatmul.
//
// Row-major to column-major: a row-major (r, c) matrix with row stride ld is the column-major (c, r) matrix of the
// same memory, so y = op(a) op(b) in row-major is y^T = op(b)^T op(a)^T in column-major: cuBLASLt's A is our b
// (stored (k, n) column-major (n, k) as is, or transposed), its B is our a, and its C and D are y^T, (n, m) with
// leading dimension ldy. The bias epilogue adds a vector along the rows of D, our n: one bias per column of y, as a
// Linear layer's or a 1x1 convolution's output channel. Batches: every layout carries the batch count and its
// stride (0 for a shared operand); the bias is the same for every batch (batch stride 0).
//
// Rules this file follows (cublasLt.h): the bias has D's data type (CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE is set
// to it explicitly); the residual is C with beta 1 (C and D distinct pointers of one layout); without a residual
// beta is 0 and C is D (cuBLASLt does not read C when beta is 0). Scale type float. Compute types: fp32
// CUBLAS_COMPUTE_32F (no TF32), tf32 CUBLAS_COMPUTE_32F_FAST_TF32, bf16 CUBLAS_COMPUTE_32F on bf16 data.
// Alignment: the heuristics are asked for algorithms that need at most each matrix's guaranteed alignment (16
// bytes, less where a row or batch stride in bytes is not a multiple of 16) and a bias pointer aligned to 16 bytes;
// every call checks its pointers against the same numbers.
//
// Plans: the matmul descriptor is built on the stack at each call (cublasLtMatmulDescInit on an opaque struct: no
// heap, no library allocation), the layouts and the algorithm once at plan time. With autotune the heuristics'
// first kCandidates algorithms are each timed with CUDA events on non-zero buffers (kernels/cuda/timing.h) and the
// fastest kept; without, their first. A choice is remade from its position in the heuristics' list, checked by its
// algorithm id.
#include <algorithm>
#include <climits>
#include <cstring>
#include <numeric>
#include <vector>

#include "kernels/cuda/matmul_state.h"
#include "kernels/cuda/timing.h"
#include "kernels/elementwise.h"
#include "runtime/allocator.h"
#include "runtime/cuda_check.h"
#include "runtime/tensor.h"

namespace rosetta::kernels {

struct CublasLtMatmulState {
  // cuBLASLt takes the layouts through non-const pointers; it only reads them.
  mutable cublasLtMatrixLayoutOpaque_t a, b, c;  // cuBLASLt's A (our b), B (our a), C = D (y)
  cublasLtMatmulAlgo_t algo{};
  cublasComputeType_t compute = CUBLAS_COMPUTE_32F;
  cudaDataType_t data = CUDA_R_32F;
  cublasOperation_t trans_a = CUBLAS_OP_N, trans_b = CUBLAS_OP_N;  // cuBLASLt's
  cublasLtEpilogue_t epilogue = CUBLASLT_EPILOGUE_DEFAULT;
  std::uint32_t align_a = 16, align_b = 16, align_y = 16;  // bytes: cuBLASLt's A (our b), B (our a), C/D
};

namespace cuda {
namespace {

constexpr int kCandidates = 8;
constexpr std::uint32_t kBiasAlignment = 16;
// Workspace offered to the heuristics: NVIDIA's recommended cuBLAS workspace on Hopper.
constexpr std::size_t kMaxWorkspace = std::size_t(32) << 20;

std::size_t element_size(Precision precision) { return precision == Precision::bf16 ? 2 : 4; }

// The largest power of two up to 16 that divides every byte stride given (0 strides are skipped).
std::uint32_t alignment_of(std::initializer_list<std::int64_t> byte_strides) {
  std::uint32_t align = 16;
  for (std::int64_t stride : byte_strides)
    while (stride != 0 && stride % align != 0) align /= 2;
  return align;
}

void set_layout(cublasLtMatrixLayoutOpaque_t* layout, cudaDataType_t type, std::int64_t rows, std::int64_t cols,
                std::int64_t ld, std::int64_t batch, std::int64_t stride, const std::string& what) {
  ROSETTA_CUBLAS_CHECK(cublasLtMatrixLayoutInit(layout, type, static_cast<std::uint64_t>(rows),
                                                static_cast<std::uint64_t>(cols), ld),
                       what);
  if (batch == 1) return;
  const std::int32_t count = static_cast<std::int32_t>(batch);
  ROSETTA_CUBLAS_CHECK(
      cublasLtMatrixLayoutSetAttribute(layout, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, &count, sizeof count), what);
  ROSETTA_CUBLAS_CHECK(
      cublasLtMatrixLayoutSetAttribute(layout, CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET, &stride, sizeof stride),
      what);
}

// The layouts, types and epilogue of a plan (everything but the algorithm).
std::shared_ptr<CublasLtMatmulState> describe(const MatmulPlan& plan) {
  const MatmulShape& s = plan.shape;
  const std::string what = s.str();
  auto st = std::make_shared<CublasLtMatmulState>();
  const Precision precision = plan.options.precision;
  st->data = precision == Precision::bf16 ? CUDA_R_16BF : CUDA_R_32F;
  st->compute = precision == Precision::tf32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
  st->trans_a = s.trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
  st->trans_b = s.trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
  switch (plan.options.epilogue) {
    case MatmulEpilogue::none: st->epilogue = CUBLASLT_EPILOGUE_DEFAULT; break;
    case MatmulEpilogue::bias: st->epilogue = CUBLASLT_EPILOGUE_BIAS; break;
    case MatmulEpilogue::bias_relu: st->epilogue = CUBLASLT_EPILOGUE_RELU_BIAS; break;
  }
  // cuBLASLt's A is our b as stored: (k, n) row-major is column-major (n, k); (n, k) row-major is (k, n).
  set_layout(&st->a, st->data, s.trans_b ? s.k : s.n, s.trans_b ? s.n : s.k, s.row_b(), s.batch, s.batch_stride_b,
             what);
  set_layout(&st->b, st->data, s.trans_a ? s.m : s.k, s.trans_a ? s.k : s.m, s.row_a(), s.batch, s.batch_stride_a,
             what);
  set_layout(&st->c, st->data, s.n, s.m, s.row_y(), s.batch, s.batch_stride_y, what);
  const std::int64_t e = static_cast<std::int64_t>(element_size(precision));
  const auto batch_stride = [&](std::int64_t stride) { return s.batch > 1 ? stride * e : 0; };
  st->align_a = alignment_of({s.row_b() * e, batch_stride(s.batch_stride_b)});
  st->align_b = alignment_of({s.row_a() * e, batch_stride(s.batch_stride_a)});
  st->align_y = alignment_of({s.row_y() * e, batch_stride(s.batch_stride_y)});
  return st;
}

// The operation descriptor of a call, on the caller's stack.
void init_desc(cublasLtMatmulDescOpaque_t* desc, const CublasLtMatmulState& st, const void* bias,
               const std::string& what) {
  ROSETTA_CUBLAS_CHECK(cublasLtMatmulDescInit(desc, st.compute, CUDA_R_32F), what);
  const std::int32_t trans_a = st.trans_a, trans_b = st.trans_b;
  ROSETTA_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_TRANSA, &trans_a, sizeof trans_a),
                       what);
  ROSETTA_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_TRANSB, &trans_b, sizeof trans_b),
                       what);
  const std::uint32_t epilogue = st.epilogue;
  ROSETTA_CUBLAS_CHECK(
      cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_EPILOGUE, &epilogue, sizeof epilogue), what);
  if (st.epilogue == CUBLASLT_EPILOGUE_DEFAULT) return;
  const std::int32_t bias_type = st.data;  // the output's type (cublasLt.h's rule for non-IMMA, non-FP8 kernels)
  ROSETTA_CUBLAS_CHECK(
      cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, &bias_type, sizeof bias_type), what);
  ROSETTA_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof bias),
                       what);
}

// The heuristics' results for the plan that succeeded, in their order, with workspace at most `workspace_limit`.
std::vector<cublasLtMatmulHeuristicResult_t> heuristics(const Context& ctx, const MatmulPlan& plan,
                                                        const CublasLtMatmulState& st, std::size_t workspace_limit) {
  const std::string what = plan.shape.str();
  cublasLtMatmulDescOpaque_t desc;
  // The heuristics read the bias pointer's value only, for its alignment: any address with exactly the alignment
  // every call guarantees.
  init_desc(&desc, st, reinterpret_cast<const void*>(std::uintptr_t{kBiasAlignment}), what);
  cublasLtMatmulPreferenceOpaque_t pref;
  ROSETTA_CUBLAS_CHECK(cublasLtMatmulPreferenceInit(&pref), what);
  const std::uint64_t limit = workspace_limit;
  ROSETTA_CUBLAS_CHECK(
      cublasLtMatmulPreferenceSetAttribute(&pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &limit, sizeof limit), what);
  const std::pair<cublasLtMatmulPreferenceAttributes_t, std::uint32_t> alignments[] = {
      {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, st.align_a},
      {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, st.align_b},
      {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, st.align_y},
      {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, st.align_y}};
  for (const auto& [attribute, bytes] : alignments)
    ROSETTA_CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(&pref, attribute, &bytes, sizeof bytes), what);
  std::vector<cublasLtMatmulHeuristicResult_t> results(kCandidates);
  int returned = 0;
  const cublasStatus_t status =
      cublasLtMatmulAlgoGetHeuristic(ctx.cublaslt(), &desc, &st.a, &st.b, &st.c, &st.c, &pref, kCandidates,
                                     results.data(), &returned);
  if (status == CUBLAS_STATUS_NOT_SUPPORTED) returned = 0;  // no algorithm for this problem: an empty list
  else ROSETTA_CUBLAS_CHECK(status, what);
  results.resize(static_cast<std::size_t>(std::max(returned, 0)));
  return results;
}

std::int32_t algorithm_id(const cublasLtMatmulAlgo_t& algo, const std::string& what) {
  std::int32_t id = 0;
  std::size_t written = 0;
  ROSETTA_CUBLAS_CHECK(cublasLtMatmulAlgoConfigGetAttribute(&algo, CUBLASLT_ALGO_CONFIG_ID, &id, sizeof id, &written),
                       what);
  return id;
}

std::size_t workspace_limit() {
  std::size_t free_bytes = 0, total_bytes = 0;
  ROSETTA_CUDA_CHECK(cudaMemGetInfo(&free_bytes, &total_bytes));
  return std::min(kMaxWorkspace, free_bytes / 4);
}

// A flat device tensor of `n` elements of the plan's data type, every element `value` (n rounded up to a whole
// float word so the bf16 fill covers it).
Tensor filled(const Context& ctx, std::int64_t n, float value, Precision precision) {
  Tensor f32 = Tensor::empty({std::max<std::int64_t>(n, 1)}, DType::f32, Device::cuda);
  kernels::fill(ctx, f32.data<float>(), value, f32.numel());
  if (precision != Precision::bf16) return f32;
  Tensor b16 = Tensor::empty({f32.numel()}, DType::bf16, Device::cuda);
  kernels::convert(ctx, f32.data<float>(), b16.data<bf16>(), f32.numel());
  return b16;
}

void check_aligned(const void* p, std::uint32_t alignment, const char* name, const MatmulShape& s) {
  ROSETTA_CHECK(p != nullptr && reinterpret_cast<std::uintptr_t>(p) % alignment == 0,
                "matmul " << name << " at " << p << " is not aligned to the " << alignment
                          << " bytes its plan was chosen for: " << s.str());
}

// The acceptable results of the heuristics, at most `count`, as plans ready to run, in the heuristics' order.
std::vector<MatmulPlan> prepared(const Context& ctx, const MatmulPlan& plan, int count) {
  const std::shared_ptr<CublasLtMatmulState> base = describe(plan);
  const std::string what = plan.shape.str();
  const std::vector<cublasLtMatmulHeuristicResult_t> results = heuristics(ctx, plan, *base, workspace_limit());
  std::vector<MatmulPlan> out;
  for (std::size_t i = 0; i < results.size() && static_cast<int>(out.size()) < count; ++i) {
    if (results[i].state != CUBLAS_STATUS_SUCCESS) continue;
    auto st = std::make_shared<CublasLtMatmulState>(*base);
    st->algo = results[i].algo;
    MatmulPlan p = plan;
    p.choice = MatmulAlgorithmChoice{algorithm_id(results[i].algo, what), static_cast<std::int32_t>(i),
                                     results[i].workspaceSize, 0.0f};
    p.cublaslt = std::move(st);
    out.push_back(std::move(p));
  }
  ROSETTA_CHECK(!out.empty(), "cuBLASLt offers no algorithm for " << what << " in "
                                                                  << precision_name(plan.options.precision)
                                                                  << " with epilogue "
                                                                  << matmul_epilogue_name(plan.options.epilogue)
                                                                  << (plan.options.residual ? " and a residual" : ""));
  return out;
}

// Each plan timed on non-zero operands over each matrix's whole strided span (the bias 16 bytes past a 256-byte
// boundary: exactly the alignment calls guarantee), fastest first; algorithms that fail to run are dropped.
std::vector<MatmulPlan> timed(const Context& ctx, std::vector<MatmulPlan> plans) {
  const MatmulPlan& plan = plans.front();
  const MatmulShape& s = plan.shape;
  const Precision p = plan.options.precision;
  const Tensor a = filled(ctx, s.span_a(), 0.5f, p), b = filled(ctx, s.span_b(), 0.25f, p);
  const Tensor y = filled(ctx, s.span_y(), 0.0f, p), z = filled(ctx, s.span_y(), -0.75f, p);
  const Tensor bias = filled(ctx, s.n + 16, 0.0625f, p);
  const void* bias_at = static_cast<const char*>(bias.raw()) + kBiasAlignment;
  std::uint64_t largest = 0;
  for (const MatmulPlan& c : plans) largest = std::max(largest, c.choice.workspace_bytes);
  const Storage workspace(Memory::device, static_cast<std::size_t>(std::max<std::uint64_t>(largest, 1)));
  std::vector<MatmulPlan> out;
  std::string failure;
  for (MatmulPlan& c : plans) {
    try {
      c.choice.time_ms = median_call_ms(ctx, [&] {
        run_matmul(ctx, c, a.raw(), b.raw(), bias_at, plan.options.residual ? z.raw() : nullptr, y.raw(),
                   workspace.data());
      });
      out.push_back(std::move(c));
    } catch (const Error& e) {  // an algorithm the heuristics offered that will not run: dropped
      ctx.synchronize();
      failure = e.what();
    }
  }
  ROSETTA_CHECK(!out.empty(), "every cuBLASLt algorithm failed for " << s.str() << "; the last: " << failure);
  std::stable_sort(out.begin(), out.end(),
                   [](const MatmulPlan& x, const MatmulPlan& y) { return x.choice.time_ms < y.choice.time_ms; });
  return out;
}

}  // namespace

void run_matmul(const Context& ctx, const MatmulPlan& plan, const void* a, const void* b, const void* bias,
                const void* z, void* y, void* workspace) {
  ROSETTA_CHECK(plan.cublaslt, "matmul on CUDA with a plan made for the CPU: " << plan.shape.str());
  const CublasLtMatmulState& st = *plan.cublaslt;
  const MatmulShape& s = plan.shape;
  check_aligned(a, st.align_b, "a", s);
  check_aligned(b, st.align_a, "b", s);
  check_aligned(y, st.align_y, "y", s);
  if (plan.options.residual) check_aligned(z, st.align_y, "z", s);
  if (plan.options.epilogue != MatmulEpilogue::none) check_aligned(bias, kBiasAlignment, "bias", s);
  const std::string what = s.str();
  cublasLtMatmulDescOpaque_t desc;
  init_desc(&desc, st, bias, what);
  const float one = 1.0f, beta = plan.options.residual ? 1.0f : 0.0f;
  const void* c = plan.options.residual ? z : y;
  ROSETTA_CUBLAS_CHECK(cublasLtMatmul(ctx.cublaslt(), &desc, &one, b, &st.a, a, &st.b, &beta, c, &st.c, y, &st.c,
                                      &st.algo, workspace, static_cast<std::size_t>(plan.choice.workspace_bytes),
                                      ctx.stream()),
                       what << " algo " << plan.choice.algo);
}

std::vector<MatmulPlan> matmul_heuristic_plans(const Context& ctx, const MatmulShape& shape,
                                               const MatmulOptions& options, int count) {
  check_matmul_shape(shape);
  MatmulPlan plan;
  plan.shape = shape;
  plan.options = options;
  return prepared(ctx, plan, count);
}

void plan_matmul(const Context& ctx, MatmulPlan& plan) {
  std::vector<MatmulPlan> found = prepared(ctx, plan, plan.options.autotune ? kCandidates : 1);
  if (plan.options.autotune) found = timed(ctx, std::move(found));
  plan = std::move(found.front());
  ctx.workspace(static_cast<std::size_t>(plan.choice.workspace_bytes));
}

void matmul(const Context& ctx, const MatmulPlan& plan, const float* a, const float* b, const float* bias,
            const float* z, float* y) {
  ROSETTA_CHECK(plan.options.precision != Precision::bf16, "matmul of float data with a bf16 plan: " << plan.shape.str());
  run_matmul(ctx, plan, a, b, bias, z, y, ctx.workspace(static_cast<std::size_t>(plan.choice.workspace_bytes)));
}

void matmul(const Context& ctx, const MatmulPlan& plan, const bf16* a, const bf16* b, const bf16* bias, const bf16* z,
            bf16* y) {
  ROSETTA_CHECK(plan.options.precision == Precision::bf16,
                "matmul of bf16 data with a " << precision_name(plan.options.precision) << " plan: " << plan.shape.str());
  run_matmul(ctx, plan, a, b, bias, z, y, ctx.workspace(static_cast<std::size_t>(plan.choice.workspace_bytes)));
}

std::vector<MatmulAlgorithmChoice> find_matmul_algorithms(const Context& ctx, const MatmulPlan& plan) {
  ROSETTA_CHECK(plan.cublaslt, "find_matmul_algorithms on CUDA with a plan made for the CPU: " << plan.shape.str());
  std::vector<MatmulAlgorithmChoice> out;
  for (const MatmulPlan& c : timed(ctx, prepared(ctx, plan, kCandidates))) out.push_back(c.choice);
  return out;
}

MatmulPlan matmul_plan_with_choice(const Context& ctx, const MatmulPlan& plan, const MatmulAlgorithmChoice& choice) {
  const std::string what = plan.shape.str();
  const std::shared_ptr<CublasLtMatmulState> st = describe(plan);
  const std::vector<cublasLtMatmulHeuristicResult_t> results = heuristics(ctx, plan, *st, workspace_limit());
  const std::size_t at = static_cast<std::size_t>(choice.variant);
  ROSETTA_CHECK(choice.variant >= 0 && at < results.size() && results[at].state == CUBLAS_STATUS_SUCCESS &&
                    algorithm_id(results[at].algo, what) == choice.algo,
                "cuBLASLt's heuristics no longer offer algorithm " << choice.algo << " at position " << choice.variant
                                                                   << " for " << what);
  st->algo = results[at].algo;
  MatmulPlan variant = plan;
  variant.choice = choice;
  variant.choice.workspace_bytes = results[at].workspaceSize;
  variant.cublaslt = st;
  ctx.workspace(static_cast<std::size_t>(variant.choice.workspace_bytes));
  return variant;
}

}  // namespace cuda
}  // namespace rosetta::kernels
