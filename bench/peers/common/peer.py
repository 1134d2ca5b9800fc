"""What every peer shares, whatever its framework (PyTorch in ../pytorch, JAX in ../jax): the one-line errors, the
strict weights and --input images checks, the provenance fields of the record, the training record's timing fields,
the output files.

Imported by plain name: each peer script puts its own folder and this one on sys.path.

Invariants:
- UsageError is bad input or an impossible option combination; main() turns it into one line
  "<workload>: error: ..." and exit code 2.
- read_weights checks rosetta's safetensors file strictly: every expected name present as F32 with the model's
  shape (in PyTorch's layout), nothing unexpected (names the caller ignores aside); all problems are reported at
  once, before anything is loaded.
- The timing fields follow DESIGN.md: seconds_total includes the first epoch (autotuning, compilation), as the seed
  measured; seconds_without_first_epoch and the throughput leave it out and are null (never 0) for a one-epoch run.
- Records are schema version 1 (docs/schema/result-record.schema.json; result_record.py): the throughput is the
  steady state's median, with its spread, as rosetta's is.
- Output files (--log-steps "<step> <loss>", 1-based, %.9g; --json) are written through atomic_file.
"""

import argparse
import datetime
import json
import os
import subprocess
import sys

import atomic_file
import result_record
import safetensors_io

HERE = os.path.dirname(os.path.abspath(__file__))


class UsageError(Exception):
    """Bad input or an impossible option combination: one line, exit 2."""


def positive_int(text):
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be a positive integer, got %s" % text)
    return value


def add_train_examples_argument(parser):
    parser.add_argument("--train-examples", type=positive_int, default=None,
                        help="train on the first N training examples only (rosetta's --train-examples)")


def first_examples(args, x, y):
    """The first --train-examples rows of (x, y) (all without it), and the record's data name says so."""
    if args.train_examples is None:
        return x, y
    if args.train_examples > len(x):
        raise UsageError("--train-examples %d exceeds the %d training examples" % (args.train_examples, len(x)))
    args.data_name = "%s (first %d)" % (args.data_name, args.train_examples)
    return x[:args.train_examples], y[:args.train_examples]


def check_output_folders(*options):
    """Each (option, path) pair: the path's folder must exist and be writable, before any work is done."""
    for option, path in options:
        folder = os.path.dirname(os.path.abspath(path)) if path else None
        if folder and not (os.path.isdir(folder) and os.access(folder, os.W_OK)):
            raise UsageError("%s %s: folder %s does not exist or is not writable" % (option, path, folder))


def read_weights(path, expected, ignore=lambda name: False):
    """Reads `path` and checks it against `expected` {name: shape}; returns {name: float32 numpy array} for the
    expected names. `ignore(name)` names file entries that do not count (ResNet-50: fc.* and num_batches_tracked)."""
    try:
        tensors, _ = safetensors_io.load_with_dtypes(path)
    except safetensors_io.SafetensorsError as error:
        raise UsageError(str(error))
    problems = []
    missing = [name for name in expected if name not in tensors]
    unexpected = [name for name in tensors if name not in expected and not ignore(name)]
    if missing:
        problems.append("missing %s" % ", ".join(missing))
    if unexpected:
        problems.append("unexpected %s" % ", ".join(unexpected))
    for name, shape in expected.items():
        if name not in tensors:
            continue
        tag, array = tensors[name]
        if tag != "F32":
            problems.append("%s has dtype %s, expected F32" % (name, tag))
        elif tuple(array.shape) != tuple(shape):
            problems.append("%s has shape %s, expected %s" % (name, tuple(array.shape), tuple(shape)))
    if problems:
        raise UsageError("%s: %s" % (path, "; ".join(problems)))
    return {name: tensors[name][1] for name in expected}


def read_images(path, batch):
    """The "images" tensor of a safetensors file (ResNet-50's --input): F32 (N, 3, S, S), S >= 32, N a multiple of
    `batch`; returns the float32 numpy array."""
    try:
        tensors, _ = safetensors_io.load_with_dtypes(path)
    except safetensors_io.SafetensorsError as error:
        raise UsageError(str(error))
    if "images" not in tensors:
        raise UsageError('%s: no tensor "images" (expected F32 (N, 3, H, W))' % path)
    tag, array = tensors["images"]
    shape = tuple(array.shape)
    if tag != "F32" or len(shape) != 4 or shape[1] != 3 or shape[2] != shape[3] or shape[2] < 32:
        raise UsageError('%s: tensor "images" is %s %s, expected F32 (N, 3, S, S) with S >= 32' % (path, tag, shape))
    if shape[0] % batch != 0:
        raise UsageError("%s: %d images are not a whole number of batches of --batch %d" % (path, shape[0], batch))
    return array


def command_output(arguments):
    """First line of a command's stdout, or None when it is missing or fails."""
    try:
        result = subprocess.run(arguments, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, timeout=20,
                                universal_newlines=True)
    except (OSError, subprocess.SubprocessError):
        return None
    lines = result.stdout.strip().splitlines()
    return lines[0].strip() if result.returncode == 0 and lines else None


def nvidia_driver():
    """The driver version nvidia-smi reports, or None."""
    return command_output(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"])


def provenance():
    """The record's commit and date fields."""
    return {
        # ROSETTA_COMMIT names the commit where the tree has no .git (a copy carried to a GPU host).
        "commit": os.environ.get("ROSETTA_COMMIT") or command_output(["git", "-C", HERE, "rev-parse", "HEAD"]),
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def add_training_fields(workload, record, args, losses, timing, accuracy, examples_key, flops_per_example):
    """Adds a training run's fields to `record` (the framework's base fields), its steady state and metrics
    (result_record.add_measurements), and prints the summary line. losses: the per-step losses (floats); timing:
    epoch_seconds (one entry per epoch run), window_seconds, steps_per_epoch, and
    the energy and peak_memory Readings."""
    epoch_seconds = timing.epoch_seconds
    seconds_total = sum(epoch_seconds)
    steady_seconds = sum(epoch_seconds[1:]) if len(epoch_seconds) > 1 else None
    steady, why = result_record.training_steady_state(timing.steps_per_epoch, len(losses), args.batch,
                                                      epoch_seconds, timing.window_seconds)
    record.update({
        "epochs": len(epoch_seconds),
        "steps": len(losses),
        "seconds_total": seconds_total,
        "seconds_without_first_epoch": steady_seconds,
        "seconds_per_epoch": epoch_seconds,
        # Throughput: the steady state's median repetition, as rosetta's.
        examples_key: steady["examples_per_repetition"] / steady["median_s"] if steady else None,
        "test_accuracy": accuracy,
        "final_loss": float(losses[-1]),
        "data": args.data_name,
    })
    result_record.add_measurements(record, steady, why, flops_per_example, "epoch", timing.energy, timing.peak_memory)
    print("%s: %d steps in %.3f s (without the first epoch: %s s, %s %s), final loss %.6f, test accuracy %s"
          % (workload, record["steps"], seconds_total,
             "%.3f" % steady_seconds if steady_seconds else "n/a",
             "%.1f" % record[examples_key] if record[examples_key] else "n/a", examples_key.replace("_", " "),
             record["final_loss"], "%.4f" % accuracy if accuracy is not None else "n/a"), flush=True)
    return record


def add_repeats_argument(parser):
    parser.add_argument("--repeats", type=positive_int, default=result_record.MIN_REPETITIONS,
                        help="timed passes over the images (the figures are their median, min and max)")


def timed_passes(one_pass, repeats, meter):
    """(warm-up seconds, [seconds of each timed pass]); `meter` (result_record.EnergyMeter) covers the timed ones."""
    warmup_seconds = one_pass()
    meter.start()
    return warmup_seconds, [one_pass() for _ in range(repeats)]


def add_extraction_fields(record, count, image_size, warmup_seconds, pass_seconds, energy, peak_memory):
    """Adds an extraction's timing fields, steady state and metrics to `record` (rosetta's extract resnet50
    record: the figures are the median pass) and prints the summary line. energy: a Reading per 1000 images."""
    steady = result_record.steady_state("pass", count, pass_seconds)
    per_1000, per_second = steady["median_s"] * 1000.0 / count, count / steady["median_s"]
    record.update({
        "images": count,
        "image_size": image_size,
        "seconds_total": sum(pass_seconds),
        "seconds_warmup": warmup_seconds,
        "seconds_per_1000_images": per_1000,
        "images_per_second": per_second,
    })
    result_record.add_measurements(record, steady, None, result_record.resnet50_forward_flops_per_image(image_size),
                                   "1000 images", energy, peak_memory)
    print("warm-up pass %.3f s; %d timed passes of %d images: median %.4f s (min %.4f, max %.4f): %.4f s per 1000 "
          "images, %.1f images/s, %.3g TFLOP/s" % (warmup_seconds, len(pass_seconds), count, steady["median_s"],
                                                  steady["min_s"], steady["max_s"], per_1000, per_second,
                                                  record["metrics"]["tflops"]), flush=True)
    return record


def write_outputs(args, losses, record):
    """--log-steps ("<step> <loss>", 1-based, %.9g) and --json, each written atomically."""
    if args.log_steps:
        lines = "".join("%d %.9g\n" % (i + 1, float(v)) for i, v in enumerate(losses))
        atomic_file.atomic_write_text(args.log_steps, lines)
    if args.json:
        atomic_file.atomic_write_text(args.json, json.dumps(record, indent=2) + "\n")


def main(workload, parse_args, run, argv=None):
    """Runs `run(parse_args(argv))`; a UsageError is one line on stderr and exit code 2."""
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        run(args)
    except UsageError as error:
        print("%s: error: %s" % (workload, error), file=sys.stderr)
        return 2
    return 0
