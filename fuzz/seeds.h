// Shared by the seed generator (fuzz/seeds.cpp) and the targets: the identity the algorithm-cache seeds are
// written under, so the cache target reads its seeds' entries instead of stopping at the identity note; and the
// small training state the checkpoint seeds are written from and the checkpoint target loads into, so the
// target's inputs reach past the metadata checks to the tensors' names, dtypes, shapes and values.
#pragma once
#include "kernels/conv_algorithm_cache_file.h"
#include "layers/training_checkpoint.h"

namespace rosetta::fuzz {

inline const kernels::ConvCacheIdentity kSeedCacheIdentity{"NVIDIA H100 80GB HBM3", "9.19.0"};

// A two-parameter model with one optimizer state buffer, on the CPU.
struct SeedTrainingState {
  ParameterSet parameters;  // weight (2, 3), bias (2)
  NamedTensors state;       // momentum (arena_elements,)
  CheckpointOptions options{{"workload", "cnn"}, {"batch", "4"}, {"seed", "1"}, {"data_fingerprint", "synthetic"}};

  SeedTrainingState() {
    parameters.declare("weight", Shape{2, 3});
    parameters.declare("bias", Shape{2});
    parameters.allocate(Device::cpu);
    state.emplace_back("momentum", Tensor::zeros(Shape{parameters.arena_elements()}, DType::f32));
  }
};

}  // namespace rosetta::fuzz
