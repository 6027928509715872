#!/usr/bin/env bash
# classify.py of an export in a virtual environment holding only its own dependencies (numpy, soundfile,
# soxr and the runtime): no TensorFlow, Keras, librosa or audioclf. Exports every shipped model (or those
# named) as ONNX and TFLite with this repository's .venv, then, in a fresh venv, runs classify.py on every
# example clip and checks the top class and "none of these" against `python -m audioclf predict --json`.
#
#   scripts/check_export_venv.sh                     # every shipped model
#   scripts/check_export_venv.sh fsdd_speech         # one
#
# Needs the package registry (pip) for the clean venv; about a minute per model on two cores.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PY="${PYTHON:-$ROOT/.venv/bin/python}"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
pin() { grep -i "^$1==" "$ROOT/requirements.txt" | cut -d' ' -f1; }
python3 -m venv "$WORK/clean"
"$WORK/clean/bin/pip" install --quiet "$(pin numpy)" "$(pin soundfile)" "$(pin soxr)" "$(pin onnxruntime)" \
    "$(pin ai-edge-litert)"
(cd "$WORK" && "$WORK/clean/bin/python" -c "import importlib.util as u, sys; bad=[m for m in ('tensorflow','keras','librosa','audioclf') if u.find_spec(m)]; sys.exit(f'not clean: {bad}' if bad else 0)")
MODELS=("$@")
if [ ${#MODELS[@]} -eq 0 ]; then MODELS=($(ls "$ROOT/pretrained" | grep -v backbones)); fi
CLIPS=("$ROOT"/examples/*.ogg "$ROOT"/examples/*.wav)
fail=0
for m in "${MODELS[@]}"; do
  (cd "$ROOT" && "$PY" -m audioclf predict "pretrained/$m" "${CLIPS[@]}" --json --no-attention 2>/dev/null) > "$WORK/ref.json"
  for fmt in onnx tflite; do
    (cd "$ROOT" && "$PY" -m audioclf export "pretrained/$m" --format "$fmt" --out "$WORK/$m-$fmt" --no-check --json 2>/dev/null) >/dev/null
    (cd "$WORK" && "$WORK/clean/bin/python" "$WORK/$m-$fmt/classify.py" "${CLIPS[@]}" --json) > "$WORK/got.json"
    "$WORK/clean/bin/python" - "$WORK/ref.json" "$WORK/got.json" "$m" "$fmt" <<'PYEOF' || fail=1
import json, sys
ref, got = (json.load(open(p)) for p in sys.argv[1:3])
bad = [(r["file"], r["top"][0]["label"], g["top"][0]["label"]) for r, g in zip(ref, got)
       if r["top"][0]["label"] != g["top"][0]["label"] or r["unknown"] != g["unknown"]]
diff = max(abs(a - b) for r, g in zip(ref, got) for wr, wg in zip(r["windows"], g["windows"])
           for a, b in zip(wr["probs"], wg["probs"]))
print(f"{sys.argv[3]} {sys.argv[4]}: {len(ref) - len(bad)}/{len(ref)} clips with predict's top class and verdict, "
      f"largest window probability difference {diff:.3f} (3 decimals)" + (f"; differ: {bad}" if bad else ""))
sys.exit(1 if bad else 0)
PYEOF
  done
done
exit $fail
