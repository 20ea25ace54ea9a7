#!/usr/bin/env bash
# Stage 5, one CUDA GPU, one short job (under 10 minutes with the start): every model of the
# weights issue and every run of the paper's experiments at once, sharing the GPU.
#   - 9-5-5 x3 and x4 another cycle on the 491-image set less the validation split ("w");
#   - the fast variants: 9-1-5 x2 / x4 and 9-3-5 x3 ("w", from the 9-1-5 x3 model);
#   - the RGB colour network x2 / x3 / x4 from the Y models ("rgbw");
#   - the 17 runs of `python build.py experiments` at their CPU budget (fixed step counts, so
#     the tables stay comparable with CPU reruns; resumable if the job is cut short).
# The weights runs fix their step count from their measured speed (--deadline after a barrier),
# recorded in runs/NAME/args.json, so `python build.py reproduce NAME` reruns them anywhere.
#   BUDGET_S=420 bash training/recipes/gpu2.sh      # then copy runs/ back; see device_run.sh
set -uo pipefail
cd "$(dirname "$0")/../.."
PY=${PYTHON:-python3}
BUDGET_S=${BUDGET_S:-420}
RUNS_OUT=${RUNS_OUT:-runs}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
DEADLINE=$(( $(date +%s) + BUDGET_S ))
N=8
rm -rf "$RUNS_OUT/.ready2"
mkdir -p "$RUNS_OUT"
SPLIT="--data T91,BSD200_train,BSDS500_test --holdout training/splits/val20.txt --val training/splits/val20.txt"
COMMON="--runs $RUNS_OUT --patch 128 --batch 64 --val-every 500 --ckpt-every 500 --hr-scales 1,0.9,0.8,0.7,0.6
        --pad-borders $SPLIT --deadline $DEADLINE --barrier $RUNS_OUT/.ready2,$N"
run() {  # NAME INIT_RUN EXTRA...
  local name=$1 init=$2; shift 2
  local from="$RUNS_OUT/$init/last.pt"; [ -f "$from" ] || from="runs/$init/last.pt"
  $PY -m srcnn.training.train --name "$name" --init "$from" $COMMON "$@" > "$RUNS_OUT/$name.log" 2>&1 &
}
run x3_955w x3_955h --scales 3 --filters 9-5-5 --lr 2e-4
run x4_955w x4_955r --scales 4 --filters 9-5-5 --lr 2e-4
run x2_915w x3_915h --scales 2 --filters 9-1-5 --lr 4e-4
run x4_915w x3_915h --scales 4 --filters 9-1-5 --lr 4e-4
run x3_935w x3_915h --scales 3 --filters 9-3-5 --lr 3e-4
run x2_955rgbw x2_955h --scales 2 --filters 9-5-5 --colour rgb --lr 1e-4
run x3_955rgbw x3_955h --scales 3 --filters 9-5-5 --colour rgb --lr 1e-4
run x4_955rgbw x4_955r --scales 4 --filters 9-5-5 --colour rgb --lr 1e-4
# The experiments: both lanes at once on the GPU (each lane's runs one after the other).
$PY build.py experiments --lane a --runs "$RUNS_OUT" > "$RUNS_OUT/experiments_a.log" 2>&1 &
$PY build.py experiments --lane b --runs "$RUNS_OUT" > "$RUNS_OUT/experiments_b.log" 2>&1 &
sleep $(( BUDGET_S + 60 ))
pkill -f "build.py experiments" || true   # what did not finish resumes on the next machine
wait
tail -n 2 "$RUNS_OUT"/*.log
