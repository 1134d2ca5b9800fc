"""Joins result records (JSON, from rosetta and the peers, any workload) into a markdown report and a PNG chart.

Usage:
    python3 report.py RESULTS... [--out-md report.md] [--out-png report.png]
RESULTS are JSON files (one record object, or a list of them) or folders (every *.json directly inside).

Output: per workload, a table of every run (framework and version, mode and layout switches, precision, device,
data, the steady-state throughput as median with its min-max spread over the repetitions, TFLOP/s and the
fraction of the card's peak, peak device memory, energy, test accuracy, final loss, versions, commit, date),
rosetta's rows first; then, per workload, precision and device, each peer against rosetta: the ratio of the
medians, and "faster"/"slower" only when the two spreads do not overlap ("within the spread" otherwise). With
--out-png, one horizontal bar chart per workload of the median throughput with min-max error bars, titled with
the card, precisions and date, higher is better (matplotlib when importable, else a message and no chart).

Invariants:
- A number without its card and precision is not reported: a record missing "device" or "precision" (or with
  an empty one), or missing "workload", stops the report with one line naming the file and exit status 2;
  so does unreadable JSON. Nothing is written in that case.
- Missing optional fields show as "-"; nothing is estimated or filled in. A record without a steady state (a run
  too short, schema version 1's null) has no throughput in the report, whatever else it holds.
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


def steady_rates(record):
    """(median, low, high) examples per second of the steady state (low from the slowest repetition), or None.
    Records before schema version 1 carry one figure: its spread is that figure alone."""
    steady = record.get("steady")
    if isinstance(steady, dict) and steady.get("median_s"):
        examples = steady["examples_per_repetition"]
        return examples / steady["median_s"], examples / steady["max_s"], examples / steady["min_s"]
    if "schema_version" in record:
        return None
    value = examples_per_second(record)
    if value is None and number(record.get("seconds_per_1000_images"), 0) is not None:
        value = 1000.0 / record["seconds_per_1000_images"]
    return (value, value, value) if number(value, 0) is not None else None


def unit_text(record):
    return "sequences/s" if record.get("workload") == "gru" else "images/s"


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


def examples_per_second(record):
    """Images/s (CNN, ResNet-50) or sequences/s (GRU) as the record states it."""
    value = record.get("images_per_second")
    return value if value is not None else record.get("sequences_per_second")


def rate_text(rates):
    if rates is None:
        return None
    median, low, high = rates
    return "%.4g (%.4g-%.4g)" % (median, low, high) if high > low else "%.4g" % median


def metric(record, key):
    metrics = record.get("metrics")
    return metrics.get(key) if isinstance(metrics, dict) else None


def energy_text(record):
    joules = metric(record, "energy_joules_per_unit")
    return None if joules is None else "%.4g J/%s" % (joules, metric(record, "energy_unit"))


def workload_table(records):
    columns = ["framework", "mode", "precision", "device", "data", "median (min-max) %s" % unit_text(records[0]),
               "repetitions", "TFLOP/s", "of peak", "peak memory", "energy", "seconds", "test accuracy",
               "final loss", "driver", "CUDA", "cuDNN", "commit", "date"]
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for record in sorted(records, key=sort_key):
        accuracy = number(record.get("test_accuracy"), 4)  # a fraction in [0, 1]
        steady = record.get("steady") if isinstance(record.get("steady"), dict) else {}
        fraction, memory = metric(record, "peak_fraction"), metric(record, "peak_memory_bytes")
        values = {
            "framework": framework_text(record),
            "mode": mode_text(record),
            "precision": record.get("precision"),
            "device": record.get("device"),
            "data": record.get("data"),
            columns[5]: rate_text(steady_rates(record)),
            "repetitions": "%s x %s" % (steady["repetitions"], steady["unit"]) if steady else None,
            "TFLOP/s": number(metric(record, "tflops"), 3),
            "of peak": None if fraction is None else "%.1f %%" % (100 * fraction),
            "peak memory": None if memory is None else "%.2f GiB" % (memory / 2 ** 30),
            "energy": energy_text(record),
            "seconds": number(record.get("seconds_total"), 2),
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


def verdict(peer_rates, rosetta_rates):
    """How a peer's throughput stands against rosetta's: a win only outside both spreads."""
    if peer_rates[1] > rosetta_rates[2]:
        return "faster than rosetta"
    if peer_rates[2] < rosetta_rates[1]:
        return "slower than rosetta"
    return "within the spread: no difference shown"


def comparison_lines(records):
    """Each peer run against the rosetta run(s) of its workload, precision and device (the fastest median)."""
    lines = []
    groups = {}
    for record in records:
        if steady_rates(record) is not None:
            groups.setdefault((record["precision"], record["device"]), []).append(record)
    for (precision, device), group in sorted(groups.items()):
        ours = [r for r in group if r.get("framework") == "rosetta"]
        if not ours:
            continue
        best = max(ours, key=lambda r: steady_rates(r)[0])
        base = steady_rates(best)
        for record in sorted(group, key=sort_key):
            if record.get("framework") == "rosetta":
                continue
            rates = steady_rates(record)
            lines.append("- %s (%s), %s on %s: %s %s, %.2fx rosetta's (%s) %s: %s."
                         % (framework_text(record), mode_text(record), precision, device, rate_text(rates),
                            unit_text(record), rates[0] / base[0], mode_text(best), rate_text(base),
                            verdict(rates, base)))
    return lines


def markdown(records):
    by_workload = {}
    for _, record in records:
        by_workload.setdefault(record["workload"], []).append(record)
    sections = ["# Results", "",
                "Throughput: the steady state's median repetition (each epoch after the first, or 5 equal windows "
                "of the steps after it, or each timed pass), with the slowest and fastest repetition in brackets; "
                "higher is better. TFLOP/s counts the same arithmetic for every framework (models/flops.h). "
                "seconds: the whole timed loop, the first epoch (autotuning, compilation) included.", ""]
    for workload in sorted(by_workload):
        sections += ["## %s" % workload, "", workload_table(by_workload[workload]), ""]
        comparison = comparison_lines(by_workload[workload])
        if comparison:
            sections += ["Against rosetta (a difference inside the spread is not a win):", ""] + comparison + [""]
    return "\n".join(sections)


def pyplot(program, path):
    """matplotlib.pyplot on the Agg backend, or None with a message naming the chart that is skipped."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("%s: matplotlib is not importable; chart %s skipped" % (program, path), file=sys.stderr)
        return None
    return plt


def chart(records, path):
    """Writes the bar chart; returns False (with a message) when matplotlib is missing."""
    plt = pyplot("report", path)
    if plt is None:
        return False
    from matplotlib.patches import Patch
    by_workload = {}
    for _, record in records:
        if steady_rates(record) is not None:
            by_workload.setdefault(record["workload"], []).append(record)
    if not by_workload:
        print("report: no record has a steady-state throughput; chart %s skipped" % path, file=sys.stderr)
        return False
    workloads = sorted(by_workload)
    heights = [max(1.6, 0.5 * len(by_workload[w]) + 1.2) for w in workloads]
    figure, axes = plt.subplots(len(workloads), 1, figsize=(10, sum(heights) + 0.8),
                                gridspec_kw={"height_ratios": heights}, squeeze=False)
    all_records = [r for w in workloads for r in by_workload[w]]
    devices = sorted({r["device"] for r in all_records})
    dates = sorted(r.get("date", "")[:10] for r in all_records if r.get("date"))
    figure.suptitle("Steady-state throughput on %s, %s (%s)" % (
        ", ".join(devices), "/".join(sorted({r["precision"] for r in all_records})),
        dates[-1] if dates else "undated"), fontsize=11)
    for axis, workload in zip(axes[:, 0], workloads):
        rows = sorted(by_workload[workload], key=sort_key)
        labels = ["%s, %s, %s%s" % (framework_text(r), mode_text(r), r["precision"],
                                    "" if len(devices) == 1 else "\n" + r["device"]) for r in rows]
        rates = [steady_rates(r) for r in rows]
        medians = [m for m, _, _ in rates]
        errors = [[m - low for m, low, _ in rates], [high - m for m, _, high in rates]]
        colors = ["tab:orange" if r.get("framework") == "rosetta" else "tab:blue" for r in rows]
        positions = list(range(len(rows)))
        axis.barh(positions, medians, xerr=errors, color=colors, capsize=3, error_kw={"elinewidth": 1})
        axis.set_yticks(positions)
        axis.set_yticklabels(labels, fontsize=7)
        axis.invert_yaxis()
        axis.set_title(workload, fontsize=10)
        axis.set_xlabel("%s, median of the repetitions, bars: min-max (higher is better)" % unit_text(rows[0]),
                        fontsize=8)
        top = max(high for _, _, high in rates)
        axis.set_xlim(0, 1.2 * top if top > 0 else 1)  # room for the value labels
        for position, (median, _, high) in zip(positions, rates):
            axis.text(high, position, "  %.4g" % median, va="center", fontsize=7)
    figure.legend(handles=[Patch(color="tab:orange", label="rosetta"), Patch(color="tab:blue", label="peers")],
                  loc="upper right", fontsize=8)
    figure.tight_layout(rect=(0, 0, 1, 0.96))
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
