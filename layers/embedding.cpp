#include "layers/embedding.h"

#include <vector>

#include "kernels/embedding.h"
#include "layers/init.h"

namespace rosetta {

Embedding::Embedding(ParameterSet& params, const std::string& name, std::int64_t vocab, std::int64_t dim)
    : params_(params), vocab_(vocab), dim_(dim), weight_(params.declare(name + ".weight", {vocab, dim})) {}

void Embedding::init_default(std::uint64_t seed) { normal(params_, weight_, 1.0f, seed); }

void Embedding::setup(const Context& ctx, const Shape& ids) {
  ROSETTA_CHECK(ids.rank() < Shape::kMaxDims, "embedding ids " << ids.str() << " leave no room for the vector axis");
  ROSETTA_CHECK(ctx.device() == params_.values().device(), "embedding weight and context are on different devices");
  std::vector<std::int64_t> out(ids.begin(), ids.end());
  out.push_back(dim_);
  out_ = Tensor::empty(Shape(out.begin(), out.end()), DType::f32, ctx.device());
  ctx.workspace(kernels::embedding_backward_workspace_bytes(ctx, ids.numel(), vocab_));
}

const Tensor& Embedding::forward(const Context& ctx, const Tensor& ids) {
  ROSETTA_CHECK(ids.numel() * dim_ == out_.numel() && ids.dtype() == DType::i32,
                "embedding ids " << ids.shape().str() << " " << dtype_name(ids.dtype()) << ", set up for "
                                 << out_.shape().str() << " outputs from I32 ids");
  ids_ = ids;
  kernels::embedding_forward(ctx, ids.data<std::int32_t>(), params_.value(weight_).data<float>(),
                                                  out_.data<float>(), ids.numel(), vocab_, dim_);
  return out_;
}

void Embedding::backward(const Context& ctx, const Tensor& d_out) {
  ROSETTA_CHECK(d_out.shape() == out_.shape(),
                "embedding output gradient " << d_out.shape().str() << ", expected " << out_.shape().str());
  kernels::embedding_backward(ctx, ids_.data<std::int32_t>(), d_out.data<float>(),
                                                   params_.grad(weight_).data<float>(), ids_.numel(), vocab_, dim_);
}

}  // namespace rosetta
