"""Score cross-validation models on band-limited copies of their held-out folds.

    python scripts/robustness.py RECIPE_A RECIPE_B      # e.g. build/pretrained/esc10_sfc_dcnn

Each argument is a folder of ESC-10 cross-validation bundles (``fold_1`` ... ``fold_4``, as
``scripts/build_pretrained.py`` leaves them). Every clip of a bundle's held-out fold is scored as
recorded and after zero-phase 8th-order Butterworth filters that stand for other recording chains
(a 4-kHz or 2-kHz low-pass, a 300-Hz high-pass, the 300-3400 Hz telephone band); the script prints a
Markdown table of clip accuracy (mean vote over windows), one column per folder. The ESC-10 model card
quotes its output.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import scipy.signal

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from build_pretrained import data_root  # noqa: E402  (the scripts share one way to find the data)

CONDITIONS = {
    "as recorded": None,
    "low-pass 4 kHz": ("lowpass", 4000),
    "high-pass 300 Hz": ("highpass", 300),
    "telephone band 300-3400 Hz": ("bandpass", (300, 3400)),
    "low-pass 2 kHz": ("lowpass", 2000),
}


def main(argv: list[str] | None = None) -> int:
    from audioclf.audio.io import load_audio
    from audioclf.datasets import load_dataset
    from audioclf.engine.bundle import load_bundle
    from audioclf.engine.inference import predict

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("folders", nargs="+", help="folders holding fold_1 ... fold_4 bundles")
    p.add_argument("--data", default=None, help="ESC-50/ESC-10 folder (default $AUDIOCLF_DATA/esc10)")
    args = p.parse_args(argv)
    data = Path(args.data) if args.data else data_root() / "esc10"
    ds = load_dataset(data, esc10_only=True)
    hits = {f: {c: [] for c in CONDITIONS} for f in args.folders}
    filters: dict[int, dict] = {}  # sample rate -> condition -> second-order sections (designed once)
    for k in sorted({c.fold for c in ds.clips}):
        bundles = {f: load_bundle(Path(f) / f"fold_{k}") for f in args.folders}
        for sr in {b.pipeline.sr for b in bundles.values()} - set(filters):
            filters[sr] = {name: scipy.signal.butter(8, f[1], btype=f[0], fs=sr, output="sos")
                           for name, f in CONDITIONS.items() if f is not None}
        for clip in (c for c in ds.clips if c.fold == k):
            versions: dict[int, dict] = {}  # each clip loaded and filtered once per sample rate
            for folder, b in bundles.items():
                sr = b.pipeline.sr
                if sr not in versions:
                    y, _ = load_audio(clip.path, sr=sr)
                    versions[sr] = {name: y if name not in filters[sr] else
                                    scipy.signal.sosfiltfilt(filters[sr][name], y).astype(np.float32)
                                    for name in CONDITIONS}
                for name, z in versions[sr].items():
                    label = predict(b, z, sr=sr, name=clip.path.name, explain=False).label
                    hits[folder][name].append(label == clip.label)
    print("| held-out fold | " + " | ".join(args.folders) + " |")
    print("| --- |" + " ---: |" * len(args.folders))
    for name in CONDITIONS:
        print(f"| {name} | " + " | ".join(f"{100 * np.mean(hits[f][name]):.2f} %" for f in args.folders) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
