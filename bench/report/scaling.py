"""ResNet-50 throughput against batch size, and latency, from extraction records (rosetta's and the peers').

Usage:
    python3 scaling.py RESULTS... [--out-md scaling.md] [--out-png scaling.png]
RESULTS are JSON result records (files, or folders of them), as report.py reads them; only "resnet50" records are
used (there must be at least one).

Output: per device, a markdown table with one row per configuration (framework, its mode and switches as report.py
words them, precision) and one column per batch size: the median images/s of the steady state (the timed passes);
then a table of the latency runs (--latency): per configuration and batch, the batches timed, p50 and p99 in ms.
With --out-png, one line chart per device and precision of images/s against batch (log scale of batch), one line per
configuration, rosetta's solid and the peers' dashed (matplotlib when importable, else a message and no chart).
Several records of one configuration and batch (repeated runs) show their median's median and are counted.

Invariants: as report.py (its reader and words are this script's): bad input is one line and exit status 2, nothing
written; a missing figure is "-", never estimated; outputs are written atomically.
"""

import argparse
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import report  # noqa: E402  (read_records, steady_rates, mode_text, framework_text, cell, atomic_file)


def configuration(record):
    """What a row stands for: everything but the batch."""
    return (report.framework_text(record), report.mode_text(record), record["precision"])


def collect(records):
    """{device: {configuration: {batch: [images/s medians]}}} and {device: {configuration: {batch: [latency]}}}."""
    throughput, latency = {}, {}
    for _, record in records:
        if record.get("workload") != "resnet50" or not isinstance(record.get("batch"), int):
            continue
        key, batch, device = configuration(record), record["batch"], record["device"]
        rates = report.steady_rates(record)
        if rates is not None:
            throughput.setdefault(device, {}).setdefault(key, {}).setdefault(batch, []).append(rates[0])
        if isinstance(record.get("latency"), dict):
            latency.setdefault(device, {}).setdefault(key, {}).setdefault(batch, []).append(record["latency"])
    return throughput, latency


def row_order(key):
    framework, mode, precision = key
    return (not framework.startswith("rosetta"), framework, precision, mode)


def markdown(throughput, latency):
    lines = ["# ResNet-50: throughput against batch size", "",
             "images/s, median of the timed passes (the records' steady state), copies included; higher is better.", ""]
    for device in sorted(throughput):
        batches = sorted({b for per in throughput[device].values() for b in per})
        lines += ["## %s" % device, "",
                  "| framework | mode | precision | " + " | ".join("batch %d" % b for b in batches) + " |",
                  "|---|---|---|" + "---|" * len(batches)]
        for key in sorted(throughput[device], key=row_order):
            per = throughput[device][key]
            cells = []
            for b in batches:
                values = per.get(b)
                if not values:
                    cells.append("-")
                else:
                    runs = "" if len(values) == 1 else " (%d runs)" % len(values)
                    cells.append("%.1f%s" % (statistics.median(values), runs))
            lines.append("| %s | %s | %s | %s |" % (report.cell(key[0]), report.cell(key[1]), key[2], " | ".join(cells)))
        lines.append("")
    if latency:
        lines += ["## Latency", "",
                  "Each batch timed alone (copy in, forward, features out; the device idle before it). p50 and p99 by "
                  "the nearest rank of the sorted per-batch times.", "",
                  "| device | framework | mode | precision | batch | batches timed | p50 ms | p99 ms |",
                  "|---|---|---|---|---|---|---|---|"]
        for device in sorted(latency):
            for key in sorted(latency[device], key=row_order):
                for batch in sorted(latency[device][key]):
                    for run in latency[device][key][batch]:
                        lines.append("| %s | %s | %s | %s | %d | %d | %.3f | %.3f |" % (
                            report.cell(device), report.cell(key[0]), report.cell(key[1]), key[2], batch,
                            run["batches"], run["p50_ms"], run["p99_ms"]))
        lines.append("")
    return "\n".join(lines)


def chart(throughput, path):
    """Writes the line charts; returns False (with a message) when matplotlib is missing."""
    plt = report.pyplot("scaling", path)
    if plt is None:
        return False
    panels = sorted({(device, key[2]) for device in throughput for key in throughput[device]})
    figure, axes = plt.subplots(len(panels), 1, figsize=(9, 3.6 * len(panels)), squeeze=False)
    for axis, (device, precision) in zip(axes[:, 0], panels):
        for key in sorted(throughput[device], key=row_order):
            if key[2] != precision:
                continue
            per = throughput[device][key]
            batches = sorted(per)
            axis.plot(batches, [statistics.median(per[b]) for b in batches], marker="o",
                      linestyle="-" if key[0].startswith("rosetta") else "--", label="%s, %s" % (key[0], key[1]))
        axis.set_xscale("log", base=2)
        axis.set_xlabel("batch size", fontsize=8)
        axis.set_ylabel("images/s (higher is better)", fontsize=8)
        axis.set_title("ResNet-50, %s, %s" % (device, precision), fontsize=10)
        axis.grid(True, which="both", linewidth=0.3)
        axis.legend(fontsize=7)
    figure.tight_layout()
    report.atomic_file.atomic_write(path, lambda f: figure.savefig(f, dpi=120, format="png"), binary=True)
    plt.close(figure)
    return True


def main(argv=None):
    parser = argparse.ArgumentParser(description="ResNet-50 throughput against batch size, and latency.")
    parser.add_argument("results", nargs="+", help="JSON files or folders of them")
    parser.add_argument("--out-md", help="markdown output (default: standard output)")
    parser.add_argument("--out-png", help="line chart output (needs matplotlib)")
    args = parser.parse_args(argv)
    try:
        throughput, latency = collect(report.read_records(args.results))
        if not throughput:
            raise report.ReportError("no resnet50 record with a steady-state throughput in %s" % " ".join(args.results))
    except report.ReportError as error:
        print("scaling: error: %s" % error, file=sys.stderr)
        return 2
    text = markdown(throughput, latency)
    if args.out_md:
        report.atomic_file.atomic_write_text(args.out_md, text)
        print("scaling: -> %s" % args.out_md)
    else:
        sys.stdout.write(text)
    if args.out_png and chart(throughput, args.out_png):
        print("scaling: chart -> %s" % args.out_png)
    return 0


if __name__ == "__main__":
    sys.exit(main())
