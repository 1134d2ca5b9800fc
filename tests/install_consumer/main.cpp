// The installed rosetta, used from outside its tree: five SGD steps of the CNN on the CPU on one fixed batch of 4
// images (dropout off). Exit 0 when the loss fell, so the test checks the libraries work, not only that they link.
#include <cstdio>
#include <vector>

#include "datasets/cifar10.h"
#include "models/cifar_vgg.h"
#include "runtime/context.h"

int main() {
  using namespace rosetta;
  const Context& ctx = Context::of(Device::cpu);
  CifarVGG model(Device::cpu);
  model.init_glorot(7);
  CifarVggOptions options;
  options.batch = 4;
  options.dropout = false;
  model.setup(ctx, options);
  std::vector<float> pixels(4 * 3 * 32 * 32);  // (4, 3, 32, 32)
  for (std::size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<float>((i * 37) % 255) / 255.0f;
  const Tensor images = Tensor::from_vector({4, 3, 32, 32}, pixels);
  Tensor labels = Tensor::zeros({4}, DType::i32);  // (4,)
  for (int k = 0; k < 4; ++k) labels.data<std::int32_t>()[k] = k;
  float first = 0, last = 0;
  for (int step = 0; step < 5; ++step) {
    model.step(ctx, images, labels);
    last = model.loss().data<float>()[0];
    if (step == 0) first = last;
  }
  std::printf("consumer: CifarVGG loss %.4f -> %.4f over 5 steps; the test file is %s\n", first, last,
              cifar10_test_file().c_str());
  return last < first ? 0 : 1;
}
