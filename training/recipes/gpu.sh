#!/usr/bin/env bash
# Second stage of the shipped weights, on one CUDA GPU: continues the four CPU runs of
# shipped.sh (their committed runs/*/last.pt) with a much larger budget, eight runs sharing the
# GPU for a fixed wall time: each shipped model with the 291 images as they are ("g") and with
# shrunk copies added ("ga", --hr-scales 1,0.9,0.8,0.7,0.6). Each run fixes its step count from
# its measured speed after 300 steps (--deadline) and records it in runs/NAME/args.json;
# `python build.py weights` then ships, per model, the run with the better Set5 PSNR.
#   BUDGET_S=480 bash training/recipes/gpu.sh          # wall seconds for the training
# To rerun a recorded result exactly: the same options with --steps N from its args.json and
# no --deadline. SRCNN_TRAIN_DATA may point at a folder of the 291 images' Y channels as 8-bit
# grey PNGs (training/recipes/make_y_folder.py makes it; same patches, a third of the bytes).
set -uo pipefail
cd "$(dirname "$0")/../.."
PY=${PYTHON:-python3}
BUDGET_S=${BUDGET_S:-480}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}  # eight processes share the CPU while they build their data
DATA=${SRCNN_TRAIN_DATA:+--data $SRCNN_TRAIN_DATA}
VAL=${SRCNN_VAL:+--val $SRCNN_VAL}
DEADLINE=$(( $(date +%s) + BUDGET_S ))
rm -rf runs/.ready
COMMON="--patch 128 --batch 64 --lr 6e-4 --val-every 1000 --ckpt-every 1000 --deadline $DEADLINE
        --barrier runs/.ready,8 $DATA $VAL ${GPU_SH_EXTRA:-}"
AUG="--hr-scales 1,0.9,0.8,0.7,0.6"
run() {  # NAME INIT_RUN SCALE FILTERS EXTRA...
  local name=$1 init=$2 scale=$3 filters=$4; shift 4
  $PY -m srcnn.training.train --name "$name" --init "runs/$init/last.pt" --scales "$scale" \
      --filters "$filters" $COMMON "$@" > "runs/$name.log" 2>&1 &
}
mkdir -p runs
if [ "${STAGE:-1}" = 2 ]; then
  # Stage 2: another cosine cycle for the four "ga" runs (shrunk copies won in all four), at a
  # lower peak lr, four runs sharing the GPU.
  COMMON="${COMMON/runs\/.ready,8/runs/.ready,4} --lr 3e-4"
  for m in x2_955:2:9-5-5 x3_955:3:9-5-5 x4_955:4:9-5-5 x3_915:3:9-1-5; do
    IFS=: read n s f <<< "$m"
    run ${n}h ${n}ga $s $f $AUG
  done
  wait; tail -n 3 runs/*h.log; exit 0
fi
for v in g ga; do
  extra=""; [ $v = ga ] && extra=$AUG
  run x2_955$v x2_955 2 9-5-5 $extra
  run x3_955$v x3_955 3 9-5-5 $extra
  run x4_955$v x4_955 4 9-5-5 $extra
  run x3_915$v x3_915 3 9-1-5 $extra
done
wait
tail -n 3 runs/*.log
