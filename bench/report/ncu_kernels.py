"""Per-kernel device time of a ResNet-50 extraction profiled by Nsight Compute (tools/gpu_check.sh, phase r50).

Usage:
    python3 ncu_kernels.py NCU.csv --forwards F [--out-json kernels.json] [--top 25]
NCU.csv is what `ncu --clock-control none --metrics gpu__time_duration.sum --csv --print-units base --log-file NCU.csv
rosetta extract resnet50 --graph off ...` writes: one row per profiled kernel launch (ncu's details page). F is the
number of forward passes the run made (the extraction's eager warm-up forward, then its passes' batches), so each
figure is per forward.

Output: markdown on stdout: the total device time per forward, each kernel class's share (convolution/GEMM kernels,
the epilogue kernel, pooling, layout and input conversion, the rest; by name), and the top kernels by time with their
launches per forward and mean duration; with --out-json the same figures as JSON. Bad input (no such file, no
gpu__time_duration rows) is one line and exit status 2.
"""

import argparse
import csv
import json
import re
import sys

CLASSES = [  # (class, pattern on the kernel's name), the first match wins
    ("epilogue (bias, residual, ReLU)", re.compile(r"bias_residual_activation")),
    ("pooling", re.compile(r"pool", re.I)),
    ("layout and input conversion", re.compile(r"pack_kernel|nchw_to_nhwc|nhwc_to_nchw|convert|batchnorm", re.I)),
    ("convolution / GEMM", re.compile(r"conv|gemm|xmma|cutlass|implicit|winograd|fft|sm\d+_|cudnn|kernel_", re.I)),
]


class InputError(Exception):
    pass


def kernel_class(name):
    for label, pattern in CLASSES:
        if pattern.search(name):
            return label
    return "other"


def read_times(path):
    """[(kernel name, seconds)] of every launch in ncu's CSV."""
    try:
        with open(path, newline="") as f:
            lines = f.read().splitlines()
    except OSError as error:
        raise InputError("%s: cannot read (%s)" % (path, error.strerror or error))
    # ncu prints its own "==PROF==" lines before the CSV; the CSV starts at the header row.
    start = next((i for i, line in enumerate(lines) if line.startswith('"ID"')), None)
    if start is None:
        raise InputError("%s: no ncu CSV header (\"ID\", ...)" % path)
    times = []
    for row in csv.DictReader(lines[start:]):
        if row.get("Metric Name") != "gpu__time_duration.sum":
            continue
        value = float(row["Metric Value"].replace(",", ""))
        unit = row.get("Metric Unit", "nsecond")
        scale = {"nsecond": 1e-9, "ns": 1e-9, "usecond": 1e-6, "us": 1e-6, "msecond": 1e-3, "ms": 1e-3}.get(unit, 1e-9)
        times.append((row["Kernel Name"], value * scale))
    if not times:
        raise InputError("%s: no gpu__time_duration.sum rows (was ncu run with --metrics gpu__time_duration.sum?)"
                         % path)
    return times


def summarize(times, forwards, top):
    by_kernel, by_class = {}, {}
    for name, seconds in times:
        entry = by_kernel.setdefault(name, [0, 0.0])
        entry[0] += 1
        entry[1] += seconds
        by_class[kernel_class(name)] = by_class.get(kernel_class(name), 0.0) + seconds
    total = sum(s for _, s in times)
    kernels = sorted(by_kernel.items(), key=lambda item: -item[1][1])
    return {
        "forwards": forwards,
        "ms_per_forward": total / forwards * 1e3,
        "launches_per_forward": len(times) / forwards,
        "classes": {label: {"ms_per_forward": s / forwards * 1e3, "share": s / total} for label, s in by_class.items()},
        "kernels": [{"name": name, "class": kernel_class(name), "launches_per_forward": n / forwards,
                     "ms_per_forward": s / forwards * 1e3, "mean_us": s / n * 1e6, "share": s / total}
                    for name, (n, s) in kernels[:top]],
    }


def markdown(summary, source):
    lines = ["Device time per forward: %.3f ms in %.0f kernel launches (%s, %d forwards)" % (
        summary["ms_per_forward"], summary["launches_per_forward"], source, summary["forwards"]), "",
        "| class | ms per forward | share |", "|---|---|---|"]
    for label, c in sorted(summary["classes"].items(), key=lambda item: -item[1]["ms_per_forward"]):
        lines.append("| %s | %.3f | %.1f%% |" % (label, c["ms_per_forward"], 100 * c["share"]))
    lines += ["", "| kernel | class | launches per forward | mean us | ms per forward | share |",
              "|---|---|---|---|---|---|"]
    for k in summary["kernels"]:
        name = k["name"] if len(k["name"]) <= 90 else k["name"][:87] + "..."
        lines.append("| %s | %s | %.1f | %.1f | %.3f | %.1f%% |" % (name.replace("|", "\\|"), k["class"],
                                                                  k["launches_per_forward"], k["mean_us"],
                                                                  k["ms_per_forward"], 100 * k["share"]))
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description="Per-kernel device time of a profiled ResNet-50 extraction.")
    parser.add_argument("csv", help="ncu's --csv --log-file output")
    parser.add_argument("--forwards", type=int, required=True, help="forward passes the profiled run made")
    parser.add_argument("--out-json", help="the summary as JSON")
    parser.add_argument("--top", type=int, default=25, help="kernels listed")
    args = parser.parse_args(argv)
    try:
        if args.forwards < 1:
            raise InputError("--forwards must be at least 1, got %d" % args.forwards)
        summary = summarize(read_times(args.csv), args.forwards, args.top)
    except (InputError, ValueError, KeyError) as error:
        print("ncu_kernels: error: %s" % error, file=sys.stderr)
        return 2
    sys.stdout.write(markdown(summary, args.csv))
    if args.out_json:
        with open(args.out_json, "w") as f:
            json.dump(summary, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
