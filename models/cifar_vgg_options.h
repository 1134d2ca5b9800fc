// The options of CifarVGG (models/cifar_vgg.h): its hyper-parameters, and the switches that choose how its step runs,
// each of which a run names in its record. Every combination the rules allow computes the same model: the fused and
// unfused steps, both ReLU orders, both layouts and any channel padding give the same losses on the CPU twin bit for
// bit (tests/test_cifar_vgg.cpp); bf16 is the same model under PyTorch's autocast rounding.
#pragma once
#include <cstdint>
#include <optional>
#include <string>

#include "kernels/conv.h"
#include "models/option_rule.h"
#include "runtime/communicator.h"

namespace rosetta {

// Where each ReLU that meets a max pool runs. The seed's model is conv -> pool -> ReLU; max and ReLU commute (and so
// do their gradients: tests/test_fused_epilogues.cpp), so conv -> ReLU -> pool is the same function, and its ReLU can
// run inside the convolution's epilogue.
enum class ReluOrder : std::int32_t { before_pool = 0, after_pool = 1 };
const char* relu_order_name(ReluOrder order);  // "before-pool", "after-pool"
bool relu_order_from_name(const std::string& name, ReluOrder* order);

struct CifarVggOptions {
  std::int64_t batch = 64;  // this process's rows of the global batch (batch x communicator->size())
  float lr = 0.01f;
  float momentum = 0.9f;
  bool dropout = true;     // false: every dropout is the identity (the equivalence runs)
  std::uint64_t seed = 0;  // of the dropout masks
  // The convolutions' precision (fp32, tf32, or bf16: the whole network's, fc1/fc2 included), the layout of every
  // activation (nhwc: channels-last), autotuning and determinism.
  kernels::ConvOptions conv;
  // The fused step (models/cifar_vgg_fused.h): each convolution's bias and ReLU in its forward, the pooling with its
  // ReLU and dropout in one kernel and its gradient with the bias gradient in one, the linear layers' bias, ReLU and
  // dropout in one. false: one kernel per layer of the seed's model (fp32/tf32, NCHW, unpadded only): the step as it
  // was before issue 12, for before/after measurements.
  bool fuse = true;
  ReluOrder relu_order = ReluOrder::before_pool;
  // Channel counts rounded up to a multiple of this in the device layout (8: 3 -> 8, 50 -> 56, 100 -> 104, the
  // tensor-core widths); the padded channels hold zero weights, bias and activations and get zero gradients, so the
  // model is unchanged, and parameters and checkpoints keep PyTorch's shapes. 1: no padding.
  std::int64_t channel_multiple = 1;
  const Communicator* communicator = &Communicator::single_process();  // the ranks that share the batch

  // `channels` rounded up to a multiple of channel_multiple.
  std::int64_t padded(std::int64_t channels) const;
  // The first rule these options break, or none: bf16 needs the NHWC layout (cuDNN's bf16 convolutions are
  // channels-last); NHWC needs the fused step (the unfused layers are NCHW float); padding needs NHWC (it pays only
  // for channels-last tensor-core kernels). (setup() also checks the multiple is 1 to 64.)
  std::optional<OptionRule> broken_rule() const;
};

}  // namespace rosetta
