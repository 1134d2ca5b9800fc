// Dataset's shape queries, invariant check and first_examples.
#include "datasets/dataset.h"

#include <string>
#include <vector>

namespace rosetta {

Shape Dataset::example_shape() const {
  ROSETTA_CHECK(inputs.defined() && inputs.shape().rank() >= 1, "dataset '" << name << "' has no inputs");
  return Shape(inputs.shape().begin() + 1, inputs.shape().end());
}

Dataset first_examples(const Dataset& data, std::int64_t count) {
  ROSETTA_CHECK(count >= 1 && count <= data.size(),
                "first_examples: " << count << " of the " << data.size() << " examples of '" << data.name << "'");
  std::vector<std::int64_t> dims(data.inputs.shape().begin(), data.inputs.shape().end());
  dims[0] = count;
  const Shape shape(dims.begin(), dims.end());
  return {data.name + " (first " + std::to_string(count) + ")", data.inputs.view(0, shape),
          data.labels.view(0, Shape{count}), data.num_classes};
}

DType Dataset::batch_dtype() const { return inputs.dtype() == DType::u8 ? DType::f32 : inputs.dtype(); }

void Dataset::validate() const {
  ROSETTA_CHECK(inputs.defined() && labels.defined(), "dataset '" << name << "' lacks inputs or labels");
  ROSETTA_CHECK(inputs.device() == Device::cpu && labels.device() == Device::cpu,
                "dataset '" << name << "' must be held in host memory");
  ROSETTA_CHECK(inputs.dtype() == DType::u8 || inputs.dtype() == DType::f32 || inputs.dtype() == DType::i32,
                "dataset '" << name << "' inputs are " << dtype_name(inputs.dtype()) << "; expected U8, F32 or I32");
  ROSETTA_CHECK(labels.dtype() == DType::i32 && labels.shape().rank() == 1,
                "dataset '" << name << "' labels are " << dtype_name(labels.dtype()) << labels.shape().str()
                            << "; expected I32 (N,)");
  ROSETTA_CHECK(inputs.shape().rank() >= 1 && inputs.dim(0) == labels.dim(0),
                "dataset '" << name << "' has inputs " << inputs.shape().str() << " but labels "
                            << labels.shape().str());
  ROSETTA_CHECK(num_classes > 0, "dataset '" << name << "' has " << num_classes << " classes");
  const std::int32_t* label = labels.data<std::int32_t>();
  for (std::int64_t i = 0; i < size(); ++i) {
    ROSETTA_CHECK(label[i] >= 0 && label[i] < num_classes,
                  "dataset '" << name << "' example " << i << " has label " << label[i] << ", expected 0-"
                              << num_classes - 1);
  }
}

}  // namespace rosetta
