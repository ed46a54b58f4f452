#!/usr/bin/env bash
# The short GPU recipe (issue 3): fine-tune the DP student from the shipped weights on one GPU for a few
# minutes, three variants side by side on the same card (render loss on synthetic v1 / v2 data, label L1 on
# v2), synthetic samples rendered by worker processes (models/sample_pool.py).
#   OUT=/tmp/gpu-train MINUTES=2.5 WORKERS=5 bash models/train_gpu.sh
#   MODEL=dp-disparity-v2 OUT=/tmp/gpu-train bash models/train_gpu.sh     # another registered DP student
# Writes $OUT/<variant>/$MODEL.{pt,md} and $OUT/train.log. Pick a variant on the dev scenes
# (python benchmarks/quality.py --models-dir ...), never on the holdouts.
set -u
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/dplf-gpu-train}
MODEL=${MODEL:-dp-disparity-v1}
mkdir -p "$OUT"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
PY=${PYTHON:-python3}
common=(--device cuda --workers "${WORKERS:-5}" --minutes "${MINUTES:-2.5}" --batch 16 --size 192 --buffer 256
        --refresh 2 --model "$MODEL" --init "${INIT:-models/weights/$MODEL.pt}" --no-export --threads 1 ${EXTRA:-})
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
for variant in render-v1 render-v2 l1-v2; do
    $PY -m models.training.cli dp "${common[@]}" --dp-loss "${variant%-*}" --synthetic "${variant#*-}" \
        --out "$OUT/$variant" > "$OUT/$variant.log" 2>&1 &
done
wait
for variant in render-v1 render-v2 l1-v2; do
    echo "== $variant"; cat "$OUT/$variant.log"; rm -f "$OUT/$variant.log"
done > "$OUT/train.log"
grep -h "done\|Error\|error" "$OUT/train.log" | cut -c1-400
