#!/usr/bin/env bash
# Session plan for two CPU lanes of one thread (resumable; a finished run is skipped), after
# v5.sh. The one must of issue 12 still open is the 9-5-5 x4 self-ensemble on Set14 (27.627
# with x4_955zh, must 27.65); every x4 cycle of v5.sh still gained on val20 (+0.002 dB), so
# both lanes go on with x4 from x4_955zh, two ways:
#   lane_a: more 5,000-step --regrow cycles (x4_955zi-zl), as v5.sh, then one of 20,000 steps
#           from lane_b's x4_955la (x4_955ma), the colour network from it, cycles from it.
#   lane_b: the colour network from the new x3 / x4 Y models (2,000 steps each), then
#           10,000-step x4 cycles (x4_955la, lb, ...): does a longer cycle gain more per step?
# bf16 autocast where the CPU has AMX (AMP=bf16), else float32 (AMP=none).
# Needs v5.sh's runs: without arguments it runs v5.sh (both lanes) to the end first; a lane
# started alone waits for the runs it starts from (and for the other lane's, x4_955la).
#   bash training/recipes/v6.sh            # both lanes in the background, logs in runs/
#   bash training/recipes/v6.sh lane_a     # one lane in the foreground
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PYTHON:-python}
if [ -z "${AMP:-}" ]; then
  if grep -qw amx_bf16 /proc/cpuinfo 2>/dev/null; then AMP=bf16; else AMP=none; fi
fi
T="$PY build.py train --threads 1 --data T91,BSD200_train,BSDS500_test --holdout training/splits/val20.txt
   --val training/splits/val20.txt --hr-scales 1,0.9,0.8,0.7,0.6 --pad-borders --val-every 500 --ckpt-every 250
   --batch 32 --patch 96 --amp $AMP --revive --regrow 8,4 --scales 4 --filters 9-5-5 --lr 3e-4"

wait_for() {  # a finished run (runs/NAME/done), written by another lane or recipe
  [ -e "runs/$1/done" ] || echo "waiting for runs/$1 to finish"
  until [ -e "runs/$1/done" ]; do sleep 60; done
}

lane_a() {
  wait_for x4_955zh
  local prev=x4_955zh
  for n in zi zj zk zl; do
    $T --name x4_955$n --init runs/$prev/last.pt --steps ${STEPS_955X:-5000}
    prev=x4_955$n
  done
  # Three 5,000-step cycles (zi-zk, val20 26.763 / 26.764 / 26.765) did less than one 10,000-step
  # cycle (x4_955la, 26.766): from there, one cycle of 20,000 steps.
  wait_for x4_955la
  $T --name x4_955ma --init runs/x4_955la/last.pt --steps ${STEPS_LONGER:-20000}
  # The colour network once more, from x4_955ma: x4_955rgbma
  SUFFIX=ma AMP=$AMP FROM4=runs/x4_955ma/last.pt bash training/recipes/colour.sh 4
  # x4_955ma: val20 26.775 (la 26.766, lb 26.769, lc 26.772); then 10,000-step cycles from it.
  $T --name x4_955mb --init runs/x4_955ma/last.pt --steps ${STEPS_LONG:-10000}
  $T --name x4_955mc --init runs/x4_955mb/last.pt --steps ${STEPS_LONG:-10000}
}

lane_b() {
  wait_for x3_955zf
  wait_for x4_955zh
  # The colour network again from the new Y models (its Y fell below theirs): x3_955rgbz, x4_955rgbz.
  SUFFIX=z AMP=$AMP FROM3=runs/x3_955zf/last.pt FROM4=runs/x4_955zh/last.pt bash training/recipes/colour.sh 3 4
  local prev=x4_955zh
  for n in la lb lc ld le; do
    $T --name x4_955$n --init runs/$prev/last.pt --steps ${STEPS_LONG:-10000}
    prev=x4_955$n
  done
}

mkdir -p runs
if [ $# -gt 0 ]; then
  "$1"
else
  bash training/recipes/v5.sh
  nice -n 10 bash "$0" lane_a >> runs/v6_lane_a.log 2>&1 &
  nice -n 10 bash "$0" lane_b >> runs/v6_lane_b.log 2>&1 &
  wait
fi
