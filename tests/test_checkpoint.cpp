// Parameter checkpoints: save/load round trips (CPU, CUDA, and across devices) that are bit-exact and keep the
// arena's padding zero; a mismatching file reports every problem in one InputError and leaves the arena as it
// was; names the model does not declare can be ignored by a predicate.
#include <gtest/gtest.h>

#include <cstring>

#include "layers/checkpoint.h"
#include "tests/support/cuda.h"
#include "tests/support/temp_dir.h"

namespace rosetta {
namespace {

using testing::TempDir;

// A small CNN-like set; the shapes leave padding between the parameters in the arena.
void declare_small_net(ParameterSet& set) {
  set.declare("conv1.weight", {2, 3, 3, 3});
  set.declare("conv1.bias", {2});
  set.declare("fc.weight", {4, 5});
  set.declare("fc.bias", {4});
}

// Fills every parameter of a CPU set with distinct values (the padding stays zero).
void fill(ParameterSet& set, float base) {
  for (int i = 0; i < set.size(); ++i) {
    Tensor value = set.value(i);
    for (std::int64_t k = 0; k < value.numel(); ++k) value.data<float>()[k] = base + i * 100.0f + k * 0.25f;
  }
}

std::vector<float> arena(const ParameterSet& set) { return set.values().to_vector(); }

std::string load_error(ParameterSet& set, const std::string& path, const IgnoreName& ignore = {}) {
  try {
    load_parameters(set, path, ignore);
  } catch (const InputError& e) {
    return e.what();
  }
  ADD_FAILURE() << "loading " << path << " did not throw InputError";
  return "";
}

TEST(Checkpoint, RoundTripsBitExactOnCpu) {
  TempDir dir;
  ParameterSet saved;
  declare_small_net(saved);
  saved.allocate(Device::cpu);
  fill(saved, 1.5f);
  const std::string path = dir.file("net.safetensors");
  save_parameters(saved, path, {{"seed", "7"}});

  const SafetensorsFile file = SafetensorsFile::open(path);
  ASSERT_EQ(file.entries().size(), 4u);
  for (int i = 0; i < saved.size(); ++i) {  // declaration order, F32, declared shapes
    EXPECT_EQ(file.entries()[i].name, saved.name(i));
    EXPECT_EQ(file.entries()[i].dtype, DType::f32);
    EXPECT_EQ(file.entries()[i].shape, saved.shape(i));
  }
  EXPECT_EQ(file.metadata().at("seed"), "7");

  ParameterSet loaded;
  declare_small_net(loaded);
  loaded.allocate(Device::cpu);
  load_parameters(loaded, path);
  const std::vector<float> expected = arena(saved), actual = arena(loaded);
  ASSERT_EQ(actual.size(), expected.size());
  EXPECT_EQ(std::memcmp(actual.data(), expected.data(), actual.size() * sizeof(float)), 0)
      << "values and the zero padding must match bit for bit";
}

TEST(Checkpoint, ReportsEveryProblemInOneErrorAndLeavesTheArena) {
  TempDir dir;
  const std::string path = dir.file("wrong.safetensors");
  write_safetensors(path, {{"conv1.weight", Tensor::zeros({2, 3, 3, 3}, DType::f16)},  // wrong dtype
                           {"fc.weight", Tensor::zeros({3, 4}, DType::f32)},            // wrong shape
                           {"fc.bias", Tensor::zeros({4}, DType::f32)},                 // fine
                           {"foo", Tensor::zeros({1}, DType::f32)},                     // unexpected
                           {"bar", Tensor::zeros({1}, DType::u8)}});                    // unexpected
  // conv1.bias is missing.
  ParameterSet set;
  declare_small_net(set);
  set.allocate(Device::cpu);
  fill(set, -2.0f);
  const std::vector<float> before = arena(set);
  EXPECT_EQ(load_error(set, path), path + ": missing conv1.bias; unexpected foo, bar; conv1.weight has dtype F16, "
                                          "expected F32; fc.weight has shape (3, 4), expected (4, 5)");
  EXPECT_EQ(arena(set), before) << "a mismatching file must not touch the arena";
}

TEST(Checkpoint, IgnoresUndeclaredNamesThePredicateAccepts) {
  TempDir dir;
  ParameterSet saved;
  declare_small_net(saved);
  saved.allocate(Device::cpu);
  fill(saved, 0.5f);
  // The model's parameters plus a classifier head and an I64 BatchNorm counter, as in torchvision files.
  NamedTensors tensors;
  for (int i = 0; i < saved.size(); ++i) tensors.emplace_back(saved.name(i), saved.value(i));
  tensors.emplace_back("head.weight", Tensor::zeros({2, 2}, DType::f32));
  tensors.emplace_back("bn1.num_batches_tracked", Tensor::zeros({}, DType::u64));
  const std::string path = dir.file("extra.safetensors");
  write_safetensors(path, tensors);
  // Relabel the U64 counter as I64 (same size and spelling length): rosetta cannot hold I64, yet must load
  // a file that has one.
  std::string bytes = testing::read_file(path);
  const auto u64 = bytes.find("\"U64\"");
  ASSERT_NE(u64, std::string::npos);
  bytes[u64 + 1] = 'I';
  testing::write_file(path, bytes);

  ParameterSet loaded;
  declare_small_net(loaded);
  loaded.allocate(Device::cpu);
  EXPECT_EQ(load_error(loaded, path), path + ": unexpected head.weight, bn1.num_batches_tracked");
  const IgnoreName ignore = [](const std::string& name) {
    return name.rfind("head.", 0) == 0 || name.find("num_batches_tracked") != std::string::npos;
  };
  load_parameters(loaded, path, ignore);
  EXPECT_EQ(arena(loaded), arena(saved));
  // The predicate only forgives extra tensors: a declared parameter it matches is still required.
  ParameterSet with_head;
  declare_small_net(with_head);
  with_head.declare("head.bias", {2});
  with_head.allocate(Device::cpu);
  EXPECT_EQ(load_error(with_head, path, ignore), path + ": missing head.bias");
}

TEST(Checkpoint, MalformedOrMissingFilesAreInputErrors) {
  TempDir dir;
  ParameterSet set;
  declare_small_net(set);
  set.allocate(Device::cpu);
  EXPECT_EQ(load_error(set, dir.file("absent.safetensors")), dir.file("absent.safetensors") + ": no such file");
  testing::write_file(dir.file("short.safetensors"), "abc");
  EXPECT_NE(load_error(set, dir.file("short.safetensors")).find("shorter than the 8-byte header length"),
            std::string::npos);
}

TEST(Checkpoint, RoundTripsOnCudaAndAcrossDevices) {
  ROSETTA_REQUIRE_CUDA();
  TempDir dir;
  ParameterSet host;
  declare_small_net(host);
  host.allocate(Device::cpu);
  fill(host, 3.0f);
  ParameterSet gpu;
  declare_small_net(gpu);
  gpu.allocate(Device::cuda);
  Tensor gpu_values = gpu.values();
  gpu_values.copy_from(host.values());

  const std::string from_gpu = dir.file("gpu.safetensors");
  save_parameters(gpu, from_gpu);
  ParameterSet back_on_cpu;
  declare_small_net(back_on_cpu);
  back_on_cpu.allocate(Device::cpu);
  load_parameters(back_on_cpu, from_gpu);
  EXPECT_EQ(arena(back_on_cpu), arena(host));

  const std::string from_cpu = dir.file("cpu.safetensors");
  save_parameters(host, from_cpu);
  ParameterSet back_on_gpu;
  declare_small_net(back_on_gpu);
  back_on_gpu.allocate(Device::cuda);
  load_parameters(back_on_gpu, from_cpu);
  EXPECT_EQ(arena(back_on_gpu), arena(host)) << "values and the zero padding, copied to the device arena";
}

}  // namespace
}  // namespace rosetta
