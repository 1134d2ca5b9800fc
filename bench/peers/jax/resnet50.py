"""JAX/Flax peer of rosetta's ResNet-50 feature-extraction workload, timed by rosetta's protocol.

Runs with the pinned CPU JAX of tools/requirements-jax.txt (the project's .venv-jax; the CI equivalence test) and
with JAX 0.11 + CUDA (the GPU host). Usage:
    .venv-jax/bin/python resnet50.py --weights model.safetensors [--json result.json] [--features-out F] ...
Equivalence mode (compare features with rosetta's for the same weights and images):
    .venv-jax/bin/python resnet50.py --weights W --input images.safetensors --batch 2 --device cpu --features-out F

Workload (keep exact, as bench/peers/pytorch/resnet50.py): torchvision's resnet50 (V1.5: the stride on the 3x3 of
each bottleneck), cut after the global average pool, so the output is the (N, 2048) features; batch norm in
inference mode with the running statistics (eps 1e-5); batch 32; 1280 images (40 batches) of 3x224x224 in [0, 1)
fed as is (with --normalize: (x - ImageNet mean) / ImageNet std per channel first); one untimed warm-up pass (it
compiles), then the timed pass.

Invariants:
- The weights come only from --weights, a torchvision-named safetensors file (timm/resnet50.tv_in1k
  model.safetensors, or rosetta's --save-weights), strictly checked (training.load_variables); fc.* and
  num_batches_tracked in the file are ignored. The Flax modules are named after torchvision's ("layer1.0",
  "downsample.0", ...), so the names map one to one.
- NHWC activations and HWIO kernels, XLA's preferred convolution layout: the NCHW batch is transposed inside the
  jitted forward. --fold-bn on (the default, as rosetta's): each batch norm is folded into the convolution before it
  at load, w' = w * s, b' = beta - mean * s, s = gamma / sqrt(var + eps), in float64 and rounded once to float32
  (as rosetta folds), so XLA sees convolution + bias (+ residual) + ReLU, the pattern it hands to cuDNN's fused
  kernels; --fold-bn off runs Flax's BatchNorm with the running statistics.
- Precision (training.setup): fp32 strict, tf32 (GPU), or bf16: convolution weights rounded to bfloat16 once at load,
  activations in bfloat16, batch norm (unfolded) and the pooled features in float32.
- Timed region = one pass over all batches: the host-to-device copy of each batch (jax.device_put), the jitted
  forward, and the copy of its features to the host (copy_to_host_async, collected one batch behind, so the device
  always has the next batch queued); the clock is read after jax.block_until_ready at the start and once every
  feature is on the host at the end.
- Random images (no --input) come from numpy's default_rng(--seed): the same distribution as rosetta's Philox
  images, not the same values (timing does not depend on them; equivalence runs use --input).
- Bad input prints one line "resnet50: error: ..." and exits 2; output files are written through a temporary file
  and renamed, so a failed run never leaves half a file.
"""

import argparse
import functools
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.join(os.path.dirname(HERE), "common")]  # this twin's, then the shared modules

import numpy as np  # noqa: E402

import atomic_file  # noqa: E402
import peer  # noqa: E402
import safetensors_io  # noqa: E402
import result_record  # noqa: E402
import jax_breakdown  # noqa: E402
import training  # noqa: E402
from peer import UsageError, positive_int  # noqa: E402

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import flax.linen as nn  # noqa: E402

FEATURES = 2048
BN_EPS = 1e-5
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
STAGES = ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2))  # (planes, blocks, stride of the first block)
BN_OF_CONV = {"conv1": "bn1", "conv2": "bn2", "conv3": "bn3", "downsample.0": "downsample.1"}  # torchvision's pairs


def conv_bn(x, features, kernel, stride, padding, conv_name, fold_bn, dtype):
    """A convolution and its batch norm, both registered on the calling module under torchvision's names; folded,
    the batch norm is the convolution's bias."""
    x = nn.Conv(features, (kernel, kernel), strides=(stride, stride), padding=((padding, padding),) * 2,
                use_bias=fold_bn, dtype=dtype, name=conv_name)(x)
    if fold_bn:
        return x
    return nn.BatchNorm(use_running_average=True, epsilon=BN_EPS, dtype=dtype, name=BN_OF_CONV[conv_name])(x)


class Bottleneck(nn.Module):
    """torchvision's Bottleneck (V1.5): 1x1, 3x3 (stride), 1x1 to 4 x planes, plus the identity or downsample."""

    planes: int
    stride: int
    downsample: bool
    fold_bn: bool
    dtype: jnp.dtype

    @nn.compact
    def __call__(self, x):
        layer = functools.partial(conv_bn, fold_bn=self.fold_bn, dtype=self.dtype)
        out = nn.relu(layer(x, self.planes, 1, 1, 0, "conv1"))
        out = nn.relu(layer(out, self.planes, 3, self.stride, 1, "conv2"))
        out = layer(out, 4 * self.planes, 1, 1, 0, "conv3")
        identity = layer(x, 4 * self.planes, 1, self.stride, 0, "downsample.0") if self.downsample else x
        return nn.relu(out + identity)


class ResNet50Features(nn.Module):
    """torchvision's resnet50 on NHWC images up to the global average pool."""

    fold_bn: bool = True
    dtype: jnp.dtype = jnp.float32

    @nn.compact
    def __call__(self, x):  # x: (N, S, S, 3)
        x = nn.relu(conv_bn(x, 64, 7, 2, 3, "conv1", self.fold_bn, self.dtype))  # (N, S/2, S/2, 64)
        x = nn.max_pool(x, (3, 3), strides=(2, 2), padding=((1, 1), (1, 1)))  # (N, S/4, S/4, 64)
        for stage, (planes, blocks, stride) in enumerate(STAGES, 1):
            for block in range(blocks):
                x = Bottleneck(planes, stride if block == 0 else 1, block == 0, self.fold_bn, self.dtype,
                               name="layer%d.%d" % (stage, block))(x)
        return jnp.mean(x.astype(jnp.float32), axis=(1, 2))  # (N, 2048)


def fold_batchnorm(params, stats):
    """The unfolded model's variables (host numpy) -> the folded model's params (see the invariants)."""
    folded = {}
    for name, value in params.items():
        if name in BN_OF_CONV.values():
            continue
        if "kernel" not in value:  # a block: fold inside it
            folded[name] = fold_batchnorm(value, stats[name])
            continue
        bn, bn_stats = params[BN_OF_CONV[name]], stats[BN_OF_CONV[name]]
        s = bn["scale"].astype(np.float64) / np.sqrt(bn_stats["var"].astype(np.float64) + BN_EPS)  # (K,)
        folded[name] = {"kernel": (value["kernel"].astype(np.float64) * s).astype(np.float32),  # HWIO: K is last
                        "bias": (bn["bias"] - bn_stats["mean"].astype(np.float64) * s).astype(np.float32)}
    return folded


def parse_args(argv):
    parser = argparse.ArgumentParser(description="JAX/Flax peer of rosetta's ResNet-50 feature-extraction workload.")
    parser.add_argument("--weights", required=True, help="torchvision-named weights (.safetensors)")
    training.add_device_arguments(parser, ["fp32", "tf32", "bf16"])
    parser.add_argument("--batch", type=positive_int, default=32)
    parser.add_argument("--images", type=positive_int, default=None, help="random images (default 1280)")
    parser.add_argument("--image-size", type=positive_int, default=None, help="random images are S x S (default 224)")
    parser.add_argument("--input", help='images from this file (safetensors, "images" F32 (N, 3, S, S))')
    parser.add_argument("--normalize", action="store_true", help="ImageNet mean/std normalisation first")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random images")
    parser.add_argument("--fold-bn", choices=["on", "off"], default="on",
                        help="on: batch norm folded into the convolutions at load")
    parser.add_argument("--features-out", metavar="FILE", help='write the features here ("features" (N, 2048))')
    parser.add_argument("--json", metavar="FILE", help="write the result record here")
    parser.add_argument("--profile", action="store_true",
                        help="after the timed passes, one more pass under jax.profiler: print the breakdown by class "
                             "per batch and record it")
    peer.add_repeats_argument(parser)
    return parser.parse_args(argv)


def load(args, device):
    """The model and its variables on `device`, from --weights (folded and cast as --fold-bn and --precision say)."""
    shapes = jax.eval_shape(lambda: ResNet50Features(fold_bn=False).init(jax.random.key(0), jnp.zeros((1, 64, 64, 3))))
    variables = training.load_variables(
        args.weights, shapes, ignore=lambda name: name.startswith("fc.") or name.endswith("num_batches_tracked"))
    if args.fold_bn == "on":
        variables = {"params": fold_batchnorm(variables["params"], variables["batch_stats"])}
    dtype = training.COMPUTE_DTYPE[args.precision]
    if dtype != jnp.float32:  # the weights rounded once, not at every call
        variables = jax.tree_util.tree_map_with_path(
            lambda path, value: value.astype(dtype) if path[-1].key == "kernel" else value, variables)
    return ResNet50Features(fold_bn=args.fold_bn == "on", dtype=dtype), jax.device_put(variables, device)


def run(args):
    if args.input and (args.images is not None or args.image_size is not None):
        raise UsageError("--input excludes --images and --image-size (the file sets both)")
    if not args.input and (args.images or 1280) % args.batch != 0:
        raise UsageError("--images %d must be a multiple of --batch %d" % (args.images or 1280, args.batch))
    peer.check_output_folders(("--features-out", args.features_out), ("--json", args.json))
    device = training.setup(args)
    model, variables = load(args, device)

    if args.input:
        images = peer.read_images(args.input, args.batch)
    else:
        shape = (args.images or 1280, 3, args.image_size or 224, args.image_size or 224)
        images = np.random.default_rng(args.seed).random(shape, dtype=np.float32)
    count, size = images.shape[0], images.shape[2]
    batches = count // args.batch
    features = np.empty((count, FEATURES), dtype=np.float32)
    mean = np.array(IMAGENET_MEAN, np.float32).reshape(1, 3, 1, 1)
    std = np.array(IMAGENET_STD, np.float32).reshape(1, 3, 1, 1)
    dtype = training.COMPUTE_DTYPE[args.precision]

    @jax.jit
    def extract(variables, x):  # x: (B, 3, S, S) float32
        if args.normalize:
            x = (x - mean) / std
        return model.apply(variables, jnp.transpose(x, (0, 2, 3, 1)).astype(dtype))  # (B, 2048) float32

    def one_pass():
        jax.block_until_ready(variables)
        start = time.perf_counter()
        pending = None  # the batch before: (rows, its features on the device, copy started)
        for b in range(batches):
            rows = slice(b * args.batch, (b + 1) * args.batch)
            out = extract(variables, jax.device_put(images[rows], device))
            out.copy_to_host_async()
            if pending is not None:
                features[pending[0]] = np.asarray(pending[1])
            pending = (rows, out)
        features[pending[0]] = np.asarray(pending[1])
        return time.perf_counter() - start

    training.describe("resnet50", device, args, "%d images of %dx%d, normalize %s, fold-bn %s"
                      % (count, size, size, args.normalize, args.fold_bn))
    on_gpu = device.platform == "gpu"
    meter = result_record.EnergyMeter(device.id if on_gpu else None)
    warmup_seconds, pass_seconds = peer.timed_passes(one_pass, args.repeats, meter)
    profile = None
    if args.profile:
        profiler = jax_breakdown.Profiler(True, "batch", "one more pass after the timed ones (jit)")
        profiler.start()
        one_pass()
        profiler.finish(batches)
        profile = profiler.section([(extract, (variables, jax.device_put(images[:args.batch], device)))])
    energy = meter.joules_per(args.repeats * count / 1000.0)
    peak_memory = (training.peak_memory(device) if on_gpu else
                   result_record.Reading(reason="a CPU run: XLA's CPU client reports no peak memory"))

    record = training.base_record("resnet50", device, args.precision, args.batch)
    record.update({
        "layout": "nhwc",
        "fold_bn": args.fold_bn == "on",
        "normalize": bool(args.normalize),
        "weights": os.path.basename(args.weights),
        "data": os.path.basename(args.input) if args.input else "random",
    })
    peer.add_extraction_fields(record, count, size, warmup_seconds, pass_seconds, energy, peak_memory)
    training.add_profile(record, "resnet50", profile)
    if args.features_out:
        safetensors_io.save(args.features_out, {"features": features}, {"workload": "resnet50"})
    if args.json:
        atomic_file.atomic_write_text(args.json, json.dumps(record, indent=2) + "\n")
    return record


def main(argv=None):
    return peer.main("resnet50", parse_args, run, argv)


if __name__ == "__main__":
    sys.exit(main())
