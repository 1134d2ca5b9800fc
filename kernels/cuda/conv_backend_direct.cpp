// The direct backend of the convolution (kernels/cuda/conv_backend.h): hand-written kernels for few input channels
// (kernels/cuda/conv_direct.h), the CNN's conv1, serving the forward pass (with any epilogue, fused into the kernel)
// and the filter gradient; the data gradient is left to the others (conv1 has none).
//
// Accepts: C <= kDirectMaxChannels and C*R*S <= kDirectMaxPatch (so no layer of ResNet-50: its stem is strided, its
// other layers have 64 channels or more), stride 1 (dilation 1 and groups 1 are the only ones the convolution has), either
// layout, fp32 / tf32 (both run CUDA-core FP32 arithmetic, at least as accurate as TF32) and bf16 (float sums, one
// rounding of the output), x and y under 2^31 elements (32-bit index math).
//
// Candidates, timed by the planner against every other backend's: the forward with 4 or 8 output channels per thread;
// the filter gradient with slices of 128, 256 or 512 pixels. ConvAlgorithmChoice::algo holds that number (variant the
// candidate's position), so a cached choice is remade from algo alone. Both passes are deterministic (no atomics).
#include <algorithm>
#include <climits>

#include "kernels/cuda/conv_backend.h"
#include "kernels/cuda/conv_direct.h"
#include "runtime/error.h"

namespace rosetta::kernels::cuda {
namespace {

constexpr int kForwardChannelsPerThread[] = {8, 4};
constexpr int kFilterSlicePixels[] = {256, 128, 512};

class DirectRunner final : public ConvPassRunner {
 public:
  DirectRunner(const ConvShape& shape, const ConvOptions& options, ConvPass pass, int algo)
      : shape_(shape), options_(options), pass_(pass), algo_(algo) {}

  bool fuses(bool) const override { return pass_ == ConvPass::forward; }

  void run(const Context& ctx, const ConvPassArgs& a) const override {
    const bool bf16_data = options_.precision == Precision::bf16;
    if (pass_ == ConvPass::forward) {
      run_direct_forward(ctx, shape_, options_.layout, bf16_data, algo_, a.x, a.w, a.epilogue ? a.bias : nullptr,
                         a.epilogue ? a.z : nullptr, a.epilogue && a.relu, a.out);
      return;
    }
    run_direct_backward_filter(ctx, shape_, options_.layout, bf16_data, algo_, a.x, a.dy, a.out, a.workspace);
  }

 private:
  ConvShape shape_;
  ConvOptions options_;
  ConvPass pass_;
  int algo_;  // forward: output channels per thread; filter gradient: pixels per slice
};

std::uint64_t workspace_of(const ConvShape& shape, ConvPass pass, int algo) {
  return pass == ConvPass::backward_filter ? direct_backward_filter_workspace(shape, algo) : 0;
}

ConvCandidate candidate(const ConvShape& shape, const ConvOptions& options, ConvPass pass, int algo, int variant) {
  ConvAlgorithmChoice c;
  c.backend = ConvBackend::direct;
  c.algo = algo;
  c.variant = variant;
  c.workspace_bytes = workspace_of(shape, pass, algo);
  c.deterministic = true;
  return ConvCandidate{c, std::make_shared<DirectRunner>(shape, options, pass, algo)};
}

template <std::size_t N>
bool one_of(const int (&values)[N], int v) {
  return std::find(std::begin(values), std::end(values), v) != std::end(values);
}

class DirectBackend final : public CudaConvBackend {
 public:
  ConvBackend id() const override { return ConvBackend::direct; }

  std::string declines(const ConvShape& s, const ConvOptions&, ConvPass pass) const override {
    if (pass == ConvPass::backward_data) return "the direct kernels serve the forward pass and the filter gradient";
    if (s.c > kDirectMaxChannels)
      return "more than " + std::to_string(kDirectMaxChannels) + " input channels (cuDNN's kernels are built for many)";
    if (s.c * s.r * s.s > kDirectMaxPatch) return "C*R*S above " + std::to_string(kDirectMaxPatch);
    if (s.stride_h != 1 || s.stride_w != 1) return "stride other than 1";
    if (s.n * s.c * s.h * s.w > INT_MAX || s.n * s.k * s.out_h() * s.out_w() > INT_MAX)
      return "2^31 or more elements (32-bit index math)";
    return "";
  }

  std::vector<ConvCandidate> candidates(const Context&, const ConvShape& shape, const ConvOptions& options,
                                        ConvPass pass, bool search, const ConvSearchBuffers&,
                                        std::size_t workspace_limit) const override {
    std::vector<ConvCandidate> out;
    const auto offer = [&](const auto& algos) {
      for (int v = 0; v < int(std::size(algos)) && (search || v == 0); ++v) {
        ConvCandidate c = candidate(shape, options, pass, algos[v], v);
        if (c.choice.workspace_bytes <= workspace_limit) out.push_back(std::move(c));
      }
    };
    if (pass == ConvPass::forward)
      offer(kForwardChannelsPerThread);
    else
      offer(kFilterSlicePixels);
    return out;
  }

  std::shared_ptr<const ConvPassRunner> prepare(const Context&, const ConvShape& shape, const ConvOptions& options,
                                                ConvPass pass, ConvAlgorithmChoice& choice) const override {
    const std::string why = declines(shape, options, pass);
    ROSETTA_CHECK(why.empty(), "the direct backend cannot run " << conv_choice_name(pass, choice) << " for "
                                                                << shape.str() << ": " << why);
    const bool known = pass == ConvPass::forward ? one_of(kForwardChannelsPerThread, choice.algo)
                                                 : one_of(kFilterSlicePixels, choice.algo);
    ROSETTA_CHECK(known, "the direct backend has no " << conv_pass_name(pass) << " candidate " << choice.algo << ": "
                                                      << shape.str());
    choice.workspace_bytes = workspace_of(shape, pass, choice.algo);
    return std::make_shared<DirectRunner>(shape, options, pass, choice.algo);
  }
};

}  // namespace

const CudaConvBackend& direct_conv_backend() {
  static const DirectBackend backend;
  return backend;
}

}  // namespace rosetta::kernels::cuda
