// The CPU twins' one way to spread independent work over threads: an OpenMP loop, taken only when the work pays for
// waking the team. Invariant: body(i) is done by exactly one thread and depends on nothing but i, so a result never
// depends on the thread count (kernels/threads.h sets it).
#pragma once
#include <cstdint>

namespace rosetta::kernels::cpu {

// Below this many element operations a loop runs on the calling thread: waking an OpenMP team costs a few
// microseconds, about what 64K simple element operations take.
inline constexpr std::int64_t kParallelWork = std::int64_t(1) << 16;

// Runs body(i) for i in [0, count), statically split over the OpenMP threads when count * work_per_item (element
// operations per i) reaches kParallelWork.
template <typename Body>
void parallel_for(std::int64_t count, std::int64_t work_per_item, const Body& body) {
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if (count > 1 && count * work_per_item >= kParallelWork)
#endif
  for (std::int64_t i = 0; i < count; ++i) body(i);
}

}  // namespace rosetta::kernels::cpu
