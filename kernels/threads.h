// How many threads the CPU twins use (OpenMP's team size; 1 in a build without OpenMP). Results do not depend on
// it: every CPU twin gives the same bits for any thread count (kernels/cpu/parallel.h).
#pragma once

namespace rosetta::kernels {

int cpu_threads();
// n >= 1, else an Error.
void set_cpu_threads(int n);

}  // namespace rosetta::kernels
