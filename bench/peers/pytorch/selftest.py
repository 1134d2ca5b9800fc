"""Self-test of the PyTorch peer and the report (CPU; torch 1.13 or newer). Exit 0 when every check passes.

Run: /usr/bin/python3 bench/peers/pytorch/selftest.py
(the lead calls it from ctest; about 15 s on a CPU, 190 MB in a temporary folder)

What it checks, all in a temporary folder that is removed afterwards:
1. safetensors_io round-trips torch tensors of every supported dtype bit-exactly (BF16 included), keeps
   metadata, and rejects malformed files (short file, header length past the end, bad offsets, holes, overlap,
   size mismatch, unknown dtype). Where the `safetensors` package is installed it also cross-reads files
   written by each side.
2. cifar10 reads full-size synthetic CIFAR-10 binary files (6 x 30730000 bytes, random pixels and labels) in
   the documented order and scaling, and refuses a truncated file and a bad label with DataError.
3. cnn.py trains 3 steps (shuffle and dropout on) with --log-steps and --json: both files exist, the log has
   lines "1 <loss>" .. "3 <loss>" with finite losses, the record has exactly the documented keys and its
   final_loss equals the last logged loss.
4. The equivalence mode (--no-shuffle --no-dropout) matches an independent in-process loop (file order,
   x/255, SGD momentum) step by step, and bad weights or bad data end with exit status 2.
   In-process, on a small set: 3 epochs give per-epoch times, steady-state seconds and images/s, test
   accuracy; a repeated seeded run gives bit-identical losses; channels-last gives the same losses.
5. report.py turns the records (the 3-step run's and the 3-epoch run's, whose images/s the chart shows) into a
   markdown table (and a PNG chart when matplotlib is importable), names each record's switches in its row, and
   refuses a record without "device" with exit status 2; with profiled records, "Where the time goes" sets the
   breakdowns side by side and names the classes where a peer spends more, each linked to its practice.
6. --profile (torch_breakdown.py): real op and kernel names map to their classes, a Kineto-shaped GPU trace gives
   the expected classes, passes and gaps, and a profiled CNN run classifies every op it ran.
7. The best-practice switches that run on a CPU: --optimizer foreach gives the same losses, --optimizer fused runs
   or is refused in one line, the compile modes are refused in one line on torch < 2; ResNet-50's --fold-bn and
   --bf16-weights give the plain features within their stated tolerances.
"""

import importlib.util
import json
import math
import os
import struct
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.join(os.path.dirname(HERE), "common")]  # this twin's, then the shared modules
REPORT = os.path.join(os.path.dirname(os.path.dirname(HERE)), "report", "report.py")
CNN = os.path.join(HERE, "cnn.py")
RESNET50 = os.path.join(HERE, "resnet50.py")

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
import torchvision  # noqa: E402

import cifar10  # noqa: E402
import cnn  # noqa: E402
import profile_classes  # noqa: E402
import result_record  # noqa: E402
import safetensors_io  # noqa: E402
import torch_breakdown  # noqa: E402

RECORD_KEYS = {
    "optimizer_impl", "workload", "framework", "framework_version", "mode", "device", "driver", "cuda", "cudnn", "precision",
    "batch", "epochs", "steps", "seconds_total", "seconds_without_first_epoch", "seconds_per_epoch",
    "images_per_second", "test_accuracy", "final_loss", "commit", "date", "channels_last", "cudnn_benchmark",
    "data", "schema", "schema_version", "status", "steady", "metrics", "unavailable",
}
BATCH = 16


def check(condition, message):
    if not condition:
        raise AssertionError(message)


def expect_error(function, error_type, fragment):
    try:
        function()
    except error_type as error:
        check(fragment in str(error), "error %r does not mention %r" % (str(error), fragment))
        return
    raise AssertionError("expected %s mentioning %r" % (error_type.__name__, fragment))


def run_python(arguments):
    result = subprocess.run([sys.executable] + arguments, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            universal_newlines=True)
    return result.returncode, result.stdout, result.stderr


def test_safetensors(folder):
    generator = torch.Generator().manual_seed(0)
    tensors = {
        "f32": torch.randn(3, 4, generator=generator),
        "f16": torch.randn(5, generator=generator).half(),
        "bf16": torch.randn(2, 3, generator=generator).bfloat16(),
        "f64": torch.randn(2, 2, generator=generator).double(),
        "i32": torch.arange(-3, 3, dtype=torch.int32).reshape(2, 3),
        "i64": torch.tensor([-(2 ** 40), 7]),
        "u8": torch.arange(250, 256, dtype=torch.uint8),
        "scalar": torch.tensor(1.5),
        "empty": torch.zeros(0, 4),
    }
    path = os.path.join(folder, "roundtrip.safetensors")
    safetensors_io.save_torch(path, tensors, metadata={"format": "pt"})
    loaded = safetensors_io.load_torch(path)
    check(set(loaded) == set(tensors), "names changed: %s" % list(loaded))
    with open(path, "rb") as f:
        header = json.loads(f.read(struct.unpack("<Q", f.read(8))[0]))
    for name, info in header.items():
        if name != "__metadata__":
            itemsize = loaded[name].element_size()
            check(info["data_offsets"][0] % itemsize == 0,
                  "%s is not aligned to its %d-byte elements" % (name, itemsize))
    for name, tensor in tensors.items():
        check(loaded[name].dtype == tensor.dtype and loaded[name].shape == tensor.shape, "%s: dtype/shape" % name)
        check(torch.equal(loaded[name], tensor), "%s: values differ after the round trip" % name)
    with_tags, metadata = safetensors_io.load_with_dtypes(path)
    check(metadata == {"format": "pt"}, "metadata lost: %s" % metadata)
    check(with_tags["bf16"][0] == "BF16" and with_tags["bf16"][1].dtype == np.uint16, "BF16 tag lost")
    with open(path, "rb") as f:
        check(struct.unpack("<Q", f.read(8))[0] % 8 == 0, "header not padded to a multiple of 8 bytes")

    u64 = np.array([0, 2 ** 64 - 1], dtype=np.uint64)
    safetensors_io.save(os.path.join(folder, "u64.safetensors"), {"u": u64})
    check(np.array_equal(safetensors_io.load(os.path.join(folder, "u64.safetensors"))["u"], u64), "U64 round trip")
    mistyped = {"a": ("I32", np.zeros(2, np.float32))}  # same size, other kind: must not be converted
    expect_error(lambda: safetensors_io.save(os.path.join(folder, "x.safetensors"), mistyped),
                 safetensors_io.SafetensorsError, "cannot be stored as I32")

    def write_raw(name, header, data):
        raw = json.dumps(header).encode()
        target = os.path.join(folder, name)
        with open(target, "wb") as f:
            f.write(struct.pack("<Q", len(raw)) + raw + data)
        return target

    eight = bytes(8)
    with open(os.path.join(folder, "short"), "wb") as f:
        f.write(b"\x01\x02")
    with open(os.path.join(folder, "huge_header"), "wb") as f:
        f.write(struct.pack("<Q", 1 << 40) + b"{}")
    bad_files = [
        (os.path.join(folder, "short"), "too short"),
        (os.path.join(folder, "huge_header"), "header length"),
        (write_raw("hole", {"a": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}, eight), "hole"),
        (write_raw("overlap", {"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                               "b": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}, eight), "overlaps"),
        (write_raw("past", {"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}, eight), "outside"),
        (write_raw("size", {"a": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}, eight), "needs 12"),
        (write_raw("dtype", {"a": {"dtype": "Q7", "shape": [2], "data_offsets": [0, 8]}}, eight), "unsupported"),
        (write_raw("trailing", {"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}, eight), "cover 4"),
    ]
    for bad_path, fragment in bad_files:
        expect_error(lambda: safetensors_io.load(bad_path), safetensors_io.SafetensorsError, fragment)

    try:
        import safetensors.torch as reference
    except ImportError:
        print("selftest: safetensors package not installed; cross-check with it skipped")
    else:
        for name, tensor in reference.load_file(path).items():
            check(torch.equal(tensor, tensors[name]), "safetensors package reads %s differently" % name)
        theirs = os.path.join(folder, "theirs.safetensors")
        reference.save_file(tensors, theirs)
        for name, tensor in safetensors_io.load_torch(theirs).items():
            check(torch.equal(tensor, tensors[name]), "our reader reads their %s differently" % name)
        print("selftest: cross-checked with the safetensors package")
    print("ok: safetensors_io round trip and validation")


def write_cifar(folder):
    """Full-size files with random pixels and labels; returns the uint8 train records in file order."""
    generator = np.random.default_rng(0)
    os.makedirs(folder)
    train = []
    for name in cifar10.TRAIN_FILES + cifar10.TEST_FILES:
        records = generator.integers(0, 256, size=(cifar10.RECORDS_PER_FILE, cifar10.RECORD_BYTES), dtype=np.uint8)
        records[:, 0] %= cifar10.NUM_CLASSES
        records.tofile(os.path.join(folder, name))
        if name in cifar10.TRAIN_FILES:
            train.append(records)
    return np.concatenate(train)


def test_cifar(folder, records):
    x, y = cifar10.load_split(folder, train=True)
    check(x.shape == (50000, 3, 32, 32) and x.dtype == np.float32 and y.dtype == np.int64, "train shapes/dtypes")
    index = 12345  # in data_batch_2: checks the file order and the R, G, B plane layout
    check(y[index] == records[index, 0], "label order")
    expected = records[index, 1:].reshape(3, 32, 32).astype(np.float32) / np.float32(255)
    check(np.array_equal(x[index], expected), "pixel order or scaling")
    check(cifar10.load_split(folder, train=False)[0].shape == (10000, 3, 32, 32), "test shape")

    bad = os.path.join(os.path.dirname(folder), "bad_cifar")
    os.makedirs(bad)
    with open(os.path.join(folder, "data_batch_1.bin"), "rb") as f:
        content = f.read()
    with open(os.path.join(bad, "data_batch_1.bin"), "wb") as f:
        f.write(content[:-1])
    expect_error(lambda: cifar10.read_file(os.path.join(bad, "data_batch_1.bin")), cifar10.DataError,
                 "30729999 bytes, expected 30730000")
    with open(os.path.join(bad, "data_batch_1.bin"), "wb") as f:
        f.write(content[:3073] + b"\x0a" + content[3074:])
    expect_error(lambda: cifar10.read_file(os.path.join(bad, "data_batch_1.bin")), cifar10.DataError,
                 "record 1 has label 10")
    print("ok: cifar10 reader")
    return bad


def write_init(path):
    torch.manual_seed(1)
    model = cnn.CifarVGG()
    safetensors_io.save_torch(path, model.state_dict())


def reference_losses(data, init, steps):
    """An independent loop: file order, dropout off, SGD with momentum, batch BATCH."""
    x, y = cifar10.load_split(data, train=True)
    model = cnn.CifarVGG(dropout=False)
    model.load_state_dict(safetensors_io.load_torch(init))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    losses = []
    for step in range(steps):
        batch = slice(step * BATCH, (step + 1) * BATCH)
        optimizer.zero_grad()
        loss = F.cross_entropy(model(torch.from_numpy(x[batch])), torch.from_numpy(y[batch]))
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def read_log(path, steps):
    with open(path) as f:
        lines = f.read().splitlines()
    check(len(lines) == steps, "%s: %d lines, expected %d" % (path, len(lines), steps))
    losses = []
    for number, line in enumerate(lines, 1):
        step, loss = line.split()
        check(int(step) == number and math.isfinite(float(loss)), "%s: bad line %r" % (path, line))
        losses.append(float(loss))
    return losses


def test_cnn(folder, data, bad_data):
    init = os.path.join(folder, "init.safetensors")
    write_init(init)
    log, record_path = os.path.join(folder, "steps.txt"), os.path.join(folder, "cnn.json")
    common = [CNN, "--data", data, "--init", init, "--device", "cpu", "--batch", str(BATCH)]

    status, out, err = run_python(common + ["--max-steps", "3", "--test-batches", "2", "--log-steps", log,
                                            "--json", record_path, "--data-name", "synthetic"])
    check(status == 0, "cnn.py failed (%d):\n%s\n%s" % (status, out, err))
    losses = read_log(log, 3)
    with open(record_path) as f:
        record = json.load(f)
    check(set(record) == RECORD_KEYS, "record keys differ: %s" % sorted(set(record) ^ RECORD_KEYS))
    check(not result_record.schema_problems([record_path]), result_record.schema_problems([record_path]))
    check(record["steps"] == 3 and record["batch"] == BATCH and record["device"] == "cpu", "record contents")
    check(record["final_loss"] == losses[-1] or abs(record["final_loss"] - losses[-1]) <= 1e-6 * abs(losses[-1]),
          "final_loss %r vs last logged %r" % (record["final_loss"], losses[-1]))
    check(record["test_accuracy"] is not None and 0 <= record["test_accuracy"] <= 1, "test accuracy")
    check(record["data"] == "synthetic" and record["precision"] == "fp32", "data name or precision")
    print("ok: cnn.py 3 steps -> %s, %s" % (os.path.basename(log), os.path.basename(record_path)))

    equivalence_log = os.path.join(folder, "equivalence.txt")
    status, out, err = run_python(common + ["--no-shuffle", "--no-dropout", "--max-steps", "3", "--test-batches",
                                            "0", "--log-steps", equivalence_log])
    check(status == 0, "equivalence run failed (%d):\n%s\n%s" % (status, out, err))
    ours, reference = read_log(equivalence_log, 3), reference_losses(data, init, 3)
    for step, (a, b) in enumerate(zip(ours, reference), 1):
        # Same ops on the same CPU in two processes; only the thread split of a reduction may differ, so the
        # float32 losses agree to a few ulps (1e-5 relative leaves a wide margin above float32's 6e-8).
        check(abs(a - b) <= 1e-5 * abs(b), "step %d: cnn.py loss %r, reference loop %r" % (step, a, b))
    print("ok: equivalence mode matches an independent loop for 3 steps: %s" % ours)

    bad_init = os.path.join(folder, "bad_init.safetensors")
    weights = safetensors_io.load_torch(init)
    del weights["fc2.bias"]
    safetensors_io.save_torch(bad_init, weights)
    for arguments, fragment in (
        ([CNN, "--data", data, "--init", bad_init, "--device", "cpu", "--max-steps", "1"], "fc2.bias"),
        ([CNN, "--data", bad_data, "--init", init, "--device", "cpu", "--max-steps", "1"], "record 1 has label 10"),
    ):
        status, out, err = run_python(arguments)
        check(status == 2 and fragment in err and err.startswith("cnn: error:") and len(err.splitlines()) == 1,
              "expected exit 2 with one line mentioning %r, got %d: %s" % (fragment, status, err))
    print("ok: bad weights and bad data end with exit 2")
    return record_path


def test_modes(folder, data, init):
    """The twins' best-practice switches that run on a CPU: the CNN's --optimizer foreach gives the default loop's
    losses bit for bit (the same arithmetic in multi-tensor kernels), ResNet-50's --fold-bn (torch.fx's conv-bn
    fusion) and --bf16-weights give the plain features within their tolerances; what needs torch.compile (torch 2)
    or CUDA, and impossible combinations, end with exit 2 and one line."""
    common = [CNN, "--data", data, "--init", init, "--device", "cpu", "--batch", str(BATCH), "--no-shuffle",
              "--no-dropout", "--max-steps", "3"]
    logs = {}
    for implementation in ("for-loop", "foreach"):
        logs[implementation] = os.path.join(folder, "optimizer-%s.txt" % implementation)
        status, out, err = run_python(common + ["--optimizer", implementation, "--log-steps", logs[implementation]])
        check(status == 0, "cnn.py --optimizer %s failed: %s" % (implementation, err))
    check(read_log(logs["foreach"], 3) == read_log(logs["for-loop"], 3), "foreach SGD changed the losses")
    status, out, err = run_python(common + ["--optimizer", "fused"])
    check(status == 0 or (status == 2 and err.startswith("cnn: error: --optimizer fused") and len(err.splitlines()) == 1),
          "--optimizer fused: exit %d, %s" % (status, err))
    if not hasattr(torch, "compile"):
        for mode in ("compile", "compile-cudagraphs", "compile-max-autotune"):
            status, out, err = run_python(common + ["--mode", mode])
            check(status == 2 and err.strip() == "cnn: error: --mode %s needs torch.compile (torch 2.0+); this is "
                  "torch %s" % (mode, torch.__version__), "--mode %s on torch %s: %d %s" % (mode, torch.__version__,
                                                                                          status, err))

    torch.manual_seed(2)
    resnet = torchvision.models.resnet50()
    for module in resnet.modules():  # running statistics away from (0, 1), so folding them changes the weights
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
    weights = os.path.join(folder, "resnet50.safetensors")
    safetensors_io.save_torch(weights, {k: v for k, v in resnet.state_dict().items() if "num_batches" not in k})
    features = {}
    for name, extra in (("plain", []), ("folded", ["--fold-bn", "--channels-last"]),
                        ("bf16", ["--precision", "bf16", "--bf16-weights"])):
        features[name] = os.path.join(folder, "features-%s.safetensors" % name)
        status, out, err = run_python([RESNET50, "--weights", weights, "--device", "cpu", "--images", "2",
                                       "--image-size", "32", "--batch", "1", "--repeats", "1", "--features-out",
                                       features[name], "--json", features[name] + ".json"] + extra)
        check(status == 0, "resnet50.py %s failed: %s" % (" ".join(extra), err))
    plain = safetensors_io.load(features["plain"])["features"]
    scale = float(np.linalg.norm(plain, axis=1).max())
    # Folding re-rounds each convolution's weights once (a few float32 ulps per layer over 53 layers): 1e-5 of the
    # feature norm. bf16 keeps 8 significant bits (relative rounding 2^-9 per value and layer); measured 1.4e-3 of
    # the norm on 64x64 images, so 2e-2 separates rounding from a wrong layout or a missing cast (order 1).
    for name, tolerance in (("folded", 1e-5), ("bf16", 2e-2)):
        error = float(np.abs(safetensors_io.load(features[name])["features"] - plain).max()) / scale
        check(error <= tolerance, "%s features off by %.3g of the norm (tolerance %g)" % (name, error, tolerance))
    with open(features["bf16"] + ".json") as f:
        record = json.load(f)
    check(record["bf16_weights"] is True and record["inference_mode"] is True and record["fold_bn"] is False,
          "resnet50 record switches")
    status, out, err = run_python([RESNET50, "--weights", weights, "--device", "cpu", "--images", "1", "--batch", "1",
                                   "--bf16-weights"])
    check(status == 2 and "--bf16-weights needs --precision bf16" in err, "--bf16-weights alone: %s" % err)
    print("ok: --optimizer foreach (same losses), fused (or a one-line refusal), the compile modes' refusal on "
          "torch < 2; ResNet-50 --fold-bn and --bf16-weights features")


def test_epochs(folder, init):
    """Multi-epoch bookkeeping on a small in-memory set (real epochs take minutes on a CPU): cnn.run with the
    reader replaced by 64 training and 48 test images, batch 16, 3 epochs of 4 steps."""
    generator = np.random.default_rng(1)
    train = (generator.random((64, 3, 32, 32), dtype=np.float32), generator.integers(0, 10, 64).astype(np.int64))
    test = (generator.random((48, 3, 32, 32), dtype=np.float32), generator.integers(0, 10, 48).astype(np.int64))
    small = {True: train, False: test}
    original = cnn.cifar10.load_split
    cnn.cifar10.load_split = lambda data_dir, train: small[train]
    try:
        records = []
        for extra in ([], [], ["--channels-last", "--cudnn-benchmark", "off"], ["--profile"]):
            log = os.path.join(folder, "epochs%d.txt" % len(records))
            arguments = ["--data", "unused", "--init", init, "--device", "cpu", "--batch", "16", "--epochs", "3",
                         "--seed", "7", "--log-steps", log, "--json", log[:-4] + ".json"] + extra
            records.append((cnn.run(cnn.parse_args(arguments)), read_log(log, 12)))
    finally:
        cnn.cifar10.load_split = original
    record, losses = records[0]
    check(record["epochs"] == 3 and record["steps"] == 12 and len(record["seconds_per_epoch"]) == 3, "epoch counts")
    steady = sum(record["seconds_per_epoch"][1:])
    check(abs(record["seconds_without_first_epoch"] - steady) <= 1e-9 * steady, "seconds_without_first_epoch")
    check(abs(record["seconds_total"] - sum(record["seconds_per_epoch"])) <= 1e-9 * record["seconds_total"],
          "seconds_total is not the sum of the epochs")
    # 8 steps after the first epoch, fewer than 5 epochs: 5 windows of 1 step; the throughput is their median.
    windows = record["steady"]
    check(windows["unit"] == "window" and windows["repetitions"] == 5 and windows["examples_per_repetition"] == 16,
          "steady state %s" % windows)
    check(not result_record.consistency_problems(record), "; ".join(result_record.consistency_problems(record)))
    check(record["metrics"]["peak_tflops"] is None and "metrics.peak_tflops" in record["unavailable"], "CPU peak")
    check(record["test_accuracy"] is not None and (record["test_accuracy"] * 48) % 1 == 0, "accuracy over 48 images")
    # Same seed, same CPU: shuffles and dropout masks repeat, so the losses are bit-identical.
    check(records[1][1] == losses, "a repeated run with the same seed gave other losses")
    # Channels-last only reorders memory; on the CPU the kernels differ, so allow float32 rounding noise
    # (1e-4 relative after 12 steps: the equivalence tolerance the design states for strict fp32).
    for a, b in zip(records[2][1], losses):
        check(abs(a - b) <= 1e-4 * abs(b), "channels-last losses %s vs %s" % (records[2][1], losses))
    check(records[2][0]["channels_last"] is True and records[2][0]["cudnn_benchmark"] is False, "switches recorded")
    # --profile: the last steps (all but the first of 12) under torch.profiler; every op of the twin has a class.
    profile = records[3][0]["profile"]
    check(profile["units"] == 11 and profile["unit"] == "step", "profiled units %s" % profile["units"])
    check(profile["classes"]["other"] == 0, "ops the mapping does not know: %s"
          % [r["name"] for r in profile["regions"] if r["class"] == "other"])
    for key in ("conv_forward", "conv_backward", "gemm", "elementwise", "optimizer", "copies"):
        check(profile["classes"][key] > 0, "no %s time in the CNN's profile: %s" % (key, profile["classes"]))
    check(set(profile["passes"]) == {"data", "forward", "backward", "update"}, "passes %s" % profile["passes"])
    check(not result_record.schema_problems([os.path.join(folder, "epochs3.json")]), "profiled record invalid")
    print("ok: 3 epochs x 4 steps: per-epoch times, steady-state figures, seeded repeat, channels-last, --profile")
    return os.path.join(folder, "epochs0.json")


def test_breakdown():
    """torch_breakdown's mapping on real names: the CPU ops torch 1.13 records for these twins, and a Kineto-shaped
    GPU trace (cat kernel / cpu_op / user_annotation, "External id" from kernel to the op that launched it) whose
    kernel names are cuDNN's, cuBLAS's and ATen's as profilers print them on Volta to Hopper."""
    host = {  # name, ancestors (outermost first) -> class
        ("aten::mkldnn_convolution", ("aten::conv2d", "aten::convolution", "aten::_convolution")): "conv_forward",
        ("aten::convolution_backward", ("autograd::engine::evaluate_function: ConvolutionBackward0",
                                        "ConvolutionBackward0")): "conv_backward",
        ("aten::addmm", ("aten::linear",)): "gemm",
        ("aten::mm", ("autograd::engine::evaluate_function: AddmmBackward0", "AddmmBackward0")): "gemm",
        ("aten::add_", ("Optimizer.step#SGD.step",)): "optimizer",
        ("aten::zero_", ("Optimizer.zero_grad#SGD.zero_grad",)): "optimizer",
        ("aten::addmm", ("aten::gru",)): "rnn",
        ("aten::max_pool2d_with_indices", ("aten::max_pool2d",)): "elementwise",
        ("aten::bernoulli_", ("aten::dropout",)): "elementwise",
        ("aten::index_select", ()): "copies",
        ("detach", ("torch::autograd::AccumulateGrad", "aten::detach")): "elementwise",
        ("cudaLaunchKernel", ()): "other",
    }
    for (name, ancestors), key in host.items():
        got = torch_breakdown.classify_host_op(name, list(ancestors))
        check(got == key, "host op %s under %s: %s, expected %s" % (name, ancestors, got, key))
    kernels = {  # kernel name, launching op chain -> class
        ("sm90_xmma_fprop_implicit_gemm_f32f32_tf32f32_f32_nhwckrsc_nhwc_tilesize64x128x32",
         ("aten::conv2d", "aten::convolution", "aten::cudnn_convolution")): "conv_forward",
        ("void cudnn::detail::implicit_convolve_sgemm<float, float, int=128, int=5, int=5, int=3, int=3, int=3, int=1, "
         "bool=1, bool=0, bool=0>", ("aten::cudnn_convolution",)): "conv_forward",
        ("sm80_xmma_dgrad_implicit_gemm_indexed_tf32f32_tf32f32_f32_nhwckrsc_nhwc_tilesize128x128x16_stage4",
         ("ConvolutionBackward0", "aten::convolution_backward")): "conv_data_grad",
        ("void cudnn::detail::dgrad_engine<float, int=128, int=6, int=8, int=3, int=3, int=5, bool=1>",
         ("aten::convolution_backward",)): "conv_data_grad",
        ("sm80_xmma_wgrad_implicit_gemm_indexed_tf32f32_tf32f32_f32_nhwckrsc_nhwc_tilesize128x128x16_stage4",
         ("aten::convolution_backward",)): "conv_filter_grad",
        ("void cudnn::detail::wgrad_alg0_engine<float, int=128, int=6, int=8, int=3, int=3, int=5, bool=1, int=512>",
         ("aten::convolution_backward",)): "conv_filter_grad",
        ("volta_scudnn_128x128_stridedB_splitK_interior_nn_v1", ("aten::convolution_backward",)): "conv_backward",
        ("nchwToNhwcKernel", ("aten::cudnn_convolution",)): "copies",
        ("ampere_sgemm_128x64_tn", ("aten::linear", "aten::addmm")): "gemm",
        ("nvjet_tst_256x256_64x4_1x2_h_bz_TNT", ("aten::mm",)): "gemm",
        ("sm90_xmma_gemm_f32f32_tf32f32_f32_tn_n_tilesize128x128x32", ("aten::_cudnn_rnn",)): "rnn",
        ("void at::native::vectorized_elementwise_kernel<4, at::native::CUDAFunctor_add<float>, "
         "at::detail::Array<char*, 3> >", ("Optimizer.step#SGD.step", "aten::_foreach_add_")): "optimizer",
        ("void at::native::(anonymous namespace)::max_pool_forward_nchw<float, float>",
         ("aten::max_pool2d_with_indices",)): "elementwise",
        ("void cudnn::detail::pooling_fw_4d_kernel<float, float, cudnn::detail::maxpooling_func<float>>",
         ("aten::cudnn_max_pool",)): "elementwise",
        ("Memcpy HtoD (Pinned -> Device)", ("aten::copy_",)): "copies",
        ("triton_poi_fused_relu_threshold_backward_0", ()): "elementwise",
        ("triton_tem_fused_addmm_0", ()): "gemm",
        ("sm90_xmma_fprop_implicit_gemm_bf16bf16_bf16f32_f32_nhwckrsc_nhwc_tilesize128x128x64", ()): "conv_forward",
        ("some_unknown_kernel_name", ()): "other",
    }
    for (name, chain), key in kernels.items():
        got = torch_breakdown.classify_kernel(name, list(chain))
        check(got == key, "kernel %s under %s: %s, expected %s" % (name[:60], chain, got, key))
    # A GPU trace of 2 steps of 1 ms wall: per step a convolution (0.3 ms) and its weight gradient (0.2 ms), 0.5 ms
    # of the device covered, so 0.5 ms per step is gaps; the passes come from the annotations around the ops.
    events = []
    for step in range(2):
        t = 1000.0 * step
        events += [
            {"ph": "X", "cat": "user_annotation", "name": "pass:forward", "ts": t, "dur": 100, "pid": 1, "tid": 1},
            {"ph": "X", "cat": "cpu_op", "name": "aten::cudnn_convolution", "ts": t + 10, "dur": 50, "pid": 1,
             "tid": 1, "args": {"External id": 10 + step}},
            {"ph": "X", "cat": "user_annotation", "name": "pass:backward", "ts": t + 200, "dur": 100, "pid": 1,
             "tid": 1},
            {"ph": "X", "cat": "cpu_op", "name": "aten::convolution_backward", "ts": t + 210, "dur": 50, "pid": 1,
             "tid": 2, "args": {"External id": 20 + step}},
            {"ph": "X", "cat": "kernel", "name": "sm90_xmma_fprop_implicit_gemm_f32f32", "ts": t + 300, "dur": 300,
             "pid": 0, "tid": 7, "args": {"External id": 10 + step}},
            {"ph": "X", "cat": "kernel", "name": "sm90_xmma_wgrad_implicit_gemm_f32f32", "ts": t + 600, "dur": 200,
             "pid": 0, "tid": 7, "args": {"External id": 20 + step}},
        ]
    profile = torch_breakdown.breakdown({"traceEvents": events}, 2e-3, 2, "step", True, "fixture")
    expected = {"conv_forward": 3e-4, "conv_filter_grad": 2e-4, "gaps": 5e-4}
    for key in profile["classes"]:
        check(abs(profile["classes"][key] - expected.get(key, 0.0)) < 1e-12, "fixture %s: %s" % (key, profile))
    check(set(profile["passes"]) == {"forward", "backward"} and abs(profile["passes"]["forward"] - 3e-4) < 1e-12
          and abs(profile["passes"]["backward"] - 2e-4) < 1e-12, "fixture passes %s" % profile["passes"])
    schema_path = os.path.join(os.path.dirname(REPORT), "..", "..", "docs", "schema", "result-record.schema.json")
    with open(schema_path) as f:
        schema_classes = json.load(f)["properties"]["profile"]["properties"]["classes"]["required"]
    check(list(profile_classes.CLASS_KEYS) == schema_classes, "profile_classes.CLASSES differs from the schema's")
    print("ok: torch_breakdown maps %d host ops and %d kernels by their real names; a GPU trace fixture; the classes "
          "are the schema's" % (len(host), len(kernels)))


def report_of(folder, name, records):
    """The markdown report.py writes for `records`, saved as <name>.json in `folder`."""
    path = os.path.join(folder, name + ".json")
    with open(path, "w") as f:
        json.dump(records, f)
    status, out, err = run_python([REPORT, path, "--out-md", os.path.join(folder, name + ".md")])
    check(status == 0, "report.py failed on the %s records (%d): %s" % (name, status, err))
    with open(os.path.join(folder, name + ".md")) as f:
        return f.read()


def test_report(folder, record_path, epochs_path):
    """record_path: a one-epoch record (no throughput); epochs_path: a 3-epoch one, whose images/s the chart shows."""
    markdown, png = os.path.join(folder, "report.md"), os.path.join(folder, "report.png")
    problems = result_record.schema_problems([record_path, epochs_path])
    check(not problems, problems)
    status, out, err = run_python([REPORT, record_path, epochs_path, "--out-md", markdown, "--out-png", png])
    check(status == 0, "report.py failed (%d):\n%s\n%s" % (status, out, err))
    with open(markdown) as f:
        text = f.read()
    check("## cnn" in text and "| pytorch " in text and "| cpu |" in text, "table missing:\n%s" % text)
    chart = importlib.util.find_spec("matplotlib") is not None
    if not chart:
        check("matplotlib" in err and not os.path.exists(png), "chart should be skipped with a message")
    else:
        with open(png, "rb") as f:
            check(f.read(8) == b"\x89PNG\r\n\x1a\n", "chart is not a PNG")

    # Each record's row names the switches that set it apart: ResNet-50's layout and fusion, the GRU's algorithm.
    switched = [
        {"workload": "resnet50", "framework": "rosetta", "device": "test card", "precision": "bf16", "mode": "graph",
         "layout": "nhwc", "fuse": False, "seconds_total": 1.0},
        {"workload": "gru", "framework": "rosetta", "device": "test card", "precision": "fp32", "mode": "graph",
         "rnn": "cudnn", "rnn_algorithm": "persist_static_small_h", "seconds_total": 1.0},
    ]
    text = report_of(folder, "switched", switched)
    check("| graph, nhwc, unfused |" in text and "| graph, persist_static_small_h |" in text,
          "switches missing from the rows:\n%s" % text)

    # The comparison names a win only outside both spreads: a peer 3% faster inside overlapping spreads is not one.
    def timed(framework, seconds):
        return {"workload": "cnn", "framework": framework, "device": "test card", "precision": "fp32",
                "mode": "eager", "seconds_total": sum(seconds),
                "steady": result_record.steady_state("epoch", 1000, seconds)}
    pairs = [timed("rosetta", [1.00, 1.02, 0.98, 1.04, 0.97]), timed("overlapping", [0.97, 0.99, 0.95, 1.01, 0.96]),
             timed("faster", [0.50, 0.52, 0.49, 0.51, 0.50])]
    text = report_of(folder, "pairs", pairs)
    check("- overlapping (eager), fp32 on test card: 1031 (990.1-1053) images/s, 1.03x rosetta's" in text
          and "within the spread: no difference shown" in text and "2.00x rosetta's" in text
          and "faster than rosetta" in text and "| 1000 (961.5-1031) | 5 x epoch |" in text,
          "spread or verdicts missing:\n%s" % text)

    with open(record_path) as f:
        record = json.load(f)
    del record["device"]
    nameless = os.path.join(folder, "nameless.json")
    with open(nameless, "w") as f:
        json.dump(record, f)
    status, out, err = run_python([REPORT, record_path, nameless, "--out-md", os.path.join(folder, "no.md")])
    check(status == 2 and '"device"' in err and not os.path.exists(os.path.join(folder, "no.md")),
          "a record without device must be refused, got %d: %s" % (status, err))
    print("ok: report.py table%s and refusal" % (" and chart" if chart else " (chart skipped: no matplotlib)"))


def test_report_breakdown(folder, profiled_path):
    """The report's "Where the time goes": the profiled CNN record beside a rosetta record made from it with half
    its GEMM and element-wise time, so the peer spends more there (beyond 5 % of the wall and 1.2x) and nowhere else;
    the convolution gradients merged into one row (PyTorch's CPU profile has them in one call)."""
    with open(profiled_path) as f:
        peer_record = json.load(f)
    ours = json.loads(json.dumps(peer_record))
    ours.update({"framework": "rosetta", "framework_version": "0.1.0", "mode": "eager"})
    classes = ours["profile"]["classes"]
    wall = ours["profile"]["seconds_per_unit"]
    for key in ("gemm", "elementwise"):
        classes[key] /= 2
    markdown = report_of(folder, "breakdown", [ours, peer_record])
    check("## Where the time goes" in markdown and "### cnn, fp32, cpu (per step)" in markdown, markdown)
    check("| convolution gradients (data + filter) |" in markdown, "the gradients are not merged:\n" + markdown)
    line = next(l for l in markdown.splitlines() if l.startswith("- pytorch") and "spends more" in l)
    # The peer's excess in a halved class equals rosetta's time there, and is twice it: named when over 5 % of the wall.
    named = {label for key, label in (("gemm", "GEMM"), ("elementwise", "element-wise")) if classes[key] > 0.05 * wall}
    check(named, "the fixture names nothing: %s" % classes)
    for label, anchor in (("GEMM", "practice-precision"), ("element-wise", "practice-fusion")):
        check(((label + " +") in line) == (label in named), "%s named wrongly: %s" % (label, line))
        check(label not in named or ("cudnn-guide.md#" + anchor) in line, "no link to %s: %s" % (anchor, line))
    check("convolution" not in line and "optimizer" not in line, "only the halved classes are named: " + line)
    print("ok: report.py breakdowns side by side, the classes where the peer spends more, with their practices")


def main():
    print("selftest: torch %s, numpy %s" % (torch.__version__, np.__version__))
    with tempfile.TemporaryDirectory(prefix="peer-selftest-") as folder:
        try:
            test_safetensors(folder)
            test_breakdown()
            data = os.path.join(folder, "cifar")
            records = write_cifar(data)
            bad_data = test_cifar(data, records)
            del records
            record_path = test_cnn(folder, data, bad_data)
            test_modes(folder, data, os.path.join(folder, "init.safetensors"))
            epochs_path = test_epochs(folder, os.path.join(folder, "init.safetensors"))
            test_report(folder, record_path, epochs_path)
            test_report_breakdown(folder, os.path.join(folder, "epochs3.json"))
        except AssertionError as failure:
            print("selftest: FAILED: %s" % failure, file=sys.stderr)
            return 1
    print("selftest: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
