#include "runtime/context.h"

#include <cstring>

#include "runtime/allocator.h"
#include "runtime/error.h"
#if ROSETTA_WITH_CUDA
#include "runtime/cuda_check.h"
#endif

namespace rosetta {

const char* precision_name(Precision precision) {
  switch (precision) {
    case Precision::fp32: return "fp32";
    case Precision::tf32: return "tf32";
    case Precision::bf16: return "bf16";
  }
  return "?";
}

bool precision_from_name(const char* name, Precision* precision) {
  for (Precision p : {Precision::fp32, Precision::tf32, Precision::bf16}) {
    if (std::strcmp(name, precision_name(p)) == 0) {
      *precision = p;
      return true;
    }
  }
  return false;
}

Context& Context::cpu() {
  static Context context(Device::cpu);
  return context;
}

Context& Context::cuda() {
  ROSETTA_CHECK(cuda_available(), probe_cuda().reason);
  // Deliberately never destroyed: destroying streams and library handles from a static destructor can run
  // after the CUDA driver has shut down. The process exit frees them.
  static Context* context = new Context(Device::cuda);
  return *context;
}

Context::Context(Device device) : device_(device) {
  if (device != Device::cuda) return;
#if ROSETTA_WITH_CUDA
  ROSETTA_CUDA_CHECK(cudaSetDevice(0));
  ROSETTA_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
  ROSETTA_CUDA_CHECK(cudaStreamCreateWithFlags(&copy_stream_, cudaStreamNonBlocking));
  ROSETTA_CUDNN_CHECK(cudnnCreate(&cudnn_), "the CUDA context's cuDNN handle");
  ROSETTA_CUDNN_CHECK(cudnnSetStream(cudnn_, stream_), "the CUDA context's cuDNN handle");
  ROSETTA_CUBLAS_CHECK(cublasCreate(&cublas_), "the CUDA context's cuBLAS handle");
  ROSETTA_CUBLAS_CHECK(cublasSetStream(cublas_, stream_), "the CUDA context's cuBLAS handle");
  // Strict FP32 unless a call asks for TF32 explicitly (see kernels/gemm).
  ROSETTA_CUBLAS_CHECK(cublasSetMathMode(cublas_, CUBLAS_DEFAULT_MATH), "the CUDA context's cuBLAS handle");
  // 32 MiB: NVIDIA's recommended cuBLAS workspace for Hopper.
  constexpr std::size_t kCublasWorkspaceBytes = 32u << 20;
  cublas_workspace_ = std::make_shared<Storage>(Memory::device, kCublasWorkspaceBytes);
  ROSETTA_CUBLAS_CHECK(cublasSetWorkspace(cublas_, cublas_workspace_->data(), kCublasWorkspaceBytes),
                       "the cuBLAS workspace of " << kCublasWorkspaceBytes << " bytes");
  ROSETTA_CUBLAS_CHECK(cublasLtCreate(&cublaslt_), "the CUDA context's cuBLASLt handle");
#else
  ROSETTA_FAIL("a CUDA context needs a CUDA build");
#endif
}

void* Context::workspace(std::size_t bytes) const {
  if (!workspace_ || workspace_->bytes() < bytes) {
    workspace_.reset();  // free first, so growing never needs old + new at once
    workspace_ = std::make_shared<Storage>(device_ == Device::cuda ? Memory::device : Memory::host, bytes);
  }
  return workspace_->data();
}

std::size_t Context::workspace_bytes() const { return workspace_ ? workspace_->bytes() : 0; }

void Context::synchronize() const {
#if ROSETTA_WITH_CUDA
  if (device_ != Device::cuda) return;
  ROSETTA_CUDA_CHECK(cudaStreamSynchronize(copy_stream_));
  ROSETTA_CUDA_CHECK(cudaStreamSynchronize(stream_));
#endif
}

#if ROSETTA_WITH_CUDA
const char* cublas_status_string(cublasStatus_t status) { return cublasGetStatusString(status); }

std::string cudnn_failure(cudnnStatus_t status) {
  char detail[512] = {};
  cudnnGetLastErrorString(detail, sizeof detail);
  return std::string(cudnnGetErrorString(status)) + (detail[0] ? std::string(" [") + detail + "]" : std::string());
}
#endif

}  // namespace rosetta
