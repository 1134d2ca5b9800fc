"""PyTorch peer of rosetta's CNN workload (CIFAR-10, the seed's PyTorch notebook), timed by rosetta's protocol.

Runs with torch 1.13 (CPU; the CI equivalence test) and torch 2.x + CUDA (the GPU host). Usage:
    python3 cnn.py --data DIR --init rosetta_init.safetensors [--json result.json] [--log-steps losses.txt] ...
Equivalence mode (compare per-step losses with rosetta's, dropout off, file order):
    python3 cnn.py --data DIR --init FILE --device cpu --no-shuffle --no-dropout --max-steps 20 --log-steps F

Workload (keep exact): conv1 3->50, conv2 50->50, conv3 50->100, conv4 100->100 (3x3, pad 1), fc1 6400->512,
fc2 512->10; forward relu(conv1) -> relu(maxpool2(conv2)) -> dropout .25 -> relu(conv3) -> relu(maxpool2(conv4))
-> dropout .25 -> flatten (C, H, W order) -> relu(fc1) -> dropout .5 -> fc2; mean softmax cross-entropy;
SGD lr 0.01 momentum 0.9 (buf = m * buf + g, w -= lr * buf); batch 64; 10 epochs of 781 complete batches.

Invariants:
- The initial weights come only from --init (rosetta's file): every state_dict name must be present as F32 with
  the model's shape and nothing else may be in the file; no PyTorch initializer runs on the trained weights.
- Precision is explicit and recorded: fp32 sets torch.backends.cuda.matmul.allow_tf32 = False and
  torch.backends.cudnn.allow_tf32 = False (PyTorch's default enables TF32 for cuDNN convolutions); tf32 sets
  both True. The flags are read back and a mismatch is an error. bf16 is mixed precision: the forward runs under
  torch.autocast(bf16) (convolutions and linear layers take bf16 copies of their inputs, weights and biases and
  return bf16; ReLU, pooling and dropout run on bf16) with both TF32 flags off, the loss in float from float
  logits (autocast's rule for cross_entropy), the weights, gradients and SGD state in float. It runs on the CPU
  too (torch 1.13's CPU autocast covers conv2d and linear), which the CPU equivalence test uses.
- Timed region = the training loop of all epochs: per-epoch shuffle (torch.randperm with a seeded CPU
  generator, or file order with --no-shuffle), the pinned host-to-device copy of each batch (non_blocking),
  forward, backward, optimizer step. The clock is read only after torch.cuda.synchronize(), at the start and at
  each epoch end (the only host waits in the loop). The epoch-end progress line is printed outside the clock.
- Losses are kept as detached device tensors (one reference per step, no kernel, no sync) and copied to the
  host once after the loop, so --log-steps costs nothing inside the timed region; the cost is one small
  allocation per step held until the end (7810 steps: under 4 MB in the caching allocator).
- Test accuracy: after training, not timed, eval mode, no grad, complete batches of --batch only, on the
  eager module (a compiled module would recompile for eval). With --max-steps it is skipped (null) unless
  --test-batches asks for it, which keeps the CPU equivalence run to a few seconds.
- Bad input (data, weights file, impossible options) prints one line "cnn: error: ..." and exits 2; output
  files are written to a temporary file and renamed (os.replace), so a failed run never leaves half a file.
"""

import argparse
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.join(os.path.dirname(HERE), "common")]  # this twin's, then the shared modules

import cifar10  # noqa: E402
import peer  # noqa: E402
import record as record_fields  # noqa: E402
import result_record  # noqa: E402
import training  # noqa: E402
from peer import UsageError  # noqa: E402

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

FEATURES = 100 * 8 * 8  # 6400: conv4 output (C, H, W) after the second 2x2 pool


class CifarVGG(nn.Module):
    """The seed notebook's CNN; parameter names are rosetta's safetensors names."""

    def __init__(self, dropout=True):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 50, 3, padding=1)
        self.conv2 = nn.Conv2d(50, 50, 3, padding=1)
        self.conv3 = nn.Conv2d(50, 100, 3, padding=1)
        self.conv4 = nn.Conv2d(100, 100, 3, padding=1)
        self.fc1 = nn.Linear(FEATURES, 512)
        self.fc2 = nn.Linear(512, 10)
        # --no-dropout keeps the dropout calls with p = 0 (identity), as the equivalence protocol asks.
        self.p_conv = 0.25 if dropout else 0.0
        self.p_fc = 0.5 if dropout else 0.0

    def forward(self, x):  # x: (N, 3, 32, 32)
        x = F.relu(self.conv1(x))  # (N, 50, 32, 32)
        x = F.relu(F.max_pool2d(self.conv2(x), 2, 2))  # (N, 50, 16, 16)
        x = F.dropout(x, self.p_conv, self.training)
        x = F.relu(self.conv3(x))  # (N, 100, 16, 16)
        x = F.relu(F.max_pool2d(self.conv4(x), 2, 2))  # (N, 100, 8, 8)
        x = F.dropout(x, self.p_conv, self.training)
        # The notebook's x.view(-1, 6400); reshape is the same (no copy) for NCHW-contiguous x and copies into
        # (C, H, W) order for channels-last x, where view() would fail.
        x = x.reshape(-1, FEATURES)  # (N, 6400)
        x = F.relu(self.fc1(x))  # (N, 512)
        x = F.dropout(x, self.p_fc, self.training)
        return self.fc2(x)  # (N, 10) logits


def parse_args(argv):
    parser = argparse.ArgumentParser(description="PyTorch peer of rosetta's CIFAR-10 CNN workload.")
    training.add_training_arguments(parser, "folder with data_batch_1..5.bin and test_batch.bin", epochs=10, lr=0.01)
    parser.add_argument("--data-name", default="cifar10", help="name of the data set for the record")
    parser.add_argument("--momentum", type=float, default=0.9)
    parser.add_argument("--seed", type=int, default=0, help="shuffle generator and dropout seed")
    parser.add_argument("--precision", choices=["fp32", "tf32", "bf16"], default="fp32",
                        help="bf16: torch.autocast(bfloat16) around the forward, float weights and loss")
    parser.add_argument("--mode", choices=["eager", "compile", "compile-cudagraphs", "compile-max-autotune"],
                        default="eager", help="compile: torch.compile(model); compile-cudagraphs: mode "
                        "'reduce-overhead' (CUDA graphs); compile-max-autotune: mode 'max-autotune' (autotuned "
                        "kernels and CUDA graphs)")
    parser.add_argument("--channels-last", action="store_true", help="NHWC model and input memory format")
    training.add_optimizer_argument(parser)
    parser.add_argument("--cudnn-benchmark", choices=["on", "off"], default="on")
    parser.add_argument("--no-dropout", action="store_true", help="dropout p = 0")
    return parser.parse_args(argv)


class Autocast(nn.Module):
    """The model's forward under torch.autocast(bf16), returning float logits: the cross-entropy then runs in float,
    as autocast runs it (its fp32 list), and the logits' gradient reaches the bf16 logits through the cast, rounded
    to bf16. The wrapped module's parameters stay float (the optimizer's)."""

    def __init__(self, model, device_type):
        super().__init__()
        self.model = model
        self.device_type = device_type

    def forward(self, x):
        with torch.autocast(self.device_type, dtype=torch.bfloat16):
            return self.model(x).float()


def set_precision(precision):
    """Sets both TF32 switches explicitly and returns them as read back: (cuBLAS matmul, cuDNN). bf16 turns TF32 off:
    what autocast leaves in float stays strict float."""
    allow = precision == "tf32"
    state = record_fields.set_tf32(allow)
    if state != (allow, allow):
        raise UsageError("--precision %s: TF32 switches read back as matmul=%s cudnn=%s (an environment override?)"
                         % (precision, state[0], state[1]))
    return state


def run(args):
    device = training.check_device(args)
    if args.mode in training.CUDA_GRAPH_MODES and device.type != "cuda":
        raise UsageError("--mode %s needs --device cuda (CUDA graphs)" % args.mode)
    if args.test_batches is not None and args.test_batches < 0:
        raise UsageError("--test-batches must be >= 0")
    if args.test_batches is None and args.max_steps is not None:
        args.test_batches = 0  # a cut-short run's accuracy means nothing, and evaluating costs ~30 s on a CPU
    peer.check_output_folders(("--log-steps", args.log_steps), ("--json", args.json))

    matmul_tf32, cudnn_tf32 = set_precision(args.precision)
    torch.backends.cudnn.benchmark = args.cudnn_benchmark == "on"
    torch.manual_seed(args.seed)  # dropout masks (CPU and CUDA generators)

    model = CifarVGG(dropout=not args.no_dropout)
    training.load_weights(model, args.init)
    try:
        train_x, train_y = cifar10.load_split(args.data, train=True)
        train_x, train_y = peer.first_examples(args, train_x, train_y)
        test_x, test_y = cifar10.load_split(args.data, train=False) if args.test_batches != 0 else (None, None)
    except cifar10.DataError as error:
        raise UsageError(str(error))
    if len(train_x) < args.batch:
        raise UsageError("--batch %d exceeds the %d training images" % (args.batch, len(train_x)))

    model.to(device)
    if args.channels_last:
        model.to(memory_format=torch.channels_last)
    optimizer = training.make_optimizer(torch.optim.SGD, model.parameters(), args.optimizer, lr=args.lr,
                                        momentum=args.momentum)
    run_model = Autocast(model, device.type) if args.precision == "bf16" else model  # what trains and evaluates
    step_model = training.compile_model(run_model, args.mode)

    device_name = record_fields.device_name(device)
    print("cnn: torch %s on %s, mode %s, precision %s (matmul TF32 %s, cuDNN TF32 %s), cudnn.benchmark %s, "
          "channels_last %s, optimizer %s, batch %d, epochs %d, shuffle %s, dropout %s"
          % (torch.__version__, device_name, args.mode, args.precision, matmul_tf32, cudnn_tf32,
             args.cudnn_benchmark, args.channels_last, args.optimizer, args.batch, args.epochs, not args.no_shuffle,
             not args.no_dropout), flush=True)

    layout = (lambda x: x.contiguous(memory_format=torch.channels_last)) if args.channels_last else None
    feeder = training.Feeder(torch.from_numpy(train_x), torch.from_numpy(train_y), device, layout)
    losses, timing, profile = training.train(args, model, step_model, optimizer, feeder, len(train_x), device, "cnn")

    accuracy = None
    if test_x is not None:
        test_feeder = training.Feeder(torch.from_numpy(test_x), torch.from_numpy(test_y), device, layout)
        accuracy = training.evaluate(run_model, test_feeder, len(test_x), args.batch, args.test_batches)

    record = training.training_record("cnn", args, device, losses, timing, accuracy, "images_per_second",
                                      result_record.cnn_training_flops_per_example())
    record.update({"channels_last": bool(args.channels_last), "cudnn_benchmark": args.cudnn_benchmark == "on",
                   "optimizer_impl": args.optimizer})
    training.add_profile(record, "cnn", profile)
    peer.write_outputs(args, losses, record)
    return record


def main(argv=None):
    return peer.main("cnn", parse_args, run, argv)


if __name__ == "__main__":
    sys.exit(main())
