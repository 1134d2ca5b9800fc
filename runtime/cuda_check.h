// Throwing status checks for CUDA, cuDNN and cuBLAS. Include only from translation units that use those
// libraries. Each message carries the expression, file:line and the library's own error string; kernel
// launches are followed by ROSETTA_LAUNCH_CHECK(shape-description) so a bad launch names its shapes.
#pragma once
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>

#include "runtime/error.h"

namespace rosetta {
const char* cublas_status_string(cublasStatus_t status);
}

#define ROSETTA_CUDA_CHECK(expr)                                                                      \
  do {                                                                                                \
    const cudaError_t rosetta_status_ = (expr);                                                       \
    if (rosetta_status_ != cudaSuccess)                                                               \
      ROSETTA_FAIL("CUDA error: " #expr ": " << cudaGetErrorString(rosetta_status_));                 \
  } while (0)

#define ROSETTA_CUDNN_CHECK(expr)                                                                     \
  do {                                                                                                \
    const cudnnStatus_t rosetta_status_ = (expr);                                                     \
    if (rosetta_status_ != CUDNN_STATUS_SUCCESS)                                                      \
      ROSETTA_FAIL("cuDNN error: " #expr ": " << cudnnGetErrorString(rosetta_status_));               \
  } while (0)

#define ROSETTA_CUBLAS_CHECK(expr)                                                                    \
  do {                                                                                                \
    const cublasStatus_t rosetta_status_ = (expr);                                                    \
    if (rosetta_status_ != CUBLAS_STATUS_SUCCESS)                                                     \
      ROSETTA_FAIL("cuBLAS error: " #expr ": " << ::rosetta::cublas_status_string(rosetta_status_));  \
  } while (0)

// After every <<<...>>> launch: catches bad configurations at once. `what` names the kernel and shapes.
#define ROSETTA_LAUNCH_CHECK(what)                                                                    \
  do {                                                                                                \
    const cudaError_t rosetta_status_ = cudaGetLastError();                                           \
    if (rosetta_status_ != cudaSuccess)                                                               \
      ROSETTA_FAIL("kernel launch failed: " << what << ": " << cudaGetErrorString(rosetta_status_));  \
  } while (0)
