// Legacy cuDNN's descriptors of one convolution (kernels/cuda/conv_backend_cudnn.cpp's runners hold one each).
//
// Invariants: a CudnnConvState is filled while its runner is made and never changes afterwards (the runner holds it
// const), so it can be used from any number of steps; it owns its descriptors and destroys them. Each pass has its
// own convolution descriptor, set to the math type its algorithm was measured with (cuDNN runs an algorithm as
// measured only when the descriptor's math type matches the result's).
#pragma once
#include <cudnn.h>

#include <memory>

#include "kernels/conv.h"

namespace rosetta::kernels {

struct CudnnConvState {
  cudnnTensorDescriptor_t x = nullptr;                     // (N, C, H, W) float or bf16, plan layout; also dx
  cudnnTensorDescriptor_t y = nullptr;                     // (N, K, OH, OW); also dy
  cudnnFilterDescriptor_t w = nullptr;                     // (K, C, R, S); also dw
  cudnnConvolutionDescriptor_t conv[kConvPassCount] = {};  // by ConvPass
  cudnnTensorDescriptor_t bias = nullptr;                  // (1, K, 1, 1) float: the fused forward's bias
  cudnnActivationDescriptor_t relu = nullptr;              // the fused forward's activations, NaN-propagating
  cudnnActivationDescriptor_t identity = nullptr;

  CudnnConvState() = default;
  CudnnConvState(const CudnnConvState&) = delete;
  CudnnConvState& operator=(const CudnnConvState&) = delete;
  ~CudnnConvState();
};

namespace cuda {

// The descriptors of `shape` under `options` (kernels/cuda/conv_backend_cudnn.cpp), every convolution descriptor
// at the math type the search runs under.
std::shared_ptr<CudnnConvState> create_conv_descriptors(const ConvShape& shape, const ConvOptions& options);

}  // namespace cuda
}  // namespace rosetta::kernels
