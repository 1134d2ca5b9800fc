// Runtime: shapes, tensors and views, the allocation counter, contexts and the CUDA probe.
#include <gtest/gtest.h>

#include "runtime/context.h"
#include "runtime/tensor.h"
#include "tests/support/cuda.h"

namespace rosetta {
namespace {

TEST(Shape, CountsAndPrints) {
  const Shape s{64, 3, 32, 32};
  EXPECT_EQ(s.rank(), 4);
  EXPECT_EQ(s.numel(), 64 * 3 * 32 * 32);
  EXPECT_EQ(s.str(), "(64, 3, 32, 32)");
  EXPECT_EQ(Shape{}.numel(), 1);
}

TEST(Shape, RejectsOverflowAndTooManyDims) {
  EXPECT_THROW((Shape{1LL << 40, 1LL << 40}), Error);
  EXPECT_THROW((Shape{1, 2, 3, 4, 5, 6}), Error);
  EXPECT_THROW((Shape{-1}), Error);
}

TEST(Tensor, ViewsShareStorage) {
  Tensor arena = Tensor::zeros({10}, DType::f32);
  Tensor v = arena.view(4, {2, 3});
  v.data<float>()[0] = 7.0f;
  EXPECT_EQ(arena.data<float>()[4], 7.0f);
  EXPECT_THROW(arena.view(5, {2, 3}), Error);
  EXPECT_THROW(arena.data<std::int32_t>(), Error);
}

TEST(Tensor, ErrorsNameTheShapes) {
  Tensor a = Tensor::zeros({2, 3}, DType::f32);
  try {
    a.reshape({4, 2});
    FAIL() << "reshape should throw";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("(2, 3)"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("tensor.cpp"), std::string::npos) << e.what();
  }
}

TEST(Allocator, CountsEveryAllocation) {
  const auto before = allocation_count();
  Tensor a = Tensor::empty({3}, DType::f32);
  Tensor b = a.view(0, {2});  // a view is not an allocation
  EXPECT_EQ(allocation_count(), before + 1);
}

TEST(Context, CpuWorkspaceOnlyGrows) {
  Context& ctx = Context::cpu();
  ctx.workspace(1024);
  const auto before = allocation_count();
  ctx.workspace(512);
  ctx.workspace(1024);
  EXPECT_EQ(allocation_count(), before);
  EXPECT_GE(ctx.workspace_bytes(), 1024u);
}

TEST(Probe, ExplainsMissingDevice) {
  const CudaProbe& p = probe_cuda();
  if (p.device_count == 0) {
    EXPECT_FALSE(p.reason.empty());
  }
}

TEST(CudaTensor, RoundTripsThroughDevice) {
  ROSETTA_REQUIRE_CUDA();
  Tensor host = Tensor::from_vector({4}, {1, 2, 3, 4});
  Tensor dev = host.to(Device::cuda);
  EXPECT_EQ(dev.device(), Device::cuda);
  EXPECT_EQ(dev.to_vector(), (std::vector<float>{1, 2, 3, 4}));
  Context& ctx = Context::cuda();
  EXPECT_NE(ctx.cudnn(), nullptr);
  EXPECT_NE(ctx.cublas(), nullptr);
}

}  // namespace
}  // namespace rosetta
