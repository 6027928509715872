"""Small datasets in each layout whose default split differs: written by code (no committed audio).

:func:`split_layouts` writes, under one folder, a manifest with a ``split`` column (``train`` / ``test``), a
manifest with folds, a recorded set (every class's files named ``000.wav``, ``001.wav`` ...), and plain class
folders; each is two classes of short tones and click trains.
"""

from __future__ import annotations

import csv
from pathlib import Path

from audioclf.audio import synth
from audioclf.audio.io import to_wav_bytes, write_audio

SR = 16000
#: layout -> the split the library picks for it (:func:`audioclf.engine.recipes.default_split`)
EXPECTED = {"test_split": "split:test", "folds": "fold:3", "recorded": "ratio:0.2", "plain": "ratio:0.2"}


def _clips(n: int) -> dict[str, list]:
    return {"tone": [synth.tone(300 + 50 * i, 0.5, SR) for i in range(n)],
            "clicks": [synth.click_train(4 + 2 * i, 0.5, SR) for i in range(n)]}


def _manifest(root: Path, column: str, values) -> Path:
    rows = []
    for label, ys in _clips(6).items():
        for i, y in enumerate(ys):
            write_audio(root / label / f"{label}_{i}.wav", y, SR)
            rows.append({"path": f"{label}/{label}_{i}.wav", "label": label, column: values(i)})
    with open(root / "manifest.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, ["path", "label", column])
        writer.writeheader()
        writer.writerows(rows)
    return root / "manifest.csv"


def split_layouts(root: str | Path) -> dict[str, Path]:
    """Write the four layouts under ``root``; returns layout name -> what ``load_dataset`` reads."""
    from audioclf.datasets.recorded import dataset_from_recordings

    root = Path(root)
    out = {"test_split": _manifest(root / "test_split", "split", lambda i: "test" if i < 2 else "train"),
           "folds": _manifest(root / "folds", "fold", lambda i: 1 + i % 3)}
    dataset_from_recordings(root / "recorded", {k: [to_wav_bytes(y, SR) for y in ys] for k, ys in _clips(5).items()},
                            sr=SR)
    out["recorded"] = root / "recorded"
    for label, ys in _clips(5).items():
        for i, y in enumerate(ys):
            write_audio(root / "plain" / label / f"{i}.wav", y, SR)
    out["plain"] = root / "plain"
    return out
