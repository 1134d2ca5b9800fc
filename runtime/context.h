// Context: the per-device execution state. A CUDA context owns one main stream (all compute), one copy stream
// (host-to-device feeds that overlap compute), the cuDNN and cuBLAS handles bound to the main stream (cuBLAS
// with a fixed workspace of its own, so it never allocates, also inside a captured CUDA graph), a cuBLASLt handle
// (its calls name their stream and workspace themselves), and a
// grow-only workspace for cuDNN. Handles are created once per device, never per layer; nothing here knows a layer.
// The CPU context has none of these and exists so that CPU and CUDA kernels share one signature.
#pragma once
#include <cstddef>
#include <memory>

#include "runtime/device.h"

struct CUstream_st;    // cudaStream_t
struct cudnnContext;   // cudnnHandle_t
struct cublasContext;  // cublasHandle_t
struct cublasLtContext;  // cublasLtHandle_t

namespace rosetta {

class Storage;
class Profiler;

// Arithmetic mode of matrix and convolution kernels. fp32 is strict IEEE FP32 (no TF32 tensor ops).
enum class Precision { fp32, tf32, bf16 };
const char* precision_name(Precision precision);
bool precision_from_name(const char* name, Precision* precision);

class Context {
 public:
  static Context& cpu();
  // The context of CUDA device 0, created on first use. Throws with the probe's reason when there is none.
  static Context& cuda();
  static Context& of(Device device) { return device == Device::cuda ? cuda() : cpu(); }

  Device device() const { return device_; }
  CUstream_st* stream() const { return stream_; }
  CUstream_st* copy_stream() const { return copy_stream_; }
  cudnnContext* cudnn() const { return cudnn_; }
  cublasContext* cublas() const { return cublas_; }
  cublasLtContext* cublaslt() const { return cublaslt_; }

  // Scratch memory of at least `bytes` on this device. It only grows: after the first step of a fixed shape
  // no call allocates. The pointer is valid until a larger request. const because kernels receive the context
  // as `const Context&` and plans grow the workspace through it (the workspace is scratch, not state).
  void* workspace(std::size_t bytes) const;
  std::size_t workspace_bytes() const;

  // Waits for all work on both streams.
  void synchronize() const;

  // The profiler that times this context's op calls (runtime/profiler.h), or null: off, the default. Set through
  // ProfilerAttachment. const for the same reason as workspace(): kernels receive `const Context&`.
  Profiler* profiler() const { return profiler_; }
  void set_profiler(Profiler* profiler) const { profiler_ = profiler; }

  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

 private:
  explicit Context(Device device);

  Device device_;
  CUstream_st* stream_ = nullptr;
  CUstream_st* copy_stream_ = nullptr;
  cudnnContext* cudnn_ = nullptr;
  cublasContext* cublas_ = nullptr;
  cublasLtContext* cublaslt_ = nullptr;
  mutable std::shared_ptr<Storage> workspace_;
  std::shared_ptr<Storage> cublas_workspace_;  // fixed, so cuBLAS never allocates (also under graph capture)
  mutable Profiler* profiler_ = nullptr;
};

}  // namespace rosetta
