#!/usr/bin/env bash
# Stage 3 (CPU, 2 threads): fine-tune a GPU-stage model with --pad-borders, i.e. on input patches
# cut from the replicate-padded image exactly as the core runs it, so the pixels within the
# receptive-field radius of the edges are trained as they are used. Resumable like every stage.
#   bash training/recipes/border.sh x4_955h x4_955p 4 9-5-5 12000
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PYTHON:-python}
src=$1 name=$2 scale=$3 filters=$4 steps=$5
$PY build.py train --name "$name" --init "runs/$src/last.pt" --scales "$scale" --filters "$filters" \
  --pad-borders --hr-scales 1,0.9,0.8,0.7,0.6 --batch 32 --patch 96 --lr 2e-4 --steps "$steps" \
  --val-every 500 --ckpt-every 250 --threads 2 ${TRAIN_EXTRA:-}
