// The candidates' timing (kernels/cuda/timing.h).
#include "kernels/cuda/timing.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "runtime/timer.h"

namespace rosetta::kernels::cuda {

float median_call_ms(const Context& ctx, const std::function<void()>& call) {
  for (int i = 0; i < kTimingWarmupCalls; ++i) call();
  CudaEventTimer timer;
  timer.start(ctx.stream());
  call();
  timer.stop(ctx.stream());
  const float single_ms = std::max(timer.elapsed_ms(), 1e-4f);
  const int group = std::clamp(static_cast<int>(std::ceil(kGroupTargetMs / single_ms)), 1, kMaxGroupCalls);
  std::vector<float> per_call(kTimingRepetitions);
  for (float& ms : per_call) {
    timer.start(ctx.stream());
    for (int i = 0; i < group; ++i) call();
    timer.stop(ctx.stream());
    ms = timer.elapsed_ms() / static_cast<float>(group);
  }
  std::nth_element(per_call.begin(), per_call.begin() + kTimingRepetitions / 2, per_call.end());
  return per_call[kTimingRepetitions / 2];
}

}  // namespace rosetta::kernels::cuda
