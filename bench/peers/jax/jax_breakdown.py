"""--profile for the JAX twins: jax.profiler over the last steps, the trace it writes (perfetto_trace.json.gz, Chrome
trace JSON) grouped into the classes of ../common/profile_classes.py by the compiled HLO of the profiled function.
The one place where XLA's instruction and kernel names meet those classes.

How a trace becomes a breakdown:
- The work: on a GPU every event of a device process ("/device:GPU:n": kernels and copies), on the CPU every
  thunk event of XLA's CPU client (args hlo_op); the profiled function's own events carry args hlo_module and
  hlo_op, the instruction they run. Loops and calls (while, conditional, call) are containers whose body's events
  are recorded too: they are left out. busy = the union of the intervals (XLA's CPU client runs thunks on several
  threads at once, so the classes may add up to more than busy).
- The class of an instruction, from the module's HLO text (jax.stages.Compiled.as_text()), first match wins: inside
  a loop whose body runs matrix products (a scan over time: the recurrent layer): rnn; a convolution, or a fusion
  or cuDNN custom call that runs one: its pass (forward; a data gradient: its input is the output gradient; a filter
  gradient: its window slides over the whole image, so the window is larger than its output); a dot, a cuBLAS
  custom call or a fusion that runs a dot: gemm; an instruction under the twins' "update" name scope: optimizer;
  a copy or transpose (or a fusion of nothing else): copies; any other instruction: element-wise. An event that
  names no instruction of the module (a copy, a kernel replayed from one of XLA's command buffers without its
  hlo_op) is classified by its name (../common/kernel_classes.py), else other.
- The pass: "update" under that name scope, "backward" under jax's transpose(...) of the forward, else forward.
- gaps = the profiled steps' wall time (host clock between block_until_ready) minus busy.

Invariants: the mapping is tested on real names (selftest.py: the HLO and trace of a profiled run of each twin on the
CPU, and GPU-shaped events with cuDNN custom calls); a profiled run's figures include the profiler's own overhead in
its last steps only.
"""

import glob
import gzip
import json
import os
import re
import shutil
import tempfile
import time

import kernel_classes
import profile_classes

UPDATE_SCOPE = "update"  # the name scope (jax.named_scope) of the twins' optimizer update
CONTAINERS = {"while", "conditional", "call"}
COPY_OPCODES = {"copy", "transpose", "copy-start", "copy-done", "bitcast", "reshape", "parameter", "tuple",
                "get-tuple-element", "constant"}
CUDNN_CONV = {"__cudnn$convForward": "conv_forward", "__cudnn$convBiasActivationForward": "conv_forward",
              "__cudnn$convBackwardInput": "conv_data_grad", "__cudnn$convBackwardFilter": "conv_filter_grad"}

_COMPUTATION = re.compile(r"^(ENTRY\s+)?%?([\w.\-]+)\s+\(.*\)\s+->\s+.*\{\s*$")
_INSTRUCTION = re.compile(r"^\s*(ROOT\s+)?%?([\w.\-]+)\s+=\s+(.*)$")


class Instruction:
    def __init__(self, name, computation, shape, opcode, line):
        self.name, self.computation, self.shape, self.opcode, self.line = name, computation, shape, opcode, line

    def attribute(self, pattern):
        match = re.search(pattern, self.line)
        return match.group(1) if match else None

    @property
    def op_name(self):
        return self.attribute(r'op_name="([^"]*)"') or ""


def _split_shape(text):
    """(shape, rest) of the text after "name = ": a tuple shape is parenthesised and may hold spaces."""
    if text.startswith("("):
        depth = 0
        for i, c in enumerate(text):
            depth += c == "("
            depth -= c == ")"
            if depth == 0:
                return text[:i + 1], text[i + 1:].lstrip()
    shape, _, rest = text.partition(" ")
    return shape, rest


class HloModule:
    """The instructions of an HLO module's text, by name, with the computations they belong to."""

    def __init__(self, text):
        self.name = None
        self.instructions = {}
        self.computations = {}  # name -> [Instruction]
        self.roots = {}  # computation -> its ROOT instruction
        computation = None
        for line in text.splitlines():
            if line.startswith("HloModule "):
                self.name = line.split()[1].rstrip(",")
                continue
            header = _COMPUTATION.match(line)
            if header:
                computation = header.group(2)
                self.computations[computation] = []
                continue
            if line.strip() == "}":
                computation = None
                continue
            match = _INSTRUCTION.match(line)
            if computation is None or not match:
                continue
            shape, rest = _split_shape(match.group(3))
            opcode = rest.split("(", 1)[0].strip()
            instruction = Instruction(match.group(2), computation, shape, opcode, line)
            self.instructions[instruction.name] = instruction
            self.computations[computation].append(instruction)
            if match.group(1):
                self.roots[computation] = instruction
        self.callers = {}  # computation -> the instruction that calls it (fusion calls=, while body=, ...)
        for instruction in self.instructions.values():
            for key in ("calls", "body", "to_apply", "condition"):
                called = instruction.attribute(key + r"=%?([\w.\-]+)")
                if called:
                    self.callers.setdefault(called, instruction)
        self._loop_with_dot = {}

    def called(self, instruction):
        """The instructions of the computation a fusion or call runs (transitively), or []."""
        found, pending = [], [instruction.attribute(r"calls=%?([\w.\-]+)")]
        while pending:
            name = pending.pop()
            for inner in self.computations.get(name, []):
                found.append(inner)
                nested = inner.attribute(r"calls=%?([\w.\-]+)")
                if nested:
                    pending.append(nested)
        return found

    def _runs_dot(self, computation, seen):
        for instruction in self.computations.get(computation, []):
            if instruction.opcode == "dot" or _gemm_custom_call(instruction):
                return True
            for key in ("calls", "body", "to_apply"):
                called = instruction.attribute(key + r"=%?([\w.\-]+)")
                if called and called not in seen:
                    seen.add(called)
                    if self._runs_dot(called, seen):
                        return True
        return False

    def op_name(self, instruction):
        """The instruction's metadata op_name, or (a fusion without one) that of an instruction it runs."""
        if instruction.op_name:
            return instruction.op_name
        for inner in self.called(instruction):
            if inner.op_name:
                return inner.op_name
        return ""

    def in_recurrent_loop(self, instruction):
        """Whether the instruction runs inside a while loop whose body runs matrix products."""
        computation = instruction.computation
        while computation in self.callers:
            caller = self.callers[computation]
            if caller.opcode == "while" and caller.attribute(r"body=%?([\w.\-]+)") == computation:
                if computation not in self._loop_with_dot:
                    self._loop_with_dot[computation] = self._runs_dot(computation, {computation})
                if self._loop_with_dot[computation]:
                    return True
            computation = caller.computation
        return False


def _gemm_custom_call(instruction):
    target = instruction.attribute(r'custom_call_target="([^"]*)"') or ""
    return instruction.opcode == "custom-call" and ("cublas" in target or "gemm" in target.lower())


def _area(dims):
    area = 1
    for d in dims:
        area *= d
    return area


def convolution_class(instruction, op_name):
    """conv_forward, conv_data_grad or conv_filter_grad of a convolution instruction whose op_name (its own or its
    fusion's) is `op_name` (see the module docstring)."""
    target = instruction.attribute(r'custom_call_target="([^"]*)"')
    if target in CUDNN_CONV:
        return CUDNN_CONV[target]
    if op_name and "transpose(" not in op_name:
        return "conv_forward"
    window = instruction.attribute(r"window=\{size=([\dx]+)")
    labels = instruction.attribute(r"dim_labels=\w+_\w+->(\w+)")
    dims = re.search(r"\[([\d,]+)\]", instruction.shape)
    if window and labels and dims:
        sizes = [int(d) for d in dims.group(1).split(",")]
        spatial = [sizes[i] for i, c in enumerate(labels) if c.isdigit()]
        if _area(int(d) for d in window.split("x")) > _area(spatial):
            return "conv_filter_grad"
    return "conv_data_grad" if op_name or window else "conv_forward"


def instruction_class(module, instruction):
    """The profile class of one instruction of `module`."""
    if module.in_recurrent_loop(instruction):
        return "rnn"
    inner = module.called(instruction) if instruction.opcode == "fusion" else []
    op_name = module.op_name(instruction)
    for candidate in [instruction] + inner:
        target = candidate.attribute(r'custom_call_target="([^"]*)"')
        if candidate.opcode == "convolution" or target in CUDNN_CONV:
            return convolution_class(candidate, candidate.op_name or op_name)
    if instruction.opcode == "dot" or _gemm_custom_call(instruction) or any(
            i.opcode == "dot" or _gemm_custom_call(i) for i in inner) or "gemm" in (
            instruction.attribute(r'"kind":"([^"]*)"') or ""):
        return "gemm"
    if "/%s/" % UPDATE_SCOPE in op_name + "/":
        return "optimizer"
    if instruction.opcode in COPY_OPCODES or (inner and all(i.opcode in COPY_OPCODES for i in inner)):
        return "copies"
    if instruction.opcode == "custom-call":
        return "other"
    return "elementwise"


def pass_of(module, instruction, key):
    """forward, backward or update: from the op_name, or from the class (gradients); None when neither says."""
    if key in ("conv_data_grad", "conv_filter_grad"):
        return "backward"
    op_name = module.op_name(instruction)
    if not op_name:
        return None
    if "/%s/" % UPDATE_SCOPE in op_name + "/":
        return "update"
    return "backward" if "transpose(" in op_name else "forward"


def breakdown(trace, hlo_texts, wall_seconds, units, unit, note):
    """The record's profile section of a jax.profiler perfetto trace (dict) and the HLO texts of the profiled
    functions, for `units` profiled units whose wall time was `wall_seconds` in all."""
    modules = {}
    for text in hlo_texts:
        module = HloModule(text)
        modules[module.name] = module
    events = trace.get("traceEvents", []) if isinstance(trace, dict) else trace
    processes = {e.get("pid"): (e.get("args") or {}).get("name", "") for e in events
                 if e.get("ph") == "M" and e.get("name") == "process_name"}
    device_pids = {pid for pid, name in processes.items() if re.match(r"/device:(GPU|CUDA)", name or "")}
    items, intervals = [], []
    for e in events:
        if e.get("ph") != "X" or "dur" not in e or e.get("name", "").startswith("end: "):
            continue
        args = e.get("args") or {}
        on_device = e.get("pid") in device_pids
        if not on_device and (device_pids or "hlo_op" not in args):
            continue  # host-side runtime events; on a GPU run the host's thunks are launches
        module = modules.get(args.get("hlo_module"))
        instruction = module.instructions.get(args.get("hlo_op")) if module else None
        if instruction is not None and instruction.opcode in CONTAINERS:
            continue
        if instruction is not None:
            key = instruction_class(module, instruction)
            pass_name = pass_of(module, instruction, key)
        else:
            key, pass_name = kernel_classes.name_class(e["name"]) or "other", None
        name = instruction.name if instruction is not None and not on_device else e["name"]
        items.append((key, name, pass_name, e["dur"] * 1e-6))
        intervals.append((e["ts"], e["ts"] + e["dur"]))
    busy = profile_classes.union_seconds(intervals) * 1e-6
    clock = ("jax.profiler's device trace: kernel and copy intervals" if device_pids else
             "jax.profiler's trace of XLA's CPU thunks")
    return profile_classes.section("jax.profiler", clock, note, unit, units, wall_seconds, items, busy)


class Profiler:
    """jax.profiler over a run's last units. start() after block_until_ready, finish(units) after it again;
    section(functions) reads the trace into the record's profile section, `functions` being (jitted function,
    example arguments) whose compiled HLO names the trace's instructions. start() and finish() return the seconds
    they spent on the profiler itself, which the caller leaves out of its clocks. Off (enabled False), nothing is
    recorded."""

    def __init__(self, enabled, unit, note):
        self.enabled = enabled
        self.unit = unit
        self.note = note
        self.folder = None
        self.started = None
        self.result = None  # (trace, wall seconds, units)

    def start(self):
        import jax
        begin = time.perf_counter()
        self.folder = tempfile.mkdtemp(prefix="jax-profile-")
        jax.profiler.start_trace(self.folder, create_perfetto_trace=True)
        self.started = time.perf_counter()
        return self.started - begin

    def finish(self, units):
        import jax
        end = time.perf_counter()
        jax.profiler.stop_trace()
        try:
            paths = sorted(glob.glob(os.path.join(self.folder, "plugins", "profile", "*", "perfetto_trace.json.gz")))
            if not paths:
                raise RuntimeError("jax.profiler wrote no perfetto_trace.json.gz under %s" % self.folder)
            with gzip.open(paths[-1], "rt") as f:
                self.result = (json.load(f), end - self.started, units)
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)
        return time.perf_counter() - end

    def section(self, functions):
        trace, wall, units = self.result
        texts = [function.lower(*arguments).compile().as_text() for function, arguments in functions]
        return breakdown(trace, texts, wall, units, self.unit, self.note)
