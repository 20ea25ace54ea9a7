#!/usr/bin/env bash
# Session plan after v6.sh. The one must of issue 12 still open is the 9-5-5 x4 self-ensemble on
# Set14 (27.646 with x4_955ma, must 27.65). In v6 longer regrow cycles gained more per step (from
# x4_955la: 20,000 steps +0.009 dB on val20, two of 10,000 +0.006), and x4_955mb (10,000 from
# x4_955ma) did not gain; so: one cycle of 20,000 steps from x4_955ma (x4_955na).
# This session's machine (AMD EPYC, AVX-512 bf16, no AMX) ran one lane of 2 threads at 0.27 s per
# step, two lanes of 1 thread at 0.48 s each: one lane of both cores finishes a long cycle first.
# bf16 autocast where the CPU has bf16 (AMX or AVX-512 bf16: about 2x float32 on both), else float32.
#   bash training/recipes/v7.sh            # in the background, log in runs/v7.log
#   bash training/recipes/v7.sh lane_a     # in the foreground
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PYTHON:-python}
if [ -z "${AMP:-}" ]; then
  if grep -qwE 'amx_bf16|avx512_bf16' /proc/cpuinfo 2>/dev/null; then AMP=bf16; else AMP=none; fi
fi
T="$PY build.py train --threads ${THREADS:-2} --data T91,BSD200_train,BSDS500_test --holdout training/splits/val20.txt
   --val training/splits/val20.txt --hr-scales 1,0.9,0.8,0.7,0.6 --pad-borders --val-every 500 --ckpt-every 250
   --batch 32 --patch 96 --amp $AMP --revive --regrow 8,4 --scales 4 --filters 9-5-5 --lr 3e-4"

wait_for() {  # a finished run (runs/NAME/done), written by another lane or recipe
  [ -e "runs/$1/done" ] || echo "waiting for runs/$1 to finish"
  until [ -e "runs/$1/done" ]; do sleep 60; done
}

lane_a() {
  wait_for x4_955ma
  $T --name x4_955na --init runs/x4_955ma/last.pt --steps ${STEPS_LONGER:-20000}
  # x4_955na: val20 26.779, shipped; the colour network again from it (x4_955rgbna)
  SUFFIX=na AMP=$AMP THREADS=${THREADS:-2} FROM4=runs/x4_955na/last.pt bash training/recipes/colour.sh 4
}

mkdir -p runs
if [ $# -gt 0 ]; then
  "$1"
else
  nice -n 10 bash "$0" lane_a >> runs/v7.log 2>&1 &
  wait
fi
