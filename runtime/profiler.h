// Profiler: times named regions of work on one context's device, step by step, for `--profile`. It knows names,
// pass labels and opaque category numbers, nothing about layers or ops: kernels/dispatch.h opens one region per op
// call (the op's name, its class from kernels/op_class.h as the category), a model labels the pass its regions
// belong to (ProfilePass: "forward", "backward", "update"), and the command line brackets each profiled step
// (begin_step / end_step) and opens regions for the copies it makes itself.
//
// Invariants:
// - Off costs one pointer test per op: with no profiler attached to the context (Context::profiler() null, the
//   default), ProfileRegion and ProfilePass record, allocate and wait for nothing.
// - A region on a GPU is a pair of timing events on the context's main stream: the device's time from the first
//   to the last of its kernels' work, launch gaps before it excluded. On the CPU it is the host's steady clock
//   around the call (CPU ops run to completion before they return). The step's wall time is measured the same
//   way, so `wall - sum of regions` is the time no region covers: idle and launch gaps.
// - Regions nest; only the outermost is timed (an op that calls another op is one region).
// - Rows are keyed by (pass, name, occurrence within the step): the 2nd conv2d_forward of the forward pass is one
//   row over every profiled step. Memory grows with one step's regions, not with the number of steps; the events
//   and buffers grow during the first profiled step only.
// - The host may run one step ahead of the device, as in an unprofiled run: end_step reads the step before this
//   one (on a GPU waiting for that step's end, the only host wait the profiler makes), finish() the last one.
//   Either throws what an event call during the step failed with. rows(), steps() and wall_seconds() count the
//   steps read so far.
// - On a GPU the profiled steps are also the range of an external profiler that starts with profiling off (ncu or
//   nsys with --profile-from-start off; tools/ncu_measure.sh): cudaProfilerStart at the first begin_step,
//   cudaProfilerStop at finish().
#pragma once
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "runtime/context.h"

struct CUevent_st;

namespace rosetta {

class Profiler {
 public:
  struct Row {
    std::string pass;  // the ProfilePass label, or "" outside any
    std::string name;  // the region's name: an op ("conv2d_forward") or the caller's ("batch_feed")
    int category = 0;
    int occurrence = 1;  // 1-based, among the regions of this pass and name in one step
    double seconds = 0;  // over every profiled step
    std::int64_t calls = 0;
  };

  explicit Profiler(const Context& ctx);
  ~Profiler();
  Profiler(const Profiler&) = delete;
  Profiler& operator=(const Profiler&) = delete;

  const Context& context() const { return ctx_; }
  // "CUDA events on the main stream" or "the host's steady clock".
  const char* clock() const;

  void begin_step();
  // Ends the step; adds the previous step's regions to rows() and its wall time to wall_seconds() (the CPU: this
  // step's).
  void end_step();
  // Reads the last step (waits for it on a GPU). Call after the last end_step, before rows().
  void finish();
  // A region named `name` (a string that outlives the profiler: a literal) of the caller's `category`.
  void begin_region(const char* name, int category) noexcept;
  void end_region() noexcept;
  // Sets the pass label of the regions that follow (a literal, or nullptr for none); returns the previous one.
  const char* set_pass(const char* pass) noexcept;

  const std::vector<Row>& rows() const { return rows_; }
  std::int64_t steps() const { return steps_; }
  double wall_seconds() const { return wall_seconds_; }  // over every profiled step

 private:
  struct Region {
    const char* name;
    const char* pass;
    int category;
    double host_begin, host_end;  // seconds since the step began (the CPU)
  };
  // One step's record; two of them, as the device may still run the previous step when this one ends.
  struct Step {
    std::vector<Region> regions;      // its outermost regions
    std::vector<CUevent_st*> events;  // GPU: [0] step begin, [1] step end, then 2 per region
    double host_wall = 0;             // the CPU
    std::string error;                // the first event call that failed during it
    bool pending = false;             // ended, not yet read
  };
  CUevent_st* event(Step& step, std::size_t index);  // created on first use (GPU)
  void record(std::size_t index) noexcept;           // on the current step's events
  double now() const;
  void read(Step& step);

  const Context& ctx_;
  bool on_device_;
  Step steps_buffer_[2];
  int current_ = 0;  // the index in steps_buffer_ of the step being recorded
  std::chrono::steady_clock::time_point step_begin_;
  int depth_ = 0;
  bool in_step_ = false;
  bool capturing_ = false;  // between cudaProfilerStart and cudaProfilerStop
  const char* pass_ = nullptr;
  std::vector<Row> rows_;
  std::int64_t steps_ = 0;
  double wall_seconds_ = 0;
};

// Attaches a profiler to its context for this object's lifetime (the context's previous one, usually none, after).
class ProfilerAttachment {
 public:
  explicit ProfilerAttachment(Profiler& profiler);
  ~ProfilerAttachment();
  ProfilerAttachment(const ProfilerAttachment&) = delete;
  ProfilerAttachment& operator=(const ProfilerAttachment&) = delete;

 private:
  const Context& ctx_;
  Profiler* previous_;
};

// One region for this object's lifetime; a negative category is not timed (setup ops).
class ProfileRegion {
 public:
  ProfileRegion(const Context& ctx, const char* name, int category) noexcept
      : profiler_(category >= 0 ? ctx.profiler() : nullptr) {
    if (profiler_ != nullptr) profiler_->begin_region(name, category);
  }
  ~ProfileRegion() {
    if (profiler_ != nullptr) profiler_->end_region();
  }
  ProfileRegion(const ProfileRegion&) = delete;
  ProfileRegion& operator=(const ProfileRegion&) = delete;

 private:
  Profiler* profiler_;
};

// The pass label of the regions opened during this object's lifetime.
class ProfilePass {
 public:
  ProfilePass(const Context& ctx, const char* pass) noexcept : profiler_(ctx.profiler()) {
    if (profiler_ != nullptr) previous_ = profiler_->set_pass(pass);
  }
  ~ProfilePass() {
    if (profiler_ != nullptr) profiler_->set_pass(previous_);
  }
  ProfilePass(const ProfilePass&) = delete;
  ProfilePass& operator=(const ProfilePass&) = delete;

 private:
  Profiler* profiler_;
  const char* previous_ = nullptr;
};

}  // namespace rosetta
