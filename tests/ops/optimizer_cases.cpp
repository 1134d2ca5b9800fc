// Op cases of kernels/optimizer.h over an arena the size of the CNN's (3.4 M parameters), three steps per call.
#include "kernels/elementwise.h"
#include "kernels/optimizer.h"
#include "tests/ops/op_case.h"

namespace rosetta::ops {
namespace {

constexpr std::int64_t kArena = 3'437'964;  // not a multiple of any block size
constexpr double kU = 0x1p-24;

}  // namespace

void add_optimizer_cases(std::vector<OpCase>& cases) {
  OpCase sgd{"optimizer", "sgd_momentum_update", "f32", std::to_string(kArena), 3.0 * kArena, 16.0 * kArena, nullptr};
  sgd.make = [](const Context& ctx, std::uint8_t) {
    const Tensor p = seeded(ctx, {kArena}, DType::f32, -1, 1, 121), g = seeded(ctx, {kArena}, DType::f32, -0.5f, 0.5f, 122);
    const Tensor buf = seeded(ctx, {kArena}, DType::f32, -0.1f, 0.1f, 123);
    const Tolerance same = Tolerance::exact("reference::sgd_momentum_element on both twins, every operation rounded");
    return OpRun{[=, &ctx] {
                   kernels::sgd_momentum_update(ctx, p.data<float>(), g.data<float>(), buf.data<float>(), kArena, 0.01f,
                                                0.9f);
                 },
                 {{"params", p, same}, {"momentum", buf, same}}};
  };
  cases.push_back(sgd);

  // Adam with the step counter in the context's memory, advanced on the device before each update (as in a captured
  // training step), starting at 4 so the bias corrections of a kernel that ignored it would differ.
  OpCase adam{"optimizer", "adam_update", "f32", std::to_string(kArena), 12.0 * kArena, 28.0 * kArena, nullptr};
  adam.make = [](const Context& ctx, std::uint8_t) {
    const Tensor p = seeded(ctx, {kArena}, DType::f32, -1, 1, 124), g = seeded(ctx, {kArena}, DType::f32, -0.5f, 0.5f, 125);
    const Tensor m = seeded(ctx, {kArena}, DType::f32, -0.1f, 0.1f, 126), v = seeded(ctx, {kArena}, DType::f32, 0, 0.1f, 127);
    Tensor host_step = Tensor::empty({1}, DType::u64);
    host_step.data<std::uint64_t>()[0] = 4;
    const Tensor step = on(ctx, host_step);
    const Tolerance same = Tolerance::exact("reference::adam_element on both twins, every operation rounded");
    // The step's scalars use double pow, whose last bit may differ between glibc and CUDA's libdevice and move the
    // float step size or bias correction by one ulp: 2 ulps of the parameter plus 2 ulps of lr bound that.
    const Tolerance scalars =
        Tolerance::elementwise(2 * kU, 2 * kU * 1e-3, "double pow of glibc and libdevice may differ in the last bit");
    return OpRun{[=, &ctx] {
                   kernels::increment_counter(ctx, step.data<std::uint64_t>());
                   kernels::adam_update(ctx, p.data<float>(), g.data<float>(), m.data<float>(), v.data<float>(), kArena,
                                        1e-3f, 0.9f, 0.999f, 1e-8f, step.data<std::uint64_t>());
                 },
                 {{"params", p, scalars}, {"m", m, same}, {"v", v, same}, {"step", step, same}}};
  };
  cases.push_back(adam);
}

}  // namespace rosetta::ops
