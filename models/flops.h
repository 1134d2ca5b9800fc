// The arithmetic one example costs in each workload's timed unit: the count behind every record's achieved TFLOP/s
// (bench/cli), the same for rosetta and every peer (bench/peers/common/flops.py counts it the same way, and the
// equivalence tests compare the two). Counted: 2 x the multiply-adds of the convolutions, the fully connected layers
// and the GRU's matrix products, for each pass that must run: the forward, the weight gradient of every layer, and
// the data gradient of every layer whose input needs one (not the first convolution's: its input is the data).
// Not counted: element-wise work (activations, pooling, dropout, gates, the loss, the optimizer), a few percent of
// the arithmetic and none of the matrix-unit time, as MLPerf's and llm.c's model-FLOP counts leave it out.
#pragma once
#include <cstdint>

namespace rosetta {

// One CIFAR-10 training example of CifarVGG (3x32x32): forward, data and weight gradients.
double cnn_training_flops_per_example();
// One review of `steps` tokens through ImdbGRU's training step: the GRU's input and hidden products forward and
// both gradients of each, and l_out's.
double gru_training_flops_per_example(std::int64_t steps);
// One image of `image_size` x `image_size` through ResNet-50's forward (torchvision's, cut before fc).
double resnet50_forward_flops_per_image(std::int64_t image_size);

}  // namespace rosetta
