#!/usr/bin/env bash
# Session plan for two CPU lanes of one thread (resumable; a finished run is skipped):
#   lane_a: the paper's experiments, lane a (python build.py experiments --lane a), the colour
#           network at x2, a third cycle of 9-1-5 x2 (x2_915x: val20 still rose 0.09 dB in
#           x2_915w's 3,000 steps), then another cycle of 9-5-5 x3 on the 491-image set (x3_955v).
#   lane_b: the experiments' lane b, the colour network at x4, a second cycle of 9-3-5 x3
#           (x3_935w), then 9-5-5 x4 (x4_955v).
# The runs after the colour network use bf16 autocast where the CPU has AMX (AMP=bf16, about 2x
# faster than float32 on one core; weights, optimizer and EMA stay float32); AMP=none: float32.
#   bash training/recipes/v3.sh            # both lanes in the background, logs in runs/
#   bash training/recipes/v3.sh lane_a     # one lane in the foreground
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PYTHON:-python}
if [ -z "${AMP:-}" ]; then
  if grep -qw amx_bf16 /proc/cpuinfo 2>/dev/null; then AMP=bf16; else AMP=none; fi
fi
export EXTRA_A="--amp $AMP"   # read by v2.sh x3 / x4
T="$PY build.py train --threads 1 --data T91,BSD200_train,BSDS500_test --holdout training/splits/val20.txt
   --val training/splits/val20.txt --hr-scales 1,0.9,0.8,0.7,0.6 --pad-borders --val-every 500 --ckpt-every 250
   --batch 32 --patch 96 --amp $AMP"

lane_a() {
  $PY build.py experiments --lane a
  bash training/recipes/colour.sh 2
  $T --name x2_915x --init runs/x2_915w/last.pt --scales 2 --filters 9-1-5 --lr 3e-4 --steps ${STEPS_X:-4000}
  bash training/recipes/v2.sh x3
}

lane_b() {
  $PY build.py experiments --lane b
  bash training/recipes/colour.sh 4
  $T --name x3_935w --init runs/x3_935v/last.pt --scales 3 --filters 9-3-5 --lr 3e-4 --steps ${STEPS_X:-4000}
  bash training/recipes/v2.sh x4
}

mkdir -p runs
if [ $# -gt 0 ]; then
  "$1"
else
  nice -n 10 bash "$0" lane_a >> runs/v3_lane_a.log 2>&1 &
  nice -n 10 bash "$0" lane_b >> runs/v3_lane_b.log 2>&1 &
  wait
fi
