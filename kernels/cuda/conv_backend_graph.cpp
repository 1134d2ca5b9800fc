// The cuDNN graph-API backend of the convolution (kernels/cuda/conv_backend.h): the forward pass in NHWC, tf32 or
// bf16 (of an inference plan, or of a training plan whose gradient passes legacy cuDNN serves), as one operation
// graph with the declared epilogue fused (runtime fusion): conv -> (+ z) -> (+ bias) ->
// (ReLU), the order of kernels/reference/residual.h, every intermediate a virtual float tensor. A plan declared for
// ConvEpilogue::any builds the plain convolution and runs the epilogue kernel after it when a call asks for one.
// Written on cuDNN's backend API directly (cudnn_graph.h: descriptors, attributes, finalize), without
// cudnn-frontend: one file, no new dependency, and the variant pack under our control (below).
//
// Tensors: dimensions always (N, C, H, W) / (K, C, R, S) / (1, K, 1, 1), strides those of NHWC memory; x, w, y, z in
// the data type (CUDNN_DATA_FLOAT for tf32, CUDNN_DATA_BFLOAT16), the bias in the data type too (the conv's bf16
// rule), 16-byte aligned (rosetta's tensors and parameter views are 256- and 128-byte aligned). Convolution compute
// type float (bf16 accumulates in float); pointwise ops compute in float.
//
// Candidates: the engine heuristics (CUDNN_HEUR_MODE_A) list engine configurations for the graph; each that passes
// the precision's filter (no CUDNN_NUMERICAL_NOTE_DOWN_CONVERT_INPUTS or ..._REDUCED_PRECISION_REDUCTION: float
// accumulation, never FP16 conversion; no ..._NONDETERMINISTIC when the options ask for determinism) and whose
// execution plan finalizes (runtime-fusion engines compile with NVRTC here) is a candidate, the first kCandidates of
// them. A candidate is named by its engine's global index and its position in the heuristics' list; the cache
// remakes it from the position and checks the index.
//
// Variant packs: cudnnBackendExecute takes the data pointers in a finalized variant-pack descriptor. A runner builds
// one the first time it sees a set of pointers (host memory only: nothing the device waits on, no device
// allocation) and reuses it while the pointers stay the same, which in a model's steady state and in a CUDA graph's
// capture they do; a call with other pointers builds a new one.
#include <algorithm>
#include <array>
#include <mutex>
#include <vector>

#include "kernels/cuda/conv_backend.h"
#include "runtime/cuda_check.h"

namespace rosetta::kernels::cuda {
namespace {

constexpr int kCandidates = 3;
constexpr int kHeuristicResults = 16;  // engine configurations asked of the heuristics (their list is short)
constexpr std::int64_t kAlignment = 16;

// Unique ids of the graph's tensors.
enum Uid : std::int64_t { kX = 1, kW = 2, kBias = 3, kZ = 4, kY = 5, kConv = 101, kWithZ = 102, kWithBias = 103 };

// One backend descriptor, destroyed with its owner.
class Descriptor {
 public:
  Descriptor(cudnnBackendDescriptorType_t type, const std::string& what) : what_(what) {
    ROSETTA_CUDNN_CHECK(cudnnBackendCreateDescriptor(type, &d_), what_);
  }
  ~Descriptor() {
    if (d_) cudnnBackendDestroyDescriptor(d_);  // a destructor must not throw; nothing useful is left to report
  }
  Descriptor(const Descriptor&) = delete;
  Descriptor& operator=(const Descriptor&) = delete;

  cudnnBackendDescriptor_t get() const { return d_; }
  template <typename T>
  void set(cudnnBackendAttributeName_t name, cudnnBackendAttributeType_t type, const T* values, std::int64_t count) {
    ROSETTA_CUDNN_CHECK(cudnnBackendSetAttribute(d_, name, type, count, values), what_ << " attribute " << name);
  }
  template <typename T>
  void set(cudnnBackendAttributeName_t name, cudnnBackendAttributeType_t type, const T& value) {
    set(name, type, &value, 1);
  }
  void set(cudnnBackendAttributeName_t name, const Descriptor& value) {
    const cudnnBackendDescriptor_t d = value.get();
    set(name, CUDNN_TYPE_BACKEND_DESCRIPTOR, &d, 1);
  }
  void finalize() { ROSETTA_CUDNN_CHECK(cudnnBackendFinalize(d_), what_ << " finalize"); }
  // Finalize, reporting whether cuDNN supports what was described (for graphs and plans it may not).
  bool try_finalize(std::string* why) {
    const cudnnStatus_t status = cudnnBackendFinalize(d_);
    if (status == CUDNN_STATUS_SUCCESS) return true;
    *why = cudnn_failure(status);
    return false;
  }

 private:
  cudnnBackendDescriptor_t d_ = nullptr;
  std::string what_;
};

cudnnDataType_t data_type(Precision precision) {
  return precision == Precision::bf16 ? CUDNN_DATA_BFLOAT16 : CUDNN_DATA_FLOAT;
}

// A tensor of (N, C, H, W)-ordered dimensions stored NHWC.
std::unique_ptr<Descriptor> tensor(std::int64_t uid, cudnnDataType_t type, std::array<std::int64_t, 4> dims,
                                   bool is_virtual, const std::string& what) {
  auto t = std::make_unique<Descriptor>(CUDNN_BACKEND_TENSOR_DESCRIPTOR, what + " tensor " + std::to_string(uid));
  const std::int64_t c = dims[1], h = dims[2], w = dims[3];
  const std::array<std::int64_t, 4> strides{h * w * c, 1, w * c, c};
  t->set(CUDNN_ATTR_TENSOR_DATA_TYPE, CUDNN_TYPE_DATA_TYPE, type);
  t->set(CUDNN_ATTR_TENSOR_DIMENSIONS, CUDNN_TYPE_INT64, dims.data(), 4);
  t->set(CUDNN_ATTR_TENSOR_STRIDES, CUDNN_TYPE_INT64, strides.data(), 4);
  t->set(CUDNN_ATTR_TENSOR_UNIQUE_ID, CUDNN_TYPE_INT64, uid);
  t->set(CUDNN_ATTR_TENSOR_BYTE_ALIGNMENT, CUDNN_TYPE_INT64, kAlignment);
  t->set(CUDNN_ATTR_TENSOR_IS_VIRTUAL, CUDNN_TYPE_BOOLEAN, is_virtual);
  t->finalize();
  return t;
}

// The operation graph of one convolution with its epilogue, and every descriptor it refers to (kept alive with it).
struct Graph {
  std::vector<std::unique_ptr<Descriptor>> parts;
  std::unique_ptr<Descriptor> graph;
  std::vector<std::int64_t> uids;  // the non-virtual tensors, in the order a call's pointers are given
  bool supported = false;
  std::string why;  // when not supported
};

Descriptor& keep(Graph& g, std::unique_ptr<Descriptor> d) {
  g.parts.push_back(std::move(d));
  return *g.parts.back();
}

// y = a + b, or relu(a) (b null), all in float.
Descriptor& pointwise(Graph& g, cudnnPointwiseMode_t mode, const Descriptor& a, const Descriptor* b, const Descriptor& y,
                      const std::string& what) {
  Descriptor& pw = keep(g, std::make_unique<Descriptor>(CUDNN_BACKEND_POINTWISE_DESCRIPTOR, what + " pointwise"));
  pw.set(CUDNN_ATTR_POINTWISE_MODE, CUDNN_TYPE_POINTWISE_MODE, mode);
  pw.set(CUDNN_ATTR_POINTWISE_MATH_PREC, CUDNN_TYPE_DATA_TYPE, CUDNN_DATA_FLOAT);
  pw.finalize();
  Descriptor& op =
      keep(g, std::make_unique<Descriptor>(CUDNN_BACKEND_OPERATION_POINTWISE_DESCRIPTOR, what + " pointwise op"));
  op.set(CUDNN_ATTR_OPERATION_POINTWISE_PW_DESCRIPTOR, pw);
  op.set(CUDNN_ATTR_OPERATION_POINTWISE_XDESC, a);
  if (b) op.set(CUDNN_ATTR_OPERATION_POINTWISE_BDESC, *b);
  op.set(CUDNN_ATTR_OPERATION_POINTWISE_YDESC, y);
  const float one = 1.0f;
  op.set(CUDNN_ATTR_OPERATION_POINTWISE_ALPHA1, CUDNN_TYPE_FLOAT, one);
  if (b) op.set(CUDNN_ATTR_OPERATION_POINTWISE_ALPHA2, CUDNN_TYPE_FLOAT, one);
  op.finalize();
  return op;
}

Graph build_graph(const Context& ctx, const ConvShape& s, const ConvOptions& options) {
  const std::string what = "cuDNN graph of convolution " + s.str();
  const cudnnDataType_t type = data_type(options.precision);
  const bool fused = options.epilogue != ConvEpilogue::any;
  const bool residual = conv_epilogue_has_residual(options.epilogue), relu = conv_epilogue_has_relu(options.epilogue);
  Graph g;
  const std::array<std::int64_t, 4> y_dims{s.n, s.k, s.out_h(), s.out_w()};
  Descriptor& x = keep(g, tensor(kX, type, {s.n, s.c, s.h, s.w}, false, what));
  Descriptor& w = keep(g, tensor(kW, type, {s.k, s.c, s.r, s.s}, false, what));
  Descriptor& y = keep(g, tensor(kY, type, y_dims, false, what));
  Descriptor& conv_out = fused ? keep(g, tensor(kConv, CUDNN_DATA_FLOAT, y_dims, true, what)) : y;

  Descriptor& conv = keep(g, std::make_unique<Descriptor>(CUDNN_BACKEND_CONVOLUTION_DESCRIPTOR, what));
  const std::int64_t dims = 2;
  const std::array<std::int64_t, 2> dilation{1, 1}, stride{s.stride_h, s.stride_w}, padding{s.pad_h, s.pad_w};
  conv.set(CUDNN_ATTR_CONVOLUTION_COMP_TYPE, CUDNN_TYPE_DATA_TYPE, CUDNN_DATA_FLOAT);
  conv.set(CUDNN_ATTR_CONVOLUTION_CONV_MODE, CUDNN_TYPE_CONVOLUTION_MODE, CUDNN_CROSS_CORRELATION);
  conv.set(CUDNN_ATTR_CONVOLUTION_SPATIAL_DIMS, CUDNN_TYPE_INT64, dims);
  conv.set(CUDNN_ATTR_CONVOLUTION_DILATIONS, CUDNN_TYPE_INT64, dilation.data(), 2);
  conv.set(CUDNN_ATTR_CONVOLUTION_FILTER_STRIDES, CUDNN_TYPE_INT64, stride.data(), 2);
  conv.set(CUDNN_ATTR_CONVOLUTION_PRE_PADDINGS, CUDNN_TYPE_INT64, padding.data(), 2);
  conv.set(CUDNN_ATTR_CONVOLUTION_POST_PADDINGS, CUDNN_TYPE_INT64, padding.data(), 2);
  conv.finalize();
  Descriptor& forward =
      keep(g, std::make_unique<Descriptor>(CUDNN_BACKEND_OPERATION_CONVOLUTION_FORWARD_DESCRIPTOR, what + " forward"));
  forward.set(CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_X, x);
  forward.set(CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_W, w);
  forward.set(CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_Y, conv_out);
  forward.set(CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_CONV_DESC, conv);
  const float one = 1.0f, zero = 0.0f;
  forward.set(CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_ALPHA, CUDNN_TYPE_FLOAT, one);
  forward.set(CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_BETA, CUDNN_TYPE_FLOAT, zero);
  forward.finalize();
  std::vector<cudnnBackendDescriptor_t> ops{forward.get()};
  g.uids = {kX, kW, kY};

  if (fused) {
    // (conv + z) + bias, then the ReLU: the last op writes y.
    const Descriptor* last = &conv_out;
    if (residual) {
      Descriptor& z = keep(g, tensor(kZ, type, y_dims, false, what));
      Descriptor& with_z = keep(g, tensor(kWithZ, CUDNN_DATA_FLOAT, y_dims, true, what));
      ops.push_back(pointwise(g, CUDNN_POINTWISE_ADD, *last, &z, with_z, what).get());
      last = &with_z;
      g.uids.push_back(kZ);
    }
    Descriptor& bias = keep(g, tensor(kBias, type, {1, s.k, 1, 1}, false, what));
    Descriptor& with_bias = relu ? keep(g, tensor(kWithBias, CUDNN_DATA_FLOAT, y_dims, true, what)) : y;
    ops.push_back(pointwise(g, CUDNN_POINTWISE_ADD, *last, &bias, with_bias, what).get());
    g.uids.push_back(kBias);
    if (relu) ops.push_back(pointwise(g, CUDNN_POINTWISE_RELU_FWD, with_bias, nullptr, y, what).get());
  }

  g.graph = std::make_unique<Descriptor>(CUDNN_BACKEND_OPERATIONGRAPH_DESCRIPTOR, what);
  g.graph->set(CUDNN_ATTR_OPERATIONGRAPH_OPS, CUDNN_TYPE_BACKEND_DESCRIPTOR, ops.data(),
               static_cast<std::int64_t>(ops.size()));
  const cudnnHandle_t handle = ctx.cudnn();
  g.graph->set(CUDNN_ATTR_OPERATIONGRAPH_HANDLE, CUDNN_TYPE_HANDLE, handle);
  g.supported = g.graph->try_finalize(&g.why);
  return g;
}

// The heuristics' engine configurations for a finalized graph, in their order (they refer to the graph: keep it).
std::vector<std::shared_ptr<Descriptor>> engine_configs(const Graph& g, const std::string& what) {
  Descriptor heuristics(CUDNN_BACKEND_ENGINEHEUR_DESCRIPTOR, what + " heuristics");
  heuristics.set(CUDNN_ATTR_ENGINEHEUR_OPERATION_GRAPH, *g.graph);
  heuristics.set(CUDNN_ATTR_ENGINEHEUR_MODE, CUDNN_TYPE_HEUR_MODE, CUDNN_HEUR_MODE_A);
  std::string why;
  if (!heuristics.try_finalize(&why)) return {};  // no heuristics for this graph: no candidates
  std::vector<std::shared_ptr<Descriptor>> configs;
  std::vector<cudnnBackendDescriptor_t> raw;
  for (int i = 0; i < kHeuristicResults; ++i) {
    configs.push_back(std::make_shared<Descriptor>(CUDNN_BACKEND_ENGINECFG_DESCRIPTOR, what + " engine config"));
    raw.push_back(configs.back()->get());
  }
  std::int64_t returned = 0;
  ROSETTA_CUDNN_CHECK(cudnnBackendGetAttribute(heuristics.get(), CUDNN_ATTR_ENGINEHEUR_RESULTS,
                                               CUDNN_TYPE_BACKEND_DESCRIPTOR, kHeuristicResults, &returned, raw.data()),
                      what << " heuristics' results");
  configs.resize(static_cast<std::size_t>(std::clamp<std::int64_t>(returned, 0, kHeuristicResults)));
  return configs;
}

// The engine behind a configuration: its global index and whether its numerical notes fit the options.
struct EngineInfo {
  std::int64_t global_index = -1;
  bool acceptable = false;
  bool deterministic = true;
};

EngineInfo engine_info(const Descriptor& config, const ConvOptions& options, const std::string& what) {
  Descriptor engine(CUDNN_BACKEND_ENGINE_DESCRIPTOR, what + " engine");
  cudnnBackendDescriptor_t raw = engine.get();
  std::int64_t count = 0;
  ROSETTA_CUDNN_CHECK(cudnnBackendGetAttribute(config.get(), CUDNN_ATTR_ENGINECFG_ENGINE, CUDNN_TYPE_BACKEND_DESCRIPTOR,
                                               1, &count, &raw),
                      what << " engine of a configuration");
  EngineInfo info;
  ROSETTA_CUDNN_CHECK(cudnnBackendGetAttribute(engine.get(), CUDNN_ATTR_ENGINE_GLOBAL_INDEX, CUDNN_TYPE_INT64, 1, &count,
                                               &info.global_index),
                      what << " engine index");
  std::array<cudnnBackendNumericalNote_t, CUDNN_NUMERICAL_NOTE_TYPE_COUNT> notes{};
  std::int64_t note_count = 0;
  ROSETTA_CUDNN_CHECK(cudnnBackendGetAttribute(engine.get(), CUDNN_ATTR_ENGINE_NUMERICAL_NOTE,
                                               CUDNN_TYPE_NUMERICAL_NOTE, CUDNN_NUMERICAL_NOTE_TYPE_COUNT, &note_count,
                                               notes.data()),
                      what << " engine notes");
  info.acceptable = true;
  for (std::int64_t i = 0; i < std::min<std::int64_t>(note_count, CUDNN_NUMERICAL_NOTE_TYPE_COUNT); ++i) {
    const cudnnBackendNumericalNote_t note = notes[static_cast<std::size_t>(i)];
    if (note == CUDNN_NUMERICAL_NOTE_DOWN_CONVERT_INPUTS || note == CUDNN_NUMERICAL_NOTE_REDUCED_PRECISION_REDUCTION)
      info.acceptable = false;
    if (note == CUDNN_NUMERICAL_NOTE_NONDETERMINISTIC) info.deterministic = false;
  }
  if (options.deterministic && !info.deterministic) info.acceptable = false;
  return info;
}

// A graph, its chosen engine configuration's execution plan, and the variant packs of the pointers it ran on.
class GraphRunner final : public ConvPassRunner {
 public:
  // A call's data pointers in graph_->uids' order (x, w, y, and z and bias where the graph has them).
  using Pointers = std::array<void*, 5>;

  GraphRunner(std::shared_ptr<const Graph> graph, std::shared_ptr<Descriptor> config, std::unique_ptr<Descriptor> plan,
              std::int64_t workspace_bytes, const ConvShape& shape, const ConvOptions& options)
      : graph_(std::move(graph)),
        config_(std::move(config)),
        plan_(std::move(plan)),
        workspace_bytes_(workspace_bytes),
        shape_(shape),
        options_(options) {}

  bool fuses(bool relu) const override {
    return options_.epilogue != ConvEpilogue::any && relu == conv_epilogue_has_relu(options_.epilogue);
  }

  void run(const Context& ctx, const ConvPassArgs& a) const override {
    const bool fused = options_.epilogue != ConvEpilogue::any;
    ROSETTA_CHECK(!fused || a.epilogue, "a graph-API plan fused for " << conv_epilogue_name(options_.epilogue)
                                                                      << " called without its epilogue: "
                                                                      << shape_.str());
    Pointers pointers{};  // in graph_->uids' order; the rest null
    for (std::size_t i = 0; i < graph_->uids.size(); ++i) {
      switch (graph_->uids[i]) {
        case kX: pointers[i] = const_cast<void*>(a.x); break;
        case kW: pointers[i] = const_cast<void*>(a.w); break;
        case kY: pointers[i] = a.out; break;
        case kZ: pointers[i] = const_cast<void*>(a.z); break;
        case kBias: pointers[i] = const_cast<void*>(a.bias); break;
        default: ROSETTA_FAIL("graph tensor " << graph_->uids[i] << " has no pointer");
      }
      ROSETTA_CHECK(pointers[i] != nullptr && reinterpret_cast<std::uintptr_t>(pointers[i]) % kAlignment == 0,
                    "graph-API convolution pointer " << pointers[i] << " not " << kAlignment
                                                     << "-byte aligned: " << shape_.str());
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      const Descriptor& pack = pack_for(pointers, a.workspace);
      ROSETTA_CUDNN_CHECK(cudnnBackendExecute(ctx.cudnn(), plan_->get(), pack.get()),
                          "graph-API convolution " << shape_.str());
    }
    if (!fused) run_conv_epilogue(ctx, shape_, options_, a);
  }

  std::int64_t workspace_bytes() const { return workspace_bytes_; }

 private:
  // The variant pack of these pointers and workspace: one already built for them, else a new one in the place of
  // the least recently built (the caller holds mutex_).
  const Descriptor& pack_for(const Pointers& pointers, void* workspace) const {
    for (const Pack& p : packs_)
      if (p.descriptor && p.pointers == pointers && p.workspace == workspace) return *p.descriptor;
    Pack& p = packs_[next_pack_];
    next_pack_ = (next_pack_ + 1) % packs_.size();
    p.descriptor = std::make_unique<Descriptor>(CUDNN_BACKEND_VARIANT_PACK_DESCRIPTOR,
                                                "variant pack of convolution " + shape_.str());
    p.descriptor->set(CUDNN_ATTR_VARIANT_PACK_UNIQUE_IDS, CUDNN_TYPE_INT64, graph_->uids.data(),
                      static_cast<std::int64_t>(graph_->uids.size()));
    p.descriptor->set(CUDNN_ATTR_VARIANT_PACK_DATA_POINTERS, CUDNN_TYPE_VOID_PTR, pointers.data(),
                      static_cast<std::int64_t>(graph_->uids.size()));
    p.descriptor->set(CUDNN_ATTR_VARIANT_PACK_WORKSPACE, CUDNN_TYPE_VOID_PTR, workspace);
    p.descriptor->finalize();
    p.pointers = pointers;
    p.workspace = workspace;
    return *p.descriptor;
  }

  std::shared_ptr<const Graph> graph_;  // what the configuration and the plan refer to
  std::shared_ptr<Descriptor> config_;
  std::unique_ptr<Descriptor> plan_;
  std::int64_t workspace_bytes_;
  ConvShape shape_;
  ConvOptions options_;
  // The variant packs of the pointer sets this runner ran on, host state a const runner keeps (its one mutable
  // part). Four: a step over two feed slots (the CNN's, the extraction's) and its eager warm-up find theirs built, so
  // after each slot's first call no descriptor is made in a step, eager or captured.
  struct Pack {
    std::unique_ptr<Descriptor> descriptor;
    Pointers pointers{};
    void* workspace = nullptr;
  };
  mutable std::mutex mutex_;
  mutable std::array<Pack, 4> packs_;
  mutable std::size_t next_pack_ = 0;
};

// The execution plan of one engine configuration, or null when it does not finalize (not supported here).
std::unique_ptr<Descriptor> execution_plan(const Context& ctx, const Descriptor& config, const std::string& what,
                                           std::int64_t* workspace_bytes) {
  auto plan = std::make_unique<Descriptor>(CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR, what + " execution plan");
  const cudnnHandle_t handle = ctx.cudnn();
  plan->set(CUDNN_ATTR_EXECUTION_PLAN_HANDLE, CUDNN_TYPE_HANDLE, handle);
  plan->set(CUDNN_ATTR_EXECUTION_PLAN_ENGINE_CONFIG, config);
  std::string why;
  if (!plan->try_finalize(&why)) return nullptr;
  std::int64_t count = 0;
  ROSETTA_CUDNN_CHECK(cudnnBackendGetAttribute(plan->get(), CUDNN_ATTR_EXECUTION_PLAN_WORKSPACE_SIZE, CUDNN_TYPE_INT64,
                                               1, &count, workspace_bytes),
                      what << " workspace size");
  return plan;
}

class GraphBackend final : public CudaConvBackend {
 public:
  ConvBackend id() const override { return ConvBackend::cudnn_graph; }

  std::string declines(const ConvShape&, const ConvOptions& options, ConvPass pass) const override {
    if (pass != ConvPass::forward) return "the graph-API backend serves the forward pass only";
    if (options.layout != Layout::nhwc) return "the graph-API backend runs NHWC";
    if (options.precision == Precision::fp32) return "the graph-API backend runs tf32 and bf16 (not strict fp32)";
    return "";
  }

  std::vector<ConvCandidate> candidates(const Context& ctx, const ConvShape& shape, const ConvOptions& options,
                                        ConvPass, bool search, const ConvSearchBuffers&,
                                        std::size_t workspace_limit) const override {
    const std::string what = "graph-API convolution " + shape.str();
    std::vector<ConvCandidate> out;
    const int wanted = search ? kCandidates : 1;
    const Configurations found = configurations(ctx, shape, options, what);
    for (std::size_t i = 0; i < found.configs.size() && static_cast<int>(out.size()) < wanted; ++i) {
      const EngineInfo info = engine_info(*found.configs[i], options, what);
      if (!info.acceptable) continue;
      ConvAlgorithmChoice choice;
      choice.backend = ConvBackend::cudnn_graph;
      choice.algo = static_cast<std::int32_t>(info.global_index);
      choice.variant = static_cast<std::int32_t>(i);
      choice.deterministic = info.deterministic;
      std::shared_ptr<const ConvPassRunner> runner =
          make_runner(ctx, shape, options, found.graph, found.configs[i], choice, what);
      if (!runner || choice.workspace_bytes > workspace_limit) continue;
      out.push_back(ConvCandidate{choice, std::move(runner)});
    }
    return out;
  }

  std::shared_ptr<const ConvPassRunner> prepare(const Context& ctx, const ConvShape& shape, const ConvOptions& options,
                                                ConvPass pass, ConvAlgorithmChoice& choice) const override {
    const std::string why = declines(shape, options, pass);
    ROSETTA_CHECK(why.empty(), "cannot remake " << conv_choice_name(pass, choice) << ": " << why);
    const std::string what = "graph-API convolution " + shape.str();
    const Configurations found = configurations(ctx, shape, options, what);
    const std::size_t at = static_cast<std::size_t>(choice.variant);
    ROSETTA_CHECK(choice.variant >= 0 && at < found.configs.size() &&
                      engine_info(*found.configs[at], options, what).global_index == choice.algo,
                  "cuDNN's heuristics no longer offer engine " << choice.algo << " at position " << choice.variant
                                                               << " for " << what);
    std::shared_ptr<const ConvPassRunner> runner =
        make_runner(ctx, shape, options, found.graph, found.configs[at], choice, what);
    ROSETTA_CHECK(runner, "engine " << choice.algo << "'s execution plan no longer finalizes for " << what);
    return runner;
  }

 private:
  // A graph and the heuristics' configurations for it (none when cuDNN does not support the graph).
  struct Configurations {
    std::shared_ptr<const Graph> graph;
    std::vector<std::shared_ptr<Descriptor>> configs;
  };

  static Configurations configurations(const Context& ctx, const ConvShape& shape, const ConvOptions& options,
                                       const std::string& what) {
    Configurations found;
    auto graph = std::make_shared<Graph>(build_graph(ctx, shape, options));
    if (!graph->supported) return found;
    found.configs = engine_configs(*graph, what);
    found.graph = std::move(graph);
    return found;
  }

  // The runner of one configuration, its workspace written into `choice`; null when the configuration's plan does
  // not finalize.
  static std::shared_ptr<const ConvPassRunner> make_runner(const Context& ctx, const ConvShape& shape,
                                                           const ConvOptions& options,
                                                           const std::shared_ptr<const Graph>& graph,
                                                           const std::shared_ptr<Descriptor>& config,
                                                           ConvAlgorithmChoice& choice, const std::string& what) {
    std::int64_t workspace = 0;
    std::unique_ptr<Descriptor> plan = execution_plan(ctx, *config, what, &workspace);
    if (!plan) return nullptr;
    choice.workspace_bytes = static_cast<std::uint64_t>(std::max<std::int64_t>(workspace, 0));
    return std::make_shared<GraphRunner>(graph, config, std::move(plan), workspace, shape, options);
  }
};

}  // namespace

const CudaConvBackend& cudnn_graph_conv_backend() {
  static const GraphBackend backend;
  return backend;
}

}  // namespace rosetta::kernels::cuda
