"""JAX/Flax peer of rosetta's GRU workload (IMDB sentiment, the seed's model), timed by rosetta's protocol.

Runs with the pinned CPU JAX of tools/requirements-jax.txt (the project's .venv-jax; the CI equivalence test) and
with JAX 0.11 + CUDA (the GPU host). Usage:
    .venv-jax/bin/python gru.py --data TOKENS.npz --init rosetta_init.safetensors [--json result.json] ...
Equivalence mode (compare per-step losses with rosetta's, file order):
    .venv-jax/bin/python gru.py --data TOKENS.npz --init FILE --device cpu --no-shuffle --max-steps 20 --log-steps F

Workload (keep exact, as bench/peers/pytorch/gru.py): embedding(30000 x 125) -> GRU(125 -> 100, one layer) ->
output at the last time step -> l_out(100 -> 2); mean softmax cross-entropy; Adam lr 1e-3, betas (0.9, 0.999),
eps 1e-8 (PyTorch's rule, optim.torch_adam); batch 64; 3 epochs of 390 complete batches.

The GRU is PyTorch's nn.GRU, written out (Flax's GRUCell has other parameters and equations): parameters
gru.weight_ih_l0 (3H, I), gru.weight_hh_l0 (3H, H), gru.bias_ih_l0, gru.bias_hh_l0 (3H,), gate rows r | z | n,
kept in PyTorch's layout (the products contract their second axis; XLA folds the transpose into the GEMM), and
    r = sigmoid(W_ir x + b_ir + W_hr h + b_hr)      z = sigmoid(W_iz x + b_iz + W_hz h + b_hz)
    n = tanh(W_in x + b_in + r * (W_hn h + b_hn))   h' = (1 - z) * n + z * h,   h_0 = 0
The input side of all 150 steps is one GEMM ((T N, I) x (I, 3H)) before the recurrence, which is a lax.scan over
time-major (T, N) tokens carrying h (the layout of cuDNN's RNN and of rosetta); only h @ W_hh^T runs per step.

Data (../common/imdb.py): the tokens rosetta writes with --export-data, or the Keras imdb.npz preprocessed as the
seed does. Precision (training.setup): fp32 strict, tf32 (GPU), or bf16: the GEMM operands in bfloat16 with float32
accumulation, gates, hidden state, parameters, Adam and the loss in float32.

Invariants: as cnn.py (training.py): initial weights only from --init with strict checks, explicit and recorded
precision, the timed region is the whole training loop with shuffle and feed, one-line errors with exit 2, atomic
output files.
"""

import argparse
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.join(os.path.dirname(HERE), "common")]  # this twin's, then the shared modules

import imdb  # noqa: E402
import optim  # noqa: E402
import peer  # noqa: E402
import result_record  # noqa: E402
import training  # noqa: E402
from peer import UsageError  # noqa: E402

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import flax.linen as nn  # noqa: E402

EMBEDDING, HIDDEN = 125, 100


class TorchGRU(nn.Module):
    """One layer of PyTorch's nn.GRU over time-major input; returns the last hidden state."""

    hidden: int
    dtype: jnp.dtype = jnp.float32  # the GEMM operands' dtype; accumulation and gates stay float32

    @nn.compact
    def __call__(self, x):  # x: (T, N, I)
        three_h, H = 3 * self.hidden, self.hidden
        zeros = nn.initializers.zeros  # shapes only: the weights come from --init
        w_ih = self.param("weight_ih_l0", zeros, (three_h, x.shape[-1]))
        w_hh = self.param("weight_hh_l0", zeros, (three_h, H))
        b_ih = self.param("bias_ih_l0", zeros, (three_h,))
        b_hh = self.param("bias_hh_l0", zeros, (three_h,))

        def matmul_t(a, w):  # a @ w^T in the compute dtype, float32 result
            return jnp.matmul(a.astype(self.dtype), w.astype(self.dtype).T, preferred_element_type=jnp.float32)

        ax = matmul_t(x, w_ih) + b_ih  # (T, N, 3H): the input side of every step at once

        def step(h, ax_t):  # h: (N, H), ax_t: (N, 3H)
            ah = matmul_t(h, w_hh) + b_hh  # (N, 3H)
            r = jax.nn.sigmoid(ax_t[:, :H] + ah[:, :H])
            z = jax.nn.sigmoid(ax_t[:, H:2 * H] + ah[:, H:2 * H])
            n = jnp.tanh(ax_t[:, 2 * H:] + r * ah[:, 2 * H:])
            return (1 - z) * n + z * h, None

        h, _ = jax.lax.scan(step, jnp.zeros((x.shape[1], H), jnp.float32), ax)
        return h  # (N, H)


class ImdbGRU(nn.Module):
    """The seed notebook's GRU model; variable names map to rosetta's safetensors names."""

    dtype: jnp.dtype = jnp.float32

    @nn.compact
    def __call__(self, tokens):  # tokens: (T, N) int32
        x = nn.Embed(imdb.VOCABULARY, EMBEDDING, name="embedding")(tokens)  # (T, N, 125)
        h = TorchGRU(HIDDEN, dtype=self.dtype, name="gru")(x)  # (N, 100): the output at the last time step
        return nn.Dense(imdb.CLASSES, dtype=self.dtype, name="l_out")(h)  # (N, 2) logits


def parse_args(argv):
    parser = argparse.ArgumentParser(description="JAX/Flax peer of rosetta's IMDB GRU workload.")
    training.add_training_arguments(parser, "token .npz from rosetta --export-data, or Keras imdb.npz", epochs=3,
                                    lr=1e-3, data_name="imdb")
    return parser.parse_args(argv)


def run(args):
    training.check_training_arguments(args)
    device = training.setup(args)
    model = ImdbGRU(dtype=training.COMPUTE_DTYPE[args.precision])
    shapes = jax.eval_shape(lambda: model.init(jax.random.key(0), jnp.zeros((imdb.MAX_LENGTH, 1), jnp.int32)))
    params = jax.device_put(training.load_variables(args.init, shapes)["params"], device)
    try:
        train_x, train_y, test_x, test_y = imdb.load(args.data)
        train_x, train_y = peer.first_examples(args, train_x, train_y)
    except imdb.DataError as error:
        raise UsageError(str(error))
    if len(train_x) < args.batch:
        raise UsageError("--batch %d exceeds the %d training reviews" % (args.batch, len(train_x)))

    optimizer = optim.torch_adam(args.lr, b1=0.9, b2=0.999, eps=1e-8)

    def apply_loss(params, tokens, y, dropout_key):  # the model has no dropout; the key goes unused
        return training.cross_entropy(model.apply({"params": params}, tokens.T), y)

    step = training.train_step(apply_loss, optimizer)
    state = training.train_state(params, optimizer, args.seed, device)
    training.describe("gru", device, args, "epochs %d, shuffle %s" % (args.epochs, not args.no_shuffle))
    state, losses, timing, profile = training.train(
        args, state, step, training.Feeder(train_x, train_y, device), len(train_x), "gru",
        device)

    accuracy = None
    if args.test_batches != 0:
        predict = jax.jit(lambda params, tokens: model.apply({"params": params}, tokens.T))
        accuracy = training.evaluate(predict, state[0], training.Feeder(test_x, test_y, device), len(test_x),
                                     args.batch, args.test_batches)
    return training.finish("gru", args, device, losses, timing, accuracy, "sequences_per_second",
                           result_record.gru_training_flops_per_example(train_x.shape[1]), {"layout": "tnc"}, profile)


def main(argv=None):
    return peer.main("gru", parse_args, run, argv)


if __name__ == "__main__":
    sys.exit(main())
