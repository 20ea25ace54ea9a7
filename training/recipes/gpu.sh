#!/usr/bin/env bash
# GPU stages of the shipped weights (one CUDA GPU; what ran on a lent H200, see device_run.sh).
# They continue the four CPU runs of shipped.sh (their committed runs/*/last.pt):
#   stage 1: eight runs sharing the GPU: each model with the 291 images as they are ("g") and
#            with shrunk copies added ("ga", --hr-scales 1,0.9,0.8,0.7,0.6); "ga" won for all four;
#   stage 2 (STAGE=2): another cosine cycle from each "ga" run at a lower peak lr ("h").
# Each run fixes its step count from its measured speed after 300 steps (--deadline, all runs
# starting together after a barrier) and records it in runs/NAME/args.json.
#   BUDGET_S=440 bash training/recipes/gpu.sh            # stage 1, 440 s of training
#   STAGE=2 BUDGET_S=320 bash training/recipes/gpu.sh    # stage 2
# Rerun with the recorded step counts instead (any machine; CUDA when present):
#   RECORDED=1 RUNS_OUT=/tmp/rerun bash training/recipes/gpu.sh; RECORDED=1 STAGE=2 RUNS_OUT=/tmp/rerun bash ...
# SRCNN_TRAIN_DATA may point at a folder of the 291 images' Y channels as 8-bit grey PNGs
# (make_y_folder.py; the same training pairs from a third of the bytes, what was carried to the GPU).
set -uo pipefail
cd "$(dirname "$0")/../.."
PY=${PYTHON:-python3}
BUDGET_S=${BUDGET_S:-480}
RUNS_OUT=${RUNS_OUT:-runs}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}  # eight processes share the CPU while they build their data
DATA=${SRCNN_TRAIN_DATA:+--data $SRCNN_TRAIN_DATA}
VAL=${SRCNN_VAL:+--val $SRCNN_VAL}
DEADLINE=$(( $(date +%s) + BUDGET_S ))
N=8; [ "${STAGE:-1}" = 2 ] && N=4
rm -rf "$RUNS_OUT/.ready"
mkdir -p "$RUNS_OUT"
COMMON="--runs $RUNS_OUT --patch 128 --batch 64 --lr 6e-4 --val-every 1000 --ckpt-every 1000 $DATA $VAL ${GPU_SH_EXTRA:-}"
AUG="--hr-scales 1,0.9,0.8,0.7,0.6"
run() {  # NAME INIT_RUN SCALE FILTERS EXTRA...
  local name=$1 init=$2 scale=$3 filters=$4; shift 4
  local from="$RUNS_OUT/$init/last.pt"; [ -f "$from" ] || from="runs/$init/last.pt"
  local timing="--deadline $DEADLINE --barrier $RUNS_OUT/.ready,$N"
  if [ -n "${RECORDED:-}" ]; then
    timing="--steps $($PY -c "import json; print(json.load(open('runs/$name/args.json'))['args']['steps'])")"
  fi
  $PY -m srcnn.training.train --name "$name" --init "$from" --scales "$scale" --filters "$filters" \
      $COMMON $timing "$@" > "$RUNS_OUT/$name.log" 2>&1 &
}
if [ "${STAGE:-1}" = 2 ]; then
  for m in x2_955:2:9-5-5 x3_955:3:9-5-5 x4_955:4:9-5-5 x3_915:3:9-1-5; do
    IFS=: read n s f <<< "$m"
    run ${n}h ${n}ga $s $f $AUG --lr 3e-4
  done
else
  for v in g ga; do
    extra=""; [ $v = ga ] && extra=$AUG
    run x2_955$v x2_955 2 9-5-5 $extra
    run x3_955$v x3_955 3 9-5-5 $extra
    run x4_955$v x4_955 4 9-5-5 $extra
    run x3_915$v x3_915 3 9-1-5 $extra
  done
fi
wait
tail -n 2 "$RUNS_OUT"/*.log
