#!/usr/bin/env bash
# Session plan for two CPU lanes of one thread (resumable; a finished run is skipped):
#   lane_a: the paper's experiments, lane a (python build.py experiments --lane a), then the
#           colour network at x2, then another cycle of 9-5-5 x3 on the 491-image set (x3_955v).
#   lane_b: the experiments' lane b, the colour network at x4, then 9-5-5 x4 (x4_955v).
# x3_955v / x4_955v run with bf16 autocast where the CPU has AMX (AMP=bf16, about 2x faster than
# float32 on one core; weights, optimizer and EMA stay float32); AMP=none gives float32.
#   bash training/recipes/v3.sh            # both lanes in the background, logs in runs/
#   bash training/recipes/v3.sh lane_a     # one lane in the foreground
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PYTHON:-python}
if [ -z "${AMP:-}" ]; then
  if grep -qw amx_bf16 /proc/cpuinfo 2>/dev/null; then AMP=bf16; else AMP=none; fi
fi
export EXTRA_A="--amp $AMP"   # read by v2.sh x3 / x4

lane_a() {
  $PY build.py experiments --lane a
  bash training/recipes/colour.sh 2
  bash training/recipes/v2.sh x3
}

lane_b() {
  $PY build.py experiments --lane b
  bash training/recipes/colour.sh 4
  bash training/recipes/v2.sh x4
}

mkdir -p runs
if [ $# -gt 0 ]; then
  "$1"
else
  nice -n 10 bash "$0" lane_a > runs/v3_lane_a.log 2>&1 &
  nice -n 10 bash "$0" lane_b > runs/v3_lane_b.log 2>&1 &
  wait
fi
