"""The classes every framework's --profile breakdown is grouped into, and the "profile" section of a result record
(docs/schema/result-record.schema.json). rosetta groups its ops by kernels/op_class.h; each peer maps its own
profiler's names onto the same classes in one module per framework (../pytorch/torch_breakdown.py,
../jax/jax_breakdown.py); the report (bench/report/report.py) sets the sections side by side and links each class to
the docs/cudnn-guide.md practice that removes it.

Invariants:
- CLASSES is the one list of class keys, in the report's order; it equals the schema's profile.classes properties
  and rosetta's profile_class_names() (bench/cli/profile_report.cpp); the self-tests check both.
- A section's figures are seconds per profiled unit (a training step, or a batch of the extraction), averaged over
  the units; `gaps` is the unit's wall time that no classified interval covers (never below zero). Where a
  device runs work concurrently (JAX's CPU thread pool), the classes may add up to more than wall - gaps: each
  class is the summed duration of its intervals, and gaps the wall time outside their union.
- Numpy-free: the report imports it too.
"""

# (key, label, the docs/cudnn-guide.md anchor of the practice that removes it, or None)
CLASSES = (
    ("conv_forward", "convolution forward", "practice-autotune"),
    ("conv_data_grad", "convolution data gradient", "practice-autotune"),
    ("conv_filter_grad", "convolution filter gradient", "practice-autotune"),
    ("conv_backward", "convolution gradients in one call (data + filter)", "practice-autotune"),
    ("gemm", "GEMM", "practice-precision"),
    ("rnn", "RNN", "practice-rnn-algorithm"),
    ("elementwise", "element-wise", "practice-fusion"),
    ("optimizer", "optimizer", "practice-one-arena"),
    ("copies", "copies", "practice-feed"),
    ("other", "other (names the mapping does not know)", None),
    ("gaps", "idle and launch gaps", "practice-cuda-graph"),
)
CLASS_KEYS = tuple(key for key, _, _ in CLASSES)
LABELS = {key: label for key, label, _ in CLASSES}
ANCHORS = {key: anchor for key, _, anchor in CLASSES}

# Training steps a profiled run profiles: its last PROFILE_STEPS (rosetta's kProfileSteps, profile_report.h).
PROFILE_STEPS = 20
# Regions a peer's section lists: its most expensive kernels or ops.
TOP_REGIONS = 20


def profile_window(total_steps):
    """The 0-based first step of the profiled window of a run of `total_steps` steps: the last PROFILE_STEPS, never
    the first step unless it is alone (rosetta's rule)."""
    return max(min(1, total_steps - 1), total_steps - PROFILE_STEPS)


def union_seconds(intervals):
    """The length of the union of (start, end) intervals."""
    total, reach = 0.0, None
    for start, end in sorted(intervals):
        if reach is None or start > reach:
            total += end - start
            reach = end
        elif end > reach:
            total += end - reach
            reach = end
    return total


def nested(events):
    """Self time and ancestors of host events that nest on one thread: `events` are (start, end, payload); yields
    (payload, self seconds, [ancestor payloads, outermost first]). An event that overlaps its parent's end without
    nesting (clock rounding) is treated as its child."""
    stack = []  # [start, end, payload, child seconds]
    ordered = sorted(events, key=lambda e: (e[0], -e[1]))

    def close(item):
        start, end, payload, children = item
        return payload, max(0.0, end - start - children), [s[2] for s in stack]

    for start, end, payload in ordered:
        while stack and start >= stack[-1][1]:
            item = stack.pop()
            yield close(item)
            if stack:
                stack[-1][3] += item[1] - item[0]
        stack.append([start, end, payload, 0.0])
    while stack:
        item = stack.pop()
        yield close(item)
        if stack:
            stack[-1][3] += item[1] - item[0]


def section(tool, clock, note, unit, units, wall_seconds, items, busy_seconds):
    """The record's "profile" section. `items`: (class key, name, pass or None, seconds) over every profiled unit;
    `wall_seconds` the units' wall time in all, `busy_seconds` the part of it some item covers (the union of their
    intervals). Regions: the TOP_REGIONS (name, class, pass) by time."""
    if units < 1 or wall_seconds <= 0:
        raise ValueError("a profile needs at least one unit and a positive wall time")
    classes = dict.fromkeys(CLASS_KEYS, 0.0)
    passes, regions = {}, {}
    for key, name, pass_name, seconds in items:
        if key not in classes or key == "gaps":
            raise ValueError("profile class %r is not one of %s" % (key, ", ".join(CLASS_KEYS[:-1])))
        classes[key] += seconds / units
        if pass_name:
            passes[pass_name] = passes.get(pass_name, 0.0) + seconds / units
        region = regions.setdefault((name, key, pass_name or "(none)"), [0, 0.0])
        region[0] += 1
        region[1] += seconds
    classes["gaps"] = max(0.0, (wall_seconds - busy_seconds) / units)
    top = sorted(regions.items(), key=lambda item: -item[1][1])[:TOP_REGIONS]
    return {
        "tool": tool,
        "clock": clock,
        "note": note,
        "unit": unit,
        "units": units,
        "seconds_per_unit": wall_seconds / units,
        "classes": classes,
        "passes": passes,
        "regions": [{"name": name, "class": key, "pass": pass_name, "calls_per_unit": calls / units,
                     "seconds_per_unit": seconds / units}
                    for (name, key, pass_name), (calls, seconds) in top],
    }


def print_section(workload, profile):
    """The breakdown on standard output, as rosetta prints its own."""
    wall = profile["seconds_per_unit"]
    unit = profile["unit"]
    print("%s: profile: %d %ss, %s; %s" % (workload, profile["units"], unit, profile["clock"], profile["note"]))
    print("  %-22s %10s %7s" % ("class", "ms/" + unit, "share"))
    for key in CLASS_KEYS:
        seconds = profile["classes"][key]
        if seconds > 0 or key == "gaps":
            print("  %-22s %10.3f %6.1f%%" % (key, 1e3 * seconds, 100 * seconds / wall))
    print("  %-22s %10.3f %6.1f%%" % ("wall per " + unit, 1e3 * wall, 100.0))
    for region in profile["regions"]:
        print("  %-9s %-60.60s %-17s %10.3f" % (region["pass"], region["name"], region["class"],
                                                 1e3 * region["seconds_per_unit"]))
