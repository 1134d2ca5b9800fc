// ROSETTA_HD marks a small function as callable from host and device code: __host__ __device__ and inlined
// under nvcc, plain inline elsewhere. Philox, the 16-bit float types and the reference cells use it, so one
// definition serves the CPU twin and the CUDA kernels and both compute the same bits.
#pragma once

#if defined(__CUDACC__)
#define ROSETTA_HD __host__ __device__ __forceinline__
#else
#define ROSETTA_HD inline
#endif
