// The cuBLASLt side of a MatmulPlan (kernels/matmul.h), for CUDA code that times the candidates in its own setting
// and runs a plan with a workspace of its own (the convolution's cuBLASLt backend,
// kernels/cuda/conv_backend_cublaslt.cpp) rather than the context's.
#pragma once
#include <vector>

#include "kernels/matmul.h"

namespace rosetta::kernels::cuda {

// The plan's product on ctx's main stream, as kernels/matmul.inc's matmul, on untyped pointers of the plan's data
// type, with `workspace` (at least plan.choice.workspace_bytes on the device).
void run_matmul(const Context& ctx, const MatmulPlan& plan, const void* a, const void* b, const void* bias,
                const void* z, void* y, void* workspace);

// Every algorithm cuBLASLt's heuristics offer for a checked shape and options, at most `count`, each a plan ready to
// run (choice.variant its position in the list, choice.time_ms 0), in the heuristics' order; throws when there is
// none.
std::vector<MatmulPlan> matmul_heuristic_plans(const Context& ctx, const MatmulShape& shape,
                                               const MatmulOptions& options, int count);

}  // namespace rosetta::kernels::cuda
