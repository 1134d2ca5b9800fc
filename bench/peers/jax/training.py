"""What the JAX peers' training and inference scripts share, so each workload file holds only its model, its data
and its record fields. What every peer shares whatever its framework (errors, the weights check, the record's
timing fields, the output files) is ../common/peer.py.

Invariants:
- setup() makes the device and the precision explicit before JAX starts a backend: --device cpu starts only the CPU
  backend; fp32 sets jax_default_matmul_precision "highest" (every f32 dot and convolution in full FP32, no TF32
  on the GPU) and NVIDIA_TF32_OVERRIDE=0 (cuBLAS and cuDNN refuse TF32 whatever XLA asks for); tf32 sets
  "tensorfloat32"; bf16 computes in bfloat16 (each workload says where) and keeps "highest" for what stays f32.
  The setting is read back, and tf32 under an inherited NVIDIA_TF32_OVERRIDE=0 is refused: it could not take.
- load_variables() fills a Flax variable tree from rosetta's safetensors file with peer.read_weights's strict
  checks. The names are PyTorch's state_dict names: a Flax path "a"/"b"/leaf is the PyTorch name "a.b.<leaf>"
  with kernel, scale, embedding -> weight, mean -> running_mean, var -> running_var. Layouts are converted once
  at load: convolution kernels (K, C, R, S) -> (R, S, C, K) (HWIO, XLA's preferred layout for NHWC activations),
  Dense kernels (out, in) -> (in, out); everything else is taken as it is.
- train() is the timed loop of DESIGN.md: per-epoch shuffle (numpy permutation from a generator seeded once with
  --seed, or file order with --no-shuffle), the host-to-device copy of each batch (jax.device_put, asynchronous),
  the jitted step (forward, backward, optimizer update; parameters and optimizer state donated, so XLA updates them
  in place). The clock is read after jax.block_until_ready() of the state, at the start and at each epoch end, the
  only host waits in the loop. Losses stay on the device until after the loop.
"""

import os
import time

import numpy as np

import jax
import jax.numpy as jnp
import flax
import optax

import jax_breakdown
import peer
import profile_classes
import result_record
from peer import UsageError, positive_int

# jax_default_matmul_precision per --precision (see the invariants).
MATMUL_PRECISION = {"fp32": "highest", "tf32": "tensorfloat32", "bf16": "highest"}
COMPUTE_DTYPE = {"fp32": jnp.float32, "tf32": jnp.float32, "bf16": jnp.bfloat16}
# Flax leaf name -> the last part of the PyTorch name.
TORCH_LEAF = {"kernel": "weight", "scale": "weight", "embedding": "weight", "mean": "running_mean",
              "var": "running_var"}


def add_device_arguments(parser, precisions):
    parser.add_argument("--device", choices=["cpu", "gpu", "cuda"], default=None,
                        help="cpu, or gpu (cuda is the same); default: gpu when JAX sees one")
    parser.add_argument("--precision", choices=precisions, default="fp32")


def add_training_arguments(parser, data_help, epochs, lr, data_name):
    """The arguments every training peer takes, with its workload's defaults (the PyTorch peers' flags)."""
    parser.add_argument("--data", required=True, help=data_help)
    parser.add_argument("--data-name", default=data_name, help="name of the data set for the record")
    parser.add_argument("--init", required=True, help="rosetta's initial weights (.safetensors)")
    add_device_arguments(parser, ["fp32", "tf32", "bf16"])
    parser.add_argument("--epochs", type=positive_int, default=epochs)
    parser.add_argument("--batch", type=positive_int, default=64)
    parser.add_argument("--lr", type=float, default=lr)
    parser.add_argument("--seed", type=int, default=0, help="shuffle generator and dropout key seed")
    parser.add_argument("--max-steps", type=positive_int, default=None, help="stop after N training steps")
    peer.add_train_examples_argument(parser)
    parser.add_argument("--test-batches", type=int, default=None,
                        help="test batches to evaluate (default: all complete batches, or 0 with --max-steps; "
                             "0: skip, test_accuracy null)")
    parser.add_argument("--no-shuffle", action="store_true", help="batches in file order every epoch")
    parser.add_argument("--log-steps", metavar="FILE", help='one line per step: "<step> <loss>" (1-based)')
    parser.add_argument("--json", metavar="FILE", help="write the result record here")
    parser.add_argument("--profile", action="store_true",
                        help="profile the last %d steps with jax.profiler: print the breakdown by class and record it"
                             % profile_classes.PROFILE_STEPS)


def check_training_arguments(args):
    if args.test_batches is not None and args.test_batches < 0:
        raise UsageError("--test-batches must be >= 0")
    if args.test_batches is None and args.max_steps is not None:
        args.test_batches = 0  # a cut-short run's accuracy means nothing
    peer.check_output_folders(("--log-steps", args.log_steps), ("--json", args.json))


def setup(args):
    """Device and precision (see the invariants); returns the jax.Device everything runs on."""
    platform = "gpu" if args.device == "cuda" else args.device
    if platform == "cpu":
        if args.precision == "tf32":
            raise UsageError("--precision tf32 needs --device gpu (the CPU computes in fp32)")
        jax.config.update("jax_platforms", "cpu")
    if args.precision == "fp32":
        os.environ["NVIDIA_TF32_OVERRIDE"] = "0"  # read when cuBLAS and cuDNN load: before the first device call
    elif args.precision == "tf32" and os.environ.get("NVIDIA_TF32_OVERRIDE") == "0":
        raise UsageError("--precision tf32: NVIDIA_TF32_OVERRIDE=0 in the environment turns TF32 off")
    jax.config.update("jax_default_matmul_precision", MATMUL_PRECISION[args.precision])
    if jax.config.jax_default_matmul_precision != MATMUL_PRECISION[args.precision]:
        raise UsageError("--precision %s: jax_default_matmul_precision reads back as %s"
                         % (args.precision, jax.config.jax_default_matmul_precision))
    if platform is None:
        platform = "gpu" if any(d.platform == "gpu" for d in jax.devices()) else "cpu"
        if platform == "cpu" and args.precision == "tf32":
            raise UsageError("--precision tf32 needs --device gpu, and JAX sees no GPU")
    try:
        devices = jax.devices(platform)
    except RuntimeError as error:
        raise UsageError("--device %s: JAX %s has no %s backend (%s)"
                         % (args.device, jax.__version__, platform, str(error).splitlines()[0]))
    args.device = platform
    return devices[0]


def device_name(device):
    return "cpu" if device.platform == "cpu" else device.device_kind


def cuda_versions(device):
    """(CUDA runtime, cuDNN) versions as JAX's CUDA plugin reports them, or (None, None) on the CPU or where this
    jaxlib does not say (jax._src.lib.cuda_versions, the module jax's own tests read, is not public API)."""
    if device.platform != "gpu":
        return None, None
    try:
        from jax._src.lib import cuda_versions as versions
        cuda, cudnn = versions.cuda_runtime_get_version(), versions.cudnn_get_version()
    except (ImportError, AttributeError, RuntimeError):
        return None, None
    return "%d.%d" % (cuda // 1000, cuda % 1000 // 10), "%d.%d.%d" % (cudnn // 10000, cudnn % 10000 // 100,
                                                                     cudnn % 100)


def base_record(workload, device, precision, batch):
    """The fields every JAX peer record shares (the PyTorch peers' base record, with JAX's versions)."""
    import jaxlib

    cuda, cudnn = cuda_versions(device)
    return {
        "workload": workload,
        "framework": "jax",
        "framework_version": jax.__version__,
        "jaxlib": jaxlib.__version__,
        "flax": flax.__version__,
        "optax": optax.__version__,
        "mode": "jit",
        "device": device_name(device),
        "driver": peer.nvidia_driver() if device.platform == "gpu" else None,
        "cuda": cuda,
        "cudnn": cudnn,
        "precision": precision,
        "batch": batch,
        "xla_flags": os.environ.get("XLA_FLAGS") or None,
        **peer.provenance(),
    }


def describe(workload, device, args, extra):
    print("%s: jax %s (flax %s, optax %s) on %s, precision %s (matmul precision %s), batch %d, %s"
          % (workload, jax.__version__, flax.__version__, optax.__version__, device_name(device), args.precision,
             jax.config.jax_default_matmul_precision, args.batch, extra), flush=True)


def torch_name(path):
    """The PyTorch state_dict name of a Flax variable path (collection first)."""
    keys = [entry.key for entry in path[1:]]
    return ".".join(keys[:-1] + [TORCH_LEAF.get(keys[-1], keys[-1])])


def to_flax_layout(array):
    """A PyTorch-layout kernel in the layout of its Flax leaf (see the invariants)."""
    if array.ndim == 4:
        return array.transpose(2, 3, 1, 0)  # (K, C, R, S) -> (R, S, C, K)
    return array.T  # (out, in) -> (in, out)


def torch_shape(path, leaf):
    shape = tuple(leaf.shape)
    if path[-1].key != "kernel":
        return shape
    return (shape[3], shape[2], shape[0], shape[1]) if len(shape) == 4 else shape[::-1]


def load_variables(path, shapes, ignore=lambda name: False, convert=None):
    """Rosetta's safetensors file at `path` as the Flax variables whose shapes `shapes` gives (jax.eval_shape of the
    model's init), as host numpy arrays (the caller puts them on its device). Kernels go through to_flax_layout,
    other leaves are taken as they are; `convert` {PyTorch name: function of the PyTorch-layout array} replaces that
    for a name whose layout needs more (the CNN's fc1)."""
    convert = dict(convert or {})
    leaves, tree = jax.tree_util.tree_flatten_with_path(shapes)
    names = [torch_name(p) for p, _ in leaves]
    expected = dict(sorted((name, torch_shape(p, leaf)) for name, (p, leaf) in zip(names, leaves)))
    arrays = peer.read_weights(path, expected, ignore)
    for name, (p, _) in zip(names, leaves):
        if name not in convert:
            convert[name] = to_flax_layout if p[-1].key == "kernel" else (lambda array: array)
    return jax.tree_util.tree_unflatten(tree, [np.ascontiguousarray(convert[name](arrays[name])) for name in names])


class Feeder:
    """Gathers a batch by example indices on the host (a slice in file order) and starts its copy to the device."""

    def __init__(self, inputs, labels, device):
        self.inputs = inputs  # (N, example dims...) numpy
        self.labels = labels  # (N,) int32 numpy
        self.device = device

    def __call__(self, indices):  # a slice or an index array
        return jax.device_put((self.inputs[indices], self.labels[indices]), self.device)


def train(args, state, step, feeder, num_train, workload, device):
    """The timed loop: state = step(state, x, y) -> (state, loss). Returns (state, losses as a float32 numpy
    array, result_record.Timing, the profile section or None). In a run of fewer than 5 epochs after the first, the
    clock is also read at the 5 steady-state windows' boundaries, after block_until_ready. With --profile the last
    steps run under jax.profiler (jax_breakdown.py)."""
    steps_per_epoch = num_train // args.batch
    total_steps = args.epochs * steps_per_epoch
    if args.max_steps is not None:
        total_steps = min(total_steps, args.max_steps)
    generator = np.random.default_rng(args.seed)
    losses = []  # device scalars, one per step
    timing = result_record.Timing(steps_per_epoch, "a CPU run: XLA's CPU client reports no peak memory")
    epoch_seconds = timing.epoch_seconds
    window_bounds = set(result_record.window_boundaries(steps_per_epoch, total_steps))
    window_marks = []  # the clock at each window boundary, the device idle
    on_gpu = device.platform == "gpu"
    meter = result_record.EnergyMeter(device.id if on_gpu else None)
    profiler = jax_breakdown.Profiler(getattr(args, "profile", False), "step",
                                      "the profiled steps ran as the timed ones (jit)")
    profile_from = profile_classes.profile_window(total_steps)
    paused = [0.0]  # seconds spent starting and stopping the profiler: outside every clock

    def clock():
        return time.perf_counter() - paused[0]

    count = 0
    jax.block_until_ready(state)
    epoch_start = clock()
    for epoch in range(args.epochs):
        if count == total_steps:
            break
        order = None if args.no_shuffle else generator.permutation(num_train)
        first_step = count
        for i in range(steps_per_epoch):
            if count == total_steps:
                break
            if profiler.enabled and count == profile_from:
                jax.block_until_ready(state)
                paused[0] += profiler.start()
            rows = slice(i * args.batch, (i + 1) * args.batch)
            x, y = feeder(rows if order is None else order[rows])
            state, loss = step(state, x, y)
            losses.append(loss)
            count += 1
            if profiler.enabled and count == total_steps:
                jax.block_until_ready(state)
                paused[0] += profiler.finish(total_steps - profile_from)
            if count in window_bounds:
                jax.block_until_ready(state)
                window_marks.append(clock())
        jax.block_until_ready(state)
        epoch_end = clock()
        epoch_seconds.append(epoch_end - epoch_start)
        if epoch == 0 and count < total_steps:
            meter.start()  # the steady region: from the first epoch's end, as rosetta meters it
        print("%s: epoch %d: %d steps, %.3f s, last loss %.6f"
              % (workload, epoch + 1, count - first_step, epoch_seconds[-1], float(losses[-1])), flush=True)
        epoch_start = clock()  # the progress line stays outside the clock
    timing.window_seconds = [b - a for a, b in zip(window_marks, window_marks[1:])]
    if count > steps_per_epoch:
        timing.energy = meter.joules_per((count - steps_per_epoch) / steps_per_epoch)
    if on_gpu:
        timing.peak_memory = peak_memory(device)
    profile = profiler.section([(step, (state, x, y))]) if profiler.enabled else None
    return state, np.asarray(jax.device_get(losses), dtype=np.float32), timing, profile


def peak_memory(device):
    """A Reading of the device's peak bytes in use (XLA's allocator statistics, GPUs), or why not."""
    stats = device.memory_stats() or {}
    if "peak_bytes_in_use" not in stats:
        return result_record.Reading(reason="XLA reports no peak_bytes_in_use for %s" % device)
    return result_record.Reading(stats["peak_bytes_in_use"])


def train_state(params, optimizer, seed, device):
    """The training step's state on `device`: (params, optimizer state, dropout key from `seed`)."""
    return params, jax.device_put(optimizer.init(params), device), jax.device_put(jax.random.key(seed), device)


def train_step(apply_loss, optimizer):
    """The jitted training step for `apply_loss(params, x, y, dropout_key) -> mean loss` and an optax optimizer.
    The state (params, optimizer state, dropout key) is donated: XLA writes the new state over the old buffers."""

    def step(state, x, y):
        params, opt_state, key = state
        key, dropout_key = jax.random.split(key)
        loss, grads = jax.value_and_grad(apply_loss)(params, x, y, dropout_key)
        with jax.named_scope(jax_breakdown.UPDATE_SCOPE):  # names the update's ops for --profile; computes nothing
            updates, opt_state = optimizer.update(grads, opt_state, params)
            params = optax.apply_updates(params, updates)
        return (params, opt_state, key), loss

    return jax.jit(step, donate_argnums=0)


def cross_entropy(logits, labels):
    """Mean softmax cross-entropy, in float32 whatever the compute dtype."""
    return optax.softmax_cross_entropy_with_integer_labels(logits.astype(jnp.float32), labels).mean()


def evaluate(predict, params, feeder, num_test, batch, max_batches):
    """Test accuracy over complete batches (at most max_batches); predict(params, x) -> logits, jitted."""
    batches = num_test // batch if max_batches is None else min(max_batches, num_test // batch)
    if batches == 0:
        return None
    correct = []
    for i in range(batches):
        x, y = feeder(slice(i * batch, (i + 1) * batch))
        correct.append(jnp.sum(jnp.argmax(predict(params, x), axis=-1) == y))
    return sum(int(c) for c in jax.device_get(correct)) / (batches * batch)


def add_profile(record, workload, profile):
    """Prints a --profile breakdown and puts it in the record (nothing without one)."""
    if profile is not None:
        profile_classes.print_section(workload, profile)
        record["profile"] = profile


def finish(workload, args, device, losses, timing, accuracy, examples_key, flops_per_example, extra, profile=None):
    """The record of a training run (base fields, timing fields and metrics, `extra`, the profile), written with
    --log-steps and --json."""
    record = base_record(workload, device, args.precision, args.batch)
    record.update(extra)
    peer.add_training_fields(workload, record, args, [float(v) for v in losses], timing, accuracy, examples_key,
                             flops_per_example)
    add_profile(record, workload, profile)
    peer.write_outputs(args, losses, record)
    return record
