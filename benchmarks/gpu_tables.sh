#!/usr/bin/env bash
# Profile and validate torch-cuda tables of the default proxyless space on an NVIDIA GPU.
# Usage (on the GPU machine, from the repository root): benchmarks/gpu_tables.sh OUT_DIR [SAMPLES]
# Writes <space>-torch-cuda-<config>.json tables and their .validation.json reports to OUT_DIR.
set -euo pipefail
out=${1:?usage: benchmarks/gpu_tables.sh OUT_DIR [SAMPLES]}
samples=${2:-100}
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
mkdir -p "$out"
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm,temperature.gpu,power.draw \
  --format=csv | tee "$out/nvidia-smi.csv"
for config in "fp32 1" "fp16 1" "fp32 64"; do
  set -- $config
  name="proxyless-torch-cuda-b$2-$1"
  start=$(date +%s)
  python3 cli.py profile --backend torch-cuda --dtype "$1" --batch "$2" -o "$out/$name.json" --json \
    | python3 -c "import json,sys; d=json.load(sys.stdin); print('$name', d['entries'], 'ops, sum p50', round(d['sum_p50_ms'],3), 'ms')"
  mid=$(date +%s)
  python3 cli.py tables validate "$out/$name.json" --samples "$samples" --out "$out/$name.validation.json" \
    | grep -v "^validating"
  echo "$name: profile $((mid - start)) s, validate $(( $(date +%s) - mid )) s"
  rm -f "$out/$name.validation.png"  # re-drawn from the JSON report where it is read
done
