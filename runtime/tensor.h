// Tensor: a typed, shaped, contiguous row-major view into shared Storage on the CPU or a CUDA device.
// Invariants: elements [offset, offset + numel) lie inside the storage; views share storage (a parameter
// tensor is a view into its model's arena); copies between devices are explicit (to, copy_from).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "runtime/allocator.h"
#include "runtime/device.h"
#include "runtime/dtype.h"
#include "runtime/error.h"
#include "runtime/half.h"
#include "runtime/shape.h"

struct CUstream_st;  // cudaStream_t, without the CUDA headers

namespace rosetta {

template <typename T> struct DTypeOf;
template <> struct DTypeOf<float> { static constexpr DType value = DType::f32; };
template <> struct DTypeOf<bf16> { static constexpr DType value = DType::bf16; };
template <> struct DTypeOf<f16> { static constexpr DType value = DType::f16; };
template <> struct DTypeOf<std::int32_t> { static constexpr DType value = DType::i32; };
template <> struct DTypeOf<std::uint8_t> { static constexpr DType value = DType::u8; };
template <> struct DTypeOf<std::uint64_t> { static constexpr DType value = DType::u64; };

class Tensor {
 public:
  Tensor() = default;

  // Uninitialised. `pinned` places a CPU tensor in page-locked memory (copy staging).
  static Tensor empty(const Shape& shape, DType dtype, Device device = Device::cpu, bool pinned = false);
  static Tensor zeros(const Shape& shape, DType dtype, Device device = Device::cpu);
  // A CPU f32 tensor holding `values` (size must equal shape.numel()).
  static Tensor from_vector(const Shape& shape, const std::vector<float>& values);

  bool defined() const { return storage_ != nullptr; }
  const Shape& shape() const { return shape_; }
  std::int64_t dim(int i) const { return shape_[i]; }
  std::int64_t numel() const { return shape_.numel(); }
  DType dtype() const { return dtype_; }
  Device device() const { return device_; }
  std::size_t nbytes() const { return static_cast<std::size_t>(numel()) * dtype_size(dtype_); }

  void* raw() const;
  template <typename T>
  T* data() const {
    ROSETTA_CHECK(dtype_ == DTypeOf<T>::value,
                  "tensor " << shape_.str() << " holds " << dtype_name(dtype_) << ", not " << dtype_name(DTypeOf<T>::value));
    return static_cast<T*>(raw());
  }

  // A tensor sharing this storage: `shape.numel()` elements starting `element_offset` elements in.
  Tensor view(std::int64_t element_offset, const Shape& shape) const;
  // Same elements, new shape (numel must match).
  Tensor reshape(const Shape& shape) const;

  // A new tensor on `device` holding a copy (synchronous).
  Tensor to(Device device) const;
  // Copies src's bytes into this tensor (same dtype and numel). With a stream the copy is asynchronous on it;
  // without one it runs on the CUDA context's main stream (after the work already there) and is waited for.
  void copy_from(const Tensor& src, CUstream_st* stream = nullptr);
  // Zeroes every byte (synchronous without a stream, ordered as copy_from).
  void zero(CUstream_st* stream = nullptr);

  // Host copy of an f32 tensor's values, for tests and reports.
  std::vector<float> to_vector() const;

 private:
  std::shared_ptr<Storage> storage_;
  std::int64_t offset_ = 0;  // in elements
  Shape shape_;
  DType dtype_ = DType::f32;
  Device device_ = Device::cpu;
};

// The index of the first NaN or infinity in a float tensor (f32, bf16, f16; copied to the host first when on a
// device), or -1 when every element is finite.
std::int64_t first_non_finite(const Tensor& t);

// Tensors with names, in order (a safetensors file's contents, an optimizer's state).
using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

}  // namespace rosetta
