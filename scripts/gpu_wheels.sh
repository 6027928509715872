#!/usr/bin/env bash
# Fetch, on a machine that reaches PyPI, the wheels scripts/gpu_check.sh installs on a GPU machine that cannot
# (the device tool's nvidia-h200: Python 3.12 with PyTorch, JAX, NumPy, SciPy, scikit-learn, numba, h5py, rich...
# but no Keras, librosa or soundfile). Versions are requirements.txt's. Run from the repository root:
#   echo /.whl/ >> .git/info/exclude; bash scripts/gpu_wheels.sh
set -euo pipefail
PY=${PYTHON:-python3}
mkdir -p .whl
pins() { grep -iE "^($1)==" requirements.txt | sed 's/ .*//'; }
PKGS=$(pins 'keras|namex|optree|librosa|soundfile|soxr|audioread|pooch|platformdirs|decorator|noisereduce|cffi|pycparser')
for pkg in $PKGS; do
  "$PY" -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 --platform manylinux1_x86_64 --platform any -d .whl "$pkg"
done
ls -la .whl
