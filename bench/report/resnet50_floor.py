"""ResNet-50's floor: FLOPs and the least bytes a fused design must move, per layer and per 1000 images, and the
time the datasheet rates allow; with an algorithm cache file, the per-layer-class breakdown of cuDNN's own times.

Usage:
    python3 resnet50_floor.py [--batch 32] [--cache conv-algorithms.json] [--gpu h100|h200]
Prints markdown tables (docs/perf/resnet50.md quotes them).

The count (torchvision ResNet-50 V1.5, 224x224, cut after the global average pool):
- FLOPs: 2 x the multiply-adds of the 53 convolutions (models/flops.cpp counts the same).
- Bytes of a fused design, per convolution: x read once, w read once per batch, the residual z read once where the
  block adds it, y written once (bias, residual add and ReLU inside the convolution's epilogue); the max pool reads
  the stem's output and writes its own; the global average pool reads the last block's output; the features are
  written in float. Activations and weights in the precision's element size (fp32/tf32 4 bytes, bf16 2), the
  input images in float (4 bytes, 3 channels) read once and, in NHWC, written and read once more as the converted
  (padded) input. Nothing else (no workspace traffic, caches assumed to hold nothing between layers: a floor).
- Time floor of a layer: max(FLOPs / peak rate, bytes / HBM bandwidth), the roofline; the network's floor is the
  sum over layers. The host-to-device copy of the images (float, 602 KB per image) runs on the copy stream,
  overlapped with compute; it bounds the time only if it is slower than the compute.
Datasheet rates (dense, no sparsity), as bench/cli/peak_rates.cpp: H100 SXM5 and H200 SXM: FP32 66.9, TF32 494.7,
BF16 989.4 TFLOP/s; HBM bandwidth H100 SXM5 3.35 TB/s, H200 4.8 TB/s; PCIe Gen5 x16 64 GB/s per direction.
"""

import argparse
import json
import sys

PEAK_TFLOPS = {"fp32": 66.9, "tf32": 494.7, "bf16": 989.4}
HBM_TBPS = {"h100": 3.35, "h200": 4.8}
PCIE_GBPS = 64.0
ELEMENT = {"fp32": 4, "tf32": 4, "bf16": 2}


def layers(size=224):
    """[(name, class, c, h, k, r, stride, pad, residual)] in the network's order; h is the input's size."""
    out = [("conv1", "stem 7x7", 3, size, 64, 7, 2, 3, False)]
    h = (size + 6 - 7) // 2 + 1
    h = (h + 2 - 3) // 2 + 1  # max pool 3x3/2 pad 1
    c = 64
    for stage, (width, blocks, stride) in enumerate([(64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)]):
        for b in range(blocks):
            s = stride if b == 0 else 1
            name = "layer%d.%d" % (stage + 1, b)
            if b == 0:
                out.append((name + ".downsample", "1x1 stride %d" % s, c, h, 4 * width, 1, s, 0, False))
            out.append((name + ".conv1", "1x1 stride 1", c, h, width, 1, 1, 0, False))
            out.append((name + ".conv2", "3x3 stride %d" % s, width, h, width, 3, s, 1, False))
            h2 = (h + 2 - 3) // s + 1
            out.append((name + ".conv3", "1x1 stride 1", width, h2, 4 * width, 1, 1, 0, True))
            c, h = 4 * width, h2
    return out


def out_size(h, r, stride, pad):
    return (h + 2 * pad - r) // stride + 1


def count(batch, precision, size=224):
    """Per batch: [(name, class, flops, bytes)] including the pools, input conversion and features."""
    e = ELEMENT[precision]
    rows = []
    for name, cls, c, h, k, r, stride, pad, residual in layers(size):
        oh = out_size(h, r, stride, pad)
        flops = 2.0 * batch * k * c * r * r * oh * oh
        moved = e * (batch * c * h * h + k * c * r * r + batch * k * oh * oh * (2 if residual else 1))
        rows.append((name, cls, flops, moved))
    stem = out_size(size, 7, 2, 3)
    pooled = out_size(stem, 3, 2, 1)
    rows.append(("maxpool", "pools and input", 0.0, e * batch * 64 * (stem * stem + pooled * pooled)))
    rows.append(("avgpool", "pools and input", 0.0, e * batch * 2048 * 7 * 7 + 4 * batch * 2048))
    rows.append(("input", "pools and input", 0.0, 4 * batch * 3 * size * size + 2 * e * batch * 8 * size * size))
    return rows


def floor_seconds(rows, precision, gpu):
    peak = PEAK_TFLOPS[precision] * 1e12
    bandwidth = HBM_TBPS[gpu] * 1e12
    return sum(max(f / peak, b / bandwidth) for _, _, f, b in rows)


def print_floors(batch, gpu):
    batches = 1000.0 / batch
    print("## Floor per 1000 images at batch %d, %s (datasheet rates)\n" % (batch, gpu.upper()))
    print("| precision | GFLOP | GB moved | compute floor s | memory floor s | roofline floor s (per layer) "
          "| H2D copy s (PCIe Gen5) |")
    print("|---|---|---|---|---|---|---|")
    for precision in ("fp32", "tf32", "bf16"):
        rows = count(batch, precision)
        flops = sum(r[2] for r in rows) * batches
        moved = sum(r[3] for r in rows) * batches
        compute = flops / (PEAK_TFLOPS[precision] * 1e12)
        memory = moved / (HBM_TBPS[gpu] * 1e12)
        roofline = floor_seconds(rows, precision, gpu) * batches
        copy = 1000 * 3 * 224 * 224 * 4 / (PCIE_GBPS * 1e9)
        print("| %s | %.0f | %.2f | %.4f | %.4f | %.4f | %.4f |" % (precision, flops / 1e9, moved / 1e9, compute,
                                                                   memory, roofline, copy))
    print()


def print_classes(batch, gpu):
    print("## Per layer class, batch %d, %s: FLOPs, bytes and roofline floor per 1000 images\n" % (batch, gpu.upper()))
    print("| class | layers | GFLOP | bf16 GB | fp32 floor s | tf32 floor s | bf16 floor s |")
    print("|---|---|---|---|---|---|---|")
    batches = 1000.0 / batch
    classes = {}
    for precision in ("fp32", "tf32", "bf16"):
        for name, cls, f, b in count(batch, precision):
            entry = classes.setdefault(cls, {"layers": 0, "flops": 0.0, "bf16": 0.0})
            if precision == "fp32":
                entry["layers"] += 1
                entry["flops"] += f
            if precision == "bf16":
                entry["bf16"] += b
            entry[precision + "_s"] = entry.get(precision + "_s", 0.0) + floor_seconds([(name, cls, f, b)], precision, gpu)
    for cls, e in sorted(classes.items()):
        print("| %s | %d | %.0f | %.3f | %.4f | %.4f | %.4f |" % (cls, e["layers"], e["flops"] * batches / 1e9,
                                                                 e["bf16"] * batches / 1e9, e["fp32_s"] * batches,
                                                                 e["tf32_s"] * batches, e["bf16_s"] * batches))
    print()


def print_cache_breakdown(path, batch):
    """cuDNN's reported time of each layer's chosen forward algorithm, summed per class, per 1000 images."""
    with open(path) as f:
        doc = json.load(f)
    times = {}
    for e in doc["entries"]:
        if e["pass"] != "forward" or e["n"] != batch:
            continue
        times[(e["precision"], e["c"], e["h"], e["k"], e["r"], e["stride_h"])] = e["time_ms"] / 1e3
    batches = 1000.0 / batch
    print("## cuDNN's own time per layer class, batch %d (%s, %s, cuDNN %s), per 1000 images\n" % (
        batch, path, doc.get("gpu"), doc.get("cudnn")))
    print("| class | layers | fp32 s | tf32 s | bf16 s | bf16 TFLOP/s | bf16 share |")
    print("|---|---|---|---|---|---|---|")
    by_class, totals = {}, {}
    for name, cls, c, h, k, r, stride, pad, residual in layers():
        entry = by_class.setdefault(cls, {"layers": 0, "flops": 0.0})
        entry["layers"] += 1
        oh = out_size(h, r, stride, pad)
        entry["flops"] += 2.0 * batch * k * c * r * r * oh * oh
        for precision in ("fp32", "tf32", "bf16"):
            t = times.get((precision, c, h, k, r, stride))
            if t is None:
                entry[precision] = None
                continue
            if entry.get(precision, 0.0) is not None:
                entry[precision] = entry.get(precision, 0.0) + t
                totals[precision] = totals.get(precision, 0.0) + t
    for cls, e in sorted(by_class.items()):
        cells = []
        for precision in ("fp32", "tf32", "bf16"):
            cells.append("-" if e.get(precision) is None else "%.4f" % (e[precision] * batches))
        bf16 = e.get("bf16")
        rate = "-" if not bf16 else "%.0f" % (e["flops"] / bf16 / 1e12)
        share = "-" if not bf16 or not totals.get("bf16") else "%.0f%%" % (100 * bf16 / totals["bf16"])
        print("| %s | %d | %s | %s | %s | %s | %s |" % (cls, e["layers"], cells[0], cells[1], cells[2], rate, share))
    print("| all convolutions | 53 | %s | | |" % " | ".join(
        "%.4f" % (totals[p] * batches) if p in totals else "-" for p in ("fp32", "tf32", "bf16")))
    print()


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--gpu", choices=sorted(HBM_TBPS), default="h200")
    parser.add_argument("--cache", help="a conv algorithm cache file (its forward entries at --batch)")
    args = parser.parse_args(argv)
    print_floors(args.batch, args.gpu)
    print_classes(args.batch, args.gpu)
    if args.cache:
        print_cache_breakdown(args.cache, args.batch)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
