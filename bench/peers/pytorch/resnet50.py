"""PyTorch peer of rosetta's ResNet-50 feature-extraction workload, timed by rosetta's protocol.

Runs with torch 1.13 (CPU; the CI equivalence test) and torch 2.x + CUDA (the GPU host). Usage:
    python3 resnet50.py --weights model.safetensors [--json result.json] [--features-out features.safetensors] ...
Equivalence mode (compare features with rosetta's for the same weights and images):
    python3 resnet50.py --weights W --input images.safetensors --batch 2 --device cpu --features-out F

Workload (keep exact): torchvision's resnet50 (V1.5), fc replaced by Identity, eval mode, so the output is the
(N, 2048) global-average-pooled features; batch 32; 1280 images (40 batches) of 3x224x224 in [0, 1) fed as is
(with --normalize: (x - ImageNet mean) / ImageNet std per channel first); one untimed warm-up pass, then the timed
pass.

Invariants:
- The weights come only from --weights, a torchvision-named safetensors file (e.g. timm/resnet50.tv_in1k
  model.safetensors, or rosetta's --save-weights): every state_dict name but num_batches_tracked must be present
  as F32 with the model's shape; fc.* and num_batches_tracked in the file are ignored; anything else is an error.
- Precision is explicit and recorded: fp32 turns both TF32 switches off (PyTorch enables TF32 for cuDNN
  convolutions by default), tf32 turns them on, bf16 runs the forward under torch.autocast(bfloat16) with TF32 off
  and returns the features as float32.
- Timed region = one pass over all batches: the pinned host-to-device copy of each batch (non_blocking), the
  forward (normalisation included), and the copy of its features into a pinned host tensor (non_blocking); the
  clock is read after torch.cuda.synchronize() at the start and at the end.
- Random images (no --input) come from torch.rand under --seed: the same distribution as rosetta's Philox images,
  not the same values (timing does not depend on them; equivalence runs use --input).
- Bad input prints one line "resnet50: error: ..." and exits 2; output files are written through a temporary file
  and renamed, so a failed run never leaves half a file.
"""

import argparse
import contextlib
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.join(os.path.dirname(HERE), "common")]  # this twin's, then the shared modules

import atomic_file  # noqa: E402
import peer  # noqa: E402
import record as record_fields  # noqa: E402
import result_record  # noqa: E402
import safetensors_io  # noqa: E402
import torch_breakdown  # noqa: E402
import training  # noqa: E402
from peer import UsageError, positive_int  # noqa: E402
from training import synchronize  # noqa: E402

import torch  # noqa: E402
import torchvision  # noqa: E402

FEATURES = 2048
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def parse_args(argv):
    parser = argparse.ArgumentParser(description="PyTorch peer of rosetta's ResNet-50 feature-extraction workload.")
    parser.add_argument("--weights", required=True, help="torchvision-named weights (.safetensors)")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--batch", type=positive_int, default=32)
    parser.add_argument("--images", type=positive_int, default=None, help="random images (default 1280)")
    parser.add_argument("--image-size", type=positive_int, default=None, help="random images are S x S (default 224)")
    parser.add_argument("--input", help='images from this file (safetensors, "images" F32 (N, 3, S, S))')
    parser.add_argument("--normalize", action="store_true", help="ImageNet mean/std normalisation first")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random images")
    parser.add_argument("--precision", choices=["fp32", "tf32", "bf16"], default="fp32")
    parser.add_argument("--mode", choices=["eager", "compile", "compile-cudagraphs", "compile-max-autotune"],
                        default="eager", help="compile: torch.compile(model); compile-cudagraphs: mode "
                        "'reduce-overhead' (CUDA graphs); compile-max-autotune: mode 'max-autotune' (autotuned "
                        "kernels and CUDA graphs)")
    parser.add_argument("--channels-last", action="store_true", help="NHWC model and input memory format")
    parser.add_argument("--fold-bn", action="store_true",
                        help="batch norm folded into the convolutions: eager, by torch.fx's conv-bn fusion; compiled, "
                             "by Inductor's freezing (torch._inductor.config.freezing: weights become constants)")
    parser.add_argument("--bf16-weights", action="store_true",
                        help="with --precision bf16: the weights and the input converted to bfloat16 once, no "
                             "autocast (features returned as float32)")
    parser.add_argument("--cudnn-benchmark", choices=["on", "off"], default="on")
    parser.add_argument("--features-out", metavar="FILE", help='write the features here ("features" (N, 2048))')
    parser.add_argument("--json", metavar="FILE", help="write the result record here")
    parser.add_argument("--profile", action="store_true",
                        help="after the timed passes, one more pass under torch.profiler: print the breakdown by "
                             "class per batch and record it")
    peer.add_repeats_argument(parser)
    return parser.parse_args(argv)


def fold_text(args):
    if not args.fold_bn:
        return "as trained (eval mode)"
    return "folded by torch.fx" if args.mode == "eager" else "folded by Inductor's freezing"


def load_weights(model, path):
    """Loads `path` into `model` (fc already Identity); fc.* and the BN counters do not count."""
    training.load_weights(model, path, ignore=lambda name: name.startswith("fc.") or name.endswith("num_batches_tracked"))


def run(args):
    device = training.check_device(args)
    if args.input and (args.images is not None or args.image_size is not None):
        raise UsageError("--input excludes --images and --image-size (the file sets both)")
    peer.check_output_folders(("--features-out", args.features_out), ("--json", args.json))

    allow_tf32 = args.precision == "tf32"
    state = record_fields.set_tf32(allow_tf32)
    if state != (allow_tf32, allow_tf32):
        raise UsageError("--precision %s: TF32 switches read back as matmul=%s cudnn=%s (an environment override?)"
                         % (args.precision, state[0], state[1]))
    torch.backends.cudnn.benchmark = args.cudnn_benchmark == "on"

    if args.bf16_weights and args.precision != "bf16":
        raise UsageError("--bf16-weights needs --precision bf16")
    if args.mode in training.CUDA_GRAPH_MODES and device.type != "cuda":
        raise UsageError("--mode %s needs --device cuda (CUDA graphs)" % args.mode)
    model = torchvision.models.resnet50()
    model.fc = torch.nn.Identity()
    load_weights(model, args.weights)
    model.eval()
    if args.fold_bn and args.mode == "eager":
        import torch.fx.experimental.optimization as fx_optimization
        model = fx_optimization.fuse(model)  # conv + batch norm -> one conv with folded weights (eval mode)
    if args.fold_bn and args.mode != "eager":
        torch._inductor.config.freezing = True  # constants folded at compile time, conv-bn included

    pinned = device.type == "cuda"
    if args.input:
        images = torch.from_numpy(peer.read_images(args.input, args.batch))
    else:
        count, size = args.images or 1280, args.image_size or 224
        if count % args.batch != 0:
            raise UsageError("--images %d must be a multiple of --batch %d" % (count, args.batch))
        generator = torch.Generator()
        generator.manual_seed(args.seed)
        images = torch.rand((count, 3, size, size), generator=generator)
    if pinned:
        images = images.pin_memory()
    count, size = images.shape[0], images.shape[2]
    batches = count // args.batch
    features = torch.empty((count, FEATURES), dtype=torch.float32, pin_memory=pinned)

    model.to(device)
    memory_format = torch.channels_last if args.channels_last else torch.contiguous_format
    model.to(memory_format=memory_format)
    if args.bf16_weights:
        model.to(torch.bfloat16)
    forward = training.compile_model(model, args.mode)
    mean = torch.tensor(IMAGENET_MEAN, device=device).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=device).view(1, 3, 1, 1)

    def extract(x):
        if args.normalize:
            x = (x - mean) / std
        x = x.contiguous(memory_format=memory_format)
        if args.bf16_weights:
            return forward(x.to(torch.bfloat16)).float()
        if args.precision == "bf16":
            with torch.autocast(device_type=device.type, dtype=torch.bfloat16):
                return forward(x).float()
        return forward(x)

    def one_pass(profiler=None):
        label = profiler.label if profiler else (lambda name: contextlib.nullcontext())
        synchronize(device)
        start = time.perf_counter()
        with torch.inference_mode():  # no autograd state at all (no_grad still tracks versions)
            for b in range(batches):
                rows = slice(b * args.batch, (b + 1) * args.batch)
                with label("data"):
                    x = images[rows].to(device, non_blocking=True)
                with label("forward"):
                    y = extract(x)
                with label("data"):
                    features[rows].copy_(y, non_blocking=True)
        synchronize(device)
        return time.perf_counter() - start

    print("resnet50: torch %s, torchvision %s on %s, mode %s, precision %s (TF32 matmul %s, cuDNN %s%s), "
          "cudnn.benchmark %s, channels_last %s, BN %s, batch %d, %d images of %dx%d, normalize %s"
          % (torch.__version__, torchvision.__version__, record_fields.device_name(device), args.mode,
             args.precision, state[0], state[1], ", bf16 weights" if args.bf16_weights else "",
             args.cudnn_benchmark, args.channels_last, fold_text(args), args.batch, count, size, size,
             args.normalize), flush=True)
    meter = result_record.EnergyMeter(device.index or 0 if device.type == "cuda" else None)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    warmup_seconds, pass_seconds = peer.timed_passes(one_pass, args.repeats, meter)
    profile = None
    if args.profile:
        profiler = torch_breakdown.Profiler(True, device, "batch", "one more pass after the timed ones (mode %s)"
                                            % args.mode)
        profiler.start()
        one_pass(profiler)
        profiler.finish(batches)
        profile = profiler.section()
    energy = meter.joules_per(args.repeats * count / 1000.0)
    peak_memory = (result_record.Reading(torch.cuda.max_memory_allocated(device)) if device.type == "cuda" else
                   result_record.Reading(reason="a CPU run: PyTorch counts device memory only"))

    record = record_fields.base_record("resnet50", device, args.mode, args.precision, args.batch)
    record.update({
        "layout": "nhwc" if args.channels_last else "nchw",
        "fold_bn": bool(args.fold_bn),
        "freezing": bool(args.fold_bn and args.mode != "eager"),
        "bf16_weights": bool(args.bf16_weights),
        "inference_mode": True,
        "normalize": bool(args.normalize),
        "cudnn_benchmark": args.cudnn_benchmark == "on",
        "weights": os.path.basename(args.weights),
        "data": os.path.basename(args.input) if args.input else "random",
    })
    peer.add_extraction_fields(record, count, size, warmup_seconds, pass_seconds, energy, peak_memory)
    training.add_profile(record, "resnet50", profile)
    if args.features_out:
        safetensors_io.save(args.features_out, {"features": features.numpy()}, {"workload": "resnet50"})
    if args.json:
        atomic_file.atomic_write_text(args.json, json.dumps(record, indent=2) + "\n")
    return record


def main(argv=None):
    return peer.main("resnet50", parse_args, run, argv)


if __name__ == "__main__":
    sys.exit(main())
