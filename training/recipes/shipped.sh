#!/usr/bin/env bash
# Reproduces the shipped weights: two lanes of one thread each (2-core CPU machine), each a
# sequence of resumable stages. Re-running continues where an interrupted run stopped and
# skips finished stages. Then `python build.py weights` exports runs/* to weights/.
#   bash training/recipes/shipped.sh            # both lanes, in the background, logs in runs/
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PYTHON:-python}
T="$PY build.py train --threads 1"

lane_a() {
  # 9-5-5 x3 from scratch (the headline model), then the fast 9-1-5 x3.
  $T --name x3_955 --scales 3 --filters 9-5-5 --steps 17000 --lr 6e-4
  $T --name x3_915 --scales 3 --filters 9-1-5 --steps 14000 --lr 6e-4
}

lane_b() {
  # One 9-5-5 model for x2 and x4 together, then each scale fine-tuned from it.
  $T --name x24_955 --scales 2,4 --filters 9-5-5 --steps 15000 --lr 6e-4
  $T --name x2_955 --scales 2 --filters 9-5-5 --steps 5000 --lr 3e-4 --warmup 100 --init runs/x24_955/last.pt
  $T --name x4_955 --scales 4 --filters 9-5-5 --steps 5000 --lr 3e-4 --warmup 100 --init runs/x24_955/last.pt
}

mkdir -p runs
lane_a > runs/lane_a.log 2>&1 &
lane_b > runs/lane_b.log 2>&1 &
wait
