#include "kernels/dispatch.h"

#include "runtime/error.h"

namespace rosetta::kernels {

void fail_cuda_not_built(const char* op) {
  ROSETTA_FAIL(op << ": CUDA data in a build without CUDA (configure with nvcc, cuDNN and cuBLAS present)");
}

}  // namespace rosetta::kernels
