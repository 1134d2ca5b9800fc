"""Version 1 of the result record (docs/schema/result-record.schema.json) for every peer, whatever its framework:
the steady state with its spread, the FLOP count, the peak table and the "metrics" block, computed exactly as
rosetta's CLI computes them, so a peer's record and rosetta's are compared field by field.

Imported by plain name, like peer.py.

Invariants:
- plan_windows / training_steady_state follow bench/cli/steady_state.cpp: each epoch after the first when there are
  at least MIN_REPETITIONS of them, else MIN_REPETITIONS equal windows of the steps after the first epoch, else no
  steady state (null and the reason).
- The FLOP counts are models/flops.cpp's, and PEAK_PARTS is bench/cli/peak_rates.cpp's table:
  tests/test_result_records.cpp checks both against the C++ for every workload and device.
- A value that was not measured is None and `unavailable` says why under the field's name; never a 0.
"""

import os
import subprocess

MIN_REPETITIONS = 5
VALIDATOR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "report", "validate_record.py")

# FLOPs: 2 x the multiply-adds of the convolutions, fully connected layers and GRU products, for each pass that
# runs (models/flops.h says what is and is not counted).
CNN_SIZE, CNN_CLASSES = 32, 10
GRU_EMBEDDING, GRU_HIDDEN, GRU_CLASSES = 125, 100, 2


def _conv_macs(cin, cout, k, s, p, h):
    out = (h + 2 * p - k) // s + 1
    return float(cin) * cout * k * k * out * out, out


def cnn_training_flops_per_example():
    conv1, h = _conv_macs(3, 50, 3, 1, 1, CNN_SIZE)
    conv2, h = _conv_macs(50, 50, 3, 1, 1, h)
    conv3, h = _conv_macs(50, 100, 3, 1, 1, h // 2)
    conv4, h = _conv_macs(100, 100, 3, 1, 1, h)
    h //= 2
    forward = conv1 + conv2 + conv3 + conv4 + float(100 * h * h) * 512 + 512.0 * CNN_CLASSES
    return 2.0 * (forward + forward + (forward - conv1))


def gru_training_flops_per_example(steps):
    per_step = 3.0 * GRU_HIDDEN * (GRU_EMBEDDING + GRU_HIDDEN)
    return 2.0 * 3.0 * (steps * per_step + float(GRU_HIDDEN * GRU_CLASSES))


def resnet50_forward_flops_per_image(image_size):
    macs, h = _conv_macs(3, 64, 7, 2, 3, image_size)
    h = (h + 2 - 3) // 2 + 1  # maxpool 3x3, stride 2, pad 1
    cin = 64
    for width, blocks, stage_stride in ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)):
        for b in range(blocks):
            stride = stage_stride if b == 0 else 1
            reduce_macs, h1 = _conv_macs(cin, width, 1, 1, 0, h)
            middle_macs, h2 = _conv_macs(width, width, 3, stride, 1, h1)
            expand_macs, _ = _conv_macs(width, 4 * width, 1, 1, 0, h2)
            macs += reduce_macs + middle_macs + expand_macs
            if b == 0:
                macs += _conv_macs(cin, 4 * width, 1, stride, 0, h)[0]  # the projection shortcut
            cin, h = 4 * width, h2
    return 2.0 * macs


# (name contained in the device's name, source, dense fp32, tf32, bf16 TFLOP/s); the first match wins.
PEAK_PARTS = (
    ("H200 NVL", "NVIDIA H200 NVL datasheet (2024)", 60.0, 417.5, 835.5),
    ("H200", "NVIDIA H200 Tensor Core GPU datasheet (2024), SXM", 66.9, 494.7, 989.4),
    ("H100 NVL", "NVIDIA H100 NVL datasheet (2023)", 60.0, 417.5, 835.5),
    ("H100 PCIe", "NVIDIA H100 Tensor Core GPU datasheet (2023), PCIe", 51.0, 378.0, 756.5),
    ("H100", "NVIDIA H100 Tensor Core GPU datasheet (2023), SXM5", 66.9, 494.7, 989.4),
    ("A100", "NVIDIA A100 Tensor Core GPU datasheet (2021)", 19.5, 156.0, 312.0),
)
_PRECISION_COLUMN = {"fp32": 2, "tf32": 3, "bf16": 4}


def peak_rate(device, precision):
    """(TFLOP/s, source) for the device's name and precision, or None."""
    for part in PEAK_PARTS:
        if part[0] in device:
            column = _PRECISION_COLUMN.get(precision)
            return (part[column], part[1]) if column else None
    return None


def plan_windows(steps_per_epoch, total_steps):
    """(first step, steps per window, count): where the windows of a run lie, or count 0 when it needs none."""
    steady_steps = total_steps - steps_per_epoch
    whole_steady_epochs = max(0, steady_steps) // steps_per_epoch if steps_per_epoch > 0 else 0
    if whole_steady_epochs >= MIN_REPETITIONS or steady_steps < MIN_REPETITIONS:
        return 0, 0, 0
    return steps_per_epoch, steady_steps // MIN_REPETITIONS, MIN_REPETITIONS


def window_boundaries(steps_per_epoch, total_steps):
    """The steps at which a window starts or the last one ends (empty when the run needs no windows)."""
    first, steps, count = plan_windows(steps_per_epoch, total_steps)
    return [first + i * steps for i in range(count + 1)] if count else []


def steady_state(unit, examples_per_repetition, seconds):
    ordered = sorted(seconds)
    n = len(ordered)
    median = ordered[n // 2] if n % 2 else 0.5 * (ordered[n // 2 - 1] + ordered[n // 2])
    return {"unit": unit, "examples_per_repetition": int(examples_per_repetition), "repetitions": n,
            "seconds": list(seconds), "median_s": median, "min_s": ordered[0], "max_s": ordered[-1]}


def training_steady_state(steps_per_epoch, total_steps, batch, epoch_seconds, window_seconds):
    """(steady state dict, None) or (None, why), from the epoch times (the first included) and window times."""
    _, window_steps, count = plan_windows(steps_per_epoch, total_steps)
    if count:
        assert len(window_seconds) == count, "planned %d windows, timed %d" % (count, len(window_seconds))
        return steady_state("window", window_steps * batch, window_seconds), None
    whole_steady_epochs = total_steps // max(1, steps_per_epoch) - 1
    if whole_steady_epochs >= MIN_REPETITIONS:
        return steady_state("epoch", steps_per_epoch * batch, epoch_seconds[1:1 + whole_steady_epochs]), None
    return None, ("fewer than %d steps after the first epoch (%d): the first epoch carries setup and autotuning, "
                  "so the run has no steady state to time" % (MIN_REPETITIONS, max(0, total_steps - steps_per_epoch)))


def schema_problems(paths, python="/usr/bin/python3"):
    """What bench/report/validate_record.py says of the records at `paths` (empty when all are valid), run with
    Debian's python3, which has jsonschema (the JAX venv does not)."""
    result = subprocess.run([python, VALIDATOR] + list(paths), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            universal_newlines=True)
    return "" if result.returncode == 0 else result.stdout.strip() or "validator exit %d" % result.returncode


def consistency_problems(record):
    """What does not add up in a record's steady state and metrics (beyond the schema): the spread's order, the
    throughput against the median repetition, the TFLOP/s against the count; an empty list when all hold."""
    problems, steady, metrics = [], record.get("steady"), record.get("metrics", {})
    if steady is None:
        return [] if "steady" in record.get("unavailable", {}) else ["steady is null without a reason"]
    if not steady["min_s"] <= steady["median_s"] <= steady["max_s"]:
        problems.append("min <= median <= max fails: %s" % steady)
    rate = steady["examples_per_repetition"] / steady["median_s"]
    for key in ("images_per_second", "sequences_per_second"):
        if record.get(key) is not None and abs(record[key] - rate) > 1e-9 * rate:
            problems.append("%s %r is not the median repetition's %r" % (key, record[key], rate))
    tflops = metrics.get("flops_per_example", 0) * rate / 1e12
    if metrics.get("tflops") is None or abs(metrics["tflops"] - tflops) > 1e-9 * tflops:
        problems.append("tflops %r, the count gives %r" % (metrics.get("tflops"), tflops))
    return problems


class Reading:
    """A measured value, or why there is none."""

    def __init__(self, value=None, reason=None):
        assert (value is None) != (reason is None), "a reading is a value or a reason"
        self.value, self.reason = value, reason


def add_measurements(record, steady, why_no_steady, flops_per_example, energy_unit, energy_joules_per_unit,
                     peak_memory_bytes, status="complete"):
    """Adds "schema", "schema_version", "status", "steady", "metrics" and "unavailable" to `record`, whose
    "device" and "precision" are set (bench/cli/run_metrics.cpp's add_measurements). The two Readings are
    energy per unit and peak device memory."""
    unavailable = record.setdefault("unavailable", {})
    record["schema"], record["schema_version"], record["status"] = "rosetta-result-record", 1, status
    record["steady"] = steady
    if steady is None:
        unavailable["steady"] = why_no_steady
    tflops = flops_per_example * steady["examples_per_repetition"] / steady["median_s"] / 1e12 if steady else None
    if tflops is None:
        unavailable["metrics.tflops"] = "no steady state to time (see steady)"
    device, precision = record["device"], record["precision"]
    peak = None if device == "cpu" else peak_rate(device, precision)
    if peak is None:
        unavailable["metrics.peak_tflops"] = ("a CPU run: the peak table covers GPUs only" if device == "cpu" else
                                              "no datasheet peak for %s in %s (bench/cli/peak_rates.cpp)"
                                              % (device, precision))
    if peak is None or tflops is None:
        unavailable["metrics.peak_fraction"] = "no achieved TFLOP/s" if tflops is None else "no peak for this device"
    for field, reading in (("metrics.energy_joules_per_unit", energy_joules_per_unit),
                           ("metrics.peak_memory_bytes", peak_memory_bytes)):
        if reading.value is None:
            unavailable[field] = reading.reason
    record["metrics"] = {
        "flops_per_example": flops_per_example,
        "tflops": tflops,
        "peak_tflops": peak[0] if peak else None,
        "peak_source": peak[1] if peak else None,
        "peak_fraction": tflops / peak[0] if peak and tflops is not None else None,
        "peak_memory_bytes": int(peak_memory_bytes.value) if peak_memory_bytes.value is not None else None,
        "energy_joules_per_unit": energy_joules_per_unit.value,
        "energy_unit": energy_unit,
    }
    return record


class Timing:
    """What a peer's training loop measured besides the losses: the epochs' and windows' times, energy and peak
    memory over the steady region (from the first epoch's end)."""

    def __init__(self, steps_per_epoch, no_peak_memory_reason):
        self.steps_per_epoch = steps_per_epoch
        self.epoch_seconds, self.window_seconds = [], []
        self.energy = Reading(reason="the run has a single epoch: no steady region to meter")
        self.peak_memory = Reading(reason=no_peak_memory_reason)


class EnergyMeter:
    """NVML's total-energy counter of one GPU over a region (nvidia-ml-py's pynvml, when installed), or why not."""

    def __init__(self, device_index):
        self.handle, self.reason, self.start_mj = None, None, None
        if device_index is None:
            self.reason = "a CPU run: NVML's energy counter measures GPUs"
            return
        try:
            import pynvml
            pynvml.nvmlInit()
            self.handle = pynvml.nvmlDeviceGetHandleByIndex(device_index)
            self._read = lambda: pynvml.nvmlDeviceGetTotalEnergyConsumption(self.handle)
            self._read()
        except Exception as error:  # no pynvml, no driver, or a card without the counter
            self.handle, self.reason = None, "NVML's energy counter is not readable here: %s" % error

    def start(self):
        if self.handle is not None:
            self.start_mj = self._read()

    def joules_per(self, units):
        """A Reading of the joules since start() per unit; call with the device synchronised."""
        if self.handle is None or self.start_mj is None:
            return Reading(reason=self.reason or "the meter was not started")
        return Reading((self._read() - self.start_mj) / 1000.0 / units)
