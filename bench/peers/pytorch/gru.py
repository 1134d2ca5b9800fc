"""PyTorch peer of rosetta's GRU workload (IMDB sentiment, the seed's PyTorch notebook), timed by rosetta's protocol.

Runs with torch 1.13 (CPU; the CI equivalence test) and torch 2.x + CUDA (the GPU host). Usage:
    python3 gru.py --data TOKENS.npz --init rosetta_init.safetensors [--json result.json] [--log-steps F] ...
Equivalence mode (compare per-step losses with rosetta's, file order):
    python3 gru.py --data TOKENS.npz --init FILE --device cpu --no-shuffle --max-steps 20 --log-steps F

Workload (keep exact): embedding(30000 x 125) -> GRU(125 -> 100, one layer) -> output at the last time step ->
l_out(100 -> 2); mean softmax cross-entropy; Adam lr 1e-3, betas (0.9, 0.999), eps 1e-8; batch 64; 3 epochs of
390 complete batches; tokens fed time-major (T, N) to cuDNN (--layout tnc, the seed's lesson) or batch-first
(--layout ntc, nn.GRU(batch_first=True)).

Data (../common/imdb.py): the preprocessed tokens rosetta writes with `rosetta train gru --export-data F.npz`, or
the Keras imdb.npz itself, preprocessed exactly as the seed does ([1] + [w + 3], w >= 30000 -> 2, keep the LAST 150
tokens, pad 0 AFTER).

Invariants: as cnn.py (training.py): initial weights only from --init with strict checks, explicit and recorded
precision, the timed region is the whole training loop with shuffle and feed, one-line errors with exit 2, atomic
output files.
"""

import argparse
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.join(os.path.dirname(HERE), "common")]  # this twin's, then the shared modules

import numpy as np  # noqa: E402

import imdb  # noqa: E402
import peer  # noqa: E402
import record as record_fields  # noqa: E402
import result_record  # noqa: E402
import training  # noqa: E402
from peer import UsageError  # noqa: E402

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402

EMBEDDING, HIDDEN = 125, 100


class ImdbGRU(nn.Module):
    """The seed notebook's GRU model; parameter names are rosetta's safetensors names."""

    def __init__(self, batch_first):
        super().__init__()
        self.embedding = nn.Embedding(imdb.VOCABULARY, EMBEDDING)
        self.gru = nn.GRU(EMBEDDING, HIDDEN, num_layers=1, batch_first=batch_first)
        self.l_out = nn.Linear(HIDDEN, imdb.CLASSES)
        self.batch_first = batch_first

    def forward(self, tokens):  # (T, N) or (N, T) int64
        out, _ = self.gru(self.embedding(tokens))  # (T, N, H) or (N, T, H)
        last = out[:, -1] if self.batch_first else out[-1]  # (N, H)
        return self.l_out(last)  # (N, 2) logits


def parse_args(argv):
    parser = argparse.ArgumentParser(description="PyTorch peer of rosetta's IMDB GRU workload.")
    training.add_training_arguments(parser, "token .npz from rosetta --export-data, or Keras imdb.npz", epochs=3,
                                   lr=1e-3)
    parser.add_argument("--data-name", default="imdb", help="name of the data set for the record")
    parser.add_argument("--seed", type=int, default=0, help="shuffle generator seed")
    parser.add_argument("--precision", choices=["fp32", "tf32"], default="fp32")
    parser.add_argument("--mode", choices=["eager", "compile", "compile-cudagraphs"], default="eager",
                        help="compile: torch.compile(model); compile-cudagraphs: mode 'reduce-overhead' (CUDA graphs)")
    parser.add_argument("--dynamo-rnn", action="store_true",
                        help="with a compile mode: let TorchDynamo trace the GRU (torch._dynamo.config.allow_rnn) "
                             "instead of breaking the graph around it")
    parser.add_argument("--layout", choices=["tnc", "ntc"], default="tnc")
    training.add_optimizer_argument(parser)
    return parser.parse_args(argv)


def cudnn_rnn_algorithm(device):
    """The cuDNN RNN algorithm PyTorch picks for this GRU, by its own rule (get_algo and use_rnn_persist_small_h in
    aten/src/ATen/native/cudnn/RNN.cpp, cuDNN >= 8.2.1): unpacked float input on a GPU of compute capability >= 6
    runs PERSIST_STATIC_SMALL_H when the hidden size is <= 192 forward and <= 128 backward for a GRU, else STANDARD
    (PERSIST_STATIC only for fp16). None on the CPU, which runs no cuDNN. The kernels it ran are in --profile's
    regions on the GPU, which confirm it."""
    if device.type != "cuda" or not torch.backends.cudnn.is_available():
        return None
    major, _ = torch.cuda.get_device_capability(device)
    small_h = major >= 6 and (torch.backends.cudnn.version() or 0) >= 8201
    return "persist_static_small_h" if small_h and HIDDEN <= 128 else "standard"


def load_data(path):
    """(x_train, y_train, x_test, y_test) as int64 torch tensors, x (N, 150)."""
    try:
        arrays = imdb.load(path)
    except imdb.DataError as error:
        raise UsageError(str(error))
    return tuple(torch.from_numpy(a.astype(np.int64)) for a in arrays)


def run(args):
    device = training.check_device(args)
    if args.test_batches is not None and args.test_batches < 0:
        raise UsageError("--test-batches must be >= 0")
    if args.test_batches is None and args.max_steps is not None:
        args.test_batches = 0
    peer.check_output_folders(("--log-steps", args.log_steps), ("--json", args.json))
    allow_tf32 = args.precision == "tf32"
    if record_fields.set_tf32(allow_tf32) != (allow_tf32, allow_tf32):
        raise UsageError("--precision %s: the TF32 switches did not take" % args.precision)
    torch.manual_seed(args.seed)

    batch_first = args.layout == "ntc"
    model = ImdbGRU(batch_first)
    training.load_weights(model, args.init)
    train_x, train_y, test_x, test_y = load_data(args.data)
    train_x, train_y = peer.first_examples(args, train_x, train_y)
    if len(train_x) < args.batch:
        raise UsageError("--batch %d exceeds the %d training reviews" % (args.batch, len(train_x)))
    model.to(device)
    optimizer = training.make_optimizer(torch.optim.Adam, model.parameters(), args.optimizer, lr=args.lr,
                                        betas=(0.9, 0.999), eps=1e-8)
    if args.dynamo_rnn:
        if args.mode == "eager":
            raise UsageError("--dynamo-rnn needs a compile --mode")
        torch._dynamo.config.allow_rnn = True  # TorchDynamo's switch: trace nn.GRU instead of a graph break
    step_model = training.compile_model(model, args.mode)
    algorithm = cudnn_rnn_algorithm(device)
    print("gru: torch %s on %s, mode %s%s, precision %s, layout %s, optimizer %s, cuDNN RNN algorithm %s, batch %d, "
          "epochs %d, shuffle %s"
          % (torch.__version__, record_fields.device_name(device), args.mode, ", dynamo traces the GRU" if
             args.dynamo_rnn else "", args.precision, args.layout, args.optimizer, algorithm, args.batch, args.epochs,
             not args.no_shuffle), flush=True)

    # Batches are gathered example-major; tnc feeds them time-major (T, N), as the seed's cuDNN lesson says.
    layout = None if batch_first else (lambda x: x.t().contiguous())
    feeder = training.Feeder(train_x, train_y, device, layout)
    losses, timing, profile = training.train(args, model, step_model, optimizer, feeder, len(train_x), device, "gru")
    accuracy = None
    if args.test_batches != 0:
        accuracy = training.evaluate(model, training.Feeder(test_x, test_y, device, layout), len(test_x), args.batch,
                                     args.test_batches)
    record = training.training_record("gru", args, device, losses, timing, accuracy, "sequences_per_second",
                                      result_record.gru_training_flops_per_example(train_x.shape[1]))
    record.update({"layout": args.layout, "optimizer_impl": args.optimizer, "dynamo_rnn": bool(args.dynamo_rnn),
                   "cudnn_rnn_algorithm": algorithm})
    training.add_profile(record, "gru", profile)
    peer.write_outputs(args, losses, record)
    return record


def main(argv=None):
    return peer.main("gru", parse_args, run, argv)


if __name__ == "__main__":
    sys.exit(main())
