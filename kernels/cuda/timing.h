// How a plan times its candidates (the convolution's backends, the matmul's cuBLASLt algorithms): CUDA events on
// the context's main stream around back-to-back calls, after warm-up, the median of repetitions.
//
// Why groups of calls: an event pair around one call of a 50-microsecond kernel measures the host's enqueue time as
// well whenever the host is slower than the device (cudnnFind's fixed per-call overhead, issue 11), while the
// workloads replay their calls from a CUDA graph, back to back. A group of calls lasting at least kGroupTargetMs
// keeps the device busy, so the figure is the device's time per call. The median of kRepetitions groups ignores
// one-off stalls (a clock change, another process).
#pragma once
#include <functional>

#include "runtime/context.h"

namespace rosetta::kernels::cuda {

constexpr int kTimingWarmupCalls = 2;     // untimed: lazy module loading, first-call setup
constexpr int kTimingRepetitions = 7;     // timed groups; the median is the figure
constexpr float kGroupTargetMs = 0.25f;   // a group's least duration, from one timed call's estimate
constexpr int kMaxGroupCalls = 32;

// Milliseconds per call of `call` (which enqueues work on ctx's main stream), as above. Waits for the device.
float median_call_ms(const Context& ctx, const std::function<void()>& call);

}  // namespace rosetta::kernels::cuda
