#include "runtime/profiler.h"

#include <cstring>

#include "runtime/error.h"
#if ROSETTA_WITH_CUDA
#include <cuda_profiler_api.h>

#include "runtime/cuda_check.h"
#endif

namespace rosetta {
namespace {

bool same(const char* a, const char* b) { return a == b || (a != nullptr && b != nullptr && std::strcmp(a, b) == 0); }

}  // namespace

Profiler::Profiler(const Context& ctx) : ctx_(ctx), on_device_(ctx.device() == Device::cuda) {
#if !ROSETTA_WITH_CUDA
  ROSETTA_CHECK(!on_device_, "a CUDA profiler needs a CUDA build");
#endif
}

Profiler::~Profiler() {
#if ROSETTA_WITH_CUDA
  for (Step& step : steps_buffer_)
    for (CUevent_st* e : step.events) cudaEventDestroy(e);  // destructors must not throw; nothing is left to report
#endif
}

const char* Profiler::clock() const {
  return on_device_ ? "CUDA events on the main stream" : "the host's steady clock";
}

double Profiler::now() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - step_begin_).count();
}

CUevent_st* Profiler::event(Step& step, std::size_t index) {
#if ROSETTA_WITH_CUDA
  while (step.events.size() <= index) {
    cudaEvent_t e = nullptr;
    ROSETTA_CUDA_CHECK(cudaEventCreate(&e));  // timing events: the first profiled steps create them
    step.events.push_back(e);
  }
  return step.events[index];
#else
  (void)step, (void)index;
  return nullptr;
#endif
}

void Profiler::record(std::size_t index) noexcept {
  Step& step = steps_buffer_[current_];
#if ROSETTA_WITH_CUDA
  try {
    ROSETTA_CUDA_CHECK(cudaEventRecord(event(step, index), ctx_.stream()));
  } catch (const std::exception& e) {
    if (step.error.empty()) step.error = e.what();
  }
#else
  (void)step, (void)index;
#endif
}

void Profiler::begin_step() {
  ROSETTA_CHECK(!in_step_, "Profiler::begin_step inside a step");
  Step& step = steps_buffer_[current_];
  if (step.pending) read(step);  // its events are about to be recorded again
  step.regions.clear();
  step.error.clear();
  depth_ = 0;
  in_step_ = true;
  step_begin_ = std::chrono::steady_clock::now();
  if (on_device_) {
#if ROSETTA_WITH_CUDA
    if (!capturing_) ROSETTA_CUDA_CHECK(cudaProfilerStart());  // an external profiler's range: the profiled steps
#endif
    capturing_ = true;
    record(0);
  }
}

void Profiler::begin_region(const char* name, int category) noexcept {
  if (!in_step_ || depth_++ > 0) return;  // outside a step, or nested: not timed
  Step& step = steps_buffer_[current_];
  try {
    step.regions.push_back(Region{name, pass_, category, 0, 0});
  } catch (const std::exception& e) {
    if (step.error.empty()) step.error = e.what();
    --depth_;
    return;
  }
  if (on_device_) {
    record(2 + 2 * (step.regions.size() - 1));
  } else {
    step.regions.back().host_begin = now();
  }
}

void Profiler::end_region() noexcept {
  if (!in_step_ || depth_ == 0 || --depth_ > 0) return;
  Step& step = steps_buffer_[current_];
  if (on_device_) {
    record(2 + 2 * (step.regions.size() - 1) + 1);
  } else {
    step.regions.back().host_end = now();
  }
}

const char* Profiler::set_pass(const char* pass) noexcept {
  const char* previous = pass_;
  pass_ = pass;
  return previous;
}

void Profiler::end_step() {
  ROSETTA_CHECK(in_step_, "Profiler::end_step without begin_step");
  in_step_ = false;
  ROSETTA_CHECK(depth_ == 0, "Profiler::end_step inside a region");
  Step& step = steps_buffer_[current_];
  step.pending = true;
  if (on_device_) {
    record(1);
    current_ = 1 - current_;
    if (steps_buffer_[current_].pending) read(steps_buffer_[current_]);  // the step before: done or nearly
  } else {
    step.host_wall = now();
    read(step);
  }
}

void Profiler::finish() {
  ROSETTA_CHECK(!in_step_, "Profiler::finish inside a step");
#if ROSETTA_WITH_CUDA
  if (capturing_) ROSETTA_CUDA_CHECK(cudaProfilerStop());
#endif
  capturing_ = false;
  for (int k : {current_, 1 - current_})  // the older step first
    if (steps_buffer_[k].pending) read(steps_buffer_[k]);
}

void Profiler::read(Step& step) {
  step.pending = false;
  if (!step.error.empty()) ROSETTA_FAIL("profiling a step: " << step.error);
  std::vector<double> seconds(step.regions.size());
  double wall = step.host_wall;
  if (on_device_) {
#if ROSETTA_WITH_CUDA
    ROSETTA_CUDA_CHECK(cudaEventSynchronize(step.events[1]));
    const auto elapsed = [&](std::size_t from, std::size_t to) {
      float ms = 0;
      ROSETTA_CUDA_CHECK(cudaEventElapsedTime(&ms, step.events[from], step.events[to]));
      return double(ms) * 1e-3;
    };
    wall = elapsed(0, 1);
    for (std::size_t i = 0; i < step.regions.size(); ++i) seconds[i] = elapsed(2 + 2 * i, 3 + 2 * i);
#endif
  } else {
    for (std::size_t i = 0; i < step.regions.size(); ++i)
      seconds[i] = step.regions[i].host_end - step.regions[i].host_begin;
  }
  const std::vector<Region>& regions = step.regions;
  for (std::size_t i = 0; i < regions.size(); ++i) {
    const Region& r = regions[i];
    int occurrence = 1;
    for (std::size_t j = 0; j < i; ++j) occurrence += same(regions[j].pass, r.pass) && same(regions[j].name, r.name);
    const std::string pass = r.pass != nullptr ? r.pass : "";
    const auto matches = [&](const Row& row) {
      return row.occurrence == occurrence && row.name == r.name && row.pass == pass;
    };
    // Steps repeat one sequence, so row i of the first step is usually region i's row.
    Row* row = i < rows_.size() && matches(rows_[i]) ? &rows_[i] : nullptr;
    for (std::size_t k = 0; row == nullptr && k < rows_.size(); ++k)
      if (matches(rows_[k])) row = &rows_[k];
    if (row == nullptr) {
      rows_.push_back(Row{pass, r.name, r.category, occurrence, 0, 0});
      row = &rows_.back();
    }
    row->seconds += seconds[i];
    ++row->calls;
  }
  wall_seconds_ += wall;
  ++steps_;
}

ProfilerAttachment::ProfilerAttachment(Profiler& profiler)
    : ctx_(profiler.context()), previous_(profiler.context().profiler()) {
  ctx_.set_profiler(&profiler);
}

ProfilerAttachment::~ProfilerAttachment() { ctx_.set_profiler(previous_); }

}  // namespace rosetta
