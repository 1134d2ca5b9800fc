"""Joins result records (JSON, from rosetta and the peers, any workload) into a markdown report and a PNG chart.

Usage:
    python3 report.py RESULTS... [--out-md report.md] [--out-png report.png]
RESULTS are JSON files (one record object, or a list of them) or folders (every *.json directly inside).

Output: one markdown table per workload (framework and version, mode and layout switches, precision, device,
data, seconds, steady-state seconds per epoch, examples/s (images or sequences) or s/1000 images (ResNet's "seconds_per_1000_images"),
test accuracy, final loss, driver/CUDA/cuDNN versions, commit, date), rosetta's rows first; and, with --out-png,
one horizontal bar chart per workload of its throughput (matplotlib when importable, else a message and no chart).

Invariants:
- A number without its card and precision is not reported: a record missing "device" or "precision" (or with
  an empty one), or missing "workload", stops the report with one line naming the file and exit status 2;
  so does unreadable JSON. Nothing is written in that case.
- Missing optional fields show as "-"; nothing is estimated or filled in.
- Outputs are written through the peers' atomic_file: a temporary file, fsynced, renamed over the target.
"""

import argparse
import glob
import json
import os
import sys

# The peers' atomic writer (fsync, then rename over the target), shared rather than written again.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "peers", "common"))
import atomic_file  # noqa: E402

REQUIRED = ("workload", "device", "precision")


class ReportError(Exception):
    """Bad input: one line, exit 2."""


def read_records(paths):
    """Returns [(source path, record dict)] from files and folders, validated."""
    files = []
    for path in paths:
        if os.path.isdir(path):
            files.extend(sorted(glob.glob(os.path.join(path, "*.json"))))
        else:
            files.append(path)
    if not files:
        raise ReportError("no JSON result files in %s" % " ".join(paths))
    records = []
    for path in files:
        try:
            with open(path) as f:
                content = json.load(f)
        except OSError as error:
            raise ReportError("%s: cannot read (%s)" % (path, error.strerror or error))
        except ValueError as error:
            raise ReportError("%s: not valid JSON (%s)" % (path, error))
        for record in content if isinstance(content, list) else [content]:
            if not isinstance(record, dict):
                raise ReportError("%s: a result record must be a JSON object" % path)
            for key in REQUIRED:
                value = record.get(key)
                if not isinstance(value, str) or not value.strip():
                    raise ReportError('%s: record has no "%s"; a number without its card and precision is not '
                                      "reported" % (path, key))
            records.append((path, record))
    return records


def number(value, digits):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return "%.*f" % (digits, value)


def cell(value):
    if value is None or value == "":
        return "-"
    return str(value).replace("|", "\\|").replace("\n", " ")


def steady_seconds_per_epoch(record):
    per_epoch = record.get("seconds_per_epoch")
    if isinstance(per_epoch, list) and len(per_epoch) > 1 and all(
        isinstance(s, (int, float)) and not isinstance(s, bool) for s in per_epoch
    ):
        return sum(per_epoch[1:]) / (len(per_epoch) - 1)
    return None


def mode_text(record):
    """The record's mode and every switch that sets it apart from its workload's defaults."""
    parts = [record.get("mode") or "-"]
    if record.get("channels_last") is True:
        parts.append("channels-last")
    if record.get("cudnn_benchmark") is False:
        parts.append("no cudnn.benchmark")
    if record.get("workload") == "resnet50" and record.get("layout"):
        parts.append(record["layout"])
    if record.get("fold_bn") is False:
        parts.append("BN not folded")
    if record.get("fuse") is False or record.get("fused_convolutions") == 0:
        parts.append("unfused")
    if record.get("rnn_algorithm") not in (None, "standard") and record.get("rnn") == "cudnn":
        parts.append(record["rnn_algorithm"])
    return ", ".join(parts)


def framework_text(record):
    name = record.get("framework") or "-"
    version = record.get("framework_version")
    return "%s %s" % (name, version) if version else name


def sort_key(record):
    return (record.get("framework") != "rosetta", str(record.get("framework")), str(record.get("mode")),
            record.get("precision"), record.get("device"))


def throughput(record):
    """(value, label, higher is better) for the chart, or None."""
    value = record.get("seconds_per_1000_images")
    if number(value, 0) is not None:
        return value, "s / 1000 images (lower is better)", False
    value = examples_per_second(record)
    if number(value, 0) is not None:
        return value, "examples / s, steady state (higher is better)", True
    return None


def examples_per_second(record):
    """Images/s (CNN) or sequences/s (GRU), steady state."""
    value = record.get("images_per_second")
    return value if value is not None else record.get("sequences_per_second")


def workload_table(records):
    has_images = any(examples_per_second(r) is not None for r in records)
    has_per_1000 = any(r.get("seconds_per_1000_images") is not None for r in records)
    columns = ["framework", "mode", "precision", "device", "data", "seconds", "steady s/epoch"]
    if has_images or not has_per_1000:
        columns.append("examples/s")
    if has_per_1000:
        columns.append("s/1000 images")
    columns += ["test accuracy", "final loss", "driver", "CUDA", "cuDNN", "commit", "date"]
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for record in sorted(records, key=sort_key):
        accuracy = number(record.get("test_accuracy"), 4)  # a fraction in [0, 1]
        values = {
            "framework": framework_text(record),
            "mode": mode_text(record),
            "precision": record.get("precision"),
            "device": record.get("device"),
            "data": record.get("data"),
            "seconds": number(record.get("seconds_total"), 2),
            "steady s/epoch": number(steady_seconds_per_epoch(record), 3),
            "examples/s": number(examples_per_second(record), 0),
            "s/1000 images": number(record.get("seconds_per_1000_images"), 3),
            "test accuracy": None if accuracy is None else "%.2f %%" % (100 * record["test_accuracy"]),
            "final loss": number(record.get("final_loss"), 4),
            "driver": record.get("driver"),
            "CUDA": record.get("cuda"),
            "cuDNN": record.get("cudnn"),
            "commit": (record.get("commit") or "")[:10],
            "date": record.get("date"),
        }
        lines.append("| " + " | ".join(cell(values[c]) for c in columns) + " |")
    return "\n".join(lines)


def markdown(records):
    by_workload = {}
    for _, record in records:
        by_workload.setdefault(record["workload"], []).append(record)
    sections = ["# Results", "",
                "seconds: the whole timed training loop (or timed pass), first epoch with cuDNN autotuning or "
                "compilation included; steady s/epoch and examples/s leave the first epoch out.", ""]
    for workload in sorted(by_workload):
        sections += ["## %s" % workload, "", workload_table(by_workload[workload]), ""]
    return "\n".join(sections)


def chart(records, path):
    """Writes the bar chart; returns False (with a message) when matplotlib is missing."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("report: matplotlib is not importable; chart %s skipped" % path, file=sys.stderr)
        return False
    by_workload = {}
    for _, record in records:
        if throughput(record) is not None:
            by_workload.setdefault(record["workload"], []).append(record)
    if not by_workload:
        print("report: no record has a throughput; chart %s skipped" % path, file=sys.stderr)
        return False
    workloads = sorted(by_workload)
    heights = [max(1.5, 0.45 * len(by_workload[w]) + 1.0) for w in workloads]
    figure, axes = plt.subplots(len(workloads), 1, figsize=(10, sum(heights)),
                                gridspec_kw={"height_ratios": heights}, squeeze=False)
    for axis, workload in zip(axes[:, 0], workloads):
        rows = sorted(by_workload[workload], key=sort_key)
        labels = ["%s, %s, %s\n%s" % (framework_text(r), mode_text(r), r["precision"], r["device"]) for r in rows]
        values = [throughput(r)[0] for r in rows]
        colors = ["tab:orange" if r.get("framework") == "rosetta" else "tab:blue" for r in rows]
        positions = range(len(rows))
        axis.barh(positions, values, color=colors)
        axis.set_yticks(list(positions))
        axis.set_yticklabels(labels, fontsize=7)
        axis.invert_yaxis()
        axis.set_title(workload, fontsize=10)
        axis.set_xlabel(throughput(rows[0])[1], fontsize=8)
        axis.set_xlim(0, 1.15 * max(values) if max(values) > 0 else 1)  # room for the value labels
        for position, value in zip(positions, values):
            axis.text(value, position, " %.0f" % value if value >= 100 else " %.3g" % value, va="center", fontsize=7)
    figure.tight_layout()
    atomic_file.atomic_write(path, lambda f: figure.savefig(f, dpi=120, format="png"), binary=True)
    plt.close(figure)
    return True


def main(argv=None):
    parser = argparse.ArgumentParser(description="Markdown table and PNG chart from result JSON records.")
    parser.add_argument("results", nargs="+", help="JSON files or folders of them")
    parser.add_argument("--out-md", help="markdown output (default: standard output)")
    parser.add_argument("--out-png", help="bar chart output (needs matplotlib)")
    args = parser.parse_args(argv)
    try:
        records = read_records(args.results)
    except ReportError as error:
        print("report: error: %s" % error, file=sys.stderr)
        return 2
    text = markdown(records)
    if args.out_md:
        atomic_file.atomic_write_text(args.out_md, text)
        print("report: %d records -> %s" % (len(records), args.out_md))
    else:
        sys.stdout.write(text)
    if args.out_png and chart(records, args.out_png):
        print("report: chart -> %s" % args.out_png)
    return 0


if __name__ == "__main__":
    sys.exit(main())
