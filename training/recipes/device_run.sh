#!/usr/bin/env bash
# What ran on the lent GPU machine (no network, its own python3 with torch), as
#   OUT=... BUDGET_S=440 SRCNN_TRAIN_DATA=.devdata/train_y SRCNN_VAL=.devdata/Set5 bash training/recipes/device_run.sh
# and then the same with STAGE=2 BUDGET_S=320: make srcnn
# importable from the checkout, run gpu.sh, and keep copying the runs to $OUT as they go.
# Stage 5: RECIPE=gpu2.sh BUDGET_S=420 OUT=... bash training/recipes/device_run.sh (needs the
# datasets folder on the machine: SRCNN_DATASETS).
cd "$(dirname "$0")/../.."
rm -rf /tmp/pkg && mkdir -p /tmp/pkg && cp -r core /tmp/pkg/srcnn && cp -r training /tmp/pkg/srcnn/training \
  && cp -r weights /tmp/pkg/srcnn/weights
export PYTHONPATH=/tmp/pkg PYTHONUNBUFFERED=1
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
${PYTHON:-python3} -c "import srcnn, torch, numpy; print(srcnn.__file__, torch.__version__, numpy.__version__, torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'cpu')"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv > "$OUT/gpu.txt" 2>&1
pack() { tar czf "$OUT/runs.tgz.tmp" $(ls -d runs/*g runs/*ga runs/*h runs/*w runs/e_* 2>/dev/null) runs/*.log 2>/dev/null && mv "$OUT/runs.tgz.tmp" "$OUT/runs.tgz"; }
( while sleep 45; do pack; nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader >> "$OUT/gpu.txt"; done ) &
PACKER=$!
bash training/recipes/${RECIPE:-gpu.sh}
kill $PACKER; pack
ls -la runs/
