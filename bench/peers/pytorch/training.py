"""What the PyTorch peers' training and inference scripts share, so each workload file holds only its model,
its data and its record fields. What every peer shares whatever its framework (errors, the weights check, the
record's timing fields, the output files) is ../common/peer.py.

Invariants:
- load_weights loads rosetta's safetensors file with peer.read_weights's strict checks (every expected name
  present as F32 with the model's shape, nothing unexpected, names the caller ignores aside).
- train() is the timed loop of DESIGN.md: per-epoch shuffle (torch.randperm on a seeded CPU generator, or file
  order), the host-to-device feed, forward, backward, optimizer step. The clock is read only after a device
  synchronize, at the start, at each epoch end and, in a run of fewer than 5 epochs after the first, at the
  boundaries of the 5 steady-state windows (../common/result_record.py); losses stay on the device until after
  the loop. Peak device memory and NVML energy cover the same steady region as rosetta's.
"""

import time

import torch
import torch.nn.functional as F

import peer
import profile_classes
import record as record_fields
import torch_breakdown
import result_record
from peer import UsageError, positive_int


def synchronize(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def add_training_arguments(parser, data_help, epochs, lr):
    """The arguments every training peer takes, with its workload's defaults."""
    parser.add_argument("--data", required=True, help=data_help)
    parser.add_argument("--init", required=True, help="rosetta's initial weights (.safetensors)")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--epochs", type=positive_int, default=epochs)
    parser.add_argument("--batch", type=positive_int, default=64)
    parser.add_argument("--lr", type=float, default=lr)
    parser.add_argument("--max-steps", type=positive_int, default=None, help="stop after N training steps")
    peer.add_train_examples_argument(parser)
    parser.add_argument("--test-batches", type=int, default=None,
                        help="test batches to evaluate (default: all complete batches, or 0 with --max-steps; "
                             "0: skip, test_accuracy null)")
    parser.add_argument("--no-shuffle", action="store_true", help="batches in file order every epoch")
    parser.add_argument("--log-steps", metavar="FILE", help='one line per step: "<step> <loss>" (1-based)')
    parser.add_argument("--json", metavar="FILE", help="write the result record here")
    parser.add_argument("--profile", action="store_true",
                        help="profile the last %d steps with torch.profiler: print the breakdown by class and record it"
                             % profile_classes.PROFILE_STEPS)


# --mode: torch.compile's mode per twin mode ("eager": no compilation). "max-autotune" autotunes Triton and template
# kernels for matrix products and convolutions and, on a GPU, replays the step as CUDA graphs, as "reduce-overhead"
# does without the autotuning (torch.compile's documented modes).
COMPILE_MODES = {"compile": None, "compile-cudagraphs": "reduce-overhead", "compile-max-autotune": "max-autotune",
                 "compile-max-autotune-no-cudagraphs": "max-autotune-no-cudagraphs"}
CUDA_GRAPH_MODES = {"compile-cudagraphs", "compile-max-autotune"}
# --optimizer: torch.optim's implementations of one update rule. default: PyTorch's own choice (foreach on CUDA);
# for-loop: one kernel per parameter and operation; foreach: multi-tensor kernels; fused: one fused kernel.
OPTIMIZER_IMPLEMENTATIONS = {"default": {}, "for-loop": {"foreach": False}, "foreach": {"foreach": True},
                             "fused": {"fused": True}}


def add_optimizer_argument(parser):
    parser.add_argument("--optimizer", choices=sorted(OPTIMIZER_IMPLEMENTATIONS), default="default",
                        help="torch.optim's implementation: default (PyTorch's choice), for-loop, foreach (multi-tensor "
                             "kernels) or fused (one kernel; torch >= 2.x on CUDA)")


def make_optimizer(optimizer_class, parameters, implementation, **hyperparameters):
    """optimizer_class(parameters, **hyperparameters) with --optimizer's implementation, or a UsageError naming what
    this torch refused."""
    try:
        return optimizer_class(parameters, **hyperparameters, **OPTIMIZER_IMPLEMENTATIONS[implementation])
    except (TypeError, RuntimeError, ValueError) as error:
        raise UsageError("--optimizer %s: torch %s's %s refuses it (%s)" % (
            implementation, torch.__version__, optimizer_class.__name__, str(error).splitlines()[0]))


def compile_model(model, mode):
    """`model` as --mode runs it: itself (eager) or torch.compile'd with the mode's options."""
    if mode == "eager":
        return model
    return torch.compile(model, mode=COMPILE_MODES[mode])


def check_device(args):
    """The device exists, and the precision and mode are possible on it."""
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise UsageError("--device cuda: no CUDA device available to torch %s" % torch.__version__)
    if device.type == "cpu" and args.precision == "tf32":
        raise UsageError("--precision tf32 needs --device cuda (the CPU computes in fp32)")
    if args.mode != "eager" and not hasattr(torch, "compile"):
        raise UsageError("--mode %s needs torch.compile (torch 2.0+); this is torch %s" % (args.mode, torch.__version__))
    return device


def load_weights(model, path, ignore=lambda name: False):
    """Loads `path` into `model`'s state_dict with peer.read_weights's strict checks; `ignore(name)` names file or
    model entries that do not count (ResNet-50: fc.* and num_batches_tracked)."""
    expected = {name: tuple(value.shape) for name, value in model.state_dict().items() if not ignore(name)}
    arrays = peer.read_weights(path, expected, ignore)
    state = {name: torch.from_numpy(array) for name, array in arrays.items()}
    missing, unexpected = model.load_state_dict(state, strict=False)
    if unexpected or any(not ignore(name) for name in missing):
        raise UsageError("%s: the model refused the state: missing %s, unexpected %s" % (path, missing, unexpected))


class Feeder:
    """Gathers a batch by example indices on the host and moves it to the device (pinned, non_blocking on CUDA).

    On CUDA each batch is gathered straight into a pinned buffer from PyTorch's caching host allocator, which
    records the copy's event and reuses the block only after the copy has finished. `transform` (on the device
    batch) adapts the layout: channels_last images, time-major tokens.
    """

    def __init__(self, inputs, labels, device, transform=None):
        self.inputs = inputs  # (N, example dims...), CPU
        self.labels = labels  # (N,) int64, CPU
        self.device = device
        self.pinned = device.type == "cuda"
        self.transform = transform

    def __call__(self, indices):  # indices: (B,) int64, CPU
        if self.pinned:
            x = torch.empty((len(indices),) + tuple(self.inputs.shape[1:]), dtype=self.inputs.dtype, pin_memory=True)
            y = torch.empty((len(indices),), dtype=self.labels.dtype, pin_memory=True)
            torch.index_select(self.inputs, 0, indices, out=x)
            torch.index_select(self.labels, 0, indices, out=y)
            x = x.to(self.device, non_blocking=True)
            y = y.to(self.device, non_blocking=True)
        else:
            x = self.inputs.index_select(0, indices)
            y = self.labels.index_select(0, indices)
        return (self.transform(x) if self.transform else x), y


def train(args, model, step_model, optimizer, feeder, num_train, device, workload):
    """The timed loop. Returns (losses as a CPU float tensor, Timing, the profile section or None)."""
    steps_per_epoch = num_train // args.batch
    total_steps = args.epochs * steps_per_epoch
    if args.max_steps is not None:
        total_steps = min(total_steps, args.max_steps)
    timing = result_record.Timing(steps_per_epoch, "a CPU run: PyTorch counts device memory only")
    window_bounds = set(result_record.window_boundaries(steps_per_epoch, total_steps))
    window_marks = []  # the clock at each window boundary, the device synchronised
    meter = result_record.EnergyMeter(device.index or 0 if device.type == "cuda" else None)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    generator = torch.Generator()
    generator.manual_seed(args.seed)
    mark_step = None
    if args.mode in CUDA_GRAPH_MODES:
        # CUDA graph trees must know where an iteration starts, as forward outputs are overwritten on replay.
        mark_step = getattr(getattr(torch, "compiler", None), "cudagraph_mark_step_begin", None)
    profiler = torch_breakdown.Profiler(getattr(args, "profile", False), device, "step",
                                        "the profiled steps ran as the timed ones (mode %s)" % args.mode)
    profile_from = profile_classes.profile_window(total_steps)
    paused = [0.0]  # seconds spent starting and stopping the profiler: outside every clock

    def clock():
        return time.perf_counter() - paused[0]

    model.train()
    losses = []  # detached device scalars, one per step
    epoch_seconds = timing.epoch_seconds
    step = 0
    synchronize(device)
    epoch_start = clock()
    for epoch in range(args.epochs):
        if step == total_steps:
            break
        order = torch.arange(num_train) if args.no_shuffle else torch.randperm(num_train, generator=generator)
        first_step = step
        for i in range(steps_per_epoch):
            if step == total_steps:
                break
            if profiler.enabled and step == profile_from:
                paused[0] += profiler.start()
            with profiler.label("data"):
                x, y = feeder(order[i * args.batch:(i + 1) * args.batch])
            if mark_step is not None:
                mark_step()
            with profiler.label("update"):
                optimizer.zero_grad(set_to_none=True)
            with profiler.label("forward"):
                loss = F.cross_entropy(step_model(x), y)
            with profiler.label("backward"):
                loss.backward()
            with profiler.label("update"):
                optimizer.step()
            losses.append(loss.detach())
            step += 1
            if profiler.enabled and step == total_steps:
                paused[0] += profiler.finish(total_steps - profile_from)
            if step in window_bounds:
                synchronize(device)
                window_marks.append(clock())
        synchronize(device)
        epoch_end = clock()
        epoch_seconds.append(epoch_end - epoch_start)
        if epoch == 0 and step < total_steps:
            meter.start()  # the steady region: from the first epoch's end, as rosetta meters it
        print("%s: epoch %d: %d steps, %.3f s, last loss %.6f"
              % (workload, epoch + 1, step - first_step, epoch_seconds[-1], losses[-1].item()), flush=True)
        epoch_start = clock()  # the progress line stays outside the clock
    timing.window_seconds = [b - a for a, b in zip(window_marks, window_marks[1:])]
    if step > steps_per_epoch:
        timing.energy = meter.joules_per((step - steps_per_epoch) / steps_per_epoch)
    if device.type == "cuda":
        timing.peak_memory = result_record.Reading(torch.cuda.max_memory_allocated(device))
    return torch.stack(losses).cpu(), timing, profiler.section() if profiler.enabled else None


def evaluate(model, feeder, num_test, batch, max_batches):
    """Test accuracy over complete batches (at most max_batches), eval mode, no grad."""
    batches = num_test // batch if max_batches is None else min(max_batches, num_test // batch)
    if batches == 0:
        return None
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(batches):
            x, y = feeder(torch.arange(i * batch, (i + 1) * batch))
            correct += int((model(x).argmax(dim=1) == y).sum())
    return correct / (batches * batch)


def training_record(workload, args, device, losses, timing, accuracy, examples_key, flops_per_example):
    """The record fields of a training run (schema version 1); the caller adds its workload's own."""
    record = record_fields.base_record(workload, device, args.mode, args.precision, args.batch)
    return peer.add_training_fields(workload, record, args, [float(v) for v in losses], timing, accuracy,
                                    examples_key, flops_per_example)


def add_profile(record, workload, profile):
    """Prints a --profile breakdown and puts it in the record (nothing without one)."""
    if profile is not None:
        profile_classes.print_section(workload, profile)
        record["profile"] = profile
