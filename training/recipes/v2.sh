#!/usr/bin/env bash
# Stage 4 (CPU, two lanes of one thread, resumable): the shipped models continued on the
# 491-image set (T91 + BSD200_train + BSDS500_test) minus the 20 held-out validation images of
# training/splits/val20.txt, which every run validates on (never Set5/Set14); plus the fast
# variants of the paper at every scale (9-1-5 x2 / x4 from the 9-1-5 x3 model, 9-3-5 x3 from it
# with its 1x1 middle kernel placed in the centre of a 3x3 one: the same function at step 0).
# Step 0 of each log.csv is the started-from model on the validation split: the row to beat.
#   bash training/recipes/v2.sh            # both lanes in the background, logs in runs/
#   bash training/recipes/v2.sh lane_a     # one lane in the foreground
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PYTHON:-python}
T="$PY build.py train --threads 1 --data T91,BSD200_train,BSDS500_test --holdout training/splits/val20.txt
   --val training/splits/val20.txt --hr-scales 1,0.9,0.8,0.7,0.6 --pad-borders --val-every 500 --ckpt-every 250"

x3() {
  $T --name x3_955v --init runs/x3_955h/last.pt --scales 3 --filters 9-5-5 --batch 32 --patch 96 --lr 2e-4 --steps ${STEPS_A:-5000} ${EXTRA_A:-}
}

x4() {
  $T --name x4_955v --init runs/x4_955r/last.pt --scales 4 --filters 9-5-5 --batch 32 --patch 96 --lr 2e-4 --steps ${STEPS_A:-5000} ${EXTRA_A:-}
}

lane_a() {
  # The headline models: 9-5-5 x3, then x4, each another cosine cycle on the larger set.
  x3
  x4
}

lane_b() {
  # The fast variants (the paper's speed/quality trade-off), cheap enough for one thread.
  $T --name x4_915v --init runs/x3_915h/last.pt --scales 4 --filters 9-1-5 --batch 32 --patch 96 --lr 4e-4 --steps ${STEPS_B:-4000}
  $T --name x2_915v --init runs/x3_915h/last.pt --scales 2 --filters 9-1-5 --batch 32 --patch 96 --lr 4e-4 --steps ${STEPS_B:-4000}
  $T --name x3_935v --init runs/x3_915h/last.pt --scales 3 --filters 9-3-5 --batch 32 --patch 96 --lr 3e-4 --steps ${STEPS_B:-4000}
}

lane_c() {
  # 9-1-5 x2 from the x3 model was still 0.4 dB short on Set5 after 4000 steps (x2_915v, val20
  # still rising): a second cycle.
  $T --name x2_915w --init runs/x2_915v/last.pt --scales 2 --filters 9-1-5 --batch 32 --patch 96 --lr 3e-4 --steps ${STEPS_C:-3000}
}

mkdir -p runs
if [ $# -gt 0 ]; then
  "$1"
else
  nice -n 10 bash "$0" lane_a > runs/v2_lane_a.log 2>&1 &
  nice -n 10 bash "$0" lane_b > runs/v2_lane_b.log 2>&1 &
  wait
fi
