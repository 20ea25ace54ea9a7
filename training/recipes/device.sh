#!/usr/bin/env bash
# A stage on a lent GPU machine (no network; its own python3 with CUDA torch), run through the
# device tool from the repository root, with the datasets carried in .devdata/:
#   python training/recipes/devdata.py
#   run(command="RECIPE=training/recipes/photo_gpu.json bash training/recipes/device.sh",
#       carry=[".devdata"], timeout_s=590)
# Makes srcnn importable from the checkout, runs the stage's lanes (training/lanes.py), and
# copies runs/ of the stage to $OUT every 45 s and at the end (a cut-off run still returns its
# last checkpoint). Unpack here with: tar xzf FILES_AT/runs.tgz  (then python build.py weights).
cd "$(dirname "$0")/../.."
rm -rf /tmp/pkg && mkdir -p /tmp/pkg && cp -r core /tmp/pkg/srcnn && cp -r training /tmp/pkg/srcnn/training \
  && cp -r weights /tmp/pkg/srcnn/weights
export PYTHONPATH=/tmp/pkg PYTHONUNBUFFERED=1 SRCNN_DATASETS=${SRCNN_DATASETS:-$PWD/.devdata}
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
RECIPE=${RECIPE:-training/recipes/photo_gpu.json}
PREFIX=$(python3 -c "import json,sys; print(' '.join(r['name'] for l in json.load(open('$RECIPE'))['lanes'].values() for r in l))")
python3 -c "import srcnn, torch; print(torch.__version__, torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'cpu')" | tee "$OUT/gpu.txt"
pack() { tar czf "$OUT/runs.tgz.tmp" $(for n in $PREFIX; do [ -d "runs/$n" ] && echo "runs/$n"; done) runs/*.log 2>/dev/null \
  && mv "$OUT/runs.tgz.tmp" "$OUT/runs.tgz"; }
( while sleep 45; do pack; nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader >> "$OUT/gpu.txt" 2>/dev/null; done ) &
PACKER=$!
python3 -m srcnn.training.lanes "$RECIPE" --nice 0
kill $PACKER; pack
ls -la runs/
