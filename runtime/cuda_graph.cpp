#include "runtime/cuda_graph.h"

#include "runtime/error.h"
#if ROSETTA_WITH_CUDA
#include "runtime/cuda_check.h"
#endif

namespace rosetta {

#if ROSETTA_WITH_CUDA
CudaGraph::~CudaGraph() {
  if (exec_ != nullptr) cudaGraphExecDestroy(exec_);
}

void CudaGraph::capture(const Context& ctx, const std::function<void()>& body) {
  ROSETTA_CHECK(ctx.device() == Device::cuda, "CUDA graphs capture CUDA work only");
  ROSETTA_CHECK(exec_ == nullptr, "graph captured twice");
  // Relaxed: other threads' unrelated CUDA calls are not an error; the body itself must still be capturable.
  ROSETTA_CUDA_CHECK(cudaStreamBeginCapture(ctx.stream(), cudaStreamCaptureModeThreadLocal));
  try {
    body();
  } catch (...) {
    cudaGraph_t broken = nullptr;
    cudaStreamEndCapture(ctx.stream(), &broken);  // leave the stream usable before reporting
    if (broken != nullptr) cudaGraphDestroy(broken);
    throw;
  }
  cudaGraph_t graph = nullptr;
  ROSETTA_CUDA_CHECK(cudaStreamEndCapture(ctx.stream(), &graph));
  const cudaError_t status = cudaGraphInstantiate(&exec_, graph, 0);
  cudaGraphDestroy(graph);
  ROSETTA_CUDA_CHECK(status);
}

void CudaGraph::launch(const Context& ctx) const {
  ROSETTA_CHECK(exec_ != nullptr, "launch of a graph that was never captured");
  ROSETTA_CUDA_CHECK(cudaGraphLaunch(exec_, ctx.stream()));
}
#else
CudaGraph::~CudaGraph() = default;
void CudaGraph::capture(const Context&, const std::function<void()>&) { ROSETTA_FAIL("CUDA graphs need a CUDA build"); }
void CudaGraph::launch(const Context&) const { ROSETTA_FAIL("CUDA graphs need a CUDA build"); }
#endif

}  // namespace rosetta
