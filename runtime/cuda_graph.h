// CudaGraph: captures the work a function enqueues on a context's main stream once, then replays it with one
// launch. What is captured must allocate nothing and never wait for the host; values that change between
// replays (the step counter, the batch) must live in device memory that the captured kernels read.
#pragma once
#include <functional>

#include "runtime/context.h"

struct CUgraphExec_st;

namespace rosetta {

class CudaGraph {
 public:
  CudaGraph() = default;
  ~CudaGraph();
  CudaGraph(const CudaGraph&) = delete;
  CudaGraph& operator=(const CudaGraph&) = delete;

  // Runs `body` under stream capture of ctx.stream() and instantiates the result.
  void capture(const Context& ctx, const std::function<void()>& body);
  bool captured() const { return exec_ != nullptr; }
  // Enqueues one replay on ctx.stream().
  void launch(const Context& ctx) const;

 private:
  CUgraphExec_st* exec_ = nullptr;
};

}  // namespace rosetta
