// ResNet50 (models/resnet50.h): parameter names and shapes against torchvision's, weight-file errors (missing,
// wrong shape, wrong dtype, truncated; fc.* and num_batches_tracked tolerated), BN folding against the unfolded
// network, NHWC against NCHW on the CPU (bit for bit), the CPU forward of the whole network against torchvision's
// resnet50 (Debian's python3-torchvision, skipped without it), and on a GPU: every convolution unit and the whole
// network against the CPU in fp32 and tf32, NCHW and NHWC, fused against unfused, and a captured CUDA graph against
// eager in both layouts; bf16 (NHWC): the whole network against fp32 on the CPU, and on a GPU every bf16 unit and
// the network against the CPU bf16 twin, and graph replay (skipped without a device).
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "kernels/elementwise.h"
#include "layers/checkpoint.h"
#include "models/resnet50.h"
#include "runtime/cuda_graph.h"
#include "runtime/philox.h"
#include "runtime/safetensors.h"
#include "tests/support/cuda.h"
#include "tests/support/paths.h"
#include "tests/support/python.h"
#include "tests/support/temp_dir.h"

namespace rosetta {
namespace {

constexpr std::int64_t kBatch = 2;
constexpr std::int64_t kSize = 64;  // 64x64 images: the layer4 maps are 2x2, every code path still runs

// Images in [0, 1) from Philox (the CLI's rule for random images).
Tensor random_images(std::int64_t n, std::int64_t size, std::uint64_t seed) {
  Tensor images = Tensor::empty({n, 3, size, size}, DType::f32);
  float* p = images.data<float>();
  for (std::int64_t i = 0; i < images.numel(); ++i) p[i] = philox_uniform(seed, 7, static_cast<std::uint64_t>(i));
  return images;
}

ResNet50Options small_options(bool fold, bool fuse = true, Precision precision = Precision::fp32,
                              Layout layout = Layout::nchw) {
  ResNet50Options o;
  o.layout = layout;
  o.batch = kBatch;
  o.image_size = kSize;
  o.fold_bn = fold;
  o.fuse = fuse;
  o.precision = precision;
  return o;
}

std::vector<float> features(Device device, const ResNet50Options& options, std::uint64_t seed, const Tensor& images) {
  Context& ctx = Context::of(device);
  ResNet50 model(device);
  model.init_random(seed);
  model.setup(ctx, options);
  return model.forward(ctx, images.to(device)).to_vector();
}

double norm(const std::vector<float>& v) {
  double s = 0;
  for (float x : v) s += double(x) * x;
  return std::sqrt(s);
}

// max |a - b| / ||b||: the error relative to the feature vector's scale (features are non-negative averages of
// ReLU outputs; many are near 0, so an element-wise relative bound would be meaningless there).
double relative_max_error(const std::vector<float>& a, const std::vector<float>& b) {
  double worst = 0;
  for (std::size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::abs(double(a[i]) - b[i]));
  return worst / norm(b);
}

TEST(ResNet50, NamesAndShapesAreTorchvisions) {
  ResNet50 model(Device::cpu);
  const ParameterSet& p = model.parameters();
  // torchvision resnet50: 53 convolutions, 53 batch norms (4 tensors each), without fc and num_batches_tracked.
  EXPECT_EQ(p.size(), 53 * 5);
  EXPECT_EQ(model.convolutions(), 53);
  EXPECT_EQ(p.shape(p.find("conv1.weight")), Shape({64, 3, 7, 7}));
  EXPECT_EQ(p.shape(p.find("bn1.running_var")), Shape({64}));
  EXPECT_EQ(p.shape(p.find("layer1.0.conv1.weight")), Shape({64, 64, 1, 1}));
  EXPECT_EQ(p.shape(p.find("layer1.0.downsample.0.weight")), Shape({256, 64, 1, 1}));
  EXPECT_EQ(p.shape(p.find("layer2.0.conv2.weight")), Shape({128, 128, 3, 3}));
  EXPECT_EQ(p.shape(p.find("layer3.5.bn3.running_mean")), Shape({1024}));
  EXPECT_EQ(p.shape(p.find("layer4.2.conv3.weight")), Shape({2048, 512, 1, 1}));
  EXPECT_LT(p.find("layer1.1.downsample.0.weight"), 0);
  // 25,557,032 parameters in torchvision's resnet50, less fc (2048 * 1000 + 1000), plus the running statistics
  // (2 per BN channel: 2 * 26,560).
  EXPECT_EQ(p.parameter_elements(), 25557032 - 2049000 + 2 * 26560);
}

TEST(ResNet50, RandomBatchNormStatisticsAreRealistic) {
  ResNet50 model(Device::cpu);
  model.init_random(3);
  const ParameterSet& p = model.parameters();
  for (int i = 0; i < p.size(); ++i) {
    if (p.name(i).find("running_var") == std::string::npos) continue;
    for (float v : p.value(i).to_vector()) ASSERT_GE(v, 0.5f) << p.name(i);
  }
}

// The weight-file checks: one InputError naming every problem.
class ResNet50Weights : public ::testing::Test {
 protected:
  std::string save_valid(const std::string& name) {
    ResNet50 model(Device::cpu);
    model.init_random(1);
    const std::string path = dir_.file(name);
    save_parameters(model.parameters(), path);
    return path;
  }
  // All tensors of a valid file, with `edit` applied, written to `name`.
  std::string rewrite(const std::string& name, const std::function<void(NamedTensors&)>& edit) {
    const SafetensorsFile file = SafetensorsFile::open(save_valid("valid.safetensors"));
    NamedTensors tensors;
    for (const SafetensorsEntry& e : file.entries()) tensors.emplace_back(e.name, file.read(e.name));
    edit(tensors);
    const std::string path = dir_.file(name);
    write_safetensors(path, tensors);
    return path;
  }
  std::string load_error(const std::string& path) {
    ResNet50 model(Device::cpu);
    try {
      model.load(path);
    } catch (const InputError& e) {
      return e.what();
    }
    return "";
  }
  testing::TempDir dir_;
};

TEST_F(ResNet50Weights, ValidFileWithHeadAndCountersLoads) {
  const std::string path = rewrite("tv.safetensors", [](NamedTensors& t) {
    t.emplace_back("fc.weight", Tensor::zeros({1000, 2048}, DType::f32));
    t.emplace_back("fc.bias", Tensor::zeros({1000}, DType::f32));
    t.emplace_back("bn1.num_batches_tracked", Tensor::zeros({1}, DType::u64));
  });
  ResNet50 model(Device::cpu);
  model.load(path);
  ResNet50 reference(Device::cpu);
  reference.init_random(1);
  EXPECT_EQ(model.parameters().values().to_vector(), reference.parameters().values().to_vector());
}

TEST_F(ResNet50Weights, MissingTensorIsNamed) {
  const std::string path = rewrite("missing.safetensors", [](NamedTensors& t) {
    for (auto it = t.begin(); it != t.end(); ++it)
      if (it->first == "layer3.2.bn2.running_var") {
        t.erase(it);
        break;
      }
  });
  EXPECT_NE(load_error(path).find("missing layer3.2.bn2.running_var"), std::string::npos) << load_error(path);
}

TEST_F(ResNet50Weights, WrongShapeAndUnexpectedAreAllReported) {
  const std::string path = rewrite("shape.safetensors", [](NamedTensors& t) {
    for (auto& [name, tensor] : t)
      if (name == "layer1.0.conv2.weight") tensor = Tensor::zeros({64, 64, 1, 1}, DType::f32);
    t.emplace_back("layer9.0.conv1.weight", Tensor::zeros({1}, DType::f32));
  });
  const std::string error = load_error(path);
  EXPECT_NE(error.find("layer1.0.conv2.weight has shape (64, 64, 1, 1), expected (64, 64, 3, 3)"), std::string::npos)
      << error;
  EXPECT_NE(error.find("unexpected layer9.0.conv1.weight"), std::string::npos) << error;
}

TEST_F(ResNet50Weights, WrongDtypeIsNamed) {
  const std::string path = rewrite("dtype.safetensors", [](NamedTensors& t) {
    for (auto& [name, tensor] : t)
      if (name == "bn1.weight") tensor = Tensor::zeros({64}, DType::i32);
  });
  EXPECT_NE(load_error(path).find("bn1.weight has dtype I32, expected F32"), std::string::npos) << load_error(path);
}

TEST_F(ResNet50Weights, TruncatedFileIsOneError) {
  const std::string valid = save_valid("full.safetensors");
  const std::string bytes = testing::read_file(valid);
  const std::string path = dir_.file("truncated.safetensors");
  testing::write_file(path, bytes.substr(0, bytes.size() / 2));
  const std::string error = load_error(path);
  EXPECT_NE(error.find(path), std::string::npos) << error;
  EXPECT_EQ(error.find('\n'), std::string::npos) << error;
}

// Folding BN into the convolutions changes only rounding: folded = unfolded within 1e-5 of the feature norm
// (float rounding of the folded weights, ~6e-8 relative each, carried through 53 layers; measured 6e-8, so the
// bound leaves two orders of magnitude).
TEST(ResNet50, FoldedEqualsUnfoldedOnCpu) {
  const Tensor images = random_images(kBatch, kSize, 11);
  const std::vector<float> unfolded = features(Device::cpu, small_options(false), 5, images);
  const std::vector<float> folded = features(Device::cpu, small_options(true, false), 5, images);
  const std::vector<float> fused = features(Device::cpu, small_options(true, true), 5, images);
  ASSERT_EQ(unfolded.size(), std::size_t(kBatch * ResNet50::kFeatures));
  EXPECT_GT(norm(unfolded), 0.0);
  EXPECT_LT(relative_max_error(folded, unfolded), 1e-5);
  EXPECT_LT(relative_max_error(fused, unfolded), 1e-5);
}

// The CPU NHWC network runs the NCHW sums on transposed data (kernels/cpu/conv.cpp, the NHWC pools): the same
// features, bit for bit, folded and fused, with and without the normalisation. NHWC without fold_bn is refused.
TEST(ResNet50, NhwcEqualsNchwOnCpu) {
  const Tensor images = random_images(kBatch, kSize, 13);
  for (bool fuse : {false, true})
    for (bool normalize : {false, true}) {
      SCOPED_TRACE(std::string(fuse ? "fused" : "folded") + (normalize ? " normalized" : ""));
      ResNet50Options nchw = small_options(true, fuse);
      ResNet50Options nhwc = small_options(true, fuse, Precision::fp32, Layout::nhwc);
      nchw.normalize = nhwc.normalize = normalize;
      const std::vector<float> expected = features(Device::cpu, nchw, 5, images);
      EXPECT_GT(norm(expected), 0.0);
      EXPECT_EQ(features(Device::cpu, nhwc, 5, images), expected);
    }
  ResNet50 model(Device::cpu);
  EXPECT_THROW(model.setup(Context::cpu(), small_options(false, false, Precision::fp32, Layout::nhwc)),
               Error);
}

// The options' rules, each named by the option it breaks (the CLI words them as flags): bf16 needs NHWC and folded
// batch norm, NHWC needs folded batch norm, a forced cudnn-graph needs NHWC and tf32 or bf16; the other backends
// may be forced anywhere (they serve what they accept, legacy cuDNN the rest).
TEST(ResNet50, OptionRulesIncludeTheForcedBackend) {
  const auto rule_of = [](ResNet50Options o) {
    const std::optional<OptionRule> rule = o.broken_rule();
    return rule ? rule->option + " " + rule->value + " needs " + rule->required + " " + rule->required_value : "";
  };
  ResNet50Options o = small_options(true, true, Precision::bf16, Layout::nchw);
  EXPECT_EQ(rule_of(o), "precision bf16 needs layout nhwc");
  o = small_options(false, true, Precision::fp32, Layout::nhwc);
  EXPECT_EQ(rule_of(o), "layout nhwc needs fold-bn on");
  o = small_options(true, true, Precision::tf32, Layout::nchw);
  o.backend = kernels::ConvBackend::cudnn_graph;
  EXPECT_EQ(rule_of(o), "backend cudnn-graph needs layout nhwc");
  o.layout = Layout::nhwc, o.precision = Precision::fp32;
  EXPECT_EQ(rule_of(o), "backend cudnn-graph needs precision tf32 or bf16");
  for (Precision p : {Precision::tf32, Precision::bf16}) {
    o.precision = p;
    EXPECT_EQ(rule_of(o), "") << precision_name(p);
  }
  for (kernels::ConvBackend b : {kernels::ConvBackend::cudnn, kernels::ConvBackend::cublaslt}) {
    ResNet50Options any = small_options(true, true, Precision::fp32, Layout::nchw);
    any.backend = b;
    EXPECT_EQ(rule_of(any), "") << kernels::conv_backend_name(b);
  }
}

// The padded stem (NHWC input channels 3 -> 4 float / 8 bf16, the stem's weight zero there) is exact: the CPU twin's
// features are bit-identical with and without the padding, in fp32 and bf16. (The zero channels add exact zero
// products at the end of each output's FMA chain: no bit of the sum changes.)
TEST(ResNet50, PaddedStemIsExactOnCpu) {
  const Tensor images = random_images(kBatch, kSize, 14);
  for (Precision precision : {Precision::fp32, Precision::bf16}) {
    SCOPED_TRACE(precision_name(precision));
    ResNet50Options padded = small_options(true, true, precision, Layout::nhwc);
    ResNet50Options plain = padded;
    plain.pad_stem = false;
    EXPECT_EQ(padded.stem_channels(), precision == Precision::bf16 ? 8 : 4);
    EXPECT_EQ(plain.stem_channels(), 3);
    const std::vector<float> expected = features(Device::cpu, plain, 5, images);
    EXPECT_GT(norm(expected), 0.0);
    EXPECT_EQ(features(Device::cpu, padded, 5, images), expected);
  }
  ResNet50Options nchw = small_options(true);
  EXPECT_EQ(nchw.stem_channels(), 3) << "NCHW is never padded";
}

// The bf16 network (NHWC; every layer's output rounded to bf16, float features) against the float network on the
// CPU. Each layer adds ~2^-9 relative rounding to its output, and the bf16 weights and images ~2^-9 each; through 53
// convolutions these mostly average out in the features (spatial means, independent roundings), measured 5.2e-4 of
// the feature norm (max abs error / norm over the batch's 4096 features); the bound 2e-2 (~2^-6, the error of a
// handful of bf16 roundings not averaging out at all) leaves a factor 40. bf16 in NCHW is refused.
TEST(ResNet50, Bf16IsNearFp32OnCpu) {
  const Tensor images = random_images(kBatch, kSize, 17);
  const std::vector<float> expected =
      features(Device::cpu, small_options(true, true, Precision::fp32, Layout::nhwc), 5, images);
  const std::vector<float> bf16 =
      features(Device::cpu, small_options(true, true, Precision::bf16, Layout::nhwc), 5, images);
  EXPECT_GT(norm(expected), 0.0);
  const double error = relative_max_error(bf16, expected);
  RecordProperty("bf16_vs_fp32_relative_max_error", std::to_string(error));
  EXPECT_LT(error, 2e-2);
  EXPECT_GT(error, 0.0);  // bf16 really ran
  ResNet50 model(Device::cpu);
  EXPECT_THROW(model.setup(Context::cpu(), small_options(true, true, Precision::bf16)), Error);
}

TEST(ResNet50, NormalizeIsTheImageNetTransform) {
  const Tensor images = random_images(kBatch, kSize, 12);
  Tensor normalized = Tensor::empty(images.shape(), DType::f32);
  const double mean[3] = {0.485, 0.456, 0.406}, std[3] = {0.229, 0.224, 0.225};
  const std::int64_t plane = kSize * kSize;
  for (std::int64_t i = 0; i < images.numel(); ++i) {
    const int c = static_cast<int>(i / plane % 3);
    normalized.data<float>()[i] = static_cast<float>((images.data<float>()[i] - mean[c]) / std[c]);
  }
  ResNet50Options with = small_options(true);
  with.normalize = true;
  // Normalising inside the model rounds (x - mean) * (1 / std) in float: a few ulp per pixel, below 1e-5 at the end.
  EXPECT_LT(relative_max_error(features(Device::cpu, with, 5, images),
                               features(Device::cpu, small_options(true), 5, normalized)),
            1e-5);
}

// The whole network on the CPU against torchvision's resnet50 (fc = Identity, eval mode) given the same random
// weights through a safetensors file. Tolerance 1e-5 of the feature norm: both sides are fp32 with different
// summation orders (im2col GEMM vs oneDNN/ATen), ~6e-8 relative per operation; measured 5e-8 with torch 1.13, so
// the bound leaves two orders of magnitude for other BLAS builds.
TEST(ResNet50, CpuForwardMatchesTorchvision) {
  ROSETTA_REQUIRE_TORCH();
  const testing::PythonRun probe = testing::run_python("import torchvision\n");
  if (probe.status != 0) GTEST_SKIP() << "torchvision is not importable: " << probe.output;
  testing::TempDir dir;
  ResNet50 model(Device::cpu);
  model.init_random(21);
  const std::string weights = dir.file("weights.safetensors"), inputs = dir.file("images.safetensors");
  save_parameters(model.parameters(), weights);
  const Tensor images = random_images(kBatch, kSize, 22);
  write_safetensors(inputs, {{"images", images}});
  model.setup(Context::cpu(), small_options(true));
  const std::vector<float> ours = model.forward(Context::cpu(), images).to_vector();

  const std::string script = "import sys\nsys.path.insert(0, '" + testing::source_dir() +
                             "/bench/peers/common')\n"
                             "import torch, torchvision, safetensors_io\n"
                             "torch.set_num_threads(2)\n"
                             "model = torchvision.models.resnet50()\n"
                             "model.fc = torch.nn.Identity()\n"
                             "state = safetensors_io.load_torch('" + weights + "')\n"
                             "missing, unexpected = model.load_state_dict(state, strict=False)\n"
                             "assert not unexpected and all(m.endswith('num_batches_tracked') for m in missing)\n"
                             "model.eval()\n"
                             "x = safetensors_io.load_torch('" + inputs + "')['images']\n"
                             "with torch.no_grad():\n"
                             "    y = model(x)\n"
                             "print(' '.join('%.9g' % v for v in y.flatten().tolist()))\n";
  const std::vector<double> theirs_d = testing::python_numbers(script);
  ASSERT_EQ(theirs_d.size(), ours.size());
  const std::vector<float> theirs(theirs_d.begin(), theirs_d.end());
  EXPECT_GT(norm(theirs), 0.0);
  EXPECT_LT(relative_max_error(ours, theirs), 1e-5);
}

#if ROSETTA_WITH_CUDA
// Tolerances against the CPU, per precision. fp32 (FMA math; other summation orders and cuDNN's Winograd/FFT
// algorithms, ~1e-6 relative per convolution): 1e-4, relative to the feature norm for the network (CPU-vs-CPU
// differences measure 5e-8) and to the largest output for one unit. tf32 (inputs rounded to a 10-bit mantissa,
// ~5e-4 relative per operand, errors adding up over up to 4608-term sums and 50 layers): 1e-2.
double gpu_tolerance(Precision precision) { return precision == Precision::fp32 ? 1e-4 : 1e-2; }

struct Mode {
  bool fold, fuse;
  Layout layout;
  const char* name;
};
// NHWC needs folded BatchNorm (ResNet50Options::layout).
constexpr Mode kModes[] = {{false, false, Layout::nchw, "unfolded"},
                           {true, false, Layout::nchw, "folded"},
                           {true, true, Layout::nchw, "folded+fused"},
                           {true, false, Layout::nhwc, "nhwc folded"},
                           {true, true, Layout::nhwc, "nhwc folded+fused"}};

Tensor random_tensor(const Shape& shape, std::uint64_t seed) {
  Tensor t = Tensor::empty(shape, DType::f32);
  for (std::int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = philox_uniform(seed, 9, static_cast<std::uint64_t>(i));
  return t;
}

TEST(ResNet50Cuda, EveryUnitMatchesTheCpu) {
  ROSETTA_REQUIRE_CUDA();
  for (Precision precision : {Precision::fp32, Precision::tf32})
    for (const Mode& mode : kModes) {
      ResNet50 cpu_model(Device::cpu), gpu_model(Device::cuda);
      cpu_model.init_random(8);
      gpu_model.init_random(8);
      // Both in the mode's layout (the CPU NHWC unit is the NCHW sums on transposed data, tested above).
      cpu_model.setup(Context::cpu(), small_options(mode.fold, mode.fuse, Precision::fp32, mode.layout));
      gpu_model.setup(Context::cuda(), small_options(mode.fold, mode.fuse, precision, mode.layout));
      for (std::size_t u = 0; u < cpu_model.units().size(); ++u) {
        ConvBn& cpu_unit = *cpu_model.units()[u];
        ConvBn& gpu_unit = *gpu_model.units()[u];
        SCOPED_TRACE(cpu_unit.name() + " " + precision_name(precision) + " " + mode.name);
        const kernels::ConvShape& s = cpu_unit.plan().shape;
        const bool nhwc = mode.layout == Layout::nhwc;
        const Tensor x = random_tensor(nhwc ? Shape{s.n, s.h, s.w, s.c} : Shape{s.n, s.c, s.h, s.w}, 100 + u);
        const bool residual = cpu_unit.name().find("conv3") != std::string::npos;
        const Tensor z = random_tensor(cpu_unit.output_shape(), 200 + u);
        const Tensor z_gpu = z.to(Device::cuda);
        const std::vector<float> expected = cpu_unit.forward<float>(Context::cpu(), x, residual ? &z : nullptr).to_vector();
        const std::vector<float> actual =
            gpu_unit.forward<float>(Context::cuda(), x.to(Device::cuda), residual ? &z_gpu : nullptr).to_vector();
        double largest = 0;
        for (float v : expected) largest = std::max(largest, double(std::abs(v)));
        const double tol = gpu_tolerance(precision);
        testing::expect_all_close(actual, expected, tol, tol * largest, cpu_unit.name());
      }
    }
}

TEST(ResNet50Cuda, NetworkMatchesTheCpu) {
  ROSETTA_REQUIRE_CUDA();
  const Tensor images = random_images(kBatch, kSize, 31);
  const std::vector<float> expected = features(Device::cpu, small_options(true), 4, images);
  for (Precision precision : {Precision::fp32, Precision::tf32})
    for (const Mode& mode : kModes) {
      SCOPED_TRACE(std::string(precision_name(precision)) + " " + mode.name);
      const std::vector<float> actual =
          features(Device::cuda, small_options(mode.fold, mode.fuse, precision, mode.layout), 4, images);
      EXPECT_LT(relative_max_error(actual, expected), gpu_tolerance(precision));
    }
}

TEST(ResNet50Cuda, FusesEveryReluConvolution) {
  ROSETTA_REQUIRE_CUDA();
  ResNet50 model(Device::cuda);
  model.init_random(2);
  ResNet50Options options = small_options(true, true);
  options.backend = kernels::ConvBackend::cudnn;  // legacy cuDNN's own rule
  model.setup(Context::cuda(), options);
  // 49 of the 53 convolutions end in a ReLU, which cuDNN fuses with any algorithm; the 4 downsample convolutions
  // fuse only when cudnnFind picked IMPLICIT_PRECOMP_GEMM.
  EXPECT_GE(model.fused_convolutions(), 49);
  EXPECT_LE(model.fused_convolutions(), 53);
}

// The whole network against the CPU twin in each precision with each backend forced where it accepts a layer (and
// chosen by timing): the same tolerances as above (bf16: the CPU bf16 twin, 2e-2 as Bf16NetworkMatchesTheCpu).
TEST(ResNet50Cuda, NetworkMatchesTheCpuWithEachBackend) {
  ROSETTA_REQUIRE_CUDA();
  const Tensor images = random_images(kBatch, kSize, 32);
  const std::optional<kernels::ConvBackend> backends[] = {std::nullopt, kernels::ConvBackend::cudnn,
                                                          kernels::ConvBackend::cudnn_graph,
                                                          kernels::ConvBackend::cublaslt};
  for (Precision precision : {Precision::fp32, Precision::tf32, Precision::bf16}) {
    const Layout layout = precision == Precision::fp32 ? Layout::nchw : Layout::nhwc;
    const ResNet50Options reference = small_options(true, true, precision == Precision::bf16 ? Precision::bf16
                                                                                             : Precision::fp32,
                                                    layout);
    const std::vector<float> expected = features(Device::cpu, reference, 4, images);
    for (const std::optional<kernels::ConvBackend>& backend : backends) {
      ResNet50Options options = small_options(true, true, precision, layout);
      options.backend = backend;
      SCOPED_TRACE(std::string(precision_name(precision)) + " " +
                   (backend ? kernels::conv_backend_name(*backend) : "auto"));
      const std::vector<float> actual = features(Device::cuda, options, 4, images);
      EXPECT_LT(relative_max_error(actual, expected), precision == Precision::bf16 ? 2e-2 : gpu_tolerance(precision));
    }
  }
}

// A float tensor's values rounded to bf16, as a bf16 tensor on `device`.
Tensor bf16_tensor(const Tensor& values, Device device) {
  Tensor host = Tensor::empty(values.shape(), DType::bf16);
  kernels::convert(Context::cpu(), values.data<float>(), host.data<bf16>(), values.numel());
  return host.to(device);
}
// The values of a bf16 tensor (on any device), widened to float.
std::vector<float> bf16_values(const Tensor& t) {
  const Tensor host = t.to(Device::cpu);
  const bf16* p = host.data<bf16>();
  return std::vector<float>(p, p + host.numel());
}

// Every bf16 unit (whichever backend timed fastest: fused, or the forward then the bf16 epilogue) against the CPU
// bf16 twin on the same bf16 inputs. The convolutions differ by their float sums' order, so a rounding to bf16 can
// flip by one step (2^-8 relative) at the convolution output and again at the unit's output: rtol 2^-6 (two flips,
// doubled); atol 2^-6 of the largest output, for outputs where the bias or the residual cancelled a larger
// convolution value.
TEST(ResNet50Cuda, Bf16UnitsMatchTheCpuTwin) {
  ROSETTA_REQUIRE_CUDA();
  ResNet50 cpu_model(Device::cpu), gpu_model(Device::cuda);
  cpu_model.init_random(8);
  gpu_model.init_random(8);
  const ResNet50Options options = small_options(true, true, Precision::bf16, Layout::nhwc);
  cpu_model.setup(Context::cpu(), options);
  gpu_model.setup(Context::cuda(), options);
  for (std::size_t u = 0; u < cpu_model.units().size(); ++u) {
    ConvBn& cpu_unit = *cpu_model.units()[u];
    ConvBn& gpu_unit = *gpu_model.units()[u];
    SCOPED_TRACE(cpu_unit.name() + " bf16");
    const kernels::ConvShape& s = cpu_unit.plan().shape;
    const Tensor x = random_tensor(Shape{s.n, s.h, s.w, s.c}, 100 + u);
    const bool residual = cpu_unit.name().find("conv3") != std::string::npos;
    const Tensor z = random_tensor(cpu_unit.output_shape(), 200 + u);
    const Tensor x_cpu = bf16_tensor(x, Device::cpu), z_cpu = bf16_tensor(z, Device::cpu);
    const Tensor x_gpu = bf16_tensor(x, Device::cuda), z_gpu = bf16_tensor(z, Device::cuda);
    const std::vector<float> expected =
        bf16_values(cpu_unit.forward<bf16>(Context::cpu(), x_cpu, residual ? &z_cpu : nullptr));
    const std::vector<float> actual =
        bf16_values(gpu_unit.forward<bf16>(Context::cuda(), x_gpu, residual ? &z_gpu : nullptr));
    double largest = 0;
    for (float v : expected) largest = std::max(largest, double(std::abs(v)));
    const double tol = std::ldexp(1.0, -6);
    testing::expect_all_close(actual, expected, tol, tol * largest, cpu_unit.name());
  }
}

// The GPU bf16 network against the CPU bf16 twin and against the CPU fp32 network: both within 2e-2 of the feature
// norm, the CPU bf16-vs-fp32 bound (Bf16IsNearFp32OnCpu): the GPU's bf16 roundings differ from the CPU's only where
// a float sum's order flips a rounding, so it is no further from either than bf16 is from fp32.
TEST(ResNet50Cuda, Bf16NetworkMatchesTheCpu) {
  ROSETTA_REQUIRE_CUDA();
  const Tensor images = random_images(kBatch, kSize, 31);
  const ResNet50Options bf16 = small_options(true, true, Precision::bf16, Layout::nhwc);
  const std::vector<float> cpu_bf16 = features(Device::cpu, bf16, 4, images);
  const std::vector<float> cpu_fp32 = features(Device::cpu, small_options(true), 4, images);
  const std::vector<float> gpu_bf16 = features(Device::cuda, bf16, 4, images);
  EXPECT_LT(relative_max_error(gpu_bf16, cpu_bf16), 2e-2);
  EXPECT_LT(relative_max_error(gpu_bf16, cpu_fp32), 2e-2);
}

// A captured CUDA graph of the forward replays bit-identically to the eager forward, with fresh images each time.
void graph_replay_equals_eager(Layout layout, Precision precision) {
  SCOPED_TRACE(std::string(layout_name(layout)) + " " + precision_name(precision));
  Context& ctx = Context::cuda();
  ResNet50 model(Device::cuda);
  model.init_random(6);
  ResNet50Options options = small_options(true, true, precision, layout);
  options.normalize = true;
  model.setup(ctx, options);
  Tensor images = random_images(kBatch, kSize, 40).to(Device::cuda);
  model.forward(ctx, images);  // eager first: lazy library initialisation stays outside the capture
  CudaGraph graph;
  graph.capture(ctx, [&] { model.forward(ctx, images); });
  const Tensor& features_out = model.forward(ctx, images);  // the model's output buffer, rewritten by each replay
  for (std::uint64_t seed : {41, 42}) {
    images.copy_from(random_images(kBatch, kSize, seed));
    const std::vector<float> eager = model.forward(ctx, images).to_vector();
    images.copy_from(random_images(kBatch, kSize, seed + 100));
    model.forward(ctx, images);  // other features in the buffer, so the replay must rewrite it
    images.copy_from(random_images(kBatch, kSize, seed));
    graph.launch(ctx);
    EXPECT_EQ(features_out.to_vector(), eager);  // the same kernels on the same data: bit-identical
  }
}

TEST(ResNet50Cuda, GraphReplayEqualsEagerForward) {
  ROSETTA_REQUIRE_CUDA();
  for (Layout layout : {Layout::nchw, Layout::nhwc})
    graph_replay_equals_eager(layout, Precision::fp32);
  graph_replay_equals_eager(Layout::nhwc, Precision::bf16);
}
#endif

}  // namespace
}  // namespace rosetta
