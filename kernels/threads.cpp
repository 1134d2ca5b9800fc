#include "kernels/threads.h"

#if defined(_OPENMP)
#include <omp.h>
#endif

#include "runtime/error.h"

namespace rosetta::kernels {

int cpu_threads() {
#if defined(_OPENMP)
  return omp_get_max_threads();
#else
  return 1;
#endif
}

void set_cpu_threads(int n) {
  ROSETTA_CHECK(n >= 1, "the CPU twins need at least one thread, not " << n);
#if defined(_OPENMP)
  omp_set_num_threads(n);
#endif
}

}  // namespace rosetta::kernels
