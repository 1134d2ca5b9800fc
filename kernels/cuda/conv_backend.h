// The CUDA convolution's backends: the interface each implements, and the registry the planner reads
// (kernels/cuda/conv_search.cpp). A backend is one way to run a pass: legacy cuDNN (conv_backend_cudnn.cpp), cuDNN's
// graph API with the epilogue fused (conv_backend_graph.cpp), cuBLASLt's matmul for 1x1 convolutions
// (conv_backend_cublaslt.cpp), hand-written direct kernels for few input channels, forward and filter gradient
// (conv_backend_direct.cpp). To add one (a split-K filter gradient, say): implement
// CudaConvBackend in a file of its own, give it a ConvBackend value and name (kernels/conv.h, conv.cpp), and list it
// in conv_backends() (conv_backends.cpp); the planner, the cache and the record need nothing else.
//
// Invariants: a backend is stateless (one instance per process, called from any thread); everything a pass needs
// at run time lives in its ConvPassRunner, made at plan time and immutable afterwards, so a plan can be run from
// any number of steps and captured in a CUDA graph. A runner's run() creates no descriptor the device waits on,
// allocates nothing and never synchronises (a graph-API runner builds its variant pack on the host the first time
// it sees a set of pointers, and reuses it afterwards).
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "kernels/conv.h"
#include "runtime/tensor.h"

namespace rosetta::kernels {

// Device pointers of one call of one pass; what a pass does not use is null.
struct ConvPassArgs {
  const void* x = nullptr;   // forward, backward_filter: (N, C, H, W) in the plan's layout and type
  const void* w = nullptr;   // forward, backward_data: (K, C, R, S)
  const void* dy = nullptr;  // backward passes: (N, K, OH, OW)
  void* out = nullptr;       // the pass's output: y, dx or dw
  // Forward only: whether the call asks for the epilogue y = act((conv + z) + bias), and its operands.
  bool epilogue = false;
  const void* bias = nullptr;  // (K) of the data's type
  const void* z = nullptr;     // the residual, shaped as y, or null
  bool relu = false;
  void* workspace = nullptr;  // at least the choice's workspace_bytes on the device
};

// One prepared way to run one pass of one shape under one plan's options.
struct ConvPassRunner {
  virtual ~ConvPassRunner() = default;
  ConvPassRunner() = default;
  ConvPassRunner(const ConvPassRunner&) = delete;
  ConvPassRunner& operator=(const ConvPassRunner&) = delete;
  // Runs the pass on ctx's main stream.
  virtual void run(const Context& ctx, const ConvPassArgs& args) const = 0;
  // Forward: whether a call with the epilogue and this activation runs as one library call.
  virtual bool fuses(bool relu) const = 0;
};

namespace cuda {

// Buffers a search runs candidates on, in the plan's data type: x, w and y (also dy, dx and dw), the residual z and
// the bias, filled with non-zero values (some kernels run faster on zeros than on real data); freed with the search.
struct ConvSearchBuffers {
  Tensor x, w, y, z, bias;  // flat: (N*C*H*W), (K*C*R*S), (N*K*OH*OW), (N*K*OH*OW), (K)
  ConvSearchBuffers(const Context& ctx, const ConvShape& shape, Precision precision);
  // The forward arguments of `options`' declared epilogue (any: the plain convolution).
  ConvPassArgs forward_args(const ConvOptions& options) const;
  // The arguments of `pass` on these buffers (the forward with the declared epilogue).
  ConvPassArgs args(ConvPass pass, const ConvOptions& options) const;
};

// A candidate a backend offers: its choice (workspace and, from legacy cuDNN's search, Find's own time filled in)
// and the runner that runs it.
struct ConvCandidate {
  ConvAlgorithmChoice choice;
  std::shared_ptr<const ConvPassRunner> runner;
};

class CudaConvBackend {
 public:
  virtual ~CudaConvBackend() = default;
  virtual ConvBackend id() const = 0;
  // Why this backend cannot run `pass` of `shape` under `options` ("" when it may; it may still offer no candidate,
  // e.g. when cuDNN's heuristics find no engine for the shape).
  virtual std::string declines(const ConvShape& shape, const ConvOptions& options, ConvPass pass) const = 0;
  // The candidates worth timing, prepared, in the backend's own order of preference (never more than a handful:
  // each is timed). `search` false (autotune off): its heuristic first choice only, untimed. Each candidate's
  // workspace is at most `workspace_limit` bytes. `buffers` may be used to run a backend's own search.
  virtual std::vector<ConvCandidate> candidates(const Context& ctx, const ConvShape& shape, const ConvOptions& options,
                                                ConvPass pass, bool search, const ConvSearchBuffers& buffers,
                                                std::size_t workspace_limit) const = 0;
  // The runner of a choice this backend made before (the cache), its workspace re-read into `choice`; throws an
  // Error when the choice cannot be made again here (the planner then searches afresh).
  virtual std::shared_ptr<const ConvPassRunner> prepare(const Context& ctx, const ConvShape& shape,
                                                        const ConvOptions& options, ConvPass pass,
                                                        ConvAlgorithmChoice& choice) const = 0;
};

// The planner (kernels/cuda/conv_search.cpp): the candidate `pass` of `shape` runs under `options`, from the cache or
// a search (`searched` says which; autotune off: the heuristic choice, never searched).
ConvCandidate choose_conv_pass(const Context& ctx, const ConvShape& shape, const ConvOptions& options, ConvPass pass,
                               bool* searched);

// Every backend, in the order a tie between equal times is broken (legacy cuDNN first: the baseline).
const std::vector<const CudaConvBackend*>& conv_backends();
const CudaConvBackend& conv_backend(ConvBackend id);
// The backends themselves (each defined in its own file).
const CudaConvBackend& cudnn_conv_backend();
const CudaConvBackend& cudnn_graph_conv_backend();
const CudaConvBackend& cublaslt_conv_backend();
const CudaConvBackend& direct_conv_backend();

// After an unfused forward: y = act((y + z) + bias) in place (kernels/residual.inc's kernel), in options' layout and
// data type; does nothing unless the call asked for the epilogue.
void run_conv_epilogue(const Context& ctx, const ConvShape& shape, const ConvOptions& options,
                       const ConvPassArgs& args);

// Free device memory less a margin for cuDNN's own allocations and the other stream's feeds: the most a search
// workspace or a heuristic choice may take.
std::size_t conv_allocatable_bytes();

}  // namespace cuda
}  // namespace rosetta::kernels
