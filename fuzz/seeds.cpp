// The seed corpora of the fuzz targets: small valid inputs of each format, written by rosetta's own writers and
// the tests' assemblers (tests/support), so no binary file is committed and the seeds follow the formats as they
// change. Usage: rosetta_fuzz_seeds OUT_DIR; writes OUT_DIR/<target>/<seed> for every target of fuzz/CMakeLists.txt.
// Invariants: every seed is read by its target without an error (the generator checks it), so the fuzzer starts
// from inputs that reach past the first check of each format.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "datasets/cifar10.h"
#include "datasets/imdb.h"
#include "datasets/npy.h"
#include "datasets/pickle.h"
#include "datasets/zip.h"
#include "fuzz/seeds.h"
#include "kernels/gru_algorithm_cache_file.h"
#include "runtime/safetensors.h"
#include "tests/support/pickle_builder.h"
#include "tests/support/safetensors_cases.h"
#include "tests/support/zip_builder.h"

namespace rosetta::fuzz {
namespace {

namespace fs = std::filesystem;
using Bytes = std::vector<std::uint8_t>;

Bytes file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void write(const fs::path& path, const Bytes& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

// Writes `bytes` as seed `name` of `target` after checking that `accepts` reads it.
void seed(const fs::path& out, const std::string& target, const std::string& name, const Bytes& bytes,
          const std::function<void(const Bytes&, const std::string&)>& accepts) {
  const fs::path dir = out / target;
  fs::create_directories(dir);
  write(dir / name, bytes);
  accepts(bytes, (dir / name).string());
}

Tensor filled(const Shape& shape, DType dtype) {
  Tensor t = Tensor::empty(shape, dtype);
  auto* p = static_cast<std::uint8_t*>(t.raw());
  for (std::size_t i = 0; i < t.nbytes(); ++i) p[i] = static_cast<std::uint8_t>(i * 7 + 1);
  return t;
}

void safetensors_seeds(const fs::path& out) {
  const auto opens = [](const Bytes&, const std::string& path) {
    const SafetensorsFile file = SafetensorsFile::open(path);
    for (const SafetensorsEntry& e : file.entries())
      if (e.dtype) file.read(e.name);
  };
  const fs::path scratch = out / "scratch.safetensors";
  write_safetensors(scratch.string(), {{"conv1.weight", filled({2, 3, 1, 1}, DType::f32)},
                                       {"conv1.bias", filled({2}, DType::f32)},
                                       {"step", filled({}, DType::i32)},
                                       {"half", filled({3}, DType::bf16)},
                                       {"empty", filled({0, 4}, DType::u8)}},
                    {{"format", "pt"}, {"rosetta", "seed"}});
  seed(out, "safetensors", "tensors", file_bytes(scratch.string()), opens);
  fs::remove(scratch);
  const std::string foreign = R"({"num_batches_tracked": {"dtype": "I64", "shape": [], "data_offsets": [0, 8]}})";
  const std::string text = testing::safetensors_bytes(foreign, std::string(8, '\0'));
  seed(out, "safetensors", "foreign_dtype", Bytes(text.begin(), text.end()), opens);
}

void zip_seeds(const fs::path& out) {
  const auto opens = [](const Bytes&, const std::string& path) {
    const ZipArchive zip = ZipArchive::open(path);
    for (const ZipMember& m : zip.members()) zip.read(m);
  };
  Bytes text(300);
  for (std::size_t i = 0; i < text.size(); ++i) text[i] = static_cast<std::uint8_t>("rosetta "[i % 8]);
  seed(out, "zip", "stored_and_deflated",
       testing::zip_bytes({{"a.bin", text, false}, {"b.bin", text, true}, {"empty", {}, true}}), opens);
  seed(out, "zip", "empty_archive", testing::zip_bytes({}), opens);
}

void npy_seeds(const fs::path& out) {
  const auto reads = [](const Bytes& b, const std::string&) {
    const NpyHeader h = parse_npy_header(b.data(), b.size(), "seed");
    if (npy_int_type(h.descr)) read_npy_ints(h, b.data(), b.size(), "seed");
  };
  const std::vector<std::int32_t> values = {0, 1, -1, 70000, 5, 6};
  seed(out, "npy", "i4_2x3", npy_bytes_i32({2, 3}, values.data()), reads);
  seed(out, "npy", "i4_scalar", npy_bytes_i32({}, values.data()), reads);
  seed(out, "npy", "big_endian_u2",
       testing::npy_file("{'descr': '>u2', 'fortran_order': False, 'shape': (2,), }", {0, 1, 0xff, 0xfe}), reads);
  seed(out, "npy", "object", testing::object_npy(2, testing::py2_pickle({{1, 2}, {}})), reads);
}

const testing::IntLists kLists = {{1, 14, 22, 300, 70000}, {}, {std::int64_t{1} << 40, -5}, {29997, 29998}};

void pickle_seeds(const fs::path& out) {
  const auto reads = [](const Bytes& b, const std::string&) { read_pickled_int_lists(b.data(), b.size(), "seed", 0); };
  seed(out, "pickle", "python2_lists", testing::py2_pickle(kLists), reads);
  seed(out, "pickle", "empty_array", testing::py2_pickle({}), reads);
  seed(out, "pickle", "300_lists", testing::py2_pickle(testing::IntLists(300, {7, 8})), reads);  // LONG_BINPUT
}

void cifar10_seeds(const fs::path& out) {
  Bytes two(1 + 2 * kCifar10RecordBytes);
  two[0] = 2;  // the target's record count
  for (std::size_t i = 1; i < two.size(); ++i) two[i] = static_cast<std::uint8_t>(i % 251);
  two[1] = 3, two[1 + kCifar10RecordBytes] = 9;  // the labels
  const auto decodes = [](const Bytes& b, const std::string&) {
    std::vector<std::int32_t> labels(b[0] % 4);
    std::vector<std::uint8_t> pixels(labels.size() * kCifar10ImageBytes);
    decode_cifar10_records(b.data() + 1, b.size() - 1, b[0] % 4, "seed", labels.data(), pixels.data());
  };
  seed(out, "cifar10", "two_records", two, decodes);
}

void conv_cache_seeds(const fs::path& out) {
  kernels::ConvCacheEntry forward;
  forward.shape.n = 64, forward.shape.c = 3, forward.shape.h = forward.shape.w = 32;
  forward.shape.k = 50, forward.shape.r = forward.shape.s = 3, forward.shape.pad_h = forward.shape.pad_w = 1;
  forward.choice.backend = kernels::ConvBackend::cudnn, forward.choice.algo = 1;
  forward.choice.math_type = kernels::kCudnnFmaMath, forward.choice.time_ms = 0.05f;
  forward.choice.find_time_ms = 0.08f;
  forward.candidates = {forward.choice};
  kernels::ConvCacheEntry bf16 = forward;
  bf16.pass = kernels::ConvPass::backward_data, bf16.options.precision = Precision::bf16;
  bf16.options.layout = Layout::nhwc, bf16.choice.math_type = 1, bf16.choice.workspace_bytes = 1 << 20;
  bf16.candidates.clear();
  // A bf16 1x1 forward declared for its epilogue, cuBLASLt's choice beside a graph-API candidate.
  kernels::ConvCacheEntry fused = forward;
  fused.shape.c = 64, fused.shape.k = 256, fused.shape.r = fused.shape.s = 1, fused.shape.pad_h = fused.shape.pad_w = 0;
  fused.options.precision = Precision::bf16, fused.options.layout = Layout::nhwc, fused.options.forward_only = true;
  fused.options.epilogue = kernels::ConvEpilogue::bias_residual_relu;
  fused.choice = kernels::ConvAlgorithmChoice{kernels::ConvBackend::cublaslt, 21, 0, 2, 0, 0.03f, 0.0f, true};
  kernels::ConvAlgorithmChoice graph{kernels::ConvBackend::cudnn_graph, 12, 0, 0, 4096, 0.04f, 0.0f, true};
  fused.candidates = {fused.choice, graph};
  const std::string text = kernels::conv_cache_text({forward, bf16, fused}, kSeedCacheIdentity);
  seed(out, "conv_algorithm_cache", "three_entries", Bytes(text.begin(), text.end()),
       [](const Bytes& b, const std::string&) {
         kernels::parse_conv_cache_text(std::string(b.begin(), b.end()), "seed", kSeedCacheIdentity);
       });
}

void gru_cache_seeds(const fs::path& out) {
  kernels::GruCacheEntry imdb;
  imdb.key.gpu = "NVIDIA H100 80GB HBM3", imdb.key.cudnn = "9.19.0";
  imdb.key.shape = kernels::GruShape{150, 64, 125, 100};
  imdb.choice.algorithm = kernels::GruCudnnAlgorithm::persist_static_small_h, imdb.choice.milliseconds = 0.57;
  kernels::GruCacheEntry padded = imdb;
  padded.key.precision = Precision::tf32, padded.key.padded_io = true, padded.key.shape.n = 1;
  padded.choice.algorithm = kernels::GruCudnnAlgorithm::standard, padded.choice.milliseconds = 4.5;
  kernels::GruCacheEntry automatic = imdb;
  automatic.key.candidates = kernels::GruImplementation::automatic;
  automatic.choice.implementation = kernels::GruImplementation::persistent, automatic.choice.milliseconds = 0.2;
  const std::string text = kernels::gru_cache_text({imdb, padded, automatic});
  seed(out, "gru_algorithm_cache", "three_entries", Bytes(text.begin(), text.end()),
       [](const Bytes& b, const std::string&) { kernels::parse_gru_cache_text(std::string(b.begin(), b.end()), "seed"); });
}

void imdb_seeds(const fs::path& out) {
  const auto reads = [](const Bytes&, const std::string& path) { read_imdb(path); };
  const std::vector<std::int32_t> labels = {0, 1, 1, 0};
  const Bytes y = npy_bytes_i32({4}, labels.data());
  const testing::IntLists words = {{1, 14, 22, 300, 70000}, {}, {29997, 29998, 5}, std::vector<std::int64_t>(200, 9)};
  const Bytes x = testing::object_npy(4, testing::py2_pickle(words));
  seed(out, "imdb", "raw_stored",
       testing::zip_bytes({{"x_train.npy", x}, {"y_train.npy", y}, {"x_test.npy", x}, {"y_test.npy", y}}), reads);
  seed(out, "imdb", "raw_deflated",
       testing::zip_bytes({{"x_train.npy", x, true}, {"y_train.npy", y, true}, {"x_test.npy", x, true},
                           {"y_test.npy", y, true}}),
       reads);
  DatasetSplits tokens;
  tokens.train.name = "train", tokens.test.name = "test";
  tokens.train.inputs = Tensor::zeros({2, kImdbMaxLength}, DType::i32);
  tokens.train.labels = Tensor::zeros({2}, DType::i32);
  tokens.train.inputs.data<std::int32_t>()[0] = 1;
  tokens.test = tokens.train;
  const fs::path scratch = out / "scratch.npz";
  write_imdb_tokens(tokens, scratch.string());
  seed(out, "imdb", "tokens", file_bytes(scratch.string()), reads);
  fs::remove(scratch);
}

void checkpoint_seeds(const fs::path& out) {
  const auto loads = [](const Bytes&, const std::string& path) {
    SeedTrainingState run;
    load_training_checkpoint(path, run.parameters, run.state, run.options);
  };
  SeedTrainingState written;
  float* values = written.parameters.values().data<float>();
  for (std::int64_t i = 0; i < written.parameters.arena_elements(); ++i) values[i] = 0.25f * static_cast<float>(i);
  const fs::path scratch = out / "scratch.safetensors";
  save_training_checkpoint(scratch.string(), written.parameters, written.state, written.options, 12);
  seed(out, "checkpoint", "step12", file_bytes(scratch.string()), loads);
  fs::remove(scratch);
}

}  // namespace
}  // namespace rosetta::fuzz

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s OUT_DIR\n", argv[0]);
    return 2;
  }
  try {
    const std::filesystem::path out(argv[1]);
    std::filesystem::create_directories(out);
    using namespace rosetta::fuzz;
    safetensors_seeds(out);
    zip_seeds(out);
    npy_seeds(out);
    pickle_seeds(out);
    cifar10_seeds(out);
    conv_cache_seeds(out);
    gru_cache_seeds(out);
    imdb_seeds(out);
    checkpoint_seeds(out);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "rosetta_fuzz_seeds: %s\n", e.what());
    return 1;
  }
  return 0;
}
