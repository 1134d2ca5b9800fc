"""--profile for the PyTorch twins: torch.profiler over the last steps, its trace grouped into the classes of
../common/profile_classes.py. The one place where PyTorch's op and kernel names meet those classes.

How a trace becomes a breakdown (Chrome trace JSON, as torch.profiler's export_chrome_trace writes it: Kineto's
{"traceEvents": [...]} with "cat" on torch 2.x, the legacy profiler's plain list without it on a CPU-only 1.13):
- Host events (cat cpu_op or user_annotation, or none) nest per thread; an event's ancestors are the events around
  it. The pass of an event or kernel is the "pass:<name>" annotation (Profiler.label) whose time range holds the
  host op that ran or launched it (the autograd engine runs the backward on its own thread, inside that range).
- A CPU run: each host op's self time is classified by its name and ancestors; busy = their sum.
- A GPU run: each device interval (cat kernel, gpu_memcpy, gpu_memset) is classified by its name and by the host op
  that launched it (args "External id") and that op's ancestors; busy = the union of the intervals.
- Classification, first match wins: an ancestor that owns all work under it (the optimizer's step, a recurrent
  layer); a kernel name that says which convolution gradient it computes, or that it copies or changes layout; the
  convolution or matrix-product op that launched it (a convolution's backward whose kernels do not say which
  gradient: conv_backward); the kernel's name alone (graph replays and compiled code launch without an op); the
  op's own name (aten:: ops not named above are element-wise); else other. Kernel names are
  ../common/kernel_classes.py's, shared with the ncu summary; op names are this module's.
- gaps = the profiled steps' wall time (host clock between device synchronisations) minus busy.

Invariants: a profiled run's figures include the profiler's own overhead in its last steps only; the mapping is
tested with real PyTorch op and kernel names (selftest.py: a traced CPU run of each twin and a GPU trace fixture).
"""

import contextlib
import json
import os
import re
import tempfile
import time

import kernel_classes
import profile_classes

PASS_PREFIX = "pass:"

# An ancestor of these names owns every op and kernel under it (the outermost match wins).
OWNERS = (
    (re.compile(r"^Optimizer\.(step|zero_grad)#|^aten::_fused_(sgd|adam|adamw)_|^aten::_foreach_"), "optimizer"),
    (re.compile(r"^aten::(gru|rnn_tanh|rnn_relu|lstm|_cudnn_rnn|_cudnn_rnn_backward|_thnn_fused_gru_cell)\b"
                r"|^(CudnnRnn|Gru|Lstm)Backward\d*$|^autograd::engine::evaluate_function: (CudnnRnn|Gru)Backward"),
     "rnn"),
)
# The op that launched a kernel (or ran on the CPU), by name.
CONV_FORWARD_OPS = re.compile(r"^aten::(conv\dd|convolution|_convolution|cudnn_convolution|mkldnn_convolution"
                              r"|slow_conv2d_forward|_slow_conv2d_forward|thnn_conv2d|cudnn_convolution_add_relu"
                              r"|cudnn_convolution_relu|_nnpack_spatial_convolution)$")
CONV_BACKWARD_OPS = re.compile(r"^aten::(convolution_backward|cudnn_convolution_backward\w*|mkldnn_convolution_backward"
                               r"|_slow_conv2d_backward|slow_conv2d_backward)$|^ConvolutionBackward\d+$"
                               r"|^autograd::engine::evaluate_function: ConvolutionBackward\d+$")
GEMM_OPS = re.compile(r"^aten::(addmm|mm|bmm|baddbmm|addbmm|matmul|linear|addmv|mv|_addmm_activation)$"
                      r"|^(Addmm|Mm|Bmm)Backward\d+$|^autograd::engine::evaluate_function: (Addmm|Mm|Bmm)Backward\d+$")
COPY_OPS = re.compile(r"^aten::(copy_|to|_to_copy|contiguous|clone|index_select|_pin_memory|pin_memory)$")
# Views and the autograd engine's own bookkeeping, some recorded without a namespace ("detach" in 1.13).
VIEW_OPS = re.compile(r"^(aten::)?(detach|alias|view|_reshape_alias|as_strided|t|transpose|reshape|expand|permute"
                      r"|squeeze|unsqueeze|slice|select|resolve_conj|resolve_neg)_?$")
def _owner(ancestors):
    for name in ancestors:
        for pattern, key in OWNERS:
            if pattern.search(name):
                return key
    return None


def _compute_op(chain):
    """The class of the innermost convolution or matrix-product op in `chain` (outermost first), or None."""
    for op in reversed(chain):
        for pattern, key in ((CONV_FORWARD_OPS, "conv_forward"), (CONV_BACKWARD_OPS, "conv_backward"),
                             (GEMM_OPS, "gemm")):
            if pattern.search(op):
                return key
    return None


def classify_host_op(name, ancestors):
    """The class of a host op's own (self) time on a CPU run; `ancestors` outermost first."""
    owner = _owner(list(ancestors) + [name])
    if owner:
        return owner
    key = _compute_op(list(ancestors) + [name])
    if key:
        return key
    if COPY_OPS.search(name):
        return "copies"
    if (name.startswith(("aten::", "autograd::", "torch::")) or VIEW_OPS.search(name)
            or re.search(r"Backward\d*$", name)):
        return "elementwise"
    return "other"


def classify_kernel(name, launching_ops):
    """The class of a device interval (kernel, memcpy, memset) named `name`; `launching_ops` is the host op that
    launched it preceded by its ancestors, outermost first (empty when unknown: a graph replay)."""
    owner = _owner(launching_ops)
    if owner:
        return owner
    key = kernel_classes.definite_class(name) or _compute_op(launching_ops) or kernel_classes.name_class(name)
    if key:
        return key
    if launching_ops:
        key = classify_host_op(launching_ops[-1], launching_ops[:-1])
        if key != "other":
            return key
    return "other"


def _events(trace):
    events = trace.get("traceEvents", []) if isinstance(trace, dict) else trace
    return [e for e in events if isinstance(e, dict) and e.get("ph") == "X" and "dur" in e and "ts" in e]


def breakdown(trace, wall_seconds, units, unit, on_device, note):
    """The record's profile section of a torch.profiler Chrome trace (dict or list) of `units` profiled units whose
    wall time was `wall_seconds` in all; on_device: classify the device's kernels (a GPU run), else host ops."""
    events = _events(trace)
    device_cats = {"kernel", "gpu_memcpy", "gpu_memset"}
    host = [e for e in events if e.get("cat") in (None, "cpu_op", "user_annotation")]
    passes = sorted((e["ts"], e["ts"] + e["dur"], e["name"][len(PASS_PREFIX):])
                    for e in host if e["name"].startswith(PASS_PREFIX))

    def pass_of(ts):
        for start, end, name in passes:
            if start <= ts <= end:
                return name
        return None

    by_thread = {}
    for e in host:
        if not e["name"].startswith(PASS_PREFIX):
            by_thread.setdefault((e.get("pid"), e.get("tid")), []).append((e["ts"], e["ts"] + e["dur"], e))
    ops = []  # (event, self seconds, ancestor names)
    for thread_events in by_thread.values():
        for event, self_us, ancestors in profile_classes.nested(thread_events):
            ops.append((event, self_us * 1e-6, [a["name"] for a in ancestors]))
    items = []
    if on_device:
        launcher = {}
        for event, _, ancestors in ops:
            external = (event.get("args") or {}).get("External id")
            if external is not None and event.get("cat") == "cpu_op":
                launcher[external] = (event, ancestors)
        intervals = []
        for e in events:
            if e.get("cat") not in device_cats:
                continue
            op, ancestors = launcher.get((e.get("args") or {}).get("External id"), (None, []))
            chain = ancestors + [op["name"]] if op else []
            items.append((classify_kernel(e["name"], chain), e["name"], pass_of(op["ts"]) if op else None,
                          e["dur"] * 1e-6))
            intervals.append((e["ts"], e["ts"] + e["dur"]))
        busy = profile_classes.union_seconds(intervals) * 1e-6
        clock = "torch.profiler's device trace (CUPTI): kernel, copy and memset intervals"
    else:
        for event, self_seconds, ancestors in ops:
            items.append((classify_host_op(event["name"], ancestors), event["name"], pass_of(event["ts"]), self_seconds))
        busy = sum(seconds for _, _, _, seconds in items)
        clock = "torch.profiler's host trace: each op's self time"
    return profile_classes.section("torch.profiler", clock, note, unit, units, wall_seconds, items, busy)


class Profiler:
    """torch.profiler over a run's last units. start() after a device synchronise, label() each pass inside,
    finish(units) synchronises and stops; section() parses the trace into the record's profile section. start() and
    finish() return the seconds they spent on the profiler itself, which the caller leaves out of its clocks. Off
    (enabled False), label() is a null context and nothing is recorded."""

    def __init__(self, enabled, device, unit, note):
        self.enabled = enabled
        self.device = device
        self.unit = unit
        self.note = note
        self.active = None
        self.started = None
        self.result = None  # (trace, wall seconds, units)

    def _synchronize(self):
        import torch
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def start(self):
        import torch.profiler
        begin = time.perf_counter()
        activities = [torch.profiler.ProfilerActivity.CPU]
        if self.device.type == "cuda":
            activities.append(torch.profiler.ProfilerActivity.CUDA)
        self._synchronize()
        self.active = torch.profiler.profile(activities=activities)
        self.active.__enter__()
        self.started = time.perf_counter()
        return self.started - begin

    def label(self, pass_name):
        if self.active is None:
            return contextlib.nullcontext()
        import torch.autograd.profiler
        return torch.autograd.profiler.record_function(PASS_PREFIX + pass_name)

    def finish(self, units):
        self._synchronize()
        end = time.perf_counter()
        self.active.__exit__(None, None, None)
        folder = tempfile.mkdtemp(prefix="torch-profile-")
        path = os.path.join(folder, "trace.json")
        try:
            self.active.export_chrome_trace(path)
            with open(path) as f:
                self.result = (json.load(f), end - self.started, units)
        finally:
            if os.path.exists(path):
                os.remove(path)
            os.rmdir(folder)
        self.active = None
        return time.perf_counter() - end

    def section(self):
        trace, wall, units = self.result
        return breakdown(trace, wall, units, self.unit, self.device.type == "cuda", self.note)
