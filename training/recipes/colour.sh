#!/usr/bin/env bash
# The paper's colour network (Table 5: RGB was best overall), shipped as --model 9-5-5-rgb.
# Each RGB model starts from the shipped Y model of its scale at exactly the Y pipeline's
# result (srcnn.training.model.rgb_from_y: the same function, bicubic chroma), then learns all
# three channels on the 491-image set less the validation split, validated on the image PSNR
# of the paper's Table 5. One lane of one thread, resumable; x3 first.
#   bash training/recipes/colour.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PYTHON:-python}
T="$PY build.py train --threads ${THREADS:-1} --colour rgb --data T91,BSD200_train,BSDS500_test
   --holdout training/splits/val20.txt --val training/splits/val20.txt --hr-scales 1,0.9,0.8,0.7,0.6
   --pad-borders --batch 32 --patch 96 --lr 1e-4 --warmup 100 --val-every 250 --ckpt-every 250"
$T --name x3_955rgb --init runs/x3_955h/last.pt --scales 3 --steps ${STEPS:-2000}
$T --name x2_955rgb --init runs/x2_955h/last.pt --scales 2 --steps ${STEPS:-2000}
$T --name x4_955rgb --init runs/x4_955r/last.pt --scales 4 --steps ${STEPS:-2000}
