"""Second step of the GPU check: load the bundles trained on the GPU (torch backend) here on TensorFlow.

``python scripts/gpu_check_verify.py OUT`` unpacks each ``OUT/*.zip`` safely, loads it with the library's
checks, predicts the probe windows saved beside them and compares with the GPU's predictions. Mixed precision
computes in float16 on the GPU, so probabilities must agree within 0.02 and the top class must be the same.
Exit status 0 when every bundle agrees, 1 otherwise.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np


def main(argv: list[str]) -> int:
    from audioclf.engine.bundle import import_zip
    from audioclf.engine.inference import predict_windows

    out = Path(argv[0]) if argv else Path("gpu_check_out")
    probes = np.load(out / "probes.npz", allow_pickle=False)
    zips = sorted(out.glob("*.zip"))
    if not zips:
        print(f"error: no bundle zips in {out}", file=sys.stderr)
        return 1
    failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        for z in zips:
            name = z.stem
            bundle = import_zip(z.read_bytes(), Path(tmp) / name)
            got = predict_windows(bundle, probes[f"x_{name}"])
            want = probes[f"p_{name}"]
            diff = float(np.max(np.abs(got - want)))
            same_top = bool(np.all(got.argmax(1) == want.argmax(1)))
            ok = diff <= 0.02 and same_top
            failed += not ok
            trained = bundle.description.get("training", {}).get("device", {}).get("device", "?")
            print(f"{'ok ' if ok else 'BAD'} {name:14s} max |diff| {diff:.2e}, same top class: {same_top} "
                  f"(trained on {trained})")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
