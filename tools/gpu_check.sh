#!/usr/bin/env bash
# The whole GPU check, on a GPU host (H100/H200) where cuDNN and cuBLAS come from the PyTorch environment's
# wheels. Runs from the repository root with a bundle made by tools/gpu_bundle.sh on a build machine:
#   measure  per-kernel time of the three workloads in each precision under ncu, grouped into the profile classes
#            (tools/ncu_measure.sh on rosetta's --profile steps; ~2.5 min): first, on a cool card
#   profile  --profile of rosetta, the PyTorch twins and the JAX twins (JAX_PYTHON) on short fp32 runs (~4 min)
#   tests    the CUDA cases of every test binary (the CPU cases run in CI)
#   resnet   ResNet-50 extraction in each precision, layout and switch, then the PyTorch twin (eager) per precision
#   gru      the GRU workload (cuDNN and hand-built, tnc and ntc, fp32 and tf32), then its twin (eager)
#   gru13    issue 13 (the RNN algorithm cache, cuDNN's weights in place, the persistent GRU), measuring first: ncu's
#            per-kernel times of one training step, then its CUDA tests, memcheck and racecheck of the persistent
#            kernels, bench_gru, and the workload with each --rnn choice with and without the cache (~3-4 min)
#   cnn      the CNN workload (graph / eager / heuristics, fp32 and tf32), then its twin (eager)
#   cnn12    issue 12 (docs/perf/cnn.md), ~6 min on an H100: ncu per-kernel times of the CNN step before (--fuse off,
#            the seed's order) and after (fused: NCHW fp32, NHWC padded tf32 and bf16), summarised per step and
#            kernel; the CUDA tests of the fused kernels, the step's modes, the feed, the training plans declared for
#            their epilogue (the forward on cuDNN's graph API) and conv1's direct kernels (with memcheck and
#            racecheck, ~1 min); 10 epochs of every mode in
#            fp32, tf32 and bf16; the PyTorch twin under autocast bf16
#   nccl     each training workload through NCCL with one rank and no launcher (--comm nccl) against the plain path:
#            its first 20 losses (docs/distributed.md's tolerance) and its time (the overhead); says if mpirun exists
#   bench    the Google Benchmark binaries of the three workloads and every CUDA op case (bench_ops)
#   memcheck compute-sanitizer's memcheck over the CUDA test cases of the kernel tests and short workload runs
#   compile  the PyTorch twins in every mode at their best settings (channels-last, fused optimizers, BN folded or
#            frozen, bf16 weights, torch.compile default / CUDA graphs / max-autotune), profiled; the slowest: last
#   r50      issue 11, not in the default list (PHASES=r50 SELECT='^r50' runs it alone, ~7 min on an H100; see the
#            block below): measure first (ncu per-kernel times of the baseline extraction, every convolution candidate
#            re-timed with CUDA events beside cudnnFind's figure), then the new GPU tests, the extraction per
#            precision with each --backend, batch scaling with latency, and the ncu breakdown after
# The doctor runs first (after `rosetta info`); then a table of every JSON record (bench/report/report.py),
# printed last. Phases run in that order, timed steps one at a time; the test binaries and the memcheck runs, which time nothing, run four at once. A step that would
# start after BUDGET_S seconds (default 480) is skipped and named in the summary, and no step runs past LIMIT_S
# (default 570), so the check ends with its summary inside the device's time. Logs and records go to $OUT (default
# ./gpu-check-out); the weights and data it generates go to $WORK (default $OUT/work), not worth carrying back.
# Usage: tools/gpu_check.sh [BUNDLE_DIR=gpu-bundle]
# Environment: PHASES (default "measure profile tests resnet gru cnn nccl bench memcheck compile"; the issues' own
# phases, r50, gru13 and cnn12, only when named), SELECT (an extended regular expression: only the steps whose names match
# run, default all), BUDGET_S, LIMIT_S, OUT, WORK, PYTHON, JAX_PYTHON (the JAX twins' interpreter, default PYTHON).
# The cuDNN algorithm
# cache the runs fill (with cudnnFind's time per convolution shape) is copied to $OUT/conv-algorithms.json.
set -uo pipefail
cd "$(dirname "$0")/.."
bundle=$(realpath "${1:-gpu-bundle}")
out=${OUT:-$PWD/gpu-check-out}
work=${WORK:-$out/work}
mkdir -p "$out/records" "$work"
python=${PYTHON:-python3}
budget=${BUDGET_S:-480} hard_limit=${LIMIT_S:-570} select=${SELECT:-.*}
started=$SECONDS

# cuDNN / cuBLAS / CUDA runtime from the Python wheels (site-packages/nvidia/*/lib).
wheel_libs=$($python - <<'PY'
import glob, os, site
paths = []
for root in site.getsitepackages():
    paths += sorted(glob.glob(os.path.join(root, "nvidia", "*", "lib")))
print(":".join(paths))
PY
)
export LD_LIBRARY_PATH="$bundle/lib:$wheel_libs:${LD_LIBRARY_PATH:-}"
export ROSETTA_SOURCE_DIR=$PWD ROSETTA_CLI=$bundle/bin/rosetta
export XDG_CACHE_HOME=$work/cache ROSETTA_PYTHON=$python ROSETTA_COMMIT=$(head -1 "$bundle/COMMIT")
rosetta=$bundle/bin/rosetta
phases=" ${PHASES:-measure profile tests resnet gru cnn nccl bench memcheck compile} "
want() { [[ "$phases" == *" $1 "* ]]; }
summary=$out/summary.txt
: > "$summary"
note() { echo "$*" | tee -a "$summary"; }

# step NAME TIMEOUT_S COMMAND...: runs COMMAND with its output in $out/NAME.log unless the budget is spent; notes
# the log's last line (or FAIL and its tail) and the step's wall time.
step() {
  local name=$1 limit=$2; shift 2
  [[ "$name" =~ $select ]] || return 0
  local elapsed=$((SECONDS - started))
  if (( elapsed > budget )); then note "skip  $name (past the ${budget} s budget)"; return 1; fi
  (( limit > hard_limit - elapsed )) && limit=$((hard_limit - elapsed))
  local t0=$SECONDS
  PYTHONUNBUFFERED=1 timeout "$limit" "$@" > "$out/$name.log" 2>&1
  local rc=$?
  if (( rc == 0 )); then
    note "ok    $name ($((SECONDS - t0)) s): $(tail -1 "$out/$name.log")"
  else
    note "FAIL  $name ($((SECONDS - t0)) s, exit $rc): $(tail -3 "$out/$name.log" | tr '\n' ' ')"
    return 1
  fi
}
# sanitized_steps PATTERN TIMEOUT_S COMMAND...: COMMAND under compute-sanitizer's memcheck, then its racecheck, each a
# step named PATTERN with %s the tool; a note when this host has no compute-sanitizer.
sanitized_steps() {
  local pattern=$1 limit=$2 sanitizer tool; shift 2
  sanitizer=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1)
  [ -n "$sanitizer" ] || { note "skip  $(printf "$pattern" sanitizer) (no compute-sanitizer on this host)"; return 0; }
  for tool in memcheck racecheck; do
    step "$(printf "$pattern" $tool)" "$limit" "$sanitizer" --tool $tool --error-exitcode 99 --print-limit 20 "$@"
  done
}
# in_parallel: run `step` in the background, at most 4 at once (for steps that time nothing); `wait` joins them.
in_parallel() {
  while (( $(jobs -rp | wc -l) >= 4 )); do wait -n; done
  step "$@" &
}

if ! "$rosetta" info > "$out/info.txt" 2>&1; then
  # The carried build does not run here (another C library, say): build the CLI here instead. The GPU host has
  # no GoogleTest or Google Benchmark, so only the workloads can run from such a build.
  note "the carried rosetta does not run here ($(head -1 "$out/info.txt")); building the CLI on this host"
  cmake -S . -B "$work/build" -G Ninja -DROSETTA_TESTS=OFF -DROSETTA_BENCHMARKS=OFF -DCMAKE_CUDA_ARCHITECTURES=90-real \
    -DROSETTA_DEPS_DIR="$bundle/deps" -DCUDNN_PYTHON="$(command -v $python)" \
    -DROSETTA_NCCL_DIR="$($python -c 'import nvidia.nccl; print(list(nvidia.nccl.__path__)[0])' 2>/dev/null)" \
    > "$out/build.log" 2>&1 \
    && cmake --build "$work/build" -j "$(nproc)" >> "$out/build.log" 2>&1 || { note "build failed: $(tail -3 "$out/build.log")"; exit 1; }
  rosetta=$work/build/bench/rosetta ROSETTA_CLI=$rosetta
  phases=${phases/ tests / } phases=${phases/ bench / } phases=${phases/ memcheck / }
  "$rosetta" info > "$out/info.txt" 2>&1 || { note "rosetta does not run here"; exit 1; }
fi
cat "$out/info.txt"
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem --format=csv | tee "$out/nvidia-smi.txt"
# The doctor first: clocks, link, library versions and a short run of each workload against the reference index,
# so a slow or misconfigured card is named before any figure is read.
step doctor 90 "$rosetta" doctor --references docs/results/reference.json --json "$out/doctor.json"

# ---- measure: where each workload's GPU time goes, kernel by kernel (issue 14's gap attribution) ----
# rosetta's --profile brackets its profiled steps (eager: a graph's kernels cannot be replayed alone) with
# cudaProfilerStart/Stop, and ncu (--clock-control none, --profile-from-start off) replays their first 300 kernel
# launches one by one with the time and FLOP counters bench/report/ncu_summary.py groups into the classes. Expected:
# 7 runs of 15-25 s (start, autotuning, ~300 launches at a few ms each under ncu): about 2.5 minutes.
if want measure; then
  ncu_path=$(command -v ncu || ls /usr/local/cuda*/bin/ncu /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)
  if [ -z "$ncu_path" ]; then
    note "skip  measure (no ncu on this host)"
  else
    measure() {  # name, rosetta arguments...
      local name=$1; shift
      NCU=$ncu_path PYTHON=$python step "measure-$name" 90 tools/ncu_measure.sh "$name" "$out/ncu" -- "$rosetta" "$@"
    }
    for p in fp32 tf32; do
      # 40 steps of batch 64; the last 20 are profiled.
      measure "cnn-$p" train cnn --synthetic --synthetic-train 2560 --synthetic-test 0 --epochs 1 --precision "$p" \
        --profile --json "$out/ncu/cnn-$p-record.json"
      measure "gru-$p" train gru --synthetic --synthetic-train 2560 --synthetic-test 0 --epochs 1 --precision "$p" \
        --profile --json "$out/ncu/gru-$p-record.json"
    done
    for p in fp32 tf32 bf16; do  # the profiled pass: 2 batches of 32
      measure "resnet50-$p" extract resnet50 --random-weights --images 64 --repeats 1 --precision "$p" --profile \
        --json "$out/ncu/resnet50-$p-record.json"
    done
  fi
fi

# ---- profile: the three frameworks' --profile on real GPU traces (issue 14's gap attribution) ----
# rosetta (CUDA events, eager profiled steps), the PyTorch twins (torch.profiler) and the JAX twins (jax.profiler)
# on short fp32 runs from one set of files, records into $out/records: the report's "Where the time goes" sets them
# side by side, and any share in "other" names a kernel the mappings do not know yet. Expected: 9 runs of 10-40 s
# (JAX and PyTorch start-up and compilation dominate): about 4 minutes.
if want profile; then
  jax_python=${JAX_PYTHON:-$python}
  profile_dir=$work/profile
  mkdir -p "$profile_dir"
  "$rosetta" train cnn --synthetic --export-data "$profile_dir/cifar" > "$out/profile-export.log" 2>&1
  "$rosetta" train gru --synthetic --export-data "$profile_dir/tokens.npz" >> "$out/profile-export.log" 2>&1
  for w in cnn gru; do
    "$rosetta" train $w --device cpu --max-steps 0 --seed 7 --save "$profile_dir/$w-init.safetensors" >> "$out/profile-export.log" 2>&1
  done
  "$rosetta" extract resnet50 --device cpu --random-weights --images 2 --image-size 32 --batch 2 --repeats 1 \
    --save-weights "$profile_dir/resnet50.safetensors" >> "$out/profile-export.log" 2>&1
  declare -A profile_args=(
    [cnn]="--data $profile_dir/cifar --data-name synthetic --init $profile_dir/cnn-init.safetensors --train-examples 6400 --epochs 2 --test-batches 0"
    [gru]="--data $profile_dir/tokens.npz --data-name synthetic --init $profile_dir/gru-init.safetensors --train-examples 6400 --epochs 2 --test-batches 0"
    [resnet50]="--weights $profile_dir/resnet50.safetensors --images 320 --repeats 3")
  for w in cnn gru resnet50; do
    verb=train; [ $w = resnet50 ] && verb=extract
    # shellcheck disable=SC2086  # the arguments above are words
    step "profile-rosetta-$w-fp32" 120 "$rosetta" $verb $w ${profile_args[$w]} --precision fp32 --profile \
      --json "$out/records/profile-rosetta-$w-fp32.json"
    # shellcheck disable=SC2086
    step "profile-pytorch-$w-fp32" 180 $python "bench/peers/pytorch/$w.py" ${profile_args[$w]} --precision fp32 \
      $([ $w = gru ] || echo --channels-last) --profile --json "$out/records/profile-pytorch-$w-fp32.json"
    if "$jax_python" -c "import jax, flax, optax" 2> /dev/null; then
      # shellcheck disable=SC2086
      step "profile-jax-$w-fp32" 180 "$jax_python" "bench/peers/jax/$w.py" --device gpu ${profile_args[$w]} \
        --precision fp32 --profile --json "$out/records/profile-jax-$w-fp32.json"
    else
      note "skip  profile-jax-$w-fp32 (no JAX, Flax and optax at $jax_python; JAX_PYTHON names another)"
    fi
  done
fi

if want tests; then
  for t in "$bundle"/bin/test_*; do
    name=$(basename "$t")
    # Only the CUDA cases: every CPU case runs in each CI build and would only cost device time here.
    in_parallel "$name" 300 "$t" --gtest_brief=1 --gtest_filter='*Cuda*:*Device*'
  done
  wait
  count() { grep -ho "$1 *\] [0-9]*" "$out"/test_*.log | awk '{n += $NF} END {print n + 0}'; }
  note "tests: $(count PASSED) CUDA cases passed, $(count SKIPPED) skipped, $(count FAILED) failed"
fi

# ResNet-50: random weights in one file both frameworks load; 1280 random images at batch 32 (the defaults).
resnet_weights=$work/resnet50-random.safetensors
if want resnet || want compile || want r50; then
  "$rosetta" extract resnet50 --random-weights --images 32 --save-weights "$resnet_weights" > "$out/export-resnet.log" 2>&1
fi
res50() {  # name, flags...
  local name=$1; shift
  step "rosetta-resnet50-$name" 120 "$rosetta" extract resnet50 --weights "$resnet_weights" \
    --json "$out/records/rosetta-resnet50-$name.json" "$@"
}
torch_res50() {  # mode, precision
  step "pytorch-resnet50-$1-$2" 300 $python bench/peers/pytorch/resnet50.py --weights "$resnet_weights" --mode "$1" \
    --precision "$2" --channels-last --json "$out/records/pytorch-resnet50-$1-$2.json"
}
if want resnet; then
  res50 nchw-fp32 --precision fp32
  res50 nhwc-fp32 --precision fp32 --layout nhwc
  res50 nhwc-fp32-unfused --precision fp32 --layout nhwc --fuse off
  res50 nchw-fp32-unfused --precision fp32 --fuse off
  res50 nchw-fp32-eager --precision fp32 --graph off
  res50 nchw-fp32-heuristics --precision fp32 --autotune off
  res50 nchw-tf32 --precision tf32
  res50 nhwc-tf32 --precision tf32 --layout nhwc
  res50 nhwc-bf16 --precision bf16 --layout nhwc
  res50 nhwc-bf16-eager --precision bf16 --layout nhwc --graph off
  for p in fp32 tf32 bf16; do torch_res50 eager $p; done
fi

# The training workloads: a synthetic set of the real shapes (IMDB-shaped tokens in a .npz; CIFAR-shaped images in
# CIFAR-10 binary files) and the initial weights, written once by rosetta and read by both frameworks.
declare -A data=([gru]=$work/imdb-synthetic.npz [cnn]=$work/cifar-synthetic)
declare -A init=([gru]=$work/gru-init.safetensors [cnn]=$work/cnn-init.safetensors)
export_training() {  # workload
  "$rosetta" train "$1" --synthetic --export-data "${data[$1]}" > "$out/export-$1.log" 2>&1
  "$rosetta" train "$1" --synthetic --max-steps 0 --save "${init[$1]}" >> "$out/export-$1.log" 2>&1
}
train() {  # workload, name, flags...
  local workload=$1 name=$2; shift 2
  step "rosetta-$workload-$name" 120 "$rosetta" train "$workload" --data "${data[$workload]}" --data-name synthetic \
    --init "${init[$workload]}" --json "$out/records/rosetta-$workload-$name.json" "$@"
}
torch_train() {  # workload, mode, precision
  step "pytorch-$1-$2-$3" 300 $python "bench/peers/pytorch/$1.py" --data "${data[$1]}" --data-name synthetic \
    --init "${init[$1]}" --mode "$2" --precision "$3" --json "$out/records/pytorch-$1-$2-$3.json"
}
for workload in gru cnn; do
  if want $workload || want compile || { [ $workload = cnn ] && want cnn12; }; then export_training $workload; fi
done
if want gru; then
  train gru cudnn-tnc-graph-fp32
  train gru cudnn-tnc-eager-fp32 --graph off
  train gru cudnn-ntc-graph-fp32 --layout ntc
  train gru cudnn-standard-tnc-graph-fp32 --autotune off
  train gru naive-tnc-graph-fp32 --rnn naive
  train gru cudnn-tnc-graph-tf32 --precision tf32
  train gru cudnn-standard-tnc-graph-tf32 --precision tf32 --autotune off
  for p in fp32 tf32; do torch_train gru eager $p; done
fi
# Issue 13, one call: `PHASES=gru13 tools/gpu_check.sh` (~3-4 min on an H100; BASELINE=<a bundle of the commit before
# the issue> adds that build's cuDNN step to the ncu breakdown). In order, each timed step alone:
#   1. ncu (tools/ncu_measure.sh, --clock-control none, no test pass): `train gru --profile` for 24 steps per GRU
#      (cudnn with PERSIST_STATIC_SMALL_H given, persistent, and BASELINE's cudnn), its last 20 steps profiled
#      eagerly; per kernel and class one steady step's time in ncu/gru13-NAME.md
#   2. the CUDA cases of the tests this issue touched (four at once), then compute-sanitizer memcheck and racecheck
#      of the persistent kernels on small shapes (a barrier misplaced in them is a shared-memory race)
#   3. bench_gru: cuDNN's PERSIST_STATIC_SMALL_H, the persistent GRU and the naive one, and the embedding
#   4. the workload (3 epochs, records in records/): auto with an empty RNN algorithm cache (times 5 candidates),
#      auto again (from the cache: nothing timed), cudnn, persistent (graph and eager, fp32 and tf32)
if want gru13; then
  g13=$out/gru13
  mkdir -p "$g13"
  [ -f "${data[gru]}" ] || export_training gru
  ncu=$(command -v ncu || ls /usr/local/cuda*/bin/ncu 2>/dev/null | head -1)
  # ncu over the last 20 of 24 eager steps (--profile brackets them; setup, autotuning and the first steps are
  # outside the range), summarised per step by bench/report/ncu_summary.py.
  gru13_ncu() {  # name, rosetta binary, flags...
    local name=$1 exe=$2; shift 2
    NCU=$ncu PYTHON=$python NCU_LAUNCH_COUNT=2000 NCU_PER="20 step" step "gru13-ncu-$name" 150 \
      tools/ncu_measure.sh "gru13-$name" "$g13/ncu" -- "$exe" train gru --data "${data[gru]}" --data-name synthetic \
      --init "${init[gru]}" --max-steps 24 --test-batches 0 --profile "$@"
  }
  if [ -z "$ncu" ]; then
    note "skip  gru13-ncu (no ncu on this host)"
  else
    gru13_ncu cudnn "$rosetta" --rnn cudnn --rnn-algo persist_static_small_h --no-rnn-cache
    gru13_ncu persistent "$rosetta" --rnn persistent --no-rnn-cache
    [ -n "${BASELINE:-}" ] && gru13_ncu baseline-cudnn "$(realpath "$BASELINE")/bin/rosetta" --rnn cudnn \
      --rnn-algo persist_static_small_h
  fi

  for t in test_gru test_imdb_gru test_embedding test_cli_train_gru test_checkpoint_resume; do
    in_parallel "gru13-$t" 300 "$bundle/bin/$t" --gtest_brief=1 --gtest_filter='*Cuda*'
  done
  in_parallel gru13-test_ops 300 "$bundle/bin/test_ops" --gtest_brief=1 \
    --gtest_filter='*CudaMatchesTheCpuTwin/gru*:*CudaMatchesTheCpuTwin/embedding*'
  wait
  sanitized_steps gru13-%s-persistent 120 \
    "$bundle/bin/test_gru" --gtest_brief=1 --gtest_filter='GruCuda.PersistentMatchesReferenceAtAwkwardShapes'

  step gru13-bench_gru 120 "$bundle/bin/bench_gru" --benchmark_min_time=0.05 \
    --benchmark_filter='gru/gpu/.*/(cudnn/persist_static_small_h|persistent|naive)/tnc|embedding/gpu' \
    --benchmark_out="$g13/bench_gru.json" --benchmark_out_format=json

  cache13=$g13/rnn-algorithms.json
  rm -f "$cache13"
  train gru 13-auto-timed --rnn-cache "$cache13"
  train gru 13-auto-cached --rnn-cache "$cache13"
  train gru 13-cudnn --rnn cudnn --rnn-cache "$cache13"
  train gru 13-persistent --rnn persistent
  train gru 13-persistent-eager --rnn persistent --graph off
  train gru 13-cudnn-eager --rnn cudnn --rnn-algo persist_static_small_h --graph off
  train gru 13-persistent-tf32 --rnn persistent --precision tf32
  cp "$cache13" "$g13/" 2>/dev/null
  step gru13-summary 30 $python - "$out/records" <<'PY'
# One line per issue-13 run: what ran, where its choice came from, setup and total seconds, the steady step.
import json, glob, os, sys
for path in sorted(glob.glob(os.path.join(sys.argv[1], "rosetta-gru-13-*.json"))):
    r = json.load(open(path))
    steady = r.get("steady") or {}
    steps = steady.get("examples_per_repetition", 0) / r["batch"]
    step_ms = 1e3 * steady["median_s"] / steps if steps else float("nan")
    print(f"{os.path.basename(path)[12:-5]:22s} {r.get('rnn_implementation')}/{r.get('rnn_algorithm', '-')} "
          f"choice {r.get('rnn_choice')} weights {r.get('rnn_weights', '-')}: setup {r.get('seconds_setup', 0):.3f} s, "
          f"total {r['seconds_total']:.3f} s, step {step_ms:.3f} ms, accuracy {r.get('test_accuracy')}")
PY
fi

if want cnn; then
  train cnn graph-fp32 --precision fp32
  train cnn eager-fp32 --precision fp32 --graph off
  train cnn graph-heuristics-fp32 --precision fp32 --autotune off
  train cnn graph-tf32 --precision tf32
  for p in fp32 tf32; do torch_train cnn eager $p; done
fi

# Issue 12, the CNN near its floor (docs/perf/cnn.md): measure the step per kernel before and after, test the new CUDA
# paths, then time every mode. Run it alone with PHASES=cnn12 (BUDGET_S=360 LIMIT_S=400 keep it to ~6.5 minutes).
if want cnn12; then
  cache12=$work/cnn12-algorithms.json  # one cuDNN search, then every run and profile reads the choices
  # ncu (tools/ncu_measure.sh) over the last 20 of 24 steps of `rosetta train cnn --profile` (run eagerly; algorithms
  # from the cache: no search under the profiler), clocks as the card runs them; per step, per kernel and class.
  ncu12() {  # name, flags...
    local name=$1; shift
    local ncu; ncu=$(command -v ncu || ls /usr/local/cuda*/bin/ncu 2>/dev/null | head -1)
    [ -n "$ncu" ] || { note "skip  cnn12-ncu-$name (no ncu on this host)"; return; }
    local run=("$rosetta" train cnn --data "${data[cnn]}" --init "${init[cnn]}" --algo-cache "$cache12"
               --epochs 1 --test-batches 0 "$@")
    "${run[@]}" --max-steps 2 > "$out/cnn12-warm-$name.log" 2>&1  # fills the algorithm cache outside the profiler
    NCU=$ncu PYTHON=$python NCU_LAUNCH_COUNT=2000 NCU_PER="20 step" step "cnn12-ncu-$name" 150 \
      tools/ncu_measure.sh "cnn12-$name" "$out/ncu" -- "${run[@]}" --max-steps 24 --profile \
      && note "      cnn12-ncu-$name: $(tail -1 "$out/ncu/cnn12-$name.md")"
  }
  ncu12 before-fp32 --precision fp32 --fuse off --relu-order after-pool
  ncu12 before-tf32 --precision tf32 --fuse off --relu-order after-pool --layout nchw
  ncu12 after-fp32 --precision fp32
  ncu12 after-tf32-nhwc-pad8 --precision tf32 --layout nhwc --pad-channels 8
  ncu12 after-bf16-nhwc-pad8 --precision bf16
  # The new CUDA paths against the CPU twin: the fused kernels, bf16 convolutions, GEMMs, loss and parameter copies
  # (the op table), the model's modes, graphs and allocations, the command line's feed.
  step cnn12-test_ops 240 "$bundle/bin/test_ops" --gtest_brief=1 \
    --gtest_filter='*Cuda*relu_dropout*:*Cuda*relayout*:*Cuda*stage*:*Cuda*unstage*:*Cuda*nhwc_bf16*:*Cuda*nhwc_tf32*:*Cuda*gemm_bf16*:*Cuda*softmax_cross_entropy_bf16*'
  step cnn12-test_cifar_vgg 240 "$bundle/bin/test_cifar_vgg" --gtest_brief=1 --gtest_filter='*Cuda*'
  step cnn12-test_cli_train_cnn 120 "$bundle/bin/test_cli_train_cnn" --gtest_brief=1 --gtest_filter='*Cuda*'
  # Training plans with a declared bias + ReLU epilogue (the fused step's): tf32 and bf16 NHWC, the forward free and
  # on the graph API forced, the gradients on legacy cuDNN, each pass against the CPU twin (~30 s: four searches).
  step cnn12-test_conv_backends 120 "$bundle/bin/test_conv_backends" --gtest_brief=1 \
    --gtest_filter='*DeclaredEpilogueTraining*:*Bf16TrainingPasses*'
  # conv1 by hand (the direct backend): every candidate against the CPU twin, the filter gradient's bits run to run,
  # conv1's timed choice per pass (printed), then memcheck and racecheck of the kernels on the small cases (~1 min).
  step cnn12-test_conv_direct 120 "$bundle/bin/test_conv_backends" --gtest_brief=1 --gtest_filter='*Direct*'
  sanitized_steps cnn12-%s-conv_direct 120 \
    "$bundle/bin/test_conv_backends" --gtest_brief=1 --gtest_filter='ConvBackendsCuda.DirectKernelsMatchTheCpuTwin'
  # 10 epochs of each mode (records named by mode): the seed's step, then each practice on its own.
  cnn12() {  # name, flags...
    local name=$1; shift
    train cnn "cnn12-$name" --algo-cache "$cache12" "$@"
  }
  cnn12 fp32-unfused-seed --precision fp32 --fuse off --relu-order after-pool
  cnn12 fp32-unfused-relu-first --precision fp32 --fuse off --relu-order before-pool
  cnn12 fp32-fused --precision fp32
  cnn12 fp32-fused-relu-after --precision fp32 --relu-order after-pool
  cnn12 tf32-unfused-seed --precision tf32 --fuse off --relu-order after-pool --layout nchw
  cnn12 tf32-fused-nchw --precision tf32 --layout nchw
  cnn12 tf32-fused-nhwc --precision tf32 --layout nhwc --pad-channels 1
  cnn12 tf32-fused-nhwc-pad8 --precision tf32 --layout nhwc --pad-channels 8
  cnn12 bf16-fused-nhwc-pad8 --precision bf16
  cnn12 bf16-fused-nhwc --precision bf16 --pad-channels 1
  torch_train cnn eager bf16
fi

if want nccl; then
  note "nccl: mpirun on this host: $(command -v mpirun || echo none; true)"
  for workload in cnn gru; do
    for path in plain nccl; do
      flags=(); [ $path = nccl ] && flags=(--comm nccl)
      train "$workload" "$path-one-rank" "${flags[@]}" --log-steps "$out/$workload-$path-steps.txt"
    done
    # One rank's all-reduce is the identity: the losses differ only by cuDNN's non-deterministic algorithms.
    step "nccl-$workload-losses" 30 $python - "$out/$workload-plain-steps.txt" "$out/$workload-nccl-steps.txt" <<'PY'
import sys
plain, nccl = ([float(l.split()[1]) for l in open(p)][:20] for p in sys.argv[1:3])
# tests/test_distributed.cpp's tolerances: 1e-5 relative to step 10, 1e-3 after (SGD amplifies re-association).
ratio = max(abs(a - b) / abs(a) / (1e-5 if i < 10 else 1e-3) for i, (a, b) in enumerate(zip(plain, nccl)))
print(f"first 20 losses: worst difference {ratio:.2f} of its tolerance (1e-5 to step 10, 1e-3 after)")
sys.exit(0 if len(plain) == len(nccl) == 20 and ratio <= 1 else 1)
PY
  done
fi

bench() {  # binary, filter
  step "$1" 180 "$bundle/bin/$1" --benchmark_min_time=0.05 --benchmark_filter="$2" --benchmark_out="$out/$1.json" \
    --benchmark_out_format=json
}
if want bench; then
  bench bench_gru 'gru/gpu'
  bench bench_resnet50 'gpu/.*/batch:32'
  bench bench_cnn_step 'gpu'
  bench bench_ops 'ops/cuda'
fi

if want memcheck; then
  sanitizer=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1)
  if [ -z "$sanitizer" ]; then
    note "skip  memcheck (no compute-sanitizer on this host)"
  else
    memcheck() {  # name, command...
      local name=$1; shift
      in_parallel "memcheck-$name" 120 "$sanitizer" --tool memcheck --error-exitcode 99 --print-limit 20 "$@"
    }
    # A short run of each workload (graph capture and replay included: nearly every kernel in its real use), the
    # hand-built GRU's and the inference layers' CUDA cases (the kernels the workload runs do not reach).
    memcheck train-cnn "$rosetta" train cnn --data "${data[cnn]}" --max-steps 20 --test-batches 2
    memcheck train-gru "$rosetta" train gru --data "${data[gru]}" --max-steps 5 --test-batches 2
    memcheck extract-nchw-fp32 "$rosetta" extract resnet50 --weights "$resnet_weights" --images 64
    memcheck extract-nhwc-bf16 "$rosetta" extract resnet50 --weights "$resnet_weights" --images 64 --layout nhwc \
      --precision bf16
    memcheck test_gru "$bundle/bin/test_gru" --gtest_brief=1 --gtest_filter='GruCuda.Naive*'
    memcheck test_resnet_layers "$bundle/bin/test_resnet_layers" --gtest_brief=1 --gtest_filter='*Cuda*'
    wait
  fi
fi

# ---- compile: the PyTorch twins at their best (issues 11.8, 12.7, 13.6): every mode, every row recorded ----
# Each row is a record in $out/records (with --profile: its breakdown), and report.py names each framework's best
# configuration per workload, precision and card. The CNN runs 3 epochs here (its steady state: 5 windows of epochs
# 2-3), the GRU its 3, ResNet-50 1280 images x 5 passes. Expected: eager rows 15-40 s, torch.compile 1-2 min
# (compilation), max-autotune 4-8 min (it times Triton and template kernels per shape): about 50 minutes in all, so
# run it in parts of one device call each, PHASES=compile with
#   SELECT='^pytorch-[a-z0-9]+-(eager|compile|compile-cudagraphs)-'   every row but max-autotune (~15 min)
#   SELECT='^pytorch-cnn-compile-max-autotune'                         (~10 min)
#   SELECT='^pytorch-resnet50-compile-max-autotune'                    (~15 min)
# (predictions, unmeasured).
compile_twin() {  # workload, mode, precision, name suffix, flags...
  local workload=$1 mode=$2 precision=$3 suffix=$4; shift 4
  local name="pytorch-$workload-$mode-$precision$suffix" args=(--json "$out/records/pytorch-$workload-$mode-$precision$suffix.json")
  if [ "$workload" = resnet50 ]; then
    args+=(--weights "$resnet_weights")
  else
    args+=(--data "${data[$workload]}" --data-name synthetic --init "${init[$workload]}")
  fi
  step "$name" 600 $python "bench/peers/pytorch/$workload.py" --mode "$mode" --precision "$precision" --profile \
    "${args[@]}" "$@"
}
if want compile; then
  for p in fp32 tf32; do
    for mode in eager compile compile-cudagraphs compile-max-autotune; do
      compile_twin cnn "$mode" "$p" -nhwc-fused --channels-last --optimizer fused --epochs 3
    done
    for mode in eager compile compile-cudagraphs; do
      compile_twin gru "$mode" "$p" -fused --optimizer fused
    done
    compile_twin gru compile-cudagraphs "$p" -fused-dynamo-rnn --optimizer fused --dynamo-rnn
  done
  for p in fp32 tf32 bf16; do
    for mode in eager compile compile-max-autotune; do
      compile_twin resnet50 "$mode" "$p" -folded --channels-last --fold-bn
    done
  done
  for mode in eager compile-max-autotune; do  # bf16: the weights converted, not autocast
    compile_twin resnet50 "$mode" bf16 -folded-bf16-weights --channels-last --fold-bn --bf16-weights
  done
fi

# ---------------------------------------------------------------------------------------------------------------
# Issue 11: ResNet-50 near the hardware's floor (docs/perf/resnet50.md holds the floors and the predictions these
# runs test). Order: measure first, then test, then the benchmarks. Every step is named r50-* (SELECT='^r50' runs
# this block alone) and writes under $out/r50; records go to $out/r50/records. Estimated on an H100, each figure a
# guess from run 2's setup times (docs/results.md) and the search's candidate counts, the graph API's runtime
# compilation the unknown: baseline priming + ncu 1.5 min, tests 1.5 min, 11 backend runs 2 min, 15 scaling runs
# 2.5 min (latency included), the "after" ncu 1 min: ~8.5 min, so the budget's skip notes name what did not fit.
if want r50; then
  r50=$out/r50
  mkdir -p "$r50/records"
  ncu_bin=$(command -v ncu || ls /usr/local/cuda*/bin/ncu 2>/dev/null | head -1)
  r50_extract() {  # name, limit, flags...: one extraction with its record
    local name=$1 limit=$2; shift 2
    step "r50-$name" "$limit" "$rosetta" extract resnet50 --weights "$resnet_weights" \
      --json "$r50/records/rosetta-resnet50-$name.json" "$@"
  }
  # ncu over one profiled batch of 32 (--profile runs it eagerly between cudaProfilerStart and Stop), the algorithm
  # cache already filled by the run before it, so no search kernel is profiled; summarised per kernel and class by
  # bench/report/ncu_summary.py, as the measure phase's runs are.
  r50_ncu() {  # name, flags...
    local name=$1; shift
    if [ -z "$ncu_bin" ]; then note "skip  r50-ncu-$name (no ncu on this host)"; return; fi
    NCU=$ncu_bin PYTHON=$python NCU_LAUNCH_COUNT=1000 step "r50-ncu-$name" 150 tools/ncu_measure.sh "r50-$name" \
      "$r50/ncu" -- "$rosetta" extract resnet50 --weights "$resnet_weights" --images 32 --batch 32 --repeats 1 \
      --profile "$@"
  }
  declare -A r50_layout=([fp32]=nchw [tf32]=nhwc [bf16]=nhwc)
  # 1. Measure first: today's extraction (legacy cuDNN only, the stem unpadded), primed to fill the cache (every
  #    Find result re-timed with events beside Find's figure), then profiled per kernel.
  for p in fp32 tf32 bf16; do
    r50_extract "baseline-$p" 90 --precision $p --layout ${r50_layout[$p]} --backend cudnn --pad-stem off \
      --images 320 --repeats 3
    r50_ncu "baseline-$p" --precision $p --layout ${r50_layout[$p]} --backend cudnn --pad-stem off
  done
  cp "$work/cache/rosetta/conv-algorithms.json" "$r50/conv-algorithms-baseline.json" 2>/dev/null
  step r50-candidates-baseline 30 $python bench/report/conv_candidates.py "$r50/conv-algorithms-baseline.json" \
    --out-json "$r50/candidates-baseline.json"
  # 2. The new GPU tests (CUDA cases only), four at once.
  r50_test() {  # binary, filter
    in_parallel "r50-$1" 300 "$bundle/bin/$1" --gtest_brief=1 --gtest_filter="$2"
  }
  r50_test test_matmul '*Cuda*'
  r50_test test_conv_backends '*Cuda*'
  r50_test test_conv '*Cuda*'
  r50_test test_resnet50 '*Cuda*'
  r50_test test_extract_resnet50 '*Cuda*'
  r50_test test_ops '*Cuda*matmul*:*Cuda*conv2d*:*Cuda*relayout_channels*:*Cuda*bias_residual*'
  wait
  # 3. Each precision with each backend at batch 32 (cudnn-graph runs NHWC tf32/bf16 only).
  for p in fp32 tf32 bf16; do
    for backend in auto cudnn cudnn-graph cublaslt; do
      [ $p = fp32 ] && [ $backend = cudnn-graph ] && continue
      r50_extract "$p-$backend" 120 --precision $p --layout ${r50_layout[$p]} --backend $backend --images 640 --repeats 3
    done
  done
  # 4. Batch scaling (each layer's fastest backend), latency over 100 batches at batch 1 and 8.
  for p in fp32 tf32 bf16; do
    for batch in 1 8 32 128 256; do
      case $batch in
        1|8) flags=(--images $((batch * 16)) --latency 100) ;;
        32) flags=(--images 640) ;;
        *) flags=(--images $((batch * 4))) ;;
      esac
      r50_extract "scaling-$p-batch$batch" 120 --precision $p --layout ${r50_layout[$p]} --batch $batch --repeats 3 \
        "${flags[@]}"
    done
  done
  step r50-scaling-report 30 $python bench/report/scaling.py "$r50/records" --out-md "$r50/scaling.md" \
    --out-png "$r50/scaling.png"
  # 5. The breakdown after: the same ncu runs on each layer's fastest backend with the stem padded.
  for p in fp32 tf32 bf16; do r50_ncu "after-$p" --precision $p --layout ${r50_layout[$p]}; done
  cp "$work/cache/rosetta/conv-algorithms.json" "$r50/conv-algorithms.json" 2>/dev/null
  step r50-candidates 30 $python bench/report/conv_candidates.py "$r50/conv-algorithms.json" \
    --out-json "$r50/candidates.json"
  cp "$r50"/records/*.json "$out/records/" 2>/dev/null
fi

cp "$work/cache/rosetta/conv-algorithms.json" "$out/" 2>/dev/null
$python bench/report/report.py "$out/records" --out-md "$out/results.md" --out-png "$out/results.png" \
  --out-breakdown-png "$out/breakdown.png" > "$out/report.log" 2>&1 \
  || tail -3 "$out/report.log"
echo; echo "================ summary ($((SECONDS - started)) s) ================"
cat "$summary"
failures=$(grep -c '^FAIL' "$summary")
echo "failed steps: $failures"
[ -f "$out/results.md" ] && cat "$out/results.md"
exit $((failures > 0))
