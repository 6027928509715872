#!/usr/bin/env bash
# GPU check (issue 18), for a machine with an NVIDIA GPU and PyTorch but no TensorFlow (the device tool's
# nvidia-h200). Keras runs there on the torch backend. From the repository root, with the wheels of
# scripts/gpu_wheels.sh in .whl/ (carried with the working tree):
#   bash scripts/gpu_check.sh [OUT]        # OUT: $OUT, else ./gpu_check_out
# It installs the carried wheels, trains three zoo models (and a transfer head when audioclf.backbones exists)
# for a few epochs on the GPU in mixed precision, times the same training on the CPU, prints samples/s, and writes
# the bundles (zipped) with probe predictions to OUT. Back on a CPU machine with TensorFlow:
#   .venv/bin/python scripts/gpu_check_verify.py OUT      # loads them on TensorFlow, checks they predict the same
# Budget: under 8 minutes (4 epochs on the GPU, 2 on the CPU; samples/s leave out the first epoch, which compiles).
set -euo pipefail
OUT=${1:-${OUT:-gpu_check_out}}
PY=${PYTHON:-python3}
mkdir -p "$OUT"
if ls .whl/*.whl >/dev/null 2>&1; then
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
  export PYTHONPATH="/tmp/site:${PYTHONPATH:-}"
fi
export PYTHONPATH="$PWD:${PYTHONPATH:-}" KERAS_BACKEND=${KERAS_BACKEND:-torch} AUDIOCLF_CACHE=/tmp/audioclf_cache
nvidia-smi -L || true
"$PY" -m audioclf device
"$PY" scripts/gpu_check.py --out "$OUT" --side gpu
CUDA_VISIBLE_DEVICES="" "$PY" scripts/gpu_check.py --out "$OUT" --side cpu
"$PY" scripts/gpu_check.py --out "$OUT" --side report
