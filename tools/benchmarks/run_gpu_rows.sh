#!/usr/bin/env bash
# The GPU rows of the performance table in docs/benchmarks.md, in one run.
#
# Usage:
#   bash tools/benchmarks/run_gpu_rows.sh OUT_DIR [DEVICE]
#   SMOKE=1 bash tools/benchmarks/run_gpu_rows.sh OUT_DIR cpu   # the same commands, tiny scale
#
# Writes one JSON per row and log.txt (every command, then its printed table)
# into OUT_DIR. DEVICE defaults to cuda. Every script records the card's name
# and the load average; each ratio is measured inside one script's run.
# SMOKE=1 runs the same commands on the tiny random SAM with a few small
# images, to check them on any machine (the test suite does); its figures
# mean nothing. PYTHON names the interpreter (default: python).
set -euo pipefail

out=${1:?usage: run_gpu_rows.sh OUT_DIR [DEVICE]}
device=${2:-cuda}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
mkdir -p "$out"
log="$out/log.txt"
: > "$log"

if [[ "${SMOKE:-0}" == 1 ]]; then
    encoders=(tiny); sams=(tiny); images=2; batch=2; threads=(--threads 1)
    pl_size=(--image-size 64); cam_scale=(--num-images 4 --batch-size 2 --size 64)
else
    encoders=(vit_b lite_medsam); sams=(vit_b lite_medsam); images=32; batch=8; threads=()
    pl_size=(); cam_scale=(--num-images 512 --batch-size 64)
fi

python=${PYTHON:-python}
run() {
    echo "\$ python $*" | tee -a "$log"
    "$python" "$@" 2>&1 | sed '/ - mmengine - WARNING - /d' | tee -a "$log"
}

# The encoder: bf16 fused attention in batches against stock float32.
run "$here/sam_encoder_efficiency.py" --variant "${encoders[@]}" --device "$device" \
    --num-images "$images" --batch-size "$batch" --fused "${threads[@]}" \
    --out "$out/sam_encoder_efficiency.json"
for sam in "${sams[@]}"; do
    # Pseudo-labels against a naive SamPredictor loop, 1 and 4 prompt sets per image.
    run "$here/pseudo_label_throughput.py" --variant "$sam" --device "$device" \
        --num-images "$images" --batch-size "$batch" --prompt-sets 1 4 "${pl_size[@]}" \
        "${threads[@]}" --out "$out/pseudo_label_throughput_$sam.json"
    # A tuning epoch from cached embeddings against one recomputing the encoder.
    for adapter in decoder cad_lean; do
        run "$here/tuning_epoch_cache.py" --variant "$sam" --adapter "$adapter" \
            --device "$device" --num-images "$((images / 2))" "${threads[@]}" \
            --out "$out/tuning_epoch_cache_${sam}_$adapter.json"
    done
done
# CAM generation with 4-rotation TTA against a naive loop.
run "$here/cam_throughput.py" --device "$device" "${cam_scale[@]}" "${threads[@]}" \
    --out "$out/cam_throughput.json"
echo "written: $out" | tee -a "$log"
