#!/usr/bin/env bash
# The paper's colour network (Table 5: RGB was best overall), shipped as --model 9-5-5-rgb.
# Each RGB model starts from the shipped Y model of its scale at exactly the Y pipeline's
# result (srcnn.training.model.rgb_from_y: the same function, bicubic chroma), then learns all
# three channels on the 491-image set less the validation split, validated on the image PSNR
# of the paper's Table 5. One lane of one thread, resumable; x3 first.
#   bash training/recipes/colour.sh          # x3, x2, x4 in turn
#   bash training/recipes/colour.sh 2 4      # these scales only
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PYTHON:-python}
T="$PY build.py train --threads ${THREADS:-1} --colour rgb --data T91,BSD200_train,BSDS500_test
   --holdout training/splits/val20.txt --val training/splits/val20.txt --hr-scales 1,0.9,0.8,0.7,0.6
   --pad-borders --batch 32 --patch 96 --lr 1e-4 --warmup 100 --val-every 250 --ckpt-every 250"
# FROM2 / FROM3 / FROM4: start from another Y run; SUFFIX: appended to the run name; AMP=bf16.
declare -A FROM=([3]=${FROM3:-runs/x3_955h/last.pt} [2]=${FROM2:-runs/x2_955h/last.pt} [4]=${FROM4:-runs/x4_955r/last.pt})
for s in "${@:-3 2 4}"; do
  for t in $s; do
    $T --name x${t}_955rgb${SUFFIX:-} --init "${FROM[$t]}" --scales "$t" --steps ${STEPS:-2000} --amp ${AMP:-none}
  done
done
