// Embedding: forward and backward by hand (duplicates accumulate, every gradient row is written), the documented
// slice order of the float sum, the double reference against central differences, range errors on the CPU; the
// layer (PyTorch's name, N(0, 1) init, wiring, no allocation after setup); and on a GPU: the forward equal to the
// CPU's, the backward deterministic run to run and bit-identical to the CPU's on an IMDB-like batch, capturable in
// a CUDA graph, and a bad id giving a NaN row instead of an out-of-bounds read.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "kernels/embedding.h"
#include "kernels/reference/embedding.h"
#include "layers/embedding.h"
#include "runtime/allocator.h"
#include "runtime/philox.h"
#include "tests/support/cuda.h"
#include "tests/support/gradcheck.h"
#if ROSETTA_WITH_CUDA
#include "runtime/cuda_graph.h"
#endif

namespace rosetta {
namespace {

using testing::random_floats;

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

// Ids shaped like an IMDB batch of `count` tokens over `vocab` words: about a third padding (0), the rest skewed
// toward small ids (frequent words), so some ids repeat hundreds of times and most appear once or not at all.
std::vector<std::int32_t> imdb_like_ids(std::int64_t count, std::int64_t vocab, std::uint64_t seed) {
  std::vector<std::int32_t> ids(static_cast<std::size_t>(count));
  for (std::size_t p = 0; p < ids.size(); ++p) {
    const float u = philox_uniform(seed, 0, p), w = philox_uniform(seed, 1, p);
    ids[p] = u < 0.33f ? 0 : static_cast<std::int32_t>(1 + (vocab - 2) * w * w * w * w);
  }
  return ids;
}

// The CPU twin's backward into a NaN-poisoned table, so an unwritten row shows.
std::vector<float> cpu_backward(const std::vector<std::int32_t>& ids, const std::vector<float>& d_out,
                                std::int64_t vocab, std::int64_t dim) {
  std::vector<float> d_table(static_cast<std::size_t>(vocab * dim), kNaN);
  kernels::cpu::embedding_backward(Context::cpu(), ids.data(), d_out.data(), d_table.data(),
                                   static_cast<std::int64_t>(ids.size()), vocab, dim);
  return d_table;
}

TEST(EmbeddingCpu, ForwardGathersRows) {
  const std::vector<float> table = {0, 1, 2, 10, 11, 12, 20, 21, 22, 30, 31, 32};  // (4, 3)
  const std::vector<std::int32_t> ids = {2, 0, 2, 3};
  std::vector<float> out(12, kNaN);
  kernels::cpu::embedding_forward(Context::cpu(), ids.data(), table.data(), out.data(), 4, 4, 3);
  EXPECT_EQ(out, (std::vector<float>{20, 21, 22, 0, 1, 2, 20, 21, 22, 30, 31, 32}));
}

TEST(EmbeddingCpu, BackwardAccumulatesDuplicatesAndZeroesOtherRows) {
  const std::vector<std::int32_t> ids = {1, 3, 1, 1};
  const std::vector<float> d_out = {1, 2, 10, 20, 100, 200, 1000, 2000};  // (4, 2)
  // Row 1 = rows 0, 2, 3 of d_out; row 3 = row 1; rows 0 and 2 zero. Small integers: exact in any order.
  EXPECT_EQ(cpu_backward(ids, d_out, 4, 2), (std::vector<float>{0, 0, 1101, 2202, 0, 0, 10, 20}));
}

TEST(EmbeddingCpu, BackwardSumsInTheDocumentedSliceOrder) {
  // 100 occurrences of id 1 (more than kEmbeddingSlices) with values whose float sum depends on the order.
  const std::int64_t count = 100, dim = 3;
  std::vector<std::int32_t> ids(count, 1);
  ids[7] = 0;
  const std::vector<float> d_out = random_floats(count * dim, -1e4f, 1e4f, 5);
  std::vector<float> expected(2 * dim, 0.0f);
  for (std::int64_t v = 0; v < 2; ++v) {
    std::vector<std::int64_t> positions;
    for (std::int64_t p = 0; p < count; ++p)
      if (ids[p] == v) positions.push_back(p);
    for (std::int64_t d = 0; d < dim; ++d) {
      float total = 0;
      for (std::int64_t s = 0; s < kernels::kEmbeddingSlices; ++s) {
        float slice = 0;
        for (std::size_t k = s; k < positions.size(); k += kernels::kEmbeddingSlices)
          slice += d_out[positions[k] * dim + d];
        total = s == 0 ? slice : total + slice;
      }
      expected[v * dim + d] = total;
    }
  }
  EXPECT_EQ(cpu_backward(ids, d_out, 2, dim), expected);
}

TEST(EmbeddingCpu, RejectsIdsOutsideTheVocabularyNamingThem) {
  const std::vector<float> table(6), d_out(6);
  std::vector<float> out(6), d_table(6);
  for (std::int32_t bad : {-1, 3}) {
    const std::vector<std::int32_t> ids = {0, bad};
    try {
      kernels::cpu::embedding_forward(Context::cpu(), ids.data(), table.data(), out.data(), 2, 3, 3);
      FAIL() << "id " << bad << " accepted";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("id " + std::to_string(bad) + " at position 1"), std::string::npos)
          << e.what();
    }
    EXPECT_THROW(kernels::cpu::embedding_backward(Context::cpu(), ids.data(), d_out.data(), d_table.data(), 2, 3, 3),
                 Error);
  }
}

TEST(EmbeddingReference, BackwardMatchesCentralDifferences) {
  const std::vector<std::int32_t> ids = {4, 1, 4, 0, 4, 2, 1};  // duplicates, and id 3 never used
  const std::int64_t vocab = 5, dim = 3, count = 7;
  const std::vector<float> table = random_floats(vocab * dim, -1, 1, 9);
  const int checked = testing::check_gradient(
      [&](const std::vector<double>& t) {
        std::vector<double> out(static_cast<std::size_t>(count * dim));
        kernels::reference::embedding_forward(ids.data(), t.data(), out.data(), count, dim);
        return out;
      },
      [&](const std::vector<double>&, const std::vector<double>& dy) {
        std::vector<double> d_table(static_cast<std::size_t>(vocab * dim));
        kernels::reference::embedding_backward(ids.data(), dy.data(), d_table.data(), count, vocab, dim);
        return d_table;
      },
      std::vector<double>(table.begin(), table.end()));
  EXPECT_EQ(checked, vocab * dim);
}

TEST(EmbeddingCpu, FloatBackwardIsWithinTheFloatSumBoundOfTheReference) {
  const std::int64_t vocab = 50, dim = 7, count = 3000;
  const std::vector<std::int32_t> ids = imdb_like_ids(count, vocab, 3);
  const std::vector<float> d_out = random_floats(count * dim, -1, 1, 4);
  const std::vector<float> actual = cpu_backward(ids, d_out, vocab, dim);
  const std::vector<double> d_out_d(d_out.begin(), d_out.end());
  std::vector<double> expected(static_cast<std::size_t>(vocab * dim)), magnitude(expected.size()), abs_d_out(d_out_d);
  for (double& v : abs_d_out) v = std::abs(v);
  kernels::reference::embedding_backward(ids.data(), d_out_d.data(), expected.data(), count, vocab, dim);
  kernels::reference::embedding_backward(ids.data(), abs_d_out.data(), magnitude.data(), count, vocab, dim);
  // A float sum of m terms in any order is within m u / (1 - m u) of their magnitude (Higham 3.1); m <= count.
  const double u = std::ldexp(1.0, -24), bound = count * u / (1 - count * u);
  for (std::size_t e = 0; e < actual.size(); ++e)
    EXPECT_LE(std::abs(actual[e] - expected[e]), bound * magnitude[e]) << "element " << e;
}

// ---- layer ---------------------------------------------------------------------------------------------------

TEST(EmbeddingLayer, DeclaresPyTorchNameAndDrawsStandardNormalWeights) {
  ParameterSet params;
  Embedding embedding(params, "embedding", 30000, 125);
  ASSERT_EQ(params.size(), 1);
  EXPECT_EQ(params.name(0), "embedding.weight");
  EXPECT_EQ(params.shape(0), Shape({30000, 125}));
  params.allocate(Device::cpu);
  embedding.init_default(5);
  const std::vector<float> w = params.value(0).to_vector();
  double sum = 0, sum_sq = 0, within_one = 0;
  for (float v : w) {
    sum += v;
    sum_sq += double(v) * v;
    within_one += std::abs(v) < 1.0f;
  }
  const double n = double(w.size()), mean = sum / n, var = sum_sq / n - mean * mean;
  // 3.75 M draws: the sample mean's standard error is 1/sqrt(n) = 5.2e-4, the variance's sqrt(2/n) = 7.3e-4, a
  // proportion's at most 0.5/sqrt(n) = 2.6e-4; bounds at ~6 standard errors never fail by chance.
  EXPECT_NEAR(mean, 0.0, 3e-3);
  EXPECT_NEAR(var, 1.0, 5e-3);
  EXPECT_NEAR(within_one / n, 0.682689, 2e-3);  // P(|z| < 1) of a standard normal
}

TEST(EmbeddingLayer, ForwardAndBackwardUseTheWeightAndAllocateNothing) {
  ParameterSet params;
  Embedding embedding(params, "embedding", 10, 4);
  params.allocate(Device::cpu);
  params.value(0).copy_from(Tensor::from_vector({10, 4}, random_floats(40, -1, 1, 6)));
  Context& ctx = Context::cpu();
  embedding.setup(ctx, {3, 2});
  EXPECT_EQ(embedding.output_shape(), Shape({3, 2, 4}));
  Tensor ids = Tensor::empty({3, 2}, DType::i32);
  const std::int32_t values[6] = {9, 0, 3, 3, 1, 9};
  std::copy(values, values + 6, ids.data<std::int32_t>());
  const Tensor d_out = Tensor::from_vector({3, 2, 4}, random_floats(24, -1, 1, 7));
  const auto before = allocation_count();
  const std::vector<float> out = embedding.forward(ctx, ids).to_vector();
  embedding.backward(ctx, d_out);
  EXPECT_EQ(allocation_count(), before);
  const std::vector<float> table = params.value(0).to_vector();
  for (int p = 0; p < 6; ++p)
    for (int d = 0; d < 4; ++d) EXPECT_EQ(out[p * 4 + d], table[values[p] * 4 + d]);
  EXPECT_EQ(params.grad(0).to_vector(),
            cpu_backward(std::vector<std::int32_t>(values, values + 6), d_out.to_vector(), 10, 4));
  EXPECT_THROW(embedding.forward(ctx, Tensor::zeros({3, 2}, DType::f32)), Error);
}

#if ROSETTA_WITH_CUDA  // a CPU-only build has no CUDA twin to link

// ---- GPU -------------------------------------------------------------------------------------------------------

Tensor ids_on_cuda(const std::vector<std::int32_t>& ids) {
  Tensor host = Tensor::empty({static_cast<std::int64_t>(ids.size())}, DType::i32);
  std::copy(ids.begin(), ids.end(), host.data<std::int32_t>());
  return host.to(Device::cuda);
}

std::vector<float> cuda_backward(const std::vector<std::int32_t>& ids, const Tensor& d_out, std::int64_t vocab,
                                 std::int64_t dim) {
  Context& gpu = Context::cuda();
  const Tensor device_ids = ids_on_cuda(ids);
  Tensor d_table = testing::to_cuda(std::vector<float>(static_cast<std::size_t>(vocab * dim), kNaN));
  gpu.workspace(kernels::cuda::embedding_backward_workspace_bytes(gpu, static_cast<std::int64_t>(ids.size()), vocab));
  kernels::cuda::embedding_backward(gpu, device_ids.data<std::int32_t>(), d_out.data<float>(), d_table.data<float>(),
                                    static_cast<std::int64_t>(ids.size()), vocab, dim);
  return d_table.to_vector();
}

TEST(EmbeddingCuda, ForwardEqualsCpu) {
  ROSETTA_REQUIRE_CUDA();
  const std::int64_t vocab = 30000, dim = 125, count = 150 * 64;
  const std::vector<std::int32_t> ids = imdb_like_ids(count, vocab, 11);
  const std::vector<float> table = random_floats(vocab * dim, -1, 1, 12);
  std::vector<float> expected(static_cast<std::size_t>(count * dim));
  kernels::cpu::embedding_forward(Context::cpu(), ids.data(), table.data(), expected.data(), count, vocab, dim);
  const Tensor device_ids = ids_on_cuda(ids), device_table = testing::to_cuda(table);
  Tensor out = Tensor::empty({count * dim}, DType::f32, Device::cuda);
  kernels::cuda::embedding_forward(Context::cuda(), device_ids.data<std::int32_t>(), device_table.data<float>(),
                                   out.data<float>(), count, vocab, dim);
  EXPECT_EQ(out.to_vector(), expected);  // copies only
}

// The IMDB batch (T 150 x N 64 ids, V 30000, D 125), a table wider than one 128-column pass (D 300), and a tiny
// case; each run twice. Both twins sum in the order of kernels/embedding.h with single float additions, so they
// agree to the bit, and the GPU's radix sort makes its order independent of the schedule.
TEST(EmbeddingCuda, BackwardIsDeterministicAndBitIdenticalToCpu) {
  ROSETTA_REQUIRE_CUDA();
  struct Case {
    std::int64_t count, vocab, dim;
  };
  for (const Case& c : {Case{150 * 64, 30000, 125}, Case{2000, 700, 300}, Case{5, 3, 2}}) {
    const std::vector<std::int32_t> ids = imdb_like_ids(c.count, c.vocab, 13);
    const std::vector<float> d_out = random_floats(c.count * c.dim, -1, 1, 14);
    const Tensor device_d_out = testing::to_cuda(d_out);
    const std::vector<float> first = cuda_backward(ids, device_d_out, c.vocab, c.dim);
    const std::vector<float> second = cuda_backward(ids, device_d_out, c.vocab, c.dim);
    const std::string name = "count " + std::to_string(c.count) + " table (" + std::to_string(c.vocab) + ", " +
                             std::to_string(c.dim) + ")";
    EXPECT_EQ(first, second) << name;
    EXPECT_EQ(first, cpu_backward(ids, d_out, c.vocab, c.dim)) << name;
  }
}

// A bad id (outside [0, V)) gives a NaN row and is skipped by the backward, also where its low bits equal a valid id's.
TEST(EmbeddingCuda, BadIdGivesANanRowAndIsSkippedByTheBackward) {
  ROSETTA_REQUIRE_CUDA();
  const std::int64_t vocab = 4, dim = 3;
  const std::vector<std::int32_t> ids = {1, 7, -2, 1};
  const Tensor device_ids = ids_on_cuda(ids), table = testing::to_cuda(random_floats(vocab * dim, -1, 1, 15));
  Tensor out = Tensor::empty({4 * dim}, DType::f32, Device::cuda);
  kernels::cuda::embedding_forward(Context::cuda(), device_ids.data<std::int32_t>(), table.data<float>(),
                                   out.data<float>(), 4, vocab, dim);
  const std::vector<float> rows = out.to_vector();
  for (int d = 0; d < dim; ++d) {
    EXPECT_TRUE(std::isnan(rows[1 * dim + d]));
    EXPECT_TRUE(std::isnan(rows[2 * dim + d]));
    EXPECT_FALSE(std::isnan(rows[0 * dim + d]));
  }
  const std::vector<float> d_out = {1, 2, 3, 50, 50, 50, 60, 60, 60, 10, 20, 30};
  EXPECT_EQ(cuda_backward(ids, testing::to_cuda(d_out), vocab, dim),
            (std::vector<float>{0, 0, 0, 11, 22, 33, 0, 0, 0, 0, 0, 0}));

  // The sort looks at 15 key bits for 30,000 words: 40000 and -25536 share 7232's low 15 bits, and must still be
  // skipped rather than split 7232's run (bad ids become key V before the sort).
  const std::vector<std::int32_t> aliases = {7232, 40000, -25536, 7232};
  const std::vector<float> gradient = {1, 2, 3, 50, 50, 50, 60, 60, 60, 10, 20, 30};
  const std::vector<float> summed = cuda_backward(aliases, testing::to_cuda(gradient), 30000, dim);
  for (std::int64_t row = 0; row < 30000; ++row)
    for (int d = 0; d < dim; ++d)
      ASSERT_EQ(summed[row * dim + d], row == 7232 ? gradient[d] + gradient[9 + d] : 0.0f) << row << " " << d;
}

TEST(EmbeddingCuda, LayerMatchesCpuLayerAndAllocatesNothingPerStep) {
  ROSETTA_REQUIRE_CUDA();
  const std::int64_t vocab = 30000, dim = 125, t = 150, n = 64;
  const std::vector<std::int32_t> ids = imdb_like_ids(t * n, vocab, 16);
  const std::vector<float> d_out = random_floats(t * n * dim, -1, 1, 17);
  std::vector<float> grads[2];
  for (Device device : {Device::cpu, Device::cuda}) {
    Context& ctx = Context::of(device);
    ParameterSet params;
    Embedding embedding(params, "embedding", vocab, dim);
    params.allocate(device);
    embedding.init_default(3);
    embedding.setup(ctx, {t, n});
    Tensor host_ids = Tensor::empty({t, n}, DType::i32);
    std::copy(ids.begin(), ids.end(), host_ids.data<std::int32_t>());
    const Tensor device_ids = host_ids.to(device), gradient = Tensor::from_vector({t, n, dim}, d_out).to(device);
    embedding.forward(ctx, device_ids);
    embedding.backward(ctx, gradient);
    const auto before = allocation_count();
    embedding.forward(ctx, device_ids);
    embedding.backward(ctx, gradient);
    ctx.synchronize();
    EXPECT_EQ(allocation_count(), before) << device_name(device);
    grads[device == Device::cuda] = params.grad(0).to_vector();
  }
  EXPECT_EQ(grads[1], grads[0]);
}

TEST(EmbeddingCuda, BackwardReplaysAsACudaGraph) {
  ROSETTA_REQUIRE_CUDA();
  // The IMDB step is meant to be captured whole: the sort (CUB), the memset and the kernels must be capturable,
  // and a replay must give the eager bits.
  Context& gpu = Context::cuda();
  const std::int64_t vocab = 30000, dim = 125, count = 150 * 64;
  const std::vector<std::int32_t> ids = imdb_like_ids(count, vocab, 18);
  const Tensor device_ids = ids_on_cuda(ids), d_out = testing::to_cuda(random_floats(count * dim, -1, 1, 19));
  const std::vector<float> eager = cuda_backward(ids, d_out, vocab, dim);
  Tensor d_table = Tensor::zeros({vocab * dim}, DType::f32, Device::cuda);
  CudaGraph graph;
  graph.capture(gpu, [&] {
    kernels::cuda::embedding_backward(gpu, device_ids.data<std::int32_t>(), d_out.data<float>(), d_table.data<float>(),
                                      count, vocab, dim);
  });
  graph.launch(gpu);
  gpu.synchronize();
  EXPECT_EQ(d_table.to_vector(), eager);
}

#endif  // ROSETTA_WITH_CUDA

}  // namespace
}  // namespace rosetta
