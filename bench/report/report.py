"""Joins result records (JSON, from rosetta and the peers, any workload) into a markdown report and a PNG chart.

Usage:
    python3 report.py RESULTS... [--out-md report.md] [--out-png report.png] [--out-breakdown-png breakdown.png]
RESULTS are JSON files (one record object, or a list of them) or folders (every *.json directly inside).

Output: per workload, a table of every run (framework and version, mode and layout switches, precision, device,
data, the steady-state throughput as median with its min-max spread over the repetitions, TFLOP/s and the
fraction of the card's peak, peak device memory, energy, test accuracy, final loss, versions, commit, date),
rosetta's rows first; then, per workload, precision and device, each peer against rosetta: the ratio of the
medians, and "faster"/"slower" only when the two spreads do not overlap ("within the spread" otherwise). With
--out-png, one horizontal bar chart per workload of the median throughput with min-max error bars, titled with
the card, precisions and date, higher is better (matplotlib when importable, else a message and no chart).
Records with a "profile" (--profile) add "Where the time goes": per workload, precision and device the breakdowns
side by side by class (ms per step or batch and share of its wall time), each class linked to the
docs/cudnn-guide.md practice that removes it, and for each peer the classes where it spends more than rosetta
(beyond 5 % of rosetta's wall time and 1.2x); with --out-breakdown-png, the same as stacked bars.

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
import profile_classes  # noqa: E402

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


def mode_text(record, profiled=True):
    """The record's mode and every switch that sets it apart from its workload's defaults (and, unless `profiled` is
    False, that its last steps were profiled)."""
    parts = [record.get("mode") or "-"]
    if record.get("channels_last") is True:
        parts.append("channels-last")
    if record.get("cudnn_benchmark") is False:
        parts.append("no cudnn.benchmark")
    if record.get("optimizer_impl") not in (None, "default"):
        parts.append("%s optimizer" % record["optimizer_impl"])
    if record.get("dynamo_rnn") is True:
        parts.append("dynamo traces the GRU")
    if record.get("bf16_weights") is True:
        parts.append("bf16 weights")
    if record.get("freezing") is True:
        parts.append("frozen (BN folded)")
    elif record.get("fold_bn") is True and record.get("framework") == "pytorch":
        parts.append("BN folded")
    if record.get("workload") == "resnet50" and record.get("layout"):
        parts.append(record["layout"])
    if record.get("fold_bn") is False:
        parts.append("BN not folded")
    if record.get("fuse") is False or record.get("fused_convolutions") == 0:
        parts.append("unfused")
    ran = record.get("rnn_implementation", record.get("rnn"))
    if record.get("rnn_algorithm") not in (None, "standard") and ran == "cudnn":
        parts.append(record["rnn_algorithm"])
    if profiled and isinstance(record.get("profile"), dict) and record["profile"].get("unit") == "step":
        parts.append("last %d steps profiled" % record["profile"]["units"])
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


GUIDE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "docs", "cudnn-guide.md")
# A peer "spends more" in a class when its time there exceeds rosetta's by both of these: the breakdowns are single
# profiled runs, so small differences are noise, not findings.
MORE_FRACTION_OF_WALL = 0.05  # of rosetta's wall time per unit
MORE_RATIO = 1.2


def profile_rows(group):
    """The class rows of a group of profiles: (key, label, anchor); the two convolution gradients merged into one
    row when any profile in the group has them as one call (conv_backward)."""
    merged = any(p["classes"]["conv_backward"] > 0 for p in group)
    rows = []
    for key, label, anchor in profile_classes.CLASSES:
        if merged and key in ("conv_data_grad", "conv_filter_grad"):
            continue
        if not merged and key == "conv_backward":
            continue
        if merged and key == "conv_backward":
            label = "convolution gradients (data + filter)"
        rows.append((key, label, anchor))
    return rows, merged


def class_seconds(profile, key, merged):
    classes = profile["classes"]
    if merged and key == "conv_backward":
        return classes["conv_backward"] + classes["conv_data_grad"] + classes["conv_filter_grad"]
    return classes[key]


def guide_link(anchor, guide_base):
    return "[%s](%s#%s)" % (anchor.replace("practice-", ""), guide_base, anchor) if anchor else ""


def breakdown_section(records, guide_base):
    """'Where the time goes': per workload, precision and device, the profiled runs' classes side by side (ms per
    unit and share of the unit's wall time), then where each peer spends more than rosetta."""
    groups = {}
    for record in records:
        if isinstance(record.get("profile"), dict):
            groups.setdefault((record["workload"], record["precision"], record["device"]), []).append(record)
    if not groups:
        return []
    lines = ["## Where the time goes", "",
             "Each profiled run's time per %s, by class (`--profile`: rosetta's op regions, torch.profiler, "
             "jax.profiler; docs/comparison.md says how each is measured). ms per unit, and in brackets the share of "
             "the unit's wall time; the classes of a run whose device ran work concurrently can add up to more than "
             "100 %%. Each class links to the docs/cudnn-guide.md practice that removes it." % "step or batch", ""]
    for (workload, precision, device), group in sorted(groups.items()):
        group = sorted(group, key=sort_key)
        profiles = [r["profile"] for r in group]
        rows, merged = profile_rows(profiles)
        unit = profiles[0]["unit"]
        lines += ["### %s, %s, %s (per %s)" % (workload, precision, device, unit), ""]
        header = ["class"] + ["%s (%s)" % (framework_text(r), mode_text(r, False)) for r in group] + ["practice"]
        lines += ["| " + " | ".join(cell(h) for h in header) + " |", "|" + "---|" * len(header)]
        for key, label, anchor in rows:
            if key != "gaps" and all(class_seconds(p, key, merged) == 0 for p in profiles):
                continue  # no run spent anything there
            values = []
            for p in profiles:
                seconds = class_seconds(p, key, merged)
                values.append("%.3f (%.0f %%)" % (1e3 * seconds, 100 * seconds / p["seconds_per_unit"]))
            lines.append("| " + " | ".join([label] + values + [guide_link(anchor, guide_base)]) + " |")
        lines.append("| " + " | ".join(["**wall per %s**" % unit] + ["**%.3f**" % (1e3 * p["seconds_per_unit"])
                                                                     for p in profiles] + [""]) + " |")
        lines.append("| " + " | ".join(["profiled"] + ["%d x %s, %s" % (p["units"], p["unit"], p["tool"])
                                                        for p in profiles] + [""]) + " |")
        lines.append("")
        ours = [r for r in group if r.get("framework") == "rosetta"]
        if not ours:
            continue
        base = min(ours, key=lambda r: r["profile"]["seconds_per_unit"])
        for record in group:
            if record.get("framework") == "rosetta":
                continue
            more = []
            for key, label, anchor in rows:
                theirs = class_seconds(record["profile"], key, merged)
                mine = class_seconds(base["profile"], key, merged)
                if (theirs - mine > MORE_FRACTION_OF_WALL * base["profile"]["seconds_per_unit"]
                        and theirs > MORE_RATIO * mine):
                    more.append("%s +%.3f ms (%s)" % (label, 1e3 * (theirs - mine),
                                                      guide_link(anchor, guide_base) or "no practice: name it in "
                                                      "the mapping"))
            lines.append("- %s (%s) spends more than rosetta (%s) on: %s." % (
                framework_text(record), mode_text(record, False), mode_text(base, False),
                "; ".join(more) if more else "nothing beyond the thresholds"))
        lines.append("")
    lines += ["A peer spends more in a class when its time there exceeds rosetta's by more than %d %% of rosetta's "
              "wall time per unit and by more than %.1fx." % (100 * MORE_FRACTION_OF_WALL, MORE_RATIO), ""]
    return lines


def best_lines(records):
    """Each framework's fastest configuration per precision and device, where it ran several (the twins' modes:
    eager, torch.compile's modes, fused optimizers, ...): the one its comparison with rosetta should use."""
    groups = {}
    for record in records:
        if steady_rates(record) is not None:
            groups.setdefault((record["precision"], record["device"], framework_text(record)), []).append(record)
    lines = []
    for (precision, device, framework), group in sorted(groups.items()):
        if len(group) < 2:
            continue
        ranked = sorted(group, key=lambda r: -steady_rates(r)[0])
        best, runner_up = ranked[0], ranked[1]
        lines.append("- %s, %s on %s: best of %d configurations: %s, %s %s (next: %s, %s; %s)." % (
            framework, precision, device, len(group), mode_text(best, False), rate_text(steady_rates(best)),
            unit_text(best), mode_text(runner_up, False), rate_text(steady_rates(runner_up)),
            "a difference inside the spread" if steady_rates(best)[1] <= steady_rates(runner_up)[2] else
            "outside the spread"))
    return lines


def markdown(records, guide_base="docs/cudnn-guide.md"):
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
        best = best_lines(by_workload[workload])
        if best:
            sections += ["Each framework at its best (its fastest configuration here):", ""] + best + [""]
        comparison = comparison_lines(by_workload[workload])
        if comparison:
            sections += ["Against rosetta (a difference inside the spread is not a win):", ""] + comparison + [""]
    sections += breakdown_section([record for _, record in records], guide_base)
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


# One color per class (matplotlib's tab20 by position), the same in every panel.
CLASS_COLORS = {key: index for index, key in enumerate(profile_classes.CLASS_KEYS)}


def breakdown_chart(records, path):
    """Writes one stacked horizontal bar per profiled run, one panel per workload, precision and device: its time
    per unit split into the classes. Returns False (with a message) without matplotlib or without a profile."""
    plt = pyplot("report", path)
    if plt is None:
        return False
    from matplotlib.patches import Patch
    groups = {}
    for _, record in records:
        if isinstance(record.get("profile"), dict):
            groups.setdefault((record["workload"], record["precision"], record["device"]), []).append(record)
    if not groups:
        print("report: no record has a profile; chart %s skipped" % path, file=sys.stderr)
        return False
    keys = sorted(groups)
    heights = [0.45 * len(groups[k]) + 1.3 for k in keys]
    figure, axes = plt.subplots(len(keys), 1, figsize=(10, sum(heights) + 1.6),
                                gridspec_kw={"height_ratios": heights}, squeeze=False)
    colors = plt.get_cmap("tab20")
    used = set()
    dates = sorted(r.get("date", "")[:10] for k in keys for r in groups[k] if r.get("date"))
    figure.suptitle("Where the time goes (--profile), %s: time per step or batch by class, lower is better"
                    % (dates[-1] if dates else "undated"), fontsize=11)
    for axis, key in zip(axes[:, 0], keys):
        group = sorted(groups[key], key=sort_key)
        profiles = [r["profile"] for r in group]
        rows, merged = profile_rows(profiles)
        positions = list(range(len(group)))
        left = [0.0] * len(group)
        for class_key, label, _ in rows:
            widths = [1e3 * class_seconds(p, class_key, merged) for p in profiles]
            if not any(widths):
                continue
            used.add((class_key, label))
            axis.barh(positions, widths, left=left, color=colors(CLASS_COLORS[class_key]), edgecolor="white",
                      linewidth=0.5)
            left = [a + b for a, b in zip(left, widths)]
        axis.set_yticks(positions)
        axis.set_yticklabels(["%s\n%s" % (framework_text(r), mode_text(r, False)) for r in group], fontsize=7)
        axis.invert_yaxis()
        workload, precision, device = key
        axis.set_title("%s, %s, %s" % (workload, precision, device), fontsize=10)
        axis.set_xlabel("ms per %s (stacked classes; lower is better)" % profiles[0]["unit"], fontsize=8)
        for position, total, p in zip(positions, left, profiles):
            wall = milliseconds_text(1e3 * p["seconds_per_unit"])
            axis.text(total, position, "  %s ms (wall %s)" % (milliseconds_text(total), wall), va="center", fontsize=7)
        axis.set_xlim(0, 1.35 * max(left) if max(left) > 0 else 1)
    handles = [Patch(color=colors(CLASS_COLORS[k]), label=label) for k, label in
               sorted(used, key=lambda item: CLASS_COLORS[item[0]])]
    figure.legend(handles=handles, loc="lower center", ncol=4, fontsize=7)
    figure.tight_layout(rect=(0, 0.08, 1, 0.95))
    atomic_file.atomic_write(path, lambda f: figure.savefig(f, dpi=120, format="png"), binary=True)
    plt.close(figure)
    return True


def milliseconds_text(ms):
    """Four significant digits without an exponent: 26210, 1833, 146.5, 0.4627."""
    return "%.0f" % ms if ms >= 1000 else "%.4g" % ms


def main(argv=None):
    parser = argparse.ArgumentParser(description="Markdown table and PNG chart from result JSON records.")
    parser.add_argument("results", nargs="+", help="JSON files or folders of them")
    parser.add_argument("--out-md", help="markdown output (default: standard output)")
    parser.add_argument("--out-png", help="bar chart output (needs matplotlib)")
    parser.add_argument("--out-breakdown-png", help="the profiled runs' breakdowns as stacked bars (needs matplotlib)")
    args = parser.parse_args(argv)
    try:
        records = read_records(args.results)
    except ReportError as error:
        print("report: error: %s" % error, file=sys.stderr)
        return 2
    # The guide's links, relative to where the report is read.
    guide_base = os.path.relpath(GUIDE, os.path.dirname(os.path.abspath(args.out_md))) if args.out_md else \
        "docs/cudnn-guide.md"
    text = markdown(records, guide_base)
    if args.out_md:
        atomic_file.atomic_write_text(args.out_md, text)
        print("report: %d records -> %s" % (len(records), args.out_md))
    else:
        sys.stdout.write(text)
    if args.out_png and chart(records, args.out_png):
        print("report: chart -> %s" % args.out_png)
    if args.out_breakdown_png and breakdown_chart(records, args.out_breakdown_png):
        print("report: breakdown chart -> %s" % args.out_breakdown_png)
    return 0


if __name__ == "__main__":
    sys.exit(main())
