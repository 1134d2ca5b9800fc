#include "runtime/tensor.h"

#include <cmath>
#include <cstring>

#include "runtime/context.h"

#if ROSETTA_WITH_CUDA
#include "runtime/cuda_check.h"
#endif

namespace rosetta {

Tensor Tensor::empty(const Shape& shape, DType dtype, Device device, bool pinned) {
  ROSETTA_CHECK(!(pinned && device == Device::cuda), "pinned memory is host memory; asked for a CUDA tensor");
  Tensor t;
  const Memory memory = device == Device::cuda ? Memory::device : (pinned ? Memory::pinned : Memory::host);
  t.storage_ = std::make_shared<Storage>(memory, static_cast<std::size_t>(shape.numel()) * dtype_size(dtype));
  t.shape_ = shape;
  t.dtype_ = dtype;
  t.device_ = device;
  return t;
}

Tensor Tensor::zeros(const Shape& shape, DType dtype, Device device) {
  Tensor t = empty(shape, dtype, device);
  t.zero();
  return t;
}

Tensor Tensor::from_vector(const Shape& shape, const std::vector<float>& values) {
  ROSETTA_CHECK(static_cast<std::int64_t>(values.size()) == shape.numel(),
                values.size() << " values for shape " << shape.str());
  Tensor t = empty(shape, DType::f32);
  if (!values.empty()) std::memcpy(t.raw(), values.data(), values.size() * sizeof(float));
  return t;
}

void* Tensor::raw() const {
  ROSETTA_CHECK(defined(), "use of an undefined tensor");
  return static_cast<char*>(storage_->data()) + offset_ * static_cast<std::int64_t>(dtype_size(dtype_));
}

Tensor Tensor::view(std::int64_t element_offset, const Shape& shape) const {
  ROSETTA_CHECK(defined(), "view of an undefined tensor");
  const std::int64_t capacity = static_cast<std::int64_t>(storage_->bytes() / dtype_size(dtype_));
  ROSETTA_CHECK(element_offset >= 0 && offset_ + element_offset + shape.numel() <= capacity,
                "view " << shape.str() << " at offset " << element_offset << " exceeds storage of " << capacity
                        << " elements");
  Tensor t = *this;
  t.offset_ = offset_ + element_offset;
  t.shape_ = shape;
  return t;
}

Tensor Tensor::reshape(const Shape& shape) const {
  ROSETTA_CHECK(shape.numel() == numel(), "cannot reshape " << shape_.str() << " to " << shape.str());
  Tensor t = *this;
  t.shape_ = shape;
  return t;
}

Tensor Tensor::to(Device device) const {
  Tensor t = empty(shape_, dtype_, device);
  t.copy_from(*this);
  return t;
}

void Tensor::copy_from(const Tensor& src, CUstream_st* stream) {
  ROSETTA_CHECK(src.dtype_ == dtype_ && src.numel() == numel(),
                "copy of " << dtype_name(src.dtype_) << src.shape_.str() << " into " << dtype_name(dtype_)
                           << shape_.str());
  if (nbytes() == 0) return;
  if (device_ == Device::cpu && src.device_ == Device::cpu) {
    std::memcpy(raw(), src.raw(), nbytes());
    return;
  }
#if ROSETTA_WITH_CUDA
  // Without a stream: on the main stream, then wait. (A plain cudaMemcpy runs on the legacy default stream,
  // which is not ordered with rosetta's non-blocking main stream and could read before a kernel has written.)
  CUstream_st* s = stream != nullptr ? stream : Context::cuda().stream();
  ROSETTA_CUDA_CHECK(cudaMemcpyAsync(raw(), src.raw(), nbytes(), cudaMemcpyDefault, s));
  if (stream == nullptr) ROSETTA_CUDA_CHECK(cudaStreamSynchronize(s));
#else
  (void)stream;
  ROSETTA_FAIL("copy to or from a CUDA tensor needs a CUDA build");
#endif
}

void Tensor::zero(CUstream_st* stream) {
  if (nbytes() == 0) return;
  if (device_ == Device::cpu) {
    std::memset(raw(), 0, nbytes());
    return;
  }
#if ROSETTA_WITH_CUDA
  CUstream_st* s = stream != nullptr ? stream : Context::cuda().stream();  // ordered as copy_from, above
  ROSETTA_CUDA_CHECK(cudaMemsetAsync(raw(), 0, nbytes(), s));
  if (stream == nullptr) ROSETTA_CUDA_CHECK(cudaStreamSynchronize(s));
#else
  (void)stream;
  ROSETTA_FAIL("zeroing a CUDA tensor needs a CUDA build");
#endif
}

std::vector<float> Tensor::to_vector() const {
  const Tensor host = device_ == Device::cpu ? *this : to(Device::cpu);
  const float* p = host.data<float>();
  return std::vector<float>(p, p + numel());
}

std::int64_t first_non_finite(const Tensor& t) {
  const Tensor host = t.device() == Device::cpu ? t : t.to(Device::cpu);
  const auto scan = [&](const auto* p) -> std::int64_t {
    for (std::int64_t i = 0; i < host.numel(); ++i)
      if (!std::isfinite(static_cast<float>(p[i]))) return i;
    return -1;
  };
  switch (host.dtype()) {
    case DType::f32: return scan(host.data<float>());
    case DType::bf16: return scan(host.data<bf16>());
    case DType::f16: return scan(host.data<f16>());
    default: ROSETTA_FAIL("first_non_finite of a " << dtype_name(host.dtype()) << " tensor");
  }
}

}  // namespace rosetta
