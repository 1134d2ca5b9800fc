"""Self-test of the JAX/Flax peers (CPU; the pinned .venv-jax of tools/setup.sh). Exit 0 when every check passes.

Run: .venv-jax/bin/python bench/peers/jax/selftest.py
(ctest runs it as jax_twin_selftest; about a minute on a 2-core CPU, 190 MB in a temporary folder)

What it checks, all in a temporary folder that is removed afterwards (the numerics against rosetta itself are the
C++ tests' part: tests/test_equivalence_jax.cpp):
1. optim: torch_adam's step scalars 1 - b^t are within 1.5 ulp (b1 = 0.9) and 6 ulp (b2 = 0.999) of PyTorch's
   double-precision values over steps 1..20000, and its updates follow PyTorch's element order (a float32 numpy
   transcription of torch.optim.Adam with the scalars in double) within 1e-6 relative for 100 steps (measured
   3.1e-7; optax.adam is 1.0e-5 off, so the check tells the rules apart); optax.sgd follows torch.optim.SGD's
   momentum rule likewise.
2. The layouts: the NHWC Flax CNN with its weights converted at load (HWIO kernels, fc1's rows permuted from
   (C, H, W) to (H, W, C)) gives the logits of an independent NCHW implementation on the PyTorch-layout weights;
   the GRU gives the final hidden state of a float64 numpy loop of PyTorch's nn.GRU equations; the ResNet's
   folded batch norm gives the features of Flax's BatchNorm with the running statistics.
3. cnn.py trains 3 steps on full-size synthetic CIFAR files with --log-steps and --json: the log has lines
   "1 <loss>" .. "3 <loss>", the record has the documented keys, null (not 0) for what a one-epoch run cannot
   measure, and final_loss equals the last logged loss. In-process on a small set: 3 epochs give per-epoch times,
   steady-state seconds and images/s and test accuracy, and a repeated seeded run gives bit-identical losses.
4. gru.py trains 2 epochs on a small token file; resnet50.py extracts features of random images (shape, record);
   bad weights, bad data and impossible options end with exit status 2 and one "<workload>: error:" line.
5. --profile (jax_breakdown.py): the CNN's, the GRU's and ResNet-50's profiled runs classify every instruction of
   their real HLO (nothing left as "other"), and a GPU-shaped trace with XLA's cuDNN and cuBLAS custom calls gives
   the expected classes, passes and gaps.
"""

import json
import math
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.join(os.path.dirname(HERE), "common")]  # this twin's, then the shared modules

import numpy as np  # noqa: E402

import cifar10  # noqa: E402
import cnn  # noqa: E402
import gru  # noqa: E402
import optim  # noqa: E402
import resnet50  # noqa: E402
import result_record  # noqa: E402
import safetensors_io  # noqa: E402
import training  # noqa: E402

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import optax  # noqa: E402

jax.config.update("jax_platforms", "cpu")
jax.config.update("jax_default_matmul_precision", "highest")

TRAINING_KEYS = {
    "workload", "framework", "framework_version", "jaxlib", "flax", "optax", "mode", "device", "driver", "cuda",
    "cudnn", "precision", "batch", "xla_flags", "commit", "date", "epochs", "steps", "seconds_total",
    "seconds_without_first_epoch", "seconds_per_epoch", "test_accuracy", "final_loss", "data", "layout",
    "schema", "schema_version", "status", "steady", "metrics", "unavailable",
}
CNN_KEYS = TRAINING_KEYS | {"images_per_second", "dropout"}
GRU_KEYS = TRAINING_KEYS | {"sequences_per_second"}
BATCH = 16


def check(condition, message):
    if not condition:
        raise AssertionError(message)


def run_python(arguments):
    result = subprocess.run([sys.executable] + arguments, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            universal_newlines=True)
    return result.returncode, result.stdout, result.stderr


def expect_usage_error(script, arguments, *fragments):
    status, out, err = run_python([os.path.join(HERE, script)] + arguments)
    workload = script[:-3]
    check(status == 2 and err.startswith(workload + ": error:") and all(f in err for f in fragments) and
          len(err.splitlines()) == 1,
          "%s %s: expected exit 2 with one line mentioning %s, got %d: %s"
          % (script, arguments, fragments, status, err))


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


def relative(a, b):
    return float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))) /
                 np.max(np.abs(np.asarray(b, np.float64))))


def test_optimizers():
    steps = np.arange(1, 20001, dtype=np.float64)
    for beta, ulps in ((0.9, 1.5), (0.999, 6.0)):
        ours = np.asarray(optim.bias_correction(beta, jnp.asarray(steps, jnp.float32))).astype(np.float64)
        exact = 1 - beta ** steps
        error = np.max(np.abs(ours - exact) / np.spacing(exact.astype(np.float32)))
        check(error <= ulps, "1 - %g^t is %.2f ulp from the double value (allowed %.1f)" % (beta, error, ulps))

    generator = np.random.default_rng(5)
    grads = generator.standard_normal((100, 64)).astype(np.float32) * np.float32(0.1)
    lr, b1, b2, eps = 1e-3, 0.9, 0.999, 1e-8
    adam = optim.torch_adam(lr, b1, b2, eps)
    state = adam.init(jnp.zeros(64))
    update = jax.jit(adam.update)
    m, v = np.zeros(64, np.float32), np.zeros(64, np.float32)
    for t, g in enumerate(grads, 1):  # torch.optim.Adam's single-tensor path, op by op in float32
        m = np.float32(b1) * m + np.float32(1 - b1) * g
        v = np.float32(b2) * v + (np.float32(1 - b2) * g) * g
        step_size, bias_correction2_sqrt = lr / (1 - b1 ** t), math.sqrt(1 - b2 ** t)
        expected = np.float32(-step_size) * (m / (np.sqrt(v) / np.float32(bias_correction2_sqrt) + np.float32(eps)))
        ours, state = update(jnp.asarray(g), state)
        check(relative(ours, expected) <= 1e-6, "Adam step %d: updates %.3g from PyTorch's rule"
              % (t, relative(ours, expected)))

    sgd = optax.sgd(0.01, momentum=0.9)
    params = jnp.asarray(generator.standard_normal(64).astype(np.float32))
    state, p, buf = sgd.init(params), np.asarray(params), np.zeros(64, np.float32)
    step = jax.jit(lambda params, state, g: (lambda u, s: (optax.apply_updates(params, u), s))(*sgd.update(g, state)))
    for g in grads[:20]:
        buf = np.float32(0.9) * buf + g  # buf.mul_(momentum).add_(g); p.add_(buf, alpha=-lr)
        p = p + np.float32(-0.01) * buf
        params, state = step(params, state, jnp.asarray(g))
    check(relative(params, p) <= 1e-6, "SGD: parameters %.3g from PyTorch's rule" % relative(params, p))
    print("ok: torch_adam and optax.sgd follow torch.optim's rules")


def random_state(shapes, generator):
    """PyTorch-layout float32 tensors for every name of a Flax model's variables (training's name mapping)."""
    leaves, _ = jax.tree_util.tree_flatten_with_path(shapes)
    return {training.torch_name(p): (generator.standard_normal(training.torch_shape(p, leaf)) * 0.1
                                     ).astype(np.float32) for p, leaf in leaves}


def test_layouts(folder):
    generator = np.random.default_rng(6)
    model = cnn.CifarVGG(dropout=False)
    shapes = jax.eval_shape(lambda: model.init(jax.random.key(0), jnp.zeros((1, 32, 32, 3)), train=False))
    state = random_state(shapes, generator)
    path = os.path.join(folder, "cnn_layout.safetensors")
    safetensors_io.save(path, state)
    variables = training.load_variables(path, shapes, convert={"fc1.weight": cnn.fc1_to_flax})
    x = generator.random((2, 3, 32, 32), dtype=np.float32)
    ours = model.apply(variables, cnn.nhwc(x), train=False)

    def conv(x, name):  # NCHW activations, OIHW weights: PyTorch's layout, no conversion
        y = jax.lax.conv_general_dilated(x, state[name + ".weight"], (1, 1), ((1, 1), (1, 1)),
                                         dimension_numbers=("NCHW", "OIHW", "NCHW"))
        return y + state[name + ".bias"][None, :, None, None]

    def pool(x):
        return jax.lax.reduce_window(x, -jnp.inf, jax.lax.max, (1, 1, 2, 2), (1, 1, 2, 2), "VALID")

    y = jax.nn.relu(conv(x, "conv1"))
    y = jax.nn.relu(pool(conv(y, "conv2")))
    y = jax.nn.relu(conv(y, "conv3"))
    y = jax.nn.relu(pool(conv(y, "conv4"))).reshape(2, -1)  # (C, H, W) order, as PyTorch's view
    y = jax.nn.relu(y @ state["fc1.weight"].T + state["fc1.bias"])
    expected = y @ state["fc2.weight"].T + state["fc2.bias"]
    check(relative(ours, expected) <= 1e-5, "CNN: NHWC logits %.3g from the NCHW reference" % relative(ours, expected))

    tokens = generator.integers(0, 30000, (5, 3)).astype(np.int32)  # (T, N)
    model = gru.ImdbGRU()
    shapes = jax.eval_shape(lambda: model.init(jax.random.key(0), jnp.zeros((5, 1), jnp.int32)))
    state = random_state(shapes, generator)
    path = os.path.join(folder, "gru_layout.safetensors")
    safetensors_io.save(path, state)
    variables = training.load_variables(path, shapes)
    hidden = gru.TorchGRU(gru.HIDDEN).apply({"params": variables["params"]["gru"]},
                                            variables["params"]["embedding"]["embedding"][tokens])
    w_ih, w_hh = (state["gru." + n].astype(np.float64) for n in ("weight_ih_l0", "weight_hh_l0"))
    b_ih, b_hh = (state["gru." + n].astype(np.float64) for n in ("bias_ih_l0", "bias_hh_l0"))
    H = gru.HIDDEN
    h = np.zeros((3, H))
    sigmoid = lambda a: 1 / (1 + np.exp(-a))  # noqa: E731
    for x_t in state["embedding.weight"].astype(np.float64)[tokens]:  # nn.GRU's equations, gate rows r | z | n
        ax, ah = x_t @ w_ih.T + b_ih, h @ w_hh.T + b_hh
        r, z = sigmoid(ax[:, :H] + ah[:, :H]), sigmoid(ax[:, H:2 * H] + ah[:, H:2 * H])
        n = np.tanh(ax[:, 2 * H:] + r * ah[:, 2 * H:])
        h = (1 - z) * n + z * h
    check(relative(hidden, h) <= 1e-5, "GRU: hidden state %.3g from PyTorch's equations" % relative(hidden, h))
    logits = model.apply(variables, tokens)
    expected = h @ state["l_out.weight"].T + state["l_out.bias"]
    check(relative(logits, expected) <= 1e-5, "GRU: logits %.3g from the reference" % relative(logits, expected))

    model = resnet50.ResNet50Features(fold_bn=False)
    shapes = jax.eval_shape(lambda: model.init(jax.random.key(0), jnp.zeros((1, 32, 32, 3))))
    state = random_state(shapes, generator)
    for name in state:  # batch norm: positive variances, scales near 1, so 53 layers keep a sane scale
        if name.endswith("running_var") or (name.split(".")[-2].startswith("bn") and name.endswith("weight")):
            state[name] = (1 + np.abs(state[name])).astype(np.float32)
    path = os.path.join(folder, "resnet_layout.safetensors")
    safetensors_io.save(path, state)
    x = generator.random((2, 32, 32, 3), dtype=np.float32)
    unfolded = model.apply(training.load_variables(path, shapes), x)
    variables = training.load_variables(path, shapes)
    folded = resnet50.ResNet50Features(fold_bn=True).apply(
        {"params": resnet50.fold_batchnorm(variables["params"], variables["batch_stats"])}, x)
    check(relative(folded, unfolded) <= 1e-5, "ResNet-50: folded features %.3g from the unfolded ones"
          % relative(folded, unfolded))
    print("ok: layouts: NHWC CNN = NCHW reference, GRU = nn.GRU's equations, folded = unfolded batch norm")
    return path


def write_cifar(folder):
    generator = np.random.default_rng(0)
    os.makedirs(folder)
    for name in cifar10.TRAIN_FILES + cifar10.TEST_FILES:
        records = generator.integers(0, 256, size=(cifar10.RECORDS_PER_FILE, cifar10.RECORD_BYTES), dtype=np.uint8)
        records[:, 0] %= cifar10.NUM_CLASSES
        records.tofile(os.path.join(folder, name))


def write_cnn_init(path):
    model = cnn.CifarVGG()
    shapes = jax.eval_shape(lambda: model.init(jax.random.key(0), jnp.zeros((1, 32, 32, 3)), train=False))
    safetensors_io.save(path, random_state(shapes, np.random.default_rng(1)))


def test_cnn(folder):
    data, init = os.path.join(folder, "cifar"), os.path.join(folder, "cnn_init.safetensors")
    write_cifar(data)
    write_cnn_init(init)
    log, record_path = os.path.join(folder, "steps.txt"), os.path.join(folder, "cnn.json")
    status, out, err = run_python([os.path.join(HERE, "cnn.py"), "--data", data, "--init", init, "--device", "cpu",
                                   "--batch", str(BATCH), "--max-steps", "3", "--test-batches", "2", "--log-steps",
                                   log, "--json", record_path, "--data-name", "synthetic"])
    check(status == 0, "cnn.py failed (%d):\n%s\n%s" % (status, out, err))
    losses = read_log(log, 3)
    with open(record_path) as f:
        record = json.load(f)
    check(set(record) == CNN_KEYS, "record keys differ: %s" % sorted(set(record) ^ CNN_KEYS))
    check(not result_record.schema_problems([record_path]), result_record.schema_problems([record_path]))
    check(record["framework"] == "jax" and record["framework_version"] == jax.__version__, "framework")
    check(record["steps"] == 3 and record["batch"] == BATCH and record["device"] == "cpu", "record contents")
    check(record["seconds_without_first_epoch"] is None and record["images_per_second"] is None,
          "a one-epoch run's steady-state figures must be null")
    check(abs(record["final_loss"] - losses[-1]) <= 1e-6 * abs(losses[-1]), "final_loss vs the last logged loss")
    check(record["test_accuracy"] is not None and 0 <= record["test_accuracy"] <= 1, "test accuracy")
    print("ok: cnn.py 3 steps -> %s, %s" % (os.path.basename(log), os.path.basename(record_path)))

    bad_init = os.path.join(folder, "bad_init.safetensors")
    weights = safetensors_io.load(init)
    del weights["fc2.bias"]
    weights["conv1.weight"] = weights["conv1.weight"][:, :2]
    safetensors_io.save(bad_init, weights)
    bad_data = os.path.join(folder, "bad_cifar")
    os.makedirs(bad_data)
    with open(os.path.join(data, "data_batch_1.bin"), "rb") as f:
        content = f.read()
    with open(os.path.join(bad_data, "data_batch_1.bin"), "wb") as f:
        f.write(content[:-1])
    common = ["--device", "cpu", "--max-steps", "1"]
    expect_usage_error("cnn.py", ["--data", data, "--init", bad_init] + common, "missing fc2.bias",
                       "conv1.weight has shape (50, 2, 3, 3), expected (50, 3, 3, 3)")
    expect_usage_error("cnn.py", ["--data", bad_data, "--init", init] + common, "30729999 bytes")
    expect_usage_error("cnn.py", ["--data", data, "--init", init, "--precision", "tf32"] + common, "needs --device gpu")
    print("ok: cnn.py: bad weights, bad data and tf32 on the CPU end with exit 2")
    return init


def test_epochs(folder, init):
    """Multi-epoch bookkeeping in-process on 64 training and 48 test images (batch 16: 3 epochs of 4 steps)."""
    generator = np.random.default_rng(2)
    train = (generator.random((64, 3, 32, 32), dtype=np.float32), generator.integers(0, 10, 64).astype(np.int64))
    test = (generator.random((48, 3, 32, 32), dtype=np.float32), generator.integers(0, 10, 48).astype(np.int64))
    small = {True: train, False: test}
    original = cnn.cifar10.load_split
    cnn.cifar10.load_split = lambda data_dir, train: small[train]
    try:
        runs = []
        for repeat, extra in enumerate(([], [], ["--profile"])):
            log = os.path.join(folder, "epochs%d.txt" % repeat)
            arguments = ["--data", "unused", "--init", init, "--device", "cpu", "--batch", "16", "--epochs", "3",
                         "--seed", "7", "--log-steps", log, "--json", log[:-4] + ".json"] + extra
            runs.append((cnn.run(cnn.parse_args(arguments)), read_log(log, 12)))
    finally:
        cnn.cifar10.load_split = original
    record, losses = runs[0]
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
    # Same seed, same CPU: the shuffles and the dropout keys repeat, so the losses are bit-identical.
    check(runs[1][1] == losses, "a repeated run with the same seed gave other losses")
    # --profile: the last 11 of 12 steps under jax.profiler, every instruction of the step classified by its HLO.
    profile = runs[2][0]["profile"]
    check(runs[2][1] == losses, "the profiled run (the update under a name scope) gave other losses")
    check(profile["units"] == 11 and profile["unit"] == "step", "profiled units %s" % profile["units"])
    expect_classes(profile, ("conv_forward", "conv_data_grad", "conv_filter_grad", "gemm", "elementwise",
                             "optimizer"))
    check({"forward", "backward", "update"} <= set(profile["passes"]), "passes %s" % profile["passes"])
    check(not result_record.schema_problems([os.path.join(folder, "epochs2.json")]), "profiled record invalid")
    print("ok: 3 epochs x 4 steps: per-epoch times, steady-state figures, accuracy, seeded repeat, --profile")


def expect_classes(profile, present):
    """The profile has time in each class of `present` and none the mapping does not know."""
    check(profile["classes"]["other"] == 0, "names the mapping does not know: %s"
          % [r["name"] for r in profile["regions"] if r["class"] == "other"])
    for key in present:
        check(profile["classes"][key] > 0, "no %s time: %s" % (key, profile["classes"]))


# A GPU-shaped module: XLA's cuDNN and cuBLAS custom calls, a fusion, a scan whose body runs a dot, and the update.
GPU_HLO = """HloModule jit_step, entry_computation_layout={(f32[8,32,32,3]{3,2,1,0})->f32[]}

%body (p: (s32[], f32[8,100])) -> (s32[], f32[8,100]) {
  %p = (s32[], f32[8,100]{1,0}) parameter(0)
  %h = f32[8,100]{1,0} get-tuple-element(%p), index=1
  %w = f32[100,100]{1,0} constant({...})
  %cublas-gemm.3 = (f32[8,100]{1,0}, s8[0]{0}) custom-call(%h, %w), custom_call_target="__cublas$gemm", metadata={op_name="jit(step)/jvp(ImdbGRU)/gru/while/body/dot_general"}
  ROOT %t = (s32[], f32[8,100]{1,0}) tuple(%i, %h)
}

%fused_add (param_0: f32[8,32,32,50]) -> f32[8,32,32,50] {
  %param_0 = f32[8,32,32,50]{3,2,1,0} parameter(0)
  ROOT %maximum.1 = f32[8,32,32,50]{3,2,1,0} maximum(%param_0, %param_0), metadata={op_name="jit(step)/jvp(CifarVGG)/relu"}
}

ENTRY %main.1 (x: f32[8,32,32,3]) -> f32[] {
  %x = f32[8,32,32,3]{3,2,1,0} parameter(0)
  %cudnn-conv.1 = (f32[8,32,32,50]{3,2,1,0}, u8[0]{0}) custom-call(%x, %k), window={size=3x3 pad=1_1x1_1}, dim_labels=b01f_o01i->b01f, custom_call_target="__cudnn$convForward", metadata={op_name="jit(step)/jvp(CifarVGG)/conv_general_dilated"}
  %cudnn-conv-bw-input.2 = (f32[8,32,32,3]{3,2,1,0}, u8[0]{0}) custom-call(%g, %k), window={size=3x3 pad=1_1x1_1}, dim_labels=b01f_o01i->b01f, custom_call_target="__cudnn$convBackwardInput", metadata={op_name="jit(step)/transpose(jvp(CifarVGG))/conv_general_dilated"}
  %cudnn-conv-bw-filter.3 = (f32[50,3,3,3]{3,2,1,0}, u8[0]{0}) custom-call(%x, %g), window={size=32x32 pad=1_1x1_1}, dim_labels=f01b_i01o->01bf, custom_call_target="__cudnn$convBackwardFilter", metadata={op_name="jit(step)/transpose(jvp(CifarVGG))/conv_general_dilated"}
  %loop_maximum_fusion = f32[8,32,32,50]{3,2,1,0} fusion(%y), kind=kLoop, calls=%fused_add
  %while.4 = (s32[], f32[8,100]{1,0}) while(%init), condition=%cond, body=%body, metadata={op_name="jit(step)/jvp(ImdbGRU)/gru/while"}
  %multiply.5 = f32[100,100]{1,0} multiply(%m, %v), metadata={op_name="jit(step)/update/mul"}
  ROOT %copy.6 = f32[8,32,32,3]{3,2,1,0} copy(%x)
}
"""


def test_breakdown_gpu_shape():
    """jax_breakdown on a GPU-shaped trace: device events named by kernel, args hlo_module and hlo_op, classified by
    the module above; a memcpy without an instruction; a host event, left out."""
    import jax_breakdown
    kernels = [("sm90_xmma_fprop_implicit_gemm_f32f32", "cudnn-conv.1", 300, "conv_forward", "forward"),
               ("sm90_xmma_dgrad_implicit_gemm_f32f32", "cudnn-conv-bw-input.2", 200, "conv_data_grad", "backward"),
               ("sm90_xmma_wgrad_implicit_gemm_f32f32", "cudnn-conv-bw-filter.3", 100, "conv_filter_grad", "backward"),
               ("loop_maximum_fusion", "loop_maximum_fusion", 50, "elementwise", "forward"),
               ("nvjet_tst_64x8_64x16_4x1_v_bz_TNT", "cublas-gemm.3", 40, "rnn", "forward"),
               ("loop_multiply_fusion", "multiply.5", 30, "optimizer", "update"),
               ("copy_kernel", "copy.6", 20, "copies", None)]
    events = [{"ph": "M", "name": "process_name", "pid": 7, "args": {"name": "/device:GPU:0"}},
              {"ph": "M", "name": "process_name", "pid": 1, "args": {"name": "/host:CPU"}},
              {"ph": "X", "pid": 1, "tid": 1, "ts": 0, "dur": 900, "name": "ThunkExecutor::Execute",
               "args": {"hlo_module": "jit_step", "hlo_op": "cudnn-conv.1"}}]
    t = 0
    for name, op, dur, _, _ in kernels:
        events.append({"ph": "X", "pid": 7, "tid": 2, "ts": t, "dur": dur, "name": name,
                       "args": {"hlo_module": "jit_step", "hlo_op": op}})
        t += dur
    events.append({"ph": "X", "pid": 7, "tid": 3, "ts": 0, "dur": 60, "name": "MemcpyH2D", "args": {}})
    profile = jax_breakdown.breakdown({"traceEvents": events}, [GPU_HLO], 1e-3, 1, "step", "fixture")
    expected = {}
    for _, _, dur, key, _ in kernels:
        expected[key] = expected.get(key, 0.0) + dur * 1e-6
    expected["copies"] += 60e-6
    expected["gaps"] = 1e-3 - t * 1e-6  # the memcpy overlaps the first kernel
    for key, seconds in profile["classes"].items():
        check(abs(seconds - expected.get(key, 0.0)) < 1e-12, "fixture %s: %s, expected %s" % (key, seconds,
                                                                                          expected.get(key, 0.0)))
    check(abs(profile["passes"]["backward"] - 300e-6) < 1e-12, "fixture passes %s" % profile["passes"])
    print("ok: jax_breakdown on a GPU-shaped trace with XLA's cuDNN and cuBLAS custom calls")


def test_gru_and_resnet(folder, resnet_weights):
    generator = np.random.default_rng(3)
    tokens = os.path.join(folder, "tokens.npz")
    x = generator.integers(0, 30000, (64, 150)).astype(np.int32)
    y = generator.integers(0, 2, 64).astype(np.int32)
    np.savez(tokens, x_train=x, y_train=y, x_test=x[:32], y_test=y[:32])
    model = gru.ImdbGRU()
    shapes = jax.eval_shape(lambda: model.init(jax.random.key(0), jnp.zeros((150, 1), jnp.int32)))
    init = os.path.join(folder, "gru_init.safetensors")
    safetensors_io.save(init, random_state(shapes, generator))
    record_path = os.path.join(folder, "gru.json")
    status, out, err = run_python([os.path.join(HERE, "gru.py"), "--data", tokens, "--init", init, "--device", "cpu",
                                   "--batch", "32", "--epochs", "2", "--profile", "--json", record_path])
    check(status == 0, "gru.py failed (%d):\n%s\n%s" % (status, out, err))
    with open(record_path) as f:
        record = json.load(f)
    check(set(record) == GRU_KEYS | {"profile"}, "gru record keys differ: %s" % sorted(set(record) ^ GRU_KEYS))
    expect_classes(record["profile"], ("rnn", "gemm", "optimizer"))
    check(not result_record.schema_problems([record_path]), result_record.schema_problems([record_path]))
    # 2 steps after the first epoch: too few for a steady state, so the throughput is null with the reason.
    check(record["steps"] == 4 and record["sequences_per_second"] is None and "steady" in record["unavailable"]
          and record["test_accuracy"] is not None, "gru record contents")
    bad_tokens = os.path.join(folder, "bad_tokens.npz")
    np.savez(bad_tokens, x_train=x, y_train=y + 1, x_test=x[:32], y_test=y[:32])
    expect_usage_error("gru.py", ["--data", bad_tokens, "--init", init, "--device", "cpu"], "labels in [1, 2]")
    print("ok: gru.py 2 epochs -> %s; bad labels end with exit 2" % os.path.basename(record_path))

    features, record_path = os.path.join(folder, "features.safetensors"), os.path.join(folder, "resnet50.json")
    status, out, err = run_python([os.path.join(HERE, "resnet50.py"), "--weights", resnet_weights, "--device", "cpu",
                                   "--batch", "1", "--images", "2", "--image-size", "32", "--features-out", features,
                                   "--profile", "--json", record_path])
    check(status == 0, "resnet50.py failed (%d):\n%s\n%s" % (status, out, err))
    check(safetensors_io.load(features)["features"].shape == (2, 2048), "features shape")
    with open(record_path) as f:
        record = json.load(f)
    check(not result_record.schema_problems([record_path]), result_record.schema_problems([record_path]))
    check(record["images"] == 2 and record["fold_bn"] is True and record["seconds_per_1000_images"] > 0
          and record["steady"]["unit"] == "pass" and record["steady"]["repetitions"] == 5,
          "resnet50 record contents")
    check(record["profile"]["unit"] == "batch" and record["profile"]["units"] == 2, "resnet50 profile units")
    expect_classes(record["profile"], ("conv_forward",))
    expect_usage_error("resnet50.py", ["--weights", init, "--device", "cpu", "--images", "2", "--batch", "1"],
                       "missing bn1.bias")
    expect_usage_error("resnet50.py", ["--weights", resnet_weights, "--images", "3", "--batch", "2", "--device",
                                       "cpu"], "multiple of --batch")
    print("ok: resnet50.py features and record; bad weights and options end with exit 2")


def main():
    print("selftest: jax %s, numpy %s" % (jax.__version__, np.__version__))
    with tempfile.TemporaryDirectory(prefix="jax-peer-selftest-") as folder:
        try:
            test_optimizers()
            test_breakdown_gpu_shape()
            resnet_weights = test_layouts(folder)
            init = test_cnn(folder)
            test_epochs(folder, init)
            test_gru_and_resnet(folder, resnet_weights)
        except AssertionError as failure:
            print("selftest: FAILED: %s" % failure, file=sys.stderr)
            return 1
    print("selftest: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
