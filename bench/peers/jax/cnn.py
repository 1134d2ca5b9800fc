"""JAX/Flax peer of rosetta's CNN workload (CIFAR-10, the seed's model), timed by rosetta's protocol.

Runs with the pinned CPU JAX of tools/requirements-jax.txt (the project's .venv-jax; the CI equivalence test) and
with JAX 0.11 + CUDA (the GPU host). Usage:
    .venv-jax/bin/python cnn.py --data DIR --init rosetta_init.safetensors [--json result.json] [--log-steps F] ...
Equivalence mode (compare per-step losses with rosetta's, dropout off, file order):
    .venv-jax/bin/python cnn.py --data DIR --init FILE --device cpu --no-shuffle --no-dropout --max-steps 20 \
        --log-steps F

Workload (keep exact, as bench/peers/pytorch/cnn.py): conv1 3->50, conv2 50->50, conv3 50->100, conv4 100->100
(3x3, pad 1), fc1 6400->512, fc2 512->10; forward relu(conv1) -> relu(maxpool2(conv2)) -> dropout .25 ->
relu(conv3) -> relu(maxpool2(conv4)) -> dropout .25 -> flatten -> relu(fc1) -> dropout .5 -> fc2; mean softmax
cross-entropy; SGD lr 0.01 momentum 0.9 (optax.sgd: buf = m * buf + g, w -= lr * buf, PyTorch's rule, see
optim.py); batch 64; 10 epochs of 781 complete batches.

Invariants:
- The initial weights come only from --init (rosetta's file), strictly checked (training.load_variables); no Flax
  initializer runs on the trained weights (the model's init is only traced, by jax.eval_shape, for the shapes).
- Activations are NHWC, the layout XLA's convolutions prefer: the NCHW batch is transposed inside the jitted step,
  kernels are HWIO (converted at load). PyTorch flattens (C, H, W); here the flatten is (H, W, C), so fc1's 6400
  input rows are permuted once at load to match, and the model is the same function of the same weights.
- Precision (training.setup): fp32 strict, tf32 (GPU), or bf16: convolutions and Dense layers compute in bfloat16
  from float32 parameters (the optimizer and its state stay float32), the loss in float32.
- Dropout draws its masks from a JAX key derived from --seed and carried in the step's state (they need not match
  rosetta's Philox masks; the equivalence runs use --no-dropout, where the dropout layers are identities).
- Timed region and outputs: training.train and peer (the whole loop with shuffle and feed; one-line errors with
  exit 2; atomic output files). Test accuracy: after training, not timed, complete batches only; skipped (null)
  with --max-steps unless --test-batches asks for it.
"""

import argparse
import functools
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.join(os.path.dirname(HERE), "common")]  # this twin's, then the shared modules

import numpy as np  # noqa: E402

import cifar10  # noqa: E402
import peer  # noqa: E402
import result_record  # noqa: E402
import training  # noqa: E402
from peer import UsageError  # noqa: E402

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import flax.linen as nn  # noqa: E402
import optax  # noqa: E402

CHANNELS, SIZE = 100, 8  # conv4's output after the second 2x2 pool: 100 x 8 x 8 = 6400 features


class CifarVGG(nn.Module):
    """The seed notebook's CNN on NHWC images; variable names map to rosetta's safetensors names."""

    dropout: bool = True
    dtype: jnp.dtype = jnp.float32

    @nn.compact
    def __call__(self, x, train):  # x: (N, 32, 32, 3)
        conv = functools.partial(nn.Conv, kernel_size=(3, 3), padding=((1, 1), (1, 1)), dtype=self.dtype)
        pool = functools.partial(nn.max_pool, window_shape=(2, 2), strides=(2, 2))
        p_conv, p_fc = (0.25, 0.5) if self.dropout else (0.0, 0.0)  # p = 0: the identity
        x = nn.relu(conv(50, name="conv1")(x))  # (N, 32, 32, 50)
        x = nn.relu(pool(conv(50, name="conv2")(x)))  # (N, 16, 16, 50)
        x = nn.Dropout(p_conv, deterministic=not train)(x)
        x = nn.relu(conv(100, name="conv3")(x))  # (N, 16, 16, 100)
        x = nn.relu(pool(conv(100, name="conv4")(x)))  # (N, 8, 8, 100)
        x = nn.Dropout(p_conv, deterministic=not train)(x)
        x = x.reshape(x.shape[0], -1)  # (N, 6400) in (H, W, C) order; fc1's rows were permuted at load
        x = nn.relu(nn.Dense(512, dtype=self.dtype, name="fc1")(x))  # (N, 512)
        x = nn.Dropout(p_fc, deterministic=not train)(x)
        return nn.Dense(10, dtype=self.dtype, name="fc2")(x)  # (N, 10) logits


def fc1_to_flax(weight):
    """fc1.weight (512, 6400) with inputs in PyTorch's (C, H, W) order -> the Dense kernel (6400, 512) with inputs in
    the NHWC flatten's (H, W, C) order."""
    return weight.reshape(512, CHANNELS, SIZE, SIZE).transpose(2, 3, 1, 0).reshape(SIZE * SIZE * CHANNELS, 512)


def nhwc(x):
    return jnp.transpose(x, (0, 2, 3, 1))  # (N, 3, 32, 32) -> (N, 32, 32, 3)


def parse_args(argv):
    parser = argparse.ArgumentParser(description="JAX/Flax peer of rosetta's CIFAR-10 CNN workload.")
    training.add_training_arguments(parser, "folder with data_batch_1..5.bin and test_batch.bin", epochs=10, lr=0.01,
                                    data_name="cifar10")
    parser.add_argument("--momentum", type=float, default=0.9)
    parser.add_argument("--no-dropout", action="store_true", help="dropout p = 0")
    return parser.parse_args(argv)


def run(args):
    training.check_training_arguments(args)
    device = training.setup(args)
    model = CifarVGG(dropout=not args.no_dropout, dtype=training.COMPUTE_DTYPE[args.precision])
    shapes = jax.eval_shape(lambda: model.init(jax.random.key(0), jnp.zeros((1, 32, 32, 3)), train=False))
    variables = training.load_variables(args.init, shapes, convert={"fc1.weight": fc1_to_flax})
    params = jax.device_put(variables["params"], device)
    try:
        train_x, train_y = cifar10.load_split(args.data, train=True)
        train_x, train_y = peer.first_examples(args, train_x, train_y)
        test_x, test_y = cifar10.load_split(args.data, train=False) if args.test_batches != 0 else (None, None)
    except cifar10.DataError as error:
        raise UsageError(str(error))
    if len(train_x) < args.batch:
        raise UsageError("--batch %d exceeds the %d training images" % (args.batch, len(train_x)))

    optimizer = optax.sgd(args.lr, momentum=args.momentum)

    def apply_loss(params, x, y, dropout_key):
        logits = model.apply({"params": params}, nhwc(x), train=True, rngs={"dropout": dropout_key})
        return training.cross_entropy(logits, y)

    step = training.train_step(apply_loss, optimizer)
    state = training.train_state(params, optimizer, args.seed, device)
    training.describe("cnn", device, args, "epochs %d, shuffle %s, dropout %s"
                      % (args.epochs, not args.no_shuffle, not args.no_dropout))
    state, losses, timing, profile = training.train(
        args, state, step, training.Feeder(train_x, train_y.astype(np.int32), device), len(train_x), "cnn",
        device)

    accuracy = None
    if test_x is not None:
        predict = jax.jit(lambda params, x: model.apply({"params": params}, nhwc(x), train=False))
        accuracy = training.evaluate(predict, state[0], training.Feeder(test_x, test_y.astype(np.int32), device),
                                     len(test_x), args.batch, args.test_batches)
    return training.finish("cnn", args, device, losses, timing, accuracy, "images_per_second",
                           result_record.cnn_training_flops_per_example(), {"layout": "nhwc", "dropout": not args.no_dropout}, profile)


def main(argv=None):
    return peer.main("cnn", parse_args, run, argv)


if __name__ == "__main__":
    sys.exit(main())
