"""What the convolution planner measured: each shape's candidates from an algorithm cache file (format 2,
kernels/conv_algorithm_cache_file.h), Find's reported time beside the CUDA-event median, and the backends chosen.

Usage:
    python3 conv_candidates.py conv-algorithms.json [--out-json summary.json]
Prints markdown: per entry (forward passes; the key's precision, layout, batch, shape, epilogue and forced backend)
the chosen backend and its time, and each candidate's backend, algorithm, event-timed median and (legacy cuDNN) Find's
own figure; then the question issue 11 asks of Find: over the entries whose legacy candidates carry both figures,
how often Find's fastest is also the fastest by events, the median ratio of Find's figure to the event-timed one,
and what Find's pick would have cost (the sum over entries of its event time above the event-fastest legacy
candidate's); then per (precision, batch, request) how many entries each backend won. Bad input (unreadable, not a
format-2 cache) is one line and exit status 2.
"""

import argparse
import json
import statistics
import sys


class InputError(Exception):
    pass


def read_cache(path):
    try:
        with open(path) as f:
            doc = json.load(f)
    except OSError as error:
        raise InputError("%s: cannot read (%s)" % (path, error.strerror or error))
    except ValueError as error:
        raise InputError("%s: not valid JSON (%s)" % (path, error))
    if not isinstance(doc, dict) or doc.get("format") != "rosetta-conv-algorithms" or doc.get("version") != 2:
        raise InputError("%s: not a rosetta conv algorithm cache of format version 2" % path)
    return doc


def name(choice):
    if choice["backend"] == "cudnn":
        return "cudnn algo %d math %d" % (choice["algo"], choice["math_type"])
    return "%s %d #%d" % (choice["backend"], choice["algo"], choice["variant"])


def shape_text(e):
    return "%dx%dx%dx%d k%d %dx%d s%d" % (e["n"], e["c"], e["h"], e["w"], e["k"], e["r"], e["s"], e["stride_h"])


def analyse(doc):
    entries = [e for e in doc["entries"] if e.get("pass") == "forward"]
    find_rows = []  # per entry with >= 2 legacy candidates timed both ways
    wins = {}
    for e in entries:
        group = (e["precision"], e["layout"], e["n"], e["backend_request"])
        wins.setdefault(group, {}).setdefault(e["choice"]["backend"], 0)
        wins[group][e["choice"]["backend"]] += 1
        legacy = [c for c in e.get("candidates", []) if c["backend"] == "cudnn" and c["time_ms"] > 0
                  and c["find_time_ms"] > 0]
        if len(legacy) >= 2:
            by_find = min(legacy, key=lambda c: c["find_time_ms"])
            by_event = min(legacy, key=lambda c: c["time_ms"])
            find_rows.append({"entry": e, "agree": by_find is by_event,
                              "lost_ms": by_find["time_ms"] - by_event["time_ms"],
                              "ratios": [c["find_time_ms"] / c["time_ms"] for c in legacy]})
    return entries, find_rows, wins


def markdown(doc, entries, find_rows, wins):
    lines = ["# Convolution candidates (%s, cuDNN %s)" % (doc.get("gpu"), doc.get("cudnn")), "",
             "| precision | layout | shape | epilogue | request | chosen | ms | candidates (event ms / Find ms) |",
             "|---|---|---|---|---|---|---|---|"]
    for e in sorted(entries, key=lambda e: (e["precision"], e["n"], e["backend_request"], e["r"], e["c"], e["h"])):
        candidates = ", ".join("%s %.4f%s" % (name(c), c["time_ms"],
                                              " / %.4f" % c["find_time_ms"] if c["find_time_ms"] > 0 else "")
                               for c in e.get("candidates", []))
        lines.append("| %s | %s | %s | %s | %s | %s | %.4f | %s |" % (
            e["precision"], e["layout"], shape_text(e), e["epilogue"], e["backend_request"], name(e["choice"]),
            e["choice"]["time_ms"], candidates or "-"))
    lines += ["", "## Is Find's ranking noise?", ""]
    if find_rows:
        ratios = [r for row in find_rows for r in row["ratios"]]
        agree = sum(1 for row in find_rows if row["agree"])
        lost = sum(row["lost_ms"] for row in find_rows)
        lines += ["- Find's fastest legacy algorithm was also the fastest by CUDA events in %d of %d entries." % (
                      agree, len(find_rows)),
                  "- Find's figure / the event-timed median, over %d candidates: median %.2f, min %.2f, max %.2f." % (
                      len(ratios), statistics.median(ratios), min(ratios), max(ratios)),
                  "- Taking Find's pick instead of the event-fastest legacy candidate would cost %.4f ms per call, "
                  "summed over these entries (each shape once, not per layer)." % lost]
    else:
        lines.append("- No entry holds two or more legacy candidates timed both ways.")
    lines += ["", "## Backends chosen", "", "| precision | layout | batch | request | backends (entries won) |",
              "|---|---|---|---|---|"]
    for (precision, layout, batch, request), counts in sorted(wins.items()):
        lines.append("| %s | %s | %d | %s | %s |" % (precision, layout, batch, request,
                                                     ", ".join("%s %d" % kv for kv in sorted(counts.items()))))
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description="The convolution planner's candidates from an algorithm cache.")
    parser.add_argument("cache", help="conv-algorithms.json (format version 2)")
    parser.add_argument("--out-json", help="the Find-versus-events summary and the wins as JSON")
    args = parser.parse_args(argv)
    try:
        doc = read_cache(args.cache)
        entries, find_rows, wins = analyse(doc)
    except (InputError, KeyError, TypeError, ZeroDivisionError) as error:
        print("conv_candidates: error: %s: %s" % (args.cache, error) if not isinstance(error, InputError)
              else "conv_candidates: error: %s" % error, file=sys.stderr)
        return 2
    sys.stdout.write(markdown(doc, entries, find_rows, wins))
    if args.out_json:
        summary = {"entries": len(entries), "find_compared": len(find_rows),
                   "find_agrees": sum(1 for row in find_rows if row["agree"]),
                   "find_pick_cost_ms": sum(row["lost_ms"] for row in find_rows),
                   "find_over_event_ratios": [r for row in find_rows for r in row["ratios"]],
                   "wins": [{"precision": p, "layout": l, "batch": b, "request": q, "backends": counts}
                            for (p, l, b, q), counts in sorted(wins.items())]}
        with open(args.out_json, "w") as f:
            json.dump(summary, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
