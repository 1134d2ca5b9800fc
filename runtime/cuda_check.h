// Throwing status checks for CUDA, cuDNN and cuBLAS: one idiom per library. Include only from translation units that
// use those libraries. Each message carries the expression, file:line, the library's own error text (for cuDNN also
// cudnnGetLastErrorString, which says why a configuration was refused) and what the call was doing, with its
// shapes: the `what` argument is streamed into the message only on failure, so a successful call builds nothing.
//
//   ROSETTA_CUDNN_CHECK(cudnnConvolutionForward(...), "convolution " << plan.shape.str());
//   ROSETTA_CUBLAS_CHECK(cublasGemmEx(...), describe(m, n, k));
//   ROSETTA_CUDA_CHECK(cudaMemsetAsync(...));                       (runtime calls: the expression says enough)
//   kernel<<<grid, block, 0, stream>>>(...); ROSETTA_LAUNCH_CHECK("relu_forward n=" << n);
#pragma once
#include <cublasLt.h>
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>

#include <string>

#include "runtime/error.h"

namespace rosetta {
const char* cublas_status_string(cublasStatus_t status);
// cudnnGetErrorString(status) and, when cuDNN recorded one, its last error message in brackets.
std::string cudnn_failure(cudnnStatus_t status);
}  // namespace rosetta

#define ROSETTA_CUDA_CHECK(expr)                                                                      \
  do {                                                                                                \
    const cudaError_t rosetta_status_ = (expr);                                                       \
    if (rosetta_status_ != cudaSuccess)                                                               \
      ROSETTA_FAIL("CUDA error: " #expr ": " << cudaGetErrorString(rosetta_status_));                 \
  } while (0)

#define ROSETTA_CUDNN_CHECK(expr, what)                                                               \
  do {                                                                                                \
    const cudnnStatus_t rosetta_status_ = (expr);                                                     \
    if (rosetta_status_ != CUDNN_STATUS_SUCCESS)                                                      \
      ROSETTA_FAIL("cuDNN error: " #expr ": " << ::rosetta::cudnn_failure(rosetta_status_) << " (" << what << ")"); \
  } while (0)

#define ROSETTA_CUBLAS_CHECK(expr, what)                                                              \
  do {                                                                                                \
    const cublasStatus_t rosetta_status_ = (expr);                                                    \
    if (rosetta_status_ != CUBLAS_STATUS_SUCCESS)                                                     \
      ROSETTA_FAIL("cuBLAS error: " #expr ": " << ::rosetta::cublas_status_string(rosetta_status_) << " (" << what \
                                              << ")");                                                \
  } while (0)

// After every <<<...>>> launch: catches bad configurations at once. `what` names the kernel and shapes.
#define ROSETTA_LAUNCH_CHECK(what)                                                                    \
  do {                                                                                                \
    const cudaError_t rosetta_status_ = cudaGetLastError();                                           \
    if (rosetta_status_ != cudaSuccess)                                                               \
      ROSETTA_FAIL("kernel launch failed: " << what << ": " << cudaGetErrorString(rosetta_status_));  \
  } while (0)
