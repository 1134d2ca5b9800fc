// The Adam layer (layers/adam.h): it advances its own step counter and applies kernels/optimizer.inc's update over
// the whole arena, padding included (which stays zero); on a GPU it gives the CPU's parameters bit for bit. The
// update rule itself is tested against torch.optim in tests/test_optimizer.cpp.
#include <gtest/gtest.h>

#include <vector>

#include "kernels/optimizer.h"
#include "layers/adam.h"
#include "tests/support/cuda.h"
#include "tests/support/gradcheck.h"

namespace rosetta {
namespace {

// Two parameters of 3 and 70 elements (the second starts after 61 elements of zero padding); values and gradients
// from Philox.
struct Model {
  ParameterSet params;
  explicit Model(Device device) {
    params.declare("a", {3});
    params.declare("b", {7, 10});
    params.allocate(device);
    for (int i = 0; i < 2; ++i)
      params.value(i).copy_from(
          Tensor::from_vector(params.shape(i), testing::random_floats(params.shape(i).numel(), -1, 1, 1, i)));
  }
  void set_grads(std::uint32_t step) {
    for (int i = 0; i < 2; ++i)
      params.grad(i).copy_from(Tensor::from_vector(
          params.shape(i), testing::random_floats(params.shape(i).numel(), -1, 1, 2, 10 * step + i)));
  }
};

TEST(AdamLayer, StepsEqualTheKernelWithOneBasedStepsAndKeepPaddingZero) {
  Model model(Device::cpu);
  Adam adam(model.params, 1e-2f);
  const std::int64_t n = model.params.arena_elements();
  std::vector<float> p = model.params.values().to_vector(), m(n, 0.0f), v(n, 0.0f);
  for (std::uint64_t step = 1; step <= 3; ++step) {
    model.set_grads(static_cast<std::uint32_t>(step));
    const std::vector<float> g = model.params.grads().to_vector();
    kernels::cpu::adam_update(Context::cpu(), p.data(), g.data(), m.data(), v.data(), n, 1e-2f, 0.9f, 0.999f, 1e-8f,
                              &step);
    adam.step(Context::cpu());
    EXPECT_EQ(model.params.values().to_vector(), p) << "step " << step;
  }
  EXPECT_EQ(adam.step_counter().data<std::uint64_t>()[0], 3u);
  const std::vector<float> arena = model.params.values().to_vector();
  for (std::int64_t e = 3; e < ParameterSet::kAlignment; ++e) EXPECT_EQ(arena[e], 0.0f) << "padding element " << e;
}

#if ROSETTA_WITH_CUDA  // a CPU-only build has no CUDA twin to link

TEST(AdamLayerCuda, IsBitIdenticalToCpu) {
  ROSETTA_REQUIRE_CUDA();
  std::vector<float> values[2];
  for (Device device : {Device::cpu, Device::cuda}) {
    Model model(device);
    Adam adam(model.params, 1e-3f);
    for (std::uint32_t step = 1; step <= 3; ++step) {
      model.set_grads(step);
      adam.step(Context::of(device));
    }
    values[device == Device::cuda] = model.params.values().to_vector();
    EXPECT_EQ(adam.step_counter().to(Device::cpu).data<std::uint64_t>()[0], 3u) << device_name(device);
  }
  EXPECT_EQ(values[1], values[0]);
}

#endif  // ROSETTA_WITH_CUDA

}  // namespace
}  // namespace rosetta
