#include "bench/cli/extract_resnet50.h"

#include <cstdio>
#include <filesystem>
#include <limits>
#include <optional>

#include "bench/cli/input_double_buffer.h"
#include "bench/cli/result_record.h"
#include "bench/cli/algorithm_cache_file.h"
#include "bench/cli/arguments.h"
#include "bench/cli/distributed.h"
#include "bench/cli/latency.h"
#include "bench/cli/profile_report.h"
#include "bench/cli/run_metrics.h"
#include "bench/cli/run_report.h"
#include "bench/cli/steady_state.h"
#include "kernels/op_class.h"
#include "layers/checkpoint.h"
#include "models/flops.h"
#include "models/resnet50.h"
#include "runtime/cuda_graph.h"
#include "runtime/interrupt.h"
#include "runtime/philox.h"
#include "runtime/profiler.h"
#include "runtime/safetensors.h"
#include "runtime/timer.h"

namespace rosetta::cli {
namespace {

// Random images are held in host memory at once: at most 16 GB of them (1280 images of 224x224 take 0.77 GB).
constexpr double kMaxImageBytes = 16e9;

// The Philox stream of the random images (runtime/philox.h): distinct from the weights' kInitUse streams.
constexpr std::uint64_t kImageStream = 0x696d61676573ull;  // "images"

// Images [first, first + n) of the random set (n, 3, S, S) in [0, 1): element i of the whole set is
// philox_uniform(seed, kImageStream, i), so any range of images is the same whoever draws it. Pinned for a CUDA run.
Tensor random_images(std::int64_t first, std::int64_t n, std::int64_t size, std::uint64_t seed, bool pinned) {
  Tensor images = Tensor::empty({n, ResNet50::kChannels, size, size}, DType::f32, Device::cpu, pinned);
  float* p = images.data<float>();
  const std::uint64_t offset = static_cast<std::uint64_t>(first * ResNet50::kChannels * size * size);
  for (std::int64_t i = 0; i < images.numel(); ++i)
    p[i] = philox_uniform(seed, kImageStream, offset + static_cast<std::uint64_t>(i));
  return images;
}

// The "images" tensor of --input: F32 (N, 3, S, S), square, N a multiple of the batch.
Tensor read_images(const std::string& path, std::int64_t batch, bool pinned) {
  const SafetensorsFile file = SafetensorsFile::open(path);
  const SafetensorsEntry* entry = file.find("images");
  if (entry == nullptr) ROSETTA_INPUT_ERROR(path << ": no tensor \"images\" (expected F32 (N, 3, H, W))");
  const Shape& s = entry->shape;
  if (entry->dtype != DType::f32 || s.rank() != 4 || s[1] != 3 || s[2] != s[3] || s[2] < 32 || s[0] < 1)
    ROSETTA_INPUT_ERROR(path << ": tensor \"images\" is " << entry->dtype_name << " " << s.str()
                             << ", expected F32 (N, 3, S, S) with square images of at least 32x32");
  if (s[0] % batch != 0)
    ROSETTA_INPUT_ERROR(path << ": " << s[0] << " images are not a whole number of batches of --batch " << batch);
  Tensor images = Tensor::empty(s, DType::f32, Device::cpu, pinned);
  file.read_into(*entry, images);
  const std::int64_t bad = first_non_finite(images);
  if (bad >= 0)
    ROSETTA_INPUT_ERROR(path << ": tensor \"images\" holds " << images.data<float>()[bad] << " at element " << bad
                             << " (pixels must be finite)");
  return images;
}

// Which backend and algorithm runs each convolution: counts per backend, one line saying so, and per layer its name,
// shape, choice, event-timed median (0: untimed) and whether its epilogue runs inside the library call.
struct ConvChoices {
  nlohmann::json counts = nlohmann::json::object();
  nlohmann::json layers = nlohmann::json::array();
  std::string summary;
};

ConvChoices conv_choices(const ResNet50& model) {
  ConvChoices out;
  for (const ConvBn* unit : model.units()) {
    const kernels::ConvAlgorithmChoice& c = unit->plan().of(kernels::ConvPass::forward);
    const std::string backend = kernels::conv_backend_name(c.backend);
    out.counts[backend] = out.counts.value(backend, 0) + 1;
    const std::string& weight = unit->name();
    out.layers.push_back(convolution_record(weight.substr(0, weight.size() - std::string(".weight").size()),
                                            unit->plan(), unit->fused()));
  }
  for (const auto& [backend, n] : out.counts.items())
    out.summary += (out.summary.empty() ? "" : ", ") + backend + " " + std::to_string(n.get<int>());
  out.summary += " (epilogue fused in " + std::to_string(model.fused_convolutions()) + " of " +
                 std::to_string(model.convolutions()) + ")";
  return out;
}

}  // namespace

void add_extract_resnet50_command(CLI::App& extract, ExtractResNet50Options& o) {
  CLI::App* cmd = extract.add_subcommand("resnet50", "ResNet-50 (torchvision V1.5) features of a set of images");
  auto* weights = cmd->add_option("--weights", o.weights_path, "torchvision-named weights (.safetensors), e.g. "
                                                               "timm/resnet50.tv_in1k model.safetensors");
  auto* random = cmd->add_flag("--random-weights", o.random_weights, "random weights from --seed (no file needed)");
  weights->excludes(random);
  const CLI::IsMember on_off_choice(std::vector<std::string>{"on", "off"});
  cmd->add_option("--device", o.device, "cpu or cuda (default: cuda when a device is present)")
      ->check(CLI::IsMember({"cpu", "cuda"}));
  cmd->add_option("--batch", o.batch, "images per batch")->capture_default_str()->check(integer_in(1, 4096));
  auto* count = cmd->add_option("--images", o.images, "random images to extract (a multiple of --batch)")
                    ->capture_default_str()
                    ->check(integer_in(1, 1000000));
  auto* size = cmd->add_option("--image-size", o.image_size, "random images are S x S")
                   ->capture_default_str()
                   ->check(integer_in(32, 1024));
  cmd->add_option("--repeats", o.repeats, "timed passes over the images (the figures are their median, min and max)")
      ->capture_default_str()
      ->check(integer_in(1, 1000));
  cmd->add_option("--precision", o.precision,
                  "fp32 (strict FP32), tf32, or bf16 (bf16 weights and activations, float accumulation and features; "
                  "NHWC only)")
      ->capture_default_str()
      ->check(CLI::IsMember({"fp32", "tf32", "bf16"}));
  cmd->add_option("--layout", o.layout,
                  "memory layout of the activations: nchw, nhwc (channels-last; needs --fold-bn on), or auto (nhwc "
                  "for tf32 on a GPU and for bf16, else nchw)")
      ->capture_default_str()
      ->check(CLI::IsMember({"auto", "nchw", "nhwc"}));
  cmd->add_option("--seed", o.seed, "seed of the random images and --random-weights")
      ->capture_default_str()
      ->check(integer_in(0, std::numeric_limits<std::int64_t>::max()));
  cmd->add_option("--json", o.json_path, "write the result record (JSON) here");
  cmd->add_option("--features-out", o.features_path, "write the features here (safetensors, \"features\" (N, 2048))");
  cmd->add_option("--input", o.input_path, "images from this file (safetensors, \"images\" F32 (N, 3, S, S))")
      ->excludes(count)
      ->excludes(size);
  cmd->add_flag("--normalize", o.normalize, "subtract the ImageNet mean and divide by its std per channel first");
  cmd->add_flag("--profile", o.profile,
                "after the timed passes, one more pass timed op by op (eagerly on a GPU: CUDA events around each op), "
                "printed and recorded as a breakdown by class and op call per batch");
  cmd->add_option("--save-weights", o.save_weights_path, "write the weights in use here (safetensors) first");
  cmd->add_option("--fold-bn", o.fold_bn, "on: batch norm folded into the convolutions at load")
      ->capture_default_str()
      ->check(on_off_choice);
  cmd->add_option("--fuse", o.fuse, "on: bias + residual + ReLU inside cuDNN's convolution where supported")
      ->capture_default_str()
      ->check(on_off_choice);
  cmd->add_option("--autotune", o.autotune,
                  "on: every candidate of every backend timed per shape, the fastest kept; off: heuristics")
      ->capture_default_str()
      ->check(on_off_choice);
  cmd->add_option("--backend", o.backend,
                  "the convolutions' backend: auto (each layer's fastest, by timing), or cudnn, cudnn-graph or cublaslt "
                  "forced where it accepts a layer (elsewhere cudnn)")
      ->capture_default_str()
      ->check(CLI::IsMember({"auto", "cudnn", "cudnn-graph", "cublaslt"}));
  cmd->add_option("--latency", o.latency,
                  "after the timed passes, time this many batches one at a time (copy in, forward, features out) and "
                  "report their p50 and p99; use at least 100")
      ->capture_default_str()
      ->check(integer_in(0, 1000000));
  cmd->add_option("--pad-stem", o.pad_stem,
                  "on: in NHWC the images' 3 channels are padded to 4 (float) or 8 (bf16), exact; off: 3")
      ->capture_default_str()
      ->check(on_off_choice);
  cmd->add_option("--graph", o.graph, "on: the forward captured in a CUDA graph")->capture_default_str()->check(on_off_choice);
  cmd->add_option("--algo-cache", o.algo_cache_path, "cuDNN algorithm cache file (default ~/.cache/rosetta/...)");
  cmd->add_option("--comm", o.comm, "auto: MPI under mpirun (batches shared out by rank), else one process")
      ->capture_default_str()
      ->check(CLI::IsMember({"auto"}));
  cmd->callback([&o] { run_extract_resnet50(o); });
}

namespace {

void extract(const ExtractResNet50Options& o, const Communicator& comm, Device device) {
  ROSETTA_CHECK_ARG(o.random_weights || !o.weights_path.empty(), "give --weights FILE or --random-weights");
  ResNet50Options mo;
  mo.batch = o.batch;
  mo.precision = parse_precision(o.precision, {Precision::fp32, Precision::tf32, Precision::bf16});
  mo.autotune = parse_on_off("--autotune", o.autotune);
  mo.fold_bn = parse_on_off("--fold-bn", o.fold_bn);
  mo.backend = parse_conv_backend(o.backend, device);
  mo.pad_stem = parse_on_off("--pad-stem", o.pad_stem);
  ROSETTA_CHECK_ARG(o.layout == "auto" || layout_from_name(o.layout, &mo.layout),
                    "--layout " << o.layout << ": expected auto, nchw or nhwc");
  if (o.layout == "auto") mo.layout = ResNet50Options::fastest_layout(mo.precision, device, mo.fold_bn);
  if (const std::optional<OptionRule> rule = mo.broken_rule())
    ROSETTA_INPUT_ERROR("--" << rule->option << " " << rule->value << " needs --" << rule->required << " "
                             << rule->required_value);
  // The switch; the model fuses where it can (a folded network, float data, cuDNN's support) and the result line
  // and the record say how many convolutions it fused.
  mo.fuse = parse_on_off("--fuse", o.fuse);
  mo.normalize = o.normalize;
  const bool use_graph = parse_on_off("--graph", o.graph) && device == Device::cuda;
  ROSETTA_CHECK_ARG(o.batch > 0, "--batch must be positive, got " << o.batch);
  ROSETTA_CHECK_ARG(o.repeats > 0, "--repeats must be positive, got " << o.repeats);
  ROSETTA_CHECK_ARG(o.latency == 0 || comm.size() == 1,
                    "--latency times one process's batches; run it without mpirun");
  check_output_path("--json", o.json_path);
  check_output_path("--features-out", o.features_path);
  check_output_path("--save-weights", o.save_weights_path);

  const bool pinned = device == Device::cuda;
  Tensor images;  // (images of this rank, 3, S, S) on the host: its range of batches
  std::int64_t count = 0, size = 0;  // of the whole set
  BatchRange range;
  if (!o.input_path.empty()) {
    const Tensor all = read_images(o.input_path, o.batch, pinned);  // (N, 3, S, S)
    count = all.dim(0), size = all.dim(2), range = batch_range(comm, count / o.batch);
    const Shape shape{range.count * o.batch, ResNet50::kChannels, size, size};
    images = all.view(range.first * o.batch * ResNet50::kChannels * size * size, shape);
  } else {
    ROSETTA_CHECK_ARG(o.images > 0 && o.images % o.batch == 0,
                      "--images " << o.images << " must be a positive multiple of --batch " << o.batch);
    // The images live in host memory at once: 4 x 3 x S x S bytes each, at most kMaxImageBytes in all.
    const double bytes = 12.0 * double(o.images) * double(o.image_size) * double(o.image_size);
    ROSETTA_CHECK_ARG(bytes <= kMaxImageBytes, "--images " << o.images << " of --image-size " << o.image_size
                                                           << " need " << bytes / 1e9 << " GB of host memory, more than the "
                                                           << kMaxImageBytes / 1e9 << " GB cap");
    count = o.images, size = o.image_size, range = batch_range(comm, count / o.batch);
    images = random_images(range.first * o.batch, range.count * o.batch, size, o.seed, pinned);
  }
  const std::int64_t batches = range.count;  // this rank's
  mo.image_size = size;

  ResNet50 model(device);
  if (o.random_weights) {
    model.init_random(o.seed);
  } else {
    model.load(o.weights_path);
  }
  if (!o.save_weights_path.empty() && comm.rank() == 0)
    save_parameters(model.parameters(), o.save_weights_path, {{"workload", "resnet50"}});

  const std::string data = o.input_path.empty() ? "random" : std::filesystem::path(o.input_path).filename().string();
  const std::string job = job_description(comm, batches * o.batch);
  print_run_header("resnet50", device, o.precision, data, o.batch,
                   std::string("autotune ") + on_off(mo.autotune) + ", CUDA graph " + on_off(use_graph) +
                       (job.empty() ? "" : ", " + job.substr(0, job.find(',')) + ", batches shared out by rank"));
  std::printf("  %lld images of %lldx%lld, layout %s, BN %s, fusion %s, backend %s, stem %lld channels, normalize %s, "
              "weights %s\n",
              static_cast<long long>(count), static_cast<long long>(size), static_cast<long long>(size),
              layout_name(mo.layout), mo.fold_bn ? "folded" : "unfolded", mo.fuse ? "on" : "off", o.backend.c_str(),
              static_cast<long long>(mo.stem_channels()), o.normalize ? "on" : "off",
              o.random_weights ? "random" : o.weights_path.c_str());
  std::fflush(stdout);

  Context& ctx = Context::of(device);
  AlgorithmCacheFile algo_cache(ctx, o.algo_cache_path);
  SteadyTimer setup_timer;
  model.setup(ctx, mo);
  ctx.synchronize();
  const double setup_seconds = setup_timer.elapsed_s();
  const ConvChoices choices = conv_choices(model);
  std::printf("  convolution backends: %s\n", choices.summary.c_str());

  const std::int64_t image_elements = ResNet50::kChannels * size * size;
  InputDoubleBuffer inputs(ctx, {o.batch, ResNet50::kChannels, size, size});                     // 2 x (B, 3, S, S)
  Tensor features = Tensor::empty({batches * o.batch, ResNet50::kFeatures}, DType::f32, Device::cpu, pinned);  // mine
  SteadyTimer warmup_timer;
  const Tensor& output = model.forward(ctx, inputs.slot(0));  // the model's (B, 2048) feature buffer
  CudaGraph graphs[2];                                          // the forward on input slot 0 and on slot 1
  // One batch: copy in (overlapping the previous batch's forward), forward (the graph's replay, or eager), copy the
  // features out. With a profiler, the batch is one profiled unit and the forward runs eagerly. One pass: every batch
  // in turn.
  constexpr int kCopies = static_cast<int>(kernels::OpClass::copies);
  const auto run_batch = [&](std::int64_t b, Profiler* profiler) {
    if (profiler != nullptr) profiler->begin_step();
    const Tensor* x = nullptr;
    {
      const ProfilePass data(ctx, "data");
      const ProfileRegion copy(ctx, "input_to_device", kCopies);
      x = &inputs.load(ctx, images.view(b * o.batch * image_elements, inputs.slot(0).shape()), b);
    }
    if (use_graph && profiler == nullptr) {
      graphs[b % 2].launch(ctx);
    } else {
      const ProfilePass forward(ctx, "forward");
      model.forward(ctx, *x);
    }
    inputs.release(ctx, b);
    {
      const ProfilePass data(ctx, "data");
      const ProfileRegion copy(ctx, "features_to_host", kCopies);
      features.view(b * o.batch * ResNet50::kFeatures, {o.batch, ResNet50::kFeatures}).copy_from(output, ctx.stream());
    }
    if (profiler != nullptr) profiler->end_step();
  };
  const auto pass = [&](Profiler* profiler) {
    for (std::int64_t b = 0; b < batches; ++b) {
      throw_if_interrupted("during the extraction: nothing written");
      run_batch(b, profiler);
    }
    ctx.synchronize();
  };
  // Warm-up, untimed: the forward above ran eagerly on an unfilled batch (lazy library initialisation stays outside
  // the capture), then the capture, then a whole pass.
  if (use_graph)
    for (int slot = 0; slot < 2; ++slot) graphs[slot].capture(ctx, [&] { model.forward(ctx, inputs.slot(slot)); });
  pass(nullptr);
  const double warmup_seconds = warmup_timer.elapsed_s();
  // Each repetition's time is the slowest rank's.
  SteadyState passes{"pass", count, {}};
  DeviceUsage usage(device);
  usage.start();  // after the warm-up pass's synchronize
  for (int r = 0; r < o.repeats; ++r) {
    SteadyTimer timed;
    pass(nullptr);
    passes.seconds.push_back(max_over_ranks(comm, timed.elapsed_s()));
  }
  usage.stop();  // each pass ends synchronised
  std::optional<nlohmann::json> profile;
  if (o.profile) {
    Profiler profiler(ctx);
    {
      const ProfilerAttachment attached(profiler);
      pass(&profiler);
    }
    profiler.finish();
    profile = profile_record(profiler, {"batch", device == Device::cuda
                                                     ? "the profiled pass ran eagerly, as a captured CUDA graph hides "
                                                       "its kernels from the events"
                                                     : "CPU ops run to completion inside their region"});
  }
  std::optional<LatencySummary> latency;
  if (o.latency > 0) {
    // Each batch alone: a mark, the batch, a mark, then wait, so no batch overlaps another.
    Timeline timeline(ctx, static_cast<int>(2 * o.latency));
    for (std::int64_t i = 0; i < o.latency; ++i) {
      throw_if_interrupted("during the latency runs: nothing written");
      timeline.mark();
      run_batch(i % batches, nullptr);
      timeline.mark();
      ctx.synchronize();
    }
    const std::vector<double> intervals = timeline.intervals_s();  // start-end, end-next start, ...
    std::vector<double> per_batch;
    for (std::size_t i = 0; i < intervals.size(); i += 2) per_batch.push_back(intervals[i]);
    latency = summarize_latency(per_batch);
  }
  algo_cache.save();
  Tensor all_features = comm.size() == 1 ? features  // (N, 2048), on rank 0
                        : Tensor::empty({comm.rank() == 0 ? count : 0, ResNet50::kFeatures}, DType::f32, Device::cpu);
  if (comm.size() > 1) comm.gather_to_first(features.raw(), features.nbytes(), all_features.raw(), all_features.nbytes());
  if (comm.rank() != 0) return;  // rank 0 alone reports and writes

  double seconds = 0;  // all timed passes
  for (double s : passes.seconds) seconds += s;
  const double per_1000 = passes.median_s() * 1000.0 / double(count), per_second = passes.examples_per_second();
  std::printf("setup %.3f s (autotuning included), warm-up pass %.3f s\n", setup_seconds, warmup_seconds);
  std::printf("%d timed passes of %lld images: median %.4f s (min %.4f, max %.4f): %.4f s per 1000 images, %.1f "
              "images/s, %.3g TFLOP/s (%d of %d convolutions fused)\n",
              o.repeats, static_cast<long long>(count), passes.median_s(), passes.min_s(), passes.max_s(), per_1000,
              per_second, passes.tflops(resnet50_forward_flops_per_image(size)), model.fused_convolutions(),
              model.convolutions());
  if (latency)
    std::printf("latency over %lld batches of %lld: p50 %.3f ms, p99 %.3f ms (nearest rank), min %.3f, max %.3f\n",
                static_cast<long long>(latency->batches), static_cast<long long>(o.batch), latency->p50_ms,
                latency->p99_ms, latency->min_ms, latency->max_ms);
  std::fflush(stdout);
  if (profile) print_profile(*profile);

  if (!o.features_path.empty())
    write_safetensors(o.features_path, {{"features", all_features}}, {{"workload", "resnet50"}});
  if (!o.json_path.empty()) {
    nlohmann::json r = base_record("resnet50", device);
    r["precision"] = o.precision;
    r["layout"] = layout_name(mo.layout);
    r["batch"] = o.batch;
    r["images"] = count;
    r["image_size"] = size;
    r["seconds_total"] = seconds;
    r["seconds_setup"] = setup_seconds;
    r["seconds_warmup"] = warmup_seconds;
    r["seconds_per_1000_images"] = per_1000;
    r["images_per_second"] = per_second;
    r["autotune"] = mo.autotune;
    r["graph"] = use_graph;
    r["fold_bn"] = mo.fold_bn;
    r["fuse"] = mo.fuse;
    r["fused_convolutions"] = model.fused_convolutions();
    r["backend"] = o.backend;
    r["pad_stem"] = mo.pad_stem;
    r["stem_channels"] = mo.stem_channels();
    r["conv_backends"] = choices.counts;
    r["convolutions"] = choices.layers;
    if (latency) r["latency"] = latency_json(*latency);
    r["normalize"] = o.normalize;
    r["mode"] = std::string(use_graph ? "graph" : "eager") + (mo.autotune ? "" : ", heuristics") +
                (o.backend == "auto" ? "" : ", backend " + o.backend) + (mo.pad_stem ? "" : ", stem unpadded");
    r["weights"] = o.random_weights ? std::string("random") : std::filesystem::path(o.weights_path).filename().string();
    r["data"] = data;
    r["status"] = "complete";
    RunMeasurements m;
    m.steady = passes;
    m.flops_per_example = resnet50_forward_flops_per_image(size);
    m.energy_unit = "1000 images";
    m.energy_joules_per_unit = comm.size() == 1 ? usage.joules_per(double(o.repeats) * double(count) / 1000.0)
                                                : Reading<double>::missing("a multi-rank job: each GPU meters itself, "
                                                                           "and rosetta does not sum them");
    m.peak_memory_bytes = usage.peak_memory_bytes();
    add_measurements(r, m);
    r["ranks"] = comm.size();
    if (profile) r["profile"] = *profile;
    write_record(o.json_path, r);
  }
}

}  // namespace

void run_extract_resnet50(const ExtractResNet50Options& o) {
  run_as_job(o.comm, o.device, [&](const Communicator& comm, Device device) { extract(o, comm, device); });
}

}  // namespace rosetta::cli
