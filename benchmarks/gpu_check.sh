#!/usr/bin/env bash
# The GPU check (issue 4), one script for a machine with torch, CuPy and nvcc and nothing else installed:
#   1. kernel parity (CUDA vs CPU reference) + the torch-cuda backend / GPU hot path end to end (pytest);
#   2. kernel times next to their bytes-moved floors (benchmarks/gpu_kernels.py);
#   3. speed.py at 256x192, 640x480, 1280x720, 1920x1080, 7x7 views, uint8 views back on the host,
#      the paper's network on the same GPU as the baseline row.
#   2b. the DP student's kernel choices (benchmarks/gpu_dp_variants.py); SPEED_MATCHING=cuda|matmul adds a speed
#      run with that DP matching implementation.
# Results go to $OUT (default benchmarks/results/gpu-check/); each step runs even if an earlier one failed.
#   bash benchmarks/gpu_check.sh            # then copy $OUT/*.json to benchmarks/results/<kind>-<date>.json
set -u
cd "$(dirname "$0")/.."
OUT=${OUT:-benchmarks/results/gpu-check}
mkdir -p "$OUT"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
PY=${PYTHON:-python3}
SIZES=${SIZES:-256x192,640x480,1280x720,1920x1080}
status=0

nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm,temperature.gpu \
    --format=csv | tee "$OUT/nvidia-smi.txt"
$PY -c "import torch, cupy, onnxruntime; print('torch', torch.__version__, 'cupy', cupy.__version__, \
'onnxruntime', onnxruntime.__version__, 'nvcc', __import__('shutil').which('nvcc'))" | tee -a "$OUT/nvidia-smi.txt"

echo "== 1. parity + torch-cuda end to end"
timeout 300 $PY -m pytest -q -rs --tb=short -p no:cacheprovider tests/test_kernels_cuda.py \
    tests/test_gpu_pipeline.py -k "not nvcc_compiles" 2>&1 | tee "$OUT/pytest.txt"
[ "${PIPESTATUS[0]}" = 0 ] || status=1

if [ -z "${SKIP_KERNELS:-}" ]; then
    echo "== 2. kernels vs bytes-moved floors"
    timeout 120 $PY benchmarks/gpu_kernels.py --json "$OUT/kernels.json" 2>&1
    [ $? = 0 ] || status=1
fi

echo "== 2b. DP student kernel choices (conv/matmul x fp32/tf32/fp16)"
timeout 180 $PY benchmarks/gpu_dp_variants.py --json "$OUT/dp_variants.json" 2>&1
[ $? = 0 ] || status=1

echo "== 3. speed"
timeout ${SPEED_TIMEOUT:-360} $PY benchmarks/speed.py --backends torch-cuda --sizes "$SIZES" --baselines paper \
    --dtype uint8 --input-dtype uint8 --iters 300 --warmup 5 --max-seconds ${MAX_SECONDS:-3} --json "$OUT/speed.json" 2>&1 \
    | tee "$OUT/speed.txt"
[ "${PIPESTATUS[0]}" = 0 ] || status=1
if [ -n "${SPEED_MATCHING:-}" ]; then
    echo "== 3b. speed with DPLF_MATCHING=$SPEED_MATCHING"
    DPLF_MATCHING=$SPEED_MATCHING timeout ${SPEED_TIMEOUT:-360} $PY benchmarks/speed.py --backends torch-cuda \
        --sizes "$SIZES" --no-baselines --dtype uint8 --input-dtype uint8 --iters 300 \
        --warmup 5 --max-seconds ${MAX_SECONDS:-3} --json "$OUT/speed-$SPEED_MATCHING.json" 2>&1
    [ $? = 0 ] || status=1
fi
exit $status
