"""Test of ncu_summary.py on a hand-written fixture in ncu's CSV form (fixtures/ncu-sample.csv: the columns the
ncu CLI documents for `--csv`, a row per launch and metric, thousands separators, three time units, the
application's lines around the table) and on the same launches in the raw form (`--page raw`), and
tools/ncu_measure.sh's wiring with a stand-in for ncu. Exit 0 when every check passes; ctest runs it as
ncu_summary_selftest.
"""

import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import ncu_summary  # noqa: E402

FIXTURE = os.path.join(HERE, "fixtures", "ncu-sample.csv")


def check(condition, message):
    if not condition:
        raise AssertionError(message)


def close(a, b):
    return abs(a - b) <= 1e-9 * max(abs(a), abs(b), 1e-30)


def expect_fixture(rows, classes, total):
    def by_name(fragment):
        found = [row for row in rows if fragment in row["name"]]
        check(len(found) == 1, "one kernel named *%s*: %s" % (fragment, [r["name"] for r in rows]))
        return found[0]

    # 120 us fprop, 200 us wgrad, 2 x ~10 us relu, 40 us GEMM, 20 us SGD, 100 us unknown: 500 us.
    check(close(total, 500e-6), "total %r" % total)
    expected = {"conv_forward": 120e-6, "conv_filter_grad": 200e-6, "elementwise": 20e-6, "gemm": 40e-6,
                "optimizer": 20e-6, "other": 100e-6}
    check(set(classes) == set(expected), "classes %s" % classes)
    for key, seconds in expected.items():
        check(close(classes[key], seconds), "%s: %r, expected %r" % (key, classes[key], seconds))
    relu = by_name("relu_forward_kernel")
    check(relu["launches"] == 2 and relu["class"] == "elementwise" and relu["flops"] is None, "relu %s" % relu)
    check(rows[0]["class"] == "conv_filter_grad", "the most expensive kernel first")
    fprop = by_name("xmma_fprop")
    # 1e9 FMAs = 2e9 FLOP in 120 us: 16,667 GFLOP/s.
    check(ncu_summary.flops_text(fprop) == "1.667e+04", "fprop FLOP/s %s" % ncu_summary.flops_text(fprop))
    check(ncu_summary.flops_text(by_name("nvjet_tst")) == "tensor", "a tensor-core kernel has no FLOP/s")
    check(by_name("mystery_kernel")["class"] == "other", "an unknown name is other")


def raw_form(launches):
    """The same launches as `ncu --csv --page raw` prints them: a column per metric, the units in row 2."""
    metrics = ncu_summary.METRICS
    lines = ['"ID","Process ID","Kernel Name",' + ",".join('"%s"' % m for m in metrics),
             '"","","",' + ",".join('"%s"' % next((mm[m][1] for _, mm in launches.values() if m in mm), "")
                                    for m in metrics)]
    for launch_id, (name, mm) in launches.items():
        values = ['"%s"' % ("" if m not in mm or mm[m][0] is None else repr(mm[m][0])) for m in metrics]
        if "gpu__time_duration.sum" in mm:  # one unit per column in the raw form: nanoseconds
            value, unit = mm["gpu__time_duration.sum"]
            values[0] = '"%r"' % (value * ncu_summary.SECONDS[unit] * 1e9)
        lines.append('"%s","1","%s",' % (launch_id, name) + ",".join(values))
    return "\n".join(lines).replace('"usecond"', '"nsecond"').replace('"msecond"', '"nsecond"') + "\n"


def main():
    with open(FIXTURE) as f:
        launches = ncu_summary.parse(f.read())
    check(len(launches) == 7, "7 launches, got %d" % len(launches))
    expect_fixture(*ncu_summary.summarize(launches))
    expect_fixture(*ncu_summary.summarize(ncu_summary.parse(raw_form(launches))))
    with tempfile.TemporaryDirectory() as folder:
        out = os.path.join(folder, "summary.json")
        result = subprocess.run([sys.executable, os.path.join(HERE, "ncu_summary.py"), FIXTURE, "--json", out,
                                 "--title", "fixture"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                universal_newlines=True)
        check(result.returncode == 0, result.stderr)
        check("| conv_filter_grad | 0.200 | 40.0 % |" in result.stdout, result.stdout)
        with open(out) as f:
            check(json.load(f)["kernels"][0]["class"] == "conv_filter_grad", "JSON summary")
        # --per 4: the range held 4 steps; every figure per step, the shares unchanged.
        result = subprocess.run([sys.executable, os.path.join(HERE, "ncu_summary.py"), FIXTURE, "--json", out,
                                 "--per", "4", "--unit", "step"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                universal_newlines=True)
        check(result.returncode == 0, result.stderr)
        check("| conv_filter_grad | 0.050 | 40.0 % |" in result.stdout and "per step" in result.stdout, result.stdout)
        check("| elementwise | 0.5 | 0.005 | 10.0 |" in result.stdout,
              "half a relu launch per step: " + result.stdout)
        with open(out) as f:
            summary = json.load(f)
        check(summary["per"] == 4 and summary["unit"] == "step" and close(summary["seconds"], 125e-6),
              "JSON per step: %s" % summary)
        bad = os.path.join(folder, "bad.csv")
        with open(bad, "w") as f:
            f.write('"ID","Kernel Name","Metric Name","Metric Unit","Metric Value"\n"0","k","gpu__time_duration.sum",'
                    '"nsecond","fast"\n')
        result = subprocess.run([sys.executable, os.path.join(HERE, "ncu_summary.py"), bad], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, universal_newlines=True)
        check(result.returncode == 2 and len(result.stderr.splitlines()) == 1 and "not a number" in result.stderr,
              "a bad value: exit %d, %s" % (result.returncode, result.stderr))
        # tools/ncu_measure.sh's wiring, with a stand-in for ncu that checks its options, writes the fixture where
        # --log-file says and runs the command.
        fake = os.path.join(folder, "ncu")
        with open(fake, "w") as f:
            f.write("#!/bin/sh\n"
                    "case \"$*\" in *'--clock-control none --profile-from-start off'*'gpu__time_duration.sum'*) ;;\n"
                    "  *) echo \"unexpected options: $*\"; exit 9;; esac\n"
                    "while [ \"$1\" != --log-file ]; do shift; done\n"
                    "cp '%s' \"$2\"; shift 2; exec \"$@\"\n" % FIXTURE)
        os.chmod(fake, 0o755)
        script = os.path.join(HERE, "..", "..", "tools", "ncu_measure.sh")
        result = subprocess.run([script, "sample", folder, "--", "echo", "the workload ran"],
                                env=dict(os.environ, NCU=fake, PYTHON=sys.executable), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, universal_newlines=True)
        check(result.returncode == 0, "ncu_measure.sh: %s %s" % (result.stdout, result.stderr))
        check(result.stdout.splitlines()[-1].startswith("ncu_summary: 7 launches of 6 kernels, 0.500 ms"),
              result.stdout)
        result = subprocess.run([script, "per-step", folder, "--", "true"],
                                env=dict(os.environ, NCU=fake, PYTHON=sys.executable, NCU_PER="2 step"),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
        check(result.returncode == 0 and "3.5 launches of 6 kernels, 0.250 ms of kernel time per step"
              in result.stdout, "NCU_PER: %s %s" % (result.stdout, result.stderr))
        for suffix in (".csv", ".md", ".json", ".log"):
            check(os.path.exists(os.path.join(folder, "sample" + suffix)), "ncu_measure.sh wrote no sample" + suffix)
        with open(os.path.join(folder, "sample.log")) as f:
            check(f.read() == "the workload ran\n", "the command's output goes to NAME.log")
    print("ncu_summary: all checks passed")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except AssertionError as failure:
        print("ncu_summary: FAILED: %s" % failure, file=sys.stderr)
        sys.exit(1)
