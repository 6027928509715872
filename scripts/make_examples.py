"""Build ``examples/``: a few real clips for the app, with their source, author and licence.

One environmental sound per ESC-10 class, taken from clips whose own licence
(``attribution.csv``) is CC0 -- the first such clip of each class in manifest
order, so the choice is mechanical, not picked by ear -- and one spoken digit
from each FSDD speaker, taken from the official test split (repetition 0).

ESC-10 clips are stored as OGG Vorbis at 22.05 kHz (5 s each, about 60 kB);
FSDD clips are copied as they are (8 kHz WAV). ``examples/examples.json`` holds
every clip's metadata; the app reads it through :mod:`audioclf.datasets.examples`.

    AUDIOCLF_DATA=../shared/data python scripts/make_examples.py
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
from pathlib import Path

import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
FSDD_LICENCE = "CC BY-SA 4.0"
FSDD_SOURCE = "Free Spoken Digit Dataset (Jakobovski/free-spoken-digit-dataset, v1.0.10)"
FSDD_AUTHORS = "Zohar Jackson, César Souza, Jason Flaks, Yuxin Pan, Hereman Nicolas and Adhish Thite"
FSDD_DIGITS = {"george": "three", "jackson": "seven", "lucas": "five", "nicolas": "zero", "theo": "nine"}


def data_root() -> Path:
    env = os.environ.get("AUDIOCLF_DATA")
    root = Path(env) if env else ROOT.parent / "shared" / "data"
    if not root.is_dir():
        raise SystemExit(f"error: no data folder at {root}; set AUDIOCLF_DATA")
    return root


def esc10(root: Path, out: Path) -> list[dict]:
    folder = root / "esc10"
    manifest = {r["path"]: r for r in csv.DictReader((folder / "manifest.csv").open(encoding="utf-8"))}
    chosen: dict[str, dict] = {}
    for r in csv.DictReader((folder / "attribution.csv").open(encoding="utf-8")):
        label = manifest[r["path"]]["label"]
        if r["clip_license"].strip().upper() == "CC0" and label not in chosen:
            chosen[label] = {**r, **manifest[r["path"]]}
    items = []
    for label in sorted(chosen):
        r = chosen[label]
        y, sr = sf.read(folder / r["path"], dtype="float32")
        name = f"esc10_{label}.ogg"
        sf.write(out / name, y, sr, format="OGG", subtype="VORBIS")
        items.append({
            "id": f"esc10_{label}", "title": f"{label.replace('_', ' ').capitalize()} (ESC-10)", "file": name,
            "label": label, "dataset": "esc10", "origin": {"path": r["path"], "fold": int(r["fold"])},
            "source": f"Freesound {r['freesound_url']} via ESC-50 (K. J. Piczak, 2015), clip "
                      f"{r['original_filename']}",
            "author": r["author"], "licence": "CC0 1.0",
        })
    return items


def fsdd(root: Path, out: Path) -> list[dict]:
    folder = root / "fsdd"
    rows = list(csv.DictReader((folder / "manifest.csv").open(encoding="utf-8")))
    items = []
    for speaker, digit in FSDD_DIGITS.items():
        r = next((r for r in rows if r["speaker"] == speaker and r["label"] == digit and r["index"] == "0"), None)
        if r is None:
            continue
        name = f"fsdd_{digit}_{speaker}.wav"
        shutil.copyfile(folder / r["path"], out / name)
        items.append({
            "id": f"fsdd_{digit}_{speaker}", "title": f"Spoken '{digit}' ({speaker}, FSDD)", "file": name,
            "label": digit, "dataset": "fsdd",
            "origin": {"path": r["path"], "speaker": speaker, "split": r["split"]},
            "source": FSDD_SOURCE, "author": FSDD_AUTHORS, "licence": FSDD_LICENCE,
        })
    return items


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=ROOT / "examples")
    args = p.parse_args()
    root = data_root()
    tmp = args.out.with_name(args.out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    items = esc10(root, tmp) + fsdd(root, tmp)
    (tmp / "examples.json").write_text(json.dumps({"examples": items}, indent=2, ensure_ascii=False) + "\n",
                                       encoding="utf-8")
    lines = ["# Example clips: sources and licences", "",
             "Environmental sounds: ESC-10 clips (K. J. Piczak, ESC: Dataset for Environmental Sound "
             "Classification, ACM MM 2015) whose Freesound licence is CC0 1.0; re-encoded as OGG Vorbis.",
             "Spoken digits: FSDD, licensed CC BY-SA 4.0 (share alike: these copies are under the same "
             "licence), by " + FSDD_AUTHORS + ".", "",
             "| file | author | licence | source |", "| --- | --- | --- | --- |"]
    lines += [f"| `{e['file']}` | {e['author']} | {e['licence']} | {e['source']} |" for e in items]
    (tmp / "LICENSES.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    if args.out.exists():
        shutil.rmtree(args.out)
    os.replace(tmp, args.out)
    size = sum(f.stat().st_size for f in args.out.iterdir())
    print(f"{len(items)} examples, {size / 1e6:.2f} MB in {args.out}")


if __name__ == "__main__":
    main()
