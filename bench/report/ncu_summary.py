"""Groups Nsight Compute's per-kernel CSV (tools/ncu_measure.sh) by kernel into the profile classes of
bench/peers/common/profile_classes.py: per kernel and per class its time, launches, share of the measured kernel
time, and the achieved FLOP/s where ncu's counters give it.

Usage:
    python3 ncu_summary.py NCU.csv [--top N] [--json OUT.json] [--title TEXT] [--per N --unit NAME]
Input: what `ncu --csv --metrics ...` prints (one row per kernel launch and metric: columns "ID", "Kernel Name",
"Metric Name", "Metric Unit", "Metric Value", as the ncu CLI documents its CSV), or `ncu --csv --page raw` (one row
per launch, a column per metric, the units in the second row). Lines before the header (the application's and
ncu's own output) are skipped.

Invariants:
- Time is gpu__time_duration.sum (its unit converted to seconds); a launch without it is an error naming the
  kernel. Counts are distinct launch IDs.
- FLOPs are from the SASS thread-instruction counters ncu reports: add + mul + 2 x fma, in FP64, FP32 and FP16
  (smsp__sass_thread_inst_executed_op_{d,f,h}{add,mul,fma}_pred_on.sum). Those counters do not see tensor-core
  instructions, so a kernel that ran any (sm__inst_executed_pipe_tensor.sum > 0) has no FLOP/s: "tensor" in the
  table, never an estimate. A kernel without the counters has none either ("-").
- The class of a kernel is its name's (bench/peers/common/kernel_classes.py): ncu sees names only, not the op that
  launched a kernel; a name the mapping does not know is "other".
- With --per N (the profiled range held N units: steps, batches), every time and launch count is divided by N, so
  the tables read per unit; the JSON records N and the unit beside the divided figures.
- Bad input (no header, a missing column, a value that is not a number) is one line and exit 2.
"""

import argparse
import csv
import io
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "peers", "common"))
import atomic_file  # noqa: E402
import kernel_classes  # noqa: E402
import profile_classes  # noqa: E402

TIME = "gpu__time_duration.sum"
TENSOR = "sm__inst_executed_pipe_tensor.sum"
FLOP_COUNTERS = {"smsp__sass_thread_inst_executed_op_%s%s_pred_on.sum" % (p, op): 2 if op == "fma" else 1
                 for p in "dfh" for op in ("add", "mul", "fma")}
METRICS = [TIME, TENSOR] + sorted(FLOP_COUNTERS)  # what tools/ncu_measure.sh asks ncu for
SECONDS = {"nsecond": 1e-9, "ns": 1e-9, "usecond": 1e-6, "us": 1e-6, "msecond": 1e-3, "ms": 1e-3, "second": 1.0,
           "s": 1.0}


class NcuError(Exception):
    """Bad input: one line, exit 2."""


def number(text, where):
    cleaned = (text or "").replace(",", "").strip()
    if cleaned in ("", "n/a", "N/A"):
        return None
    try:
        return float(cleaned)
    except ValueError:
        raise NcuError("%s: %r is not a number" % (where, text))


def parse(text):
    """{launch ID: (kernel name, {metric: (value, unit)})} of an ncu CSV (long or raw form)."""
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith('"ID",')), None)
    if start is None:
        raise NcuError('no ncu CSV header (a line starting with "ID",) in the input')
    rows = list(csv.reader(io.StringIO("\n".join(lines[start:]))))
    header = rows[0]
    launches = {}
    if "Metric Name" in header:  # long form: a row per launch and metric
        for column in ("Kernel Name", "Metric Name", "Metric Unit", "Metric Value"):
            if column not in header:
                raise NcuError("the ncu CSV has no %r column" % column)
        index = {name: header.index(name) for name in header}
        for line, row in enumerate(rows[1:], start + 2):
            if len(row) != len(header):
                continue  # an interleaved line of the application's output
            kernel, metrics = launches.setdefault(row[index["ID"]], (row[index["Kernel Name"]], {}))
            metrics[row[index["Metric Name"]]] = (number(row[index["Metric Value"]], "line %d" % line),
                                                 row[index["Metric Unit"]])
        return launches
    if "Kernel Name" not in header:
        raise NcuError("the ncu CSV has no 'Kernel Name' column")
    has_units = len(rows) > 1 and bool(rows[1]) and rows[1][0] == ""  # raw form: the units in row 2
    units = rows[1] if has_units else [""] * len(header)
    first = 2 if has_units else 1
    for line, row in enumerate(rows[first:], start + first + 1):
        if len(row) != len(header):
            continue
        metrics = {name: (number(value, "line %d, %s" % (line, name)), unit)
                   for name, value, unit in zip(header, row, units) if name in METRICS}
        launches[row[0]] = (row[header.index("Kernel Name")], metrics)
    return launches


def summarize(launches):
    """[kernel rows sorted by time], {class: seconds}, total seconds. A kernel row: name, class, launches, seconds,
    flops (None: no counters), tensor (whether it ran tensor-core instructions)."""
    kernels = {}
    for launch_id, (name, metrics) in launches.items():
        if TIME not in metrics or metrics[TIME][0] is None:
            raise NcuError("launch %s of %s has no %s" % (launch_id, name, TIME))
        value, unit = metrics[TIME]
        if unit not in SECONDS:
            raise NcuError("%s of %s is in %r, not a time unit" % (TIME, name, unit))
        row = kernels.setdefault(name, {"name": name, "class": kernel_classes.name_class(name) or "other",
                                        "launches": 0, "seconds": 0.0, "flops": None, "tensor": False})
        row["launches"] += 1
        row["seconds"] += value * SECONDS[unit]
        counted = [metrics[m][0] * weight for m, weight in FLOP_COUNTERS.items()
                   if m in metrics and metrics[m][0] is not None]
        if counted:
            row["flops"] = (row["flops"] or 0.0) + sum(counted)
        if (metrics.get(TENSOR) or (None,))[0]:
            row["tensor"] = True
    rows = sorted(kernels.values(), key=lambda r: -r["seconds"])
    classes = {}
    for row in rows:
        classes[row["class"]] = classes.get(row["class"], 0.0) + row["seconds"]
    return rows, classes, sum(r["seconds"] for r in rows)


def per_unit(rows, classes, total, per):
    """The summary with every time, FLOP count and launch count divided by `per` (FLOP/s are unchanged)."""
    if per == 1:
        return rows, classes, total
    divided = [dict(row, seconds=row["seconds"] / per, launches=row["launches"] / per,
                    flops=None if row["flops"] is None else row["flops"] / per) for row in rows]
    return divided, {key: seconds / per for key, seconds in classes.items()}, total / per


def flops_text(row):
    if row["tensor"]:
        return "tensor"
    if row["flops"] is None or row["seconds"] <= 0:
        return "-"
    return "%.4g" % (row["flops"] / row["seconds"] / 1e9)


def short(name, width=90):
    name = name[5:] if name.startswith("void ") else name
    return name if len(name) <= width else name[:width - 3] + "..."


def markdown(rows, classes, total, title, top, per=1, unit="range"):
    per_unit = " per %s (the range's %d %ss divided)" % (unit, per, unit) if per > 1 else " in the profiled range"
    lines = ["## %s" % title if title else "## ncu kernels", "",
             "ncu --clock-control none, kernel by kernel (each replayed alone: launch gaps and overlap are not in "
             "these times); times and launches%s. Share: of the measured kernels' time." % per_unit, "",
             "| class | kernel time ms | share |", "|---|---|---|"]
    for key in profile_classes.CLASS_KEYS:
        if key in classes:
            lines.append("| %s | %.3f | %.1f %% |" % (key, 1e3 * classes[key], 100 * classes[key] / total))
    lines += ["| **all** | **%.3f** | 100 %% |" % (1e3 * total), "",
              "| kernel | class | launches | total ms | mean us | share | GFLOP/s |", "|---|---|---|---|---|---|---|"]
    for row in rows[:top]:
        lines.append("| `%s` | %s | %.4g | %.3f | %.1f | %.1f %% | %s |" % (
            short(row["name"]).replace("|", "\\|"), row["class"], row["launches"], 1e3 * row["seconds"],
            1e6 * row["seconds"] / row["launches"], 100 * row["seconds"] / total, flops_text(row)))
    if len(rows) > top:
        rest = sum(r["seconds"] for r in rows[top:])
        lines.append("| %d more kernels | | | %.3f | | %.1f %% | |" % (len(rows) - top, 1e3 * rest, 100 * rest / total))
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description="ncu's per-kernel CSV grouped into the profile classes.")
    parser.add_argument("csv", help="the CSV ncu wrote (tools/ncu_measure.sh)")
    parser.add_argument("--top", type=int, default=15, help="kernels listed (default 15)")
    parser.add_argument("--json", help="also write the summary as JSON here")
    parser.add_argument("--title", default="", help="the table's heading")
    parser.add_argument("--per", type=int, default=1, help="units in the profiled range; figures per unit (default 1)")
    parser.add_argument("--unit", default="step", help="what one unit is, e.g. step or batch (default step)")
    args = parser.parse_args(argv)
    if args.per < 1:
        print("ncu_summary: error: --per %d: expected a count of at least 1" % args.per, file=sys.stderr)
        return 2
    try:
        with open(args.csv, errors="replace") as f:
            rows, classes, total = summarize(parse(f.read()))
        if not rows:
            raise NcuError("%s: no kernel launches (was the range empty?)" % args.csv)
        rows, classes, total = per_unit(rows, classes, total, args.per)
    except OSError as error:
        print("ncu_summary: error: %s: %s" % (args.csv, error.strerror or error), file=sys.stderr)
        return 2
    except NcuError as error:
        print("ncu_summary: error: %s: %s" % (args.csv, error), file=sys.stderr)
        return 2
    sys.stdout.write(markdown(rows, classes, total, args.title, args.top, args.per, args.unit))
    largest = max(classes, key=classes.get)
    print("\nncu_summary: %.4g launches of %d kernels, %.3f ms of kernel time%s; largest class %s (%.0f %%)"
          % (sum(r["launches"] for r in rows), len(rows), 1e3 * total, " per " + args.unit if args.per > 1 else "",
             largest, 100 * classes[largest] / total))
    if args.json:
        summary = {"title": args.title, "per": args.per, "unit": args.unit, "seconds": total, "classes": classes,
                   "kernels": [dict(row, gflops=None if flops_text(row) in ("-", "tensor") else
                                    row["flops"] / row["seconds"] / 1e9) for row in rows]}
        atomic_file.atomic_write_text(args.json, json.dumps(summary, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
