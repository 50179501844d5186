#!/bin/bash
# Behaviour check of the explicit-learner-state refactor (issue 14 item 4) and demonstrations
# of issue 18 items 1-3 on MNIST. Run files go to $RUNS (outside git); the small summaries
# (JSON, logs) are written next to this script.
#
#   bash benchmarks/results/state-refactor/run.sh [RUNS_DIR]     (from the repository root)
#
# 1. every rate definition of main before the refactor (commit 25d7d4e), 1 epoch on the first
#    1,500 training images and 1,000 test images, with the old and the current code:
#    weights, arrays and every metric except wall-clock timings compared bit for bit
#    (rate-definitions.json);
# 2. the coordinator's baselines (/work/baseline: grlu-mnist-pairs1 and backprop-mnist,
#    1 epoch, all 60,000 images, made from main before this session) rerun with the current
#    code and compared (coordinator-baseline.json);
# 3. resume: backprop-mnist, 2 epochs on 10,000 images, killed (SIGKILL) as soon as the first
#    epoch is checkpointed, then --resume; compared with the uninterrupted run (resume-backprop.json);
# 4. divergence: grlu-mnist-pairs1 with rule.lr_max = 1e10 (divergence.log).
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../../.." && pwd)
RUNS=${1:-/work/runs/state/check}
BEFORE_COMMIT=25d7d4e
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
mkdir -p "$RUNS"
MODELS="backprop-mnist dfa-mnist eki-mnist es-mnist fa-mnist ff-mnist grlu-mnist-deep128 grlu-mnist-pairs1-wide
grlu-mnist-pairs1 grlu-mnist-pairs128-topk50 grlu-mnist-pairs128 grlu-mnist-pairs16-relu grlu-mnist-pairs16-topk25
grlu-mnist-pairs16 hebbian-mnist noprop-mnist"

small() {  # small SRC_DIR OUT_DIR: the 16 definitions with the code in SRC_DIR
  mkdir -p "$2"
  for m in $MODELS; do
    (cd "$1" && PYTHONPATH="$1" python -m neuro_grlu.cli train $m --epochs 1 --train-limit 1500 \
       --set data.test_limit=1000 --out "$2/$m.h5" --no-progress --no-plot --overwrite) || echo "FAILED $m"
  done
}

# 1. old code from git, new code from this checkout
if [ ! -d "$RUNS/src-before" ]; then
  mkdir -p "$RUNS/src-before" && git -C "$REPO" archive $BEFORE_COMMIT | tar -x -C "$RUNS/src-before"
fi
[ -d "$RUNS/before" ] || small "$RUNS/src-before" "$RUNS/before" > "$RUNS/before.log" 2>&1
small "$REPO" "$RUNS/after" > "$RUNS/after.log" 2>&1
python "$HERE/compare.py" "$RUNS/before" "$RUNS/after" "$HERE/rate-definitions.json"

# 2. the coordinator's 60,000-image baselines
mkdir -p "$RUNS/baseline-after"
(cd "$RUNS/baseline-after" && PYTHONPATH="$REPO" python -m neuro_grlu.cli train grlu-mnist-pairs1 --epochs 1 \
   --out grlu-pairs1-e1.h5 --no-progress --no-plot --overwrite \
 && PYTHONPATH="$REPO" python -m neuro_grlu.cli train backprop-mnist --epochs 1 --out backprop-e1.h5 \
   --no-progress --no-plot --overwrite) > "$RUNS/baseline-after.log" 2>&1
mkdir -p "$RUNS/baseline-before"
cp /work/baseline/grlu-pairs1-e1.h5 /work/baseline/backprop-e1.h5 "$RUNS/baseline-before/"
python "$HERE/compare.py" "$RUNS/baseline-before" "$RUNS/baseline-after" "$HERE/coordinator-baseline.json"

# 3. resume after a kill (SIGKILL as soon as epoch 1 is checkpointed)
R="$RUNS/resume"; mkdir -p "$R/full" "$R/resumed"
ARGS="backprop-mnist --epochs 2 --train-limit 10000 --no-progress --no-plot"
PYTHONPATH="$REPO" python -m neuro_grlu.cli train $ARGS --out "$R/full/backprop.h5" --overwrite > "$R/full.log" 2>&1
rm -f "$R/resumed/backprop.h5"
PYTHONPATH="$REPO" python - "$R/resumed/backprop.h5" $ARGS > "$R/interrupted.log" 2>&1 <<'PY'
import signal, subprocess, sys, time
from neuro_grlu.io import read_run
out, args = sys.argv[1], sys.argv[2:]
proc = subprocess.Popen([sys.executable, "-m", "neuro_grlu.cli", "train", *args, "--out", out])
while proc.poll() is None:
    try:
        if read_run(out).epochs_completed >= 1:
            proc.send_signal(signal.SIGKILL)
            break
    except Exception:
        pass
    time.sleep(0.1)
print("killed run exit status", proc.wait())
run = read_run(out)
print("file after the kill: status", run.status, "epochs_completed", run.epochs_completed)
PY
PYTHONPATH="$REPO" python -m neuro_grlu.cli train $ARGS --out "$R/resumed/backprop.h5" --resume > "$R/resumed.log" 2>&1
python "$HERE/compare.py" "$R/full" "$R/resumed" "$HERE/resume-backprop.json"
cat "$R/interrupted.log" "$R/resumed.log" > "$HERE/resume-backprop.log"

# 4. divergence
PYTHONPATH="$REPO" python -m neuro_grlu.cli train grlu-mnist-pairs1 --epochs 3 --set rule.lr_max=1e10 --out "$RUNS/diverged.h5" \
  --no-progress --no-plot --overwrite > "$HERE/divergence.log" 2>&1; echo "exit status $?" >> "$HERE/divergence.log"
PYTHONPATH="$REPO" python -c "from neuro_grlu.io import read_run; r = read_run('$RUNS/diverged.h5'); print('status', r.status, 'epochs_completed', r.epochs_completed)" >> "$HERE/divergence.log"
uptime > "$HERE/load.txt"
