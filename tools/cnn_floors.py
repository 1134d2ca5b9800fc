#!/usr/bin/env python3
"""The CNN workload's floors (docs/perf/cnn.md): FLOPs and bytes of one training step per layer and pass, and the
time each would take at the datasheet rates of an H100 SXM and an H200, in fp32 (direct and Winograd), tf32 and
bf16. Prints markdown; `python3 tools/cnn_floors.py > /dev/stdout` reproduces the document's tables.

Counting rules (stated once, used everywhere):
- FLOPs: 2 per multiply-add of the convolutions and fully connected layers (models/flops.h's count); a pass's floor
  is max(FLOPs / peak, bytes / bandwidth), the roofline of that one kernel with perfect reuse.
- Bytes: each pass reads its operands once and writes its result once (no re-reads, the best any kernel can do):
  forward x, w -> y; data gradient dy, w -> dx; filter gradient x, dy -> dw. Activations and weight copies take
  the precision's element size (4 bytes fp32/tf32, 2 bf16); gradients of the weights reach the float master copy.
- Winograd: cuDNN's F(2x2, 3x3) does 16 multiplies where direct does 36 (2.25x fewer) on the 3x3 convolutions with
  at least 50 channels; F(4x4, 3x3) would do 4x fewer, but its transforms cost as much again at these channel
  counts, so 2.25x is the figure used. It is float arithmetic (strict fp32 allows it).
- The element-wise passes of the fused step (kernels/pool.inc's fused pooling, the ReLU/bias gradients) and the
  optimizer are memory-bound: their bytes are counted the same way.
"""

BATCH = 64
STEPS = 7810  # 10 epochs of 781 complete batches
PARAMS = 3_441_592

# Datasheet rates (dense TFLOP/s; bench/cli/peak_rates.cpp has the same figures) and HBM bandwidth (TB/s).
CARDS = {
    "H100 SXM": {"fp32": 66.9, "tf32": 494.7, "bf16": 989.4, "hbm": 3.35},
    "H200": {"fp32": 66.9, "tf32": 494.7, "bf16": 989.4, "hbm": 4.8},
}

# (name, in channels, out channels, output size); 3x3, pad 1, stride 1.
CONVS = [("conv1", 3, 50, 32), ("conv2", 50, 50, 32), ("conv3", 50, 100, 16), ("conv4", 100, 100, 16)]
FCS = [("fc1", 6400, 512), ("fc2", 512, 10)]


def passes(element):
    """(layer, pass, flops, bytes, winograd_factor) of one step; element: bytes per activation/weight element."""
    rows = []
    for name, c, k, size in CONVS:
        x, y, w = BATCH * c * size * size, BATCH * k * size * size, k * c * 9
        flops = 2.0 * BATCH * k * c * 9 * size * size
        winograd = 2.25 if c >= 50 else 1.0
        rows.append((name, "forward", flops, element * (x + w + y), winograd))
        if name != "conv1":  # the data needs no gradient
            rows.append((name, "data gradient", flops, element * (y + w + x), winograd))
        rows.append((name, "filter gradient", flops, element * (x + y + w), winograd))
    for name, fin, fout in FCS:
        x, y, w = BATCH * fin, BATCH * fout, fin * fout
        flops = 2.0 * BATCH * fin * fout
        rows.append((name, "forward", flops, element * (x + w + y), 1.0))
        rows.append((name, "data gradient", flops, element * (y + w + x), 1.0))
        rows.append((name, "weight gradient", flops, element * (x + y + w), 1.0))
    return rows


def elementwise(element):
    """(what, bytes) of the memory-bound passes of the fused step (docs/perf/cnn.md, deliverable 2)."""
    pooled1, full1 = BATCH * 50 * 16 * 16, BATCH * 50 * 32 * 32
    pooled2, full2 = BATCH * 100 * 8 * 8, BATCH * 100 * 16 * 16
    index = 4  # int32 arg-max
    master = 4 * PARAMS
    rows = [
        ("pool1 + dropout forward", element * (full1 + pooled1) + index * pooled1),
        ("pool2 + dropout forward", element * (full2 + pooled2) + index * pooled2),
        ("pool2 backward (dropout, pool, ReLU, conv4 bias gradient)", element * (2 * pooled2 + full2) + index * pooled2),
        ("conv3 ReLU + bias gradient", element * 3 * full2),
        ("pool1 backward (dropout, pool, ReLU, conv2 bias gradient)", element * (2 * pooled1 + full1) + index * pooled1),
        ("conv1 ReLU + bias gradient", element * 3 * full1),
        ("SGD with momentum (read w, g, m; write w, m)", 5 * master),
    ]
    if element == 2:
        rows.append(("bf16 weight copies and gradients back (read 4 + write 2, read 2 + write 4 per parameter)",
                     12 * PARAMS))
    return rows


def unfused_elementwise():
    """(what, bytes) of the element-wise kernels of today's fp32 step (the seed's order, one kernel per layer;
    --fuse off), for the fusion's prediction."""
    full1, pooled1 = BATCH * 50 * 32 * 32, BATCH * 50 * 16 * 16
    full2, pooled2 = BATCH * 100 * 16 * 16, BATCH * 100 * 8 * 8
    f = 4
    return [
        ("conv1..4 bias_add (read + write y)", f * 2 * (2 * full1 + 2 * full2)),
        ("ReLU forward x5 (conv1, pool1, conv3, pool2, fc1)", f * 2 * (full1 + pooled1 + full2 + pooled2 + BATCH * 512)),
        ("max pool forward x2 (y and int32 arg-max)", f * (full1 + 2 * pooled1 + full2 + 2 * pooled2)),
        ("dropout forward x3 (y and float mask)", f * 3 * (pooled1 + pooled2 + BATCH * 512)),
        ("dropout backward x3", f * 3 * (pooled1 + pooled2 + BATCH * 512)),
        ("ReLU backward x5 (read y, dy; write dx)", f * 3 * (full1 + pooled1 + full2 + pooled2 + BATCH * 512)),
        ("max pool backward x2 (dy, arg-max -> dx)", f * (2 * pooled1 + full1 + 2 * pooled2 + full2)),
        ("conv bias gradient x4 (read dy)", f * (2 * full1 + 2 * full2)),
    ]


def us(seconds):
    return seconds * 1e6


def table(precision, card):
    rate = CARDS[card][precision] * 1e12
    bandwidth = CARDS[card]["hbm"] * 1e12
    element = 2 if precision == "bf16" else 4
    total_compute = total_memory = total_floor = total_winograd = 0.0
    lines = ["| layer | pass | GFLOP | MB | compute us | memory us | floor us |" +
             (" Winograd floor us |" if precision == "fp32" else ""),
             "|---|---|---|---|---|---|---|" + ("---|" if precision == "fp32" else "")]
    for layer, name, flops, nbytes, winograd in passes(element):
        compute, memory = flops / rate, nbytes / bandwidth
        floor, wfloor = max(compute, memory), max(compute / winograd, memory)
        total_compute += compute
        total_memory += memory
        total_floor += floor
        total_winograd += wfloor
        lines.append("| %s | %s | %.3f | %.2f | %.1f | %.1f | %.1f |%s" % (
            layer, name, flops / 1e9, nbytes / 1e6, us(compute), us(memory), us(floor),
            " %.1f |" % us(wfloor) if precision == "fp32" else ""))
    for name, nbytes in elementwise(element):
        memory = nbytes / bandwidth
        total_memory += memory
        total_floor += memory
        total_winograd += memory
        lines.append("| %s | | 0 | %.2f | 0 | %.1f | %.1f |%s" % (
            name, nbytes / 1e6, us(memory), us(memory), " %.1f |" % us(memory) if precision == "fp32" else ""))
    lines.append("| **step** | | %.2f | | %.1f | %.1f | **%.1f** |%s" % (
        sum(p[2] for p in passes(element)) / 1e9, us(total_compute), us(total_memory), us(total_floor),
        " **%.1f** |" % us(total_winograd) if precision == "fp32" else ""))
    summary = "10 epochs (%d steps) at the floor: %.2f s" % (STEPS, total_floor * STEPS)
    if precision == "fp32":
        summary += "; with Winograd: %.2f s" % (total_winograd * STEPS)
    return "\n".join(lines), summary


def main():
    today = unfused_elementwise()
    print("### Element-wise kernels of today's step (fp32, unfused), read + written\n")
    print("| kernels | MB |\n|---|---|")
    for name, nbytes in today:
        print("| %s | %.2f |" % (name, nbytes / 1e6))
    fused = sum(b for name, b in elementwise(4) if not name.startswith("SGD"))
    print("| **all** | **%.1f** (fused step: %.1f) |\n" % (sum(b for _, b in today) / 1e6, fused / 1e6))
    for card in CARDS:
        print("### %s (datasheet: fp32 %.1f, tf32 %.1f, bf16 %.1f dense TFLOP/s; HBM %.2f TB/s)\n" % (
            card, CARDS[card]["fp32"], CARDS[card]["tf32"], CARDS[card]["bf16"], CARDS[card]["hbm"]))
        for precision in ("fp32", "tf32", "bf16"):
            lines, summary = table(precision, card)
            print("#### %s, batch %d\n\n%s\n\n%s\n" % (precision, BATCH, lines, summary))


if __name__ == "__main__":
    main()
