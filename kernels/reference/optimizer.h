// Per-element SGD-with-momentum and Adam updates, shared by both twins (host and device compile the same
// inline functions), so the CPU and CUDA optimizers give bit-identical parameters.
//
// The order of operations is PyTorch's single-tensor torch.optim path (weight_decay 0), op by op, in float,
// with the step-dependent scalars computed in double as PyTorch computes them in Python:
//   SGD:  buf.mul_(momentum).add_(g);  p.add_(buf, alpha=-lr)
//   Adam: m.mul_(b1).add_(g, alpha=1-b1);  v.mul_(b2).addcmul_(g, g, value=1-b2)
//         bias_correction1 = 1 - b1**t;  bias_correction2 = 1 - b2**t      (double)
//         step_size = lr / bias_correction1;  bias_correction2_sqrt = sqrt(bias_correction2)   (double)
//         denom = (v.sqrt() / bias_correction2_sqrt).add_(eps);  p.addcdiv_(m, denom, value=-step_size)
// The hyper-parameters arrive as float, so b1 is float(0.9), not the double 0.9 Python holds: PyTorch given
// the same float-rounded values computes the same scalars. Remaining differences from PyTorch are at the last
// bit: its vectorised CPU kernels fuse `a + alpha * b` into an FMA, and addcdiv groups (value * m) / denom on
// the CPU where rosetta (like PyTorch's CUDA kernel) computes value * (m / denom).
//
// Each float operation is rounded on its own: nvcc would otherwise contract a * b + c into an FMA on the
// device and break bit-identity with the host.
#pragma once
#include <cmath>
#include <cstdint>

#include "runtime/philox.h"  // ROSETTA_HD

namespace rosetta::kernels::reference {

ROSETTA_HD float mul_rn(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fmul_rn(a, b);
#else
  return a * b;
#endif
}

ROSETTA_HD float add_rn(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fadd_rn(a, b);
#else
  return a + b;
#endif
}

ROSETTA_HD float div_rn(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fdiv_rn(a, b);
#else
  return a / b;
#endif
}

ROSETTA_HD float sqrt_rn(float a) {
#if defined(__CUDA_ARCH__)
  return __fsqrt_rn(a);
#else
  return std::sqrt(a);
#endif
}

// buf = momentum * buf + g;  p -= lr * buf.
ROSETTA_HD void sgd_momentum_element(float& param, float grad, float& buf, float lr, float momentum) {
  buf = add_rn(mul_rn(buf, momentum), grad);
  param = add_rn(param, mul_rn(-lr, buf));
}

// The scalars of one Adam step, as float operands of the element update.
struct AdamScalars {
  float beta1, beta2;
  float one_minus_beta1, one_minus_beta2;  // float(1 - double(beta)), as PyTorch's alpha=1-beta1
  float bias_correction2_sqrt;             // float(sqrt(1 - beta2^t))
  float eps;
  float neg_step_size;                     // float(-lr / (1 - beta1^t))
};

// t is the 1-based step number; t = 0 divides by zero (bias_correction1 = 0).
ROSETTA_HD AdamScalars adam_scalars(float lr, float beta1, float beta2, float eps, std::uint64_t t) {
  const double step = static_cast<double>(t);
  const double bias_correction1 = 1.0 - pow(static_cast<double>(beta1), step);
  const double bias_correction2 = 1.0 - pow(static_cast<double>(beta2), step);
  const double step_size = static_cast<double>(lr) / bias_correction1;
  AdamScalars s;
  s.beta1 = beta1;
  s.beta2 = beta2;
  s.one_minus_beta1 = static_cast<float>(1.0 - static_cast<double>(beta1));
  s.one_minus_beta2 = static_cast<float>(1.0 - static_cast<double>(beta2));
  s.bias_correction2_sqrt = static_cast<float>(sqrt(bias_correction2));
  s.eps = eps;
  s.neg_step_size = static_cast<float>(-step_size);
  return s;
}

ROSETTA_HD void adam_element(float& param, float grad, float& m, float& v, const AdamScalars& s) {
  m = add_rn(mul_rn(m, s.beta1), mul_rn(s.one_minus_beta1, grad));
  v = add_rn(mul_rn(v, s.beta2), mul_rn(mul_rn(s.one_minus_beta2, grad), grad));
  const float denom = add_rn(div_rn(sqrt_rn(v), s.bias_correction2_sqrt), s.eps);
  param = add_rn(param, mul_rn(s.neg_step_size, div_rn(m, denom)));
}

}  // namespace rosetta::kernels::reference
