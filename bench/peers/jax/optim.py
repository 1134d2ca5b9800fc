"""PyTorch's Adam as an optax GradientTransformation, for the JAX peers (the GRU workload).

optax.sgd(lr, momentum) is already PyTorch's SGD with momentum (dampening 0, no Nesterov): optax.trace keeps
buf = g + momentum * buf and scale_by_learning_rate multiplies it by -lr, which optax.apply_updates adds to the
parameter: p + (-lr) * buf, the very float operations of torch.optim.SGD. The CNN uses it as it is.

optax.adam differs from torch.optim.Adam in two ways, so torch_adam() below is written out:
- Where the bias corrections go: optax divides the moments (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps);
  PyTorch scales the step: p += -(lr / (1 - b1^t)) * (m / (sqrt(v) / sqrt(1 - b2^t) + eps)). Equal in exact
  arithmetic, not in float32; eps is added after the square root in both.
- How 1 - b^t is computed: optax evaluates it in float32 from float32(b), whose rounding error grows t-fold and is
  then amplified by the cancellation in 1 - b^t: up to 227 ulp (1.4e-5 relative) for b2 = 0.999 at small t.
  PyTorch computes the step scalars in double on the host. Here they are computed on the device (inside the jitted
  step, no host round trip) as -expm1(t * log(b)) with log(b) taken in double on the host: within 1.2 ulp (b1 =
  0.9) and 5.4 ulp (b2 = 0.999) of float32(PyTorch's double value) over steps 1..20000 (measured; selftest.py
  checks it).

Invariant: the element updates are PyTorch's single-tensor Adam (weight_decay 0, amsgrad off) operation by
operation in float32:
    m = b1 * m + (1 - b1) * g;   v = b2 * v + ((1 - b2) * g) * g
    denom = sqrt(v) / sqrt(bc2) + eps;   update = (-lr / bc1) * (m / denom)
The state is (count, m, v) with count the number of steps taken (int32), as optax's ScaleByAdamState.
"""

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax


class TorchAdamState(NamedTuple):
    count: jax.Array  # () int32: steps taken
    mu: optax.Updates  # first moments, the parameters' shapes
    nu: optax.Updates  # second moments


def bias_correction(beta, t):
    """1 - beta^t in float32 for a float32 step number t (traced), as -expm1(t * log(beta)) (see the header)."""
    return -jnp.expm1(t * jnp.float32(math.log(beta)))


def torch_adam(learning_rate, b1=0.9, b2=0.999, eps=1e-8):
    """torch.optim.Adam(lr, betas=(b1, b2), eps) as a GradientTransformation (the updates include -lr)."""

    def init_fn(params):
        zeros = lambda p: jnp.zeros_like(p, dtype=jnp.float32)  # noqa: E731
        return TorchAdamState(count=jnp.zeros([], jnp.int32), mu=jax.tree.map(zeros, params),
                              nu=jax.tree.map(zeros, params))

    def update_fn(grads, state, params=None):
        del params
        count = state.count + 1
        t = count.astype(jnp.float32)
        neg_step_size = -learning_rate / bias_correction(b1, t)
        bias_correction2_sqrt = jnp.sqrt(bias_correction(b2, t))
        mu = jax.tree.map(lambda m, g: b1 * m + (1 - b1) * g, state.mu, grads)
        nu = jax.tree.map(lambda v, g: b2 * v + ((1 - b2) * g) * g, state.nu, grads)
        updates = jax.tree.map(lambda m, v: neg_step_size * (m / (jnp.sqrt(v) / bias_correction2_sqrt + eps)),
                               mu, nu)
        return updates, TorchAdamState(count=count, mu=mu, nu=nu)

    return optax.GradientTransformation(init_fn, update_fn)
