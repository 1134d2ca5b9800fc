// Op cases of kernels/embedding.h at the IMDB batch: ids (T 150, N 64) over a 30,000-word table of width 125, about
// a third padding (id 0) and the rest skewed toward frequent words, so some ids repeat hundreds of times.
#include "kernels/embedding.h"
#include "runtime/philox.h"
#include "tests/ops/op_case.h"

namespace rosetta::ops {
namespace {

constexpr std::int64_t kCount = 150 * 64, kVocab = 30000, kDim = 125;

Tensor imdb_like_ids(const Context& ctx) {
  Tensor ids = Tensor::empty({kCount}, DType::i32);
  for (std::int64_t p = 0; p < kCount; ++p) {
    const float u = philox_uniform(131, 0, p), w = philox_uniform(131, 1, p);
    ids.data<std::int32_t>()[p] = u < 0.33f ? 0 : static_cast<std::int32_t>(1 + (kVocab - 2) * w * w * w * w);
  }
  return on(ctx, ids);
}

}  // namespace

void add_embedding_cases(std::vector<OpCase>& cases) {
  const std::string shape = "9600-30000x125";
  OpCase forward{"embedding", "embedding_forward", "f32", shape, 0, 8.0 * kCount * kDim, nullptr};
  forward.make = [](const Context& ctx, std::uint8_t poison) {
    const Tensor ids = imdb_like_ids(ctx), table = seeded(ctx, {kVocab, kDim}, DType::f32, -1, 1, 132);
    const Tensor out = poisoned(ctx, {kCount, kDim}, DType::f32, poison);
    return OpRun{[=, &ctx] {
                   kernels::embedding_forward(ctx, ids.data<std::int32_t>(), table.data<float>(), out.data<float>(),
                                              kCount, kVocab, kDim);
                 },
                 {{"out", out, Tolerance::exact("row copies")}}};
  };
  cases.push_back(forward);

  OpCase backward{"embedding", "embedding_backward", "f32", shape, double(kCount * kDim),
                  4.0 * (kCount * kDim + kVocab * kDim), nullptr};
  backward.make = [](const Context& ctx, std::uint8_t poison) {
    const Tensor ids = imdb_like_ids(ctx), d_out = seeded(ctx, {kCount, kDim}, DType::f32, -1, 1, 133);
    const Tensor d_table = poisoned(ctx, {kVocab, kDim}, DType::f32, poison);
    ctx.workspace(kernels::embedding_backward_workspace_bytes(ctx, kCount, kVocab));
    return OpRun{[=, &ctx] {
                   kernels::embedding_backward(ctx, ids.data<std::int32_t>(), d_out.data<float>(), d_table.data<float>(),
                                               kCount, kVocab, kDim);
                 },
                 {{"d_table", d_table,
                   Tolerance::exact("both twins add each id's rows in the slice order of kernels/embedding.h")}}};
  };
  cases.push_back(backward);
}

}  // namespace rosetta::ops
