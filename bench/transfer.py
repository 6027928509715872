"""Benchmark transfer learning (a head on a frozen backbone) against training from scratch; prints Markdown.

Everything runs in this process through :func:`audioclf.engine.train.train`, the same
engine the CLI's ``train --backbone`` uses (TensorFlow's import is not counted):

1. **Timing** (the issue's targets, measured, not asserted): a linear head on the
   ``sounds`` backbone trained on all of ESC-10 (``split none``), embeddings
   included, with a cold and then a warm embedding cache; the same for a
   recorded-style set of 5 classes x 8 clips (real ESC-10 clips, the first 8 of
   each of the first 5 classes by file name). These run in this process with the
   libraries imported first, as in the app's server (TensorFlow/Keras, librosa
   and scipy: a few seconds once per process, printed in their own row, not
   counted in the others); loading the backbone's weights is counted. The 5 x 8
   set is also trained by a fresh ``python -m audioclf train --backbone sounds``
   process with an empty cache: that row counts everything, start-up included.
2. **Backbone vs from scratch** on the same splits: ESC-10 by fold (``fold:K``,
   ``sounds``) and FSDD by speaker (``group:NAME``, ``speech``). The backbone
   runs on every fold / speaker; from-scratch training (the CLI's quick recipe)
   on the first one only unless ``--scratch-all`` (it takes minutes per split).
   Beside it, on every fold and speaker: the protocol runs of the shipped
   from-scratch models (each model's own, tuned recipe, trained on the same
   splits with seed 0 by ``scripts/build_pretrained.py``), read from the
   protocol table of their cards in ``pretrained/``.
3. **Few-shot curve**: 1, 3, 5, 8 and all clips per class on the training side
   (subsampled per class with a fixed seed), the validation side unchanged, a
   linear head; mean clip accuracy over the folds / speakers.

Every result is saved to ``--results`` (JSON) as soon as it is measured, and a
rerun with the same file reuses what is there, so an interrupted run resumes.
The embedding and feature caches live in ``--cache`` (default: a new empty
folder, so the first ESC-10 run is cold; later runs reuse it).

Usage::

    python bench/transfer.py                                # everything (about 30-40 minutes on 2 busy cores)
    python bench/transfer.py --only timing,compare --folds 1,2 --speakers george
    python bench/transfer.py --scratch-all --results runs/transfer.json

Data: ``$AUDIOCLF_DATA`` (default ``../shared/data`` beside the repository).
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

SHOTS = ("1", "3", "5", "8", "all")


def data_root() -> Path:
    env = os.environ.get("AUDIOCLF_DATA")
    return Path(env) if env else ROOT.parent / "shared" / "data"


class Results:
    """Rows keyed by name, written to a JSON file after each one (atomic rename)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.rows: dict[str, dict] = json.loads(path.read_text()) if path.is_file() else {}

    def get(self, key: str, run) -> dict:
        if key not in self.rows:
            print(f"[bench] {key} ...", file=sys.stderr, flush=True)
            self.rows[key] = run()
            print(f"[bench] {key}: {self.rows[key]}", file=sys.stderr, flush=True)
            tmp = self.path.with_name(f".{self.path.name}.tmp")
            tmp.write_text(json.dumps(self.rows, indent=1))
            os.replace(tmp, self.path)
        return self.rows[key]


def run_train(dataset, config, pipeline, split: str, *, cache: Path) -> dict:
    """Train once with ``$AUDIOCLF_CACHE`` (embeddings and features) at ``cache``; accuracy and seconds."""
    from audioclf.engine.train import train

    old = os.environ.get("AUDIOCLF_CACHE")
    os.environ["AUDIOCLF_CACHE"] = str(cache)
    try:
        t0 = time.perf_counter()
        res = train(dataset, config=dataclasses.replace(config, split=split, seed=0), pipeline=pipeline)
        wall = time.perf_counter() - t0
    finally:
        if old is None:
            os.environ.pop("AUDIOCLF_CACHE", None)
        else:
            os.environ["AUDIOCLF_CACHE"] = old
    return {"accuracy": float(res.accuracy), "seconds": wall, "features": float(res.timings.get("features", 0.0)),
            "train": float(res.timings.get("train", 0.0)), "train_clips": res.summary["train"]["clips"],
            "val_clips": res.summary["val"]["clips"]}


def import_libraries() -> dict:
    """Import what training loads (as the app's server has by then); seconds of each step."""
    import numpy as np

    t0 = time.perf_counter()
    import keras  # noqa: F401 -- TensorFlow comes with it

    t1 = time.perf_counter()
    import librosa
    import scipy.signal  # noqa: F401 -- librosa's STFT path pulls it in

    librosa.stft(np.zeros(4096, np.float32))  # librosa's lazy submodules
    t2 = time.perf_counter()
    return {"tensorflow": t1 - t0, "librosa": t2 - t1}


def cli_train(dataset, work: Path) -> dict:
    """``python -m audioclf train --backbone sounds --split none`` on ``dataset``'s clips, copied into class
    folders, in a fresh process with an empty cache: wall seconds, start-up and imports included."""
    import shutil
    import subprocess

    root = work / "cli-data"
    for c in dataset.clips:
        (root / c.label).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(c.path, root / c.label / c.path.name)
    env = {**os.environ, "AUDIOCLF_CACHE": str(work / "cli-cache")}
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "audioclf", "train", "--data", str(root), "--out",
                           str(work / "cli-bundle"), "--backbone", "sounds", "--split", "none", "--json"],
                          cwd=ROOT, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"CLI training failed ({proc.returncode}): {proc.stderr.strip()[-400:]}")
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    return {"accuracy": float(res["accuracy"]), "seconds": wall, "features": None,  # not reported by the CLI
            "train": float(res["seconds"]), "train_clips": len(dataset.clips), "val_clips": len(dataset.clips)}


def few_shot(dataset, spec: str, shots: str, seed: int = 0):
    """``dataset`` with the training side of ``spec`` cut to ``shots`` clips per class; split ``split:val``."""
    import numpy as np

    from audioclf.datasets import Dataset, split_dataset

    train_ds, val_ds = split_dataset(dataset, spec)
    rng = np.random.default_rng(seed)
    keep = []
    for label in train_ds.classes:
        idx = [i for i, c in enumerate(train_ds.clips) if c.label == label]
        if shots != "all":
            idx = sorted(rng.choice(idx, size=min(int(shots), len(idx)), replace=False).tolist())
        keep.extend(idx)
    clips = ([dataclasses.replace(train_ds.clips[i], split="train") for i in sorted(keep)]
             + [dataclasses.replace(c, split="val") for c in val_ds.clips])
    return Dataset(name=f"{dataset.name} [{spec}, {shots} per class]", root=dataset.root, kind=dataset.kind,
                   clips=tuple(clips), classes=dataset.classes)


def recorded_style(esc10):
    """5 classes x 8 clips of real ESC-10 audio, like a person's own recordings (no folds)."""
    from audioclf.datasets import Dataset

    clips = []
    for label in esc10.classes[:5]:
        mine = sorted((c for c in esc10.clips if c.label == label), key=lambda c: c.path.name)[:8]
        clips.extend(dataclasses.replace(c, fold=None, group=None, split=None) for c in mine)
    return Dataset(name="recorded-style 5x8 (ESC-10 clips)", root=esc10.root, kind=esc10.kind, clips=tuple(clips),
                   classes=tuple(sorted({c.label for c in clips})))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="timing,compare,fewshot", help="comma-separated: timing, compare, fewshot")
    parser.add_argument("--folds", default="all", help="ESC-10 folds for the backbone runs, e.g. 1,2 (default all)")
    parser.add_argument("--speakers", default="all", help="FSDD speakers for the backbone runs (default all)")
    parser.add_argument("--scratch-all", action="store_true",
                        help="train from scratch on every fold / speaker too (default: the first one only)")
    parser.add_argument("--shots", default=",".join(SHOTS), help="clips per class of the few-shot curve")
    parser.add_argument("--datasets", default="esc10,fsdd", help="comma-separated: esc10, fsdd")
    parser.add_argument("--cache", default=None, help="cache folder (default: a new empty one: cold first run)")
    parser.add_argument("--results", default=None, help="JSON file of results (reused when it exists)")
    parser.add_argument("--table", action="store_true", help="only print the tables of what --results holds")
    args = parser.parse_args()

    from audioclf.datasets import load_dataset
    from audioclf.engine.recipes import quick_recipe, transfer_recipe

    parts = {p.strip() for p in args.only.split(",")}
    which = {p.strip() for p in args.datasets.split(",")}
    shots = [s.strip() for s in args.shots.split(",")]
    data = data_root()
    if not data.is_dir():
        raise SystemExit(f"datasets not found in {data}; set AUDIOCLF_DATA")
    work = Path(tempfile.mkdtemp(prefix="audioclf-transfer-"))
    cache = Path(args.cache) if args.cache else work / "cache"
    res = Results(Path(args.results) if args.results else work / "results.json")
    cold_before = not (cache / "embeddings").is_dir()
    esc = load_dataset(data / "esc10")
    fsdd = load_dataset(data / "fsdd")

    if args.table:
        parts = set()

    def pick(have, wanted: str) -> list:
        have = sorted(have)
        return have if wanted == "all" else [type(have[0])(v) for v in wanted.split(",")]

    plans = []
    if "esc10" in which:
        plans.append(("ESC-10", esc, "sounds", "fold", pick(esc.folds, args.folds)))
    if "fsdd" in which:
        plans.append(("FSDD", fsdd, "speech", "group", pick(fsdd.groups, args.speakers)))

    if "timing" in parts and "esc10" in which:
        startup = import_libraries()
        if "timing recorded cold" not in res.rows:  # measured in the process that times the rows below
            res.get("startup", lambda: startup)
        cfg, pipe = transfer_recipe("sounds")
        rec = recorded_style(esc)
        rec_cache = cache.with_name(cache.name + "-recorded")
        for key in ("timing recorded cold", "timing recorded warm"):
            res.get(key, functools.partial(run_train, rec, cfg, pipe, "none", cache=rec_cache))
        for key in ("timing esc10 cold" if cold_before else "timing esc10 first", "timing esc10 warm"):
            res.get(key, functools.partial(run_train, esc, cfg, pipe, "none", cache=cache))
        res.get("timing recorded cli", functools.partial(cli_train, rec, work))
    # Cheapest first, so an interrupted run has the most rows: few-shot points (small training sides),
    # full backbone runs, then from scratch.
    for name, ds, backbone, how, values in plans if "fewshot" in parts else ():
        cfg, pipe = transfer_recipe(backbone)
        for n in (n for n in shots if n != "all"):
            for v in values:
                res.get(f"{name} {how}:{v} shots {n}",
                        functools.partial(run_train, few_shot(ds, f"{how}:{v}", n), cfg, pipe, "split:val",
                                          cache=cache))
    # Full backbone runs (their 'all' point is the few-shot curve's last one: same split, same recipe).
    for name, ds, backbone, how, values in plans:
        if "compare" in parts or "fewshot" in parts:
            cfg, pipe = transfer_recipe(backbone)
            for v in values:
                res.get(f"{name} {how}:{v} backbone", functools.partial(run_train, ds, cfg, pipe, f"{how}:{v}",
                                                                        cache=cache))
    for name, ds, _, how, values in plans if "compare" in parts else ():
        scfg, spipe = quick_recipe()
        for v in values if args.scratch_all else values[:1]:
            res.get(f"{name} {how}:{v} scratch", functools.partial(run_train, ds, scfg, spipe, f"{how}:{v}",
                                                                   cache=cache))
    print(render(res.rows, plans, shots, cold_before))
    if "compare" in parts or args.table:
        print("\nThe shipped from-scratch models' protocol runs (their cards), beside the backbone:\n")
        print(render_shipped(res.rows, plans, shipped_protocols()))
    print(f"\nresults: {res.path}", file=sys.stderr)


def shipped_protocols(root: Path | None = None) -> dict[str, dict]:
    """The protocol runs of every shipped model, from its card: ``{model: {dataset, backbone, splits}}``.

    ``splits`` maps a split (``fold:1``, ``group:george`` ...) to ``(clip accuracy, training seconds)``,
    as ``scripts/build_pretrained.py`` measured them and wrote them into the card's protocol table.
    """
    import re

    from audioclf.store import list_bundles, read_card

    row = re.compile(r"^\| ((?:fold|group|split):[\w-]+) \| ([0-9.]+) \| \d+ \| ([0-9.]+) s \|$")
    out = {}
    for entry in list_bundles(root):
        splits = {m.group(1): (float(m.group(2)), float(m.group(3)))
                  for m in map(row.match, read_card(entry.path).splitlines()) if m}
        if splits:
            out[entry.name] = {"dataset": entry.dataset, "splits": splits, "backbone": entry.backbone}
    return out


def render_shipped(rows: dict, plans: list, shipped: dict) -> str:
    """Backbone + linear head against each shipped from-scratch model, split by split."""
    import statistics

    out = []
    for name, ds, _backbone, how, values in plans:
        scratch = {m: v for m, v in shipped.items() if v["dataset"] == ds.name and not v["backbone"]}
        if not scratch:
            continue
        models = sorted(scratch)
        out += [f"| {name}: split | backbone + linear head | " + " | ".join(f"`{m}` (from scratch)" for m in models)
                + " |", "| --- | ---: |" + " ---: |" * len(models)]
        cols: dict[str, list] = {m: [] for m in ["backbone", *models]}
        for v in values:
            split = f"{how}:{v}"
            b = rows.get(f"{name} {split} backbone")
            cells = [f"{b['accuracy']:.1%} in {b['seconds']:.0f} s" if b else "–"]
            cols["backbone"].append(b and (b["accuracy"], b["seconds"]))
            for m in models:
                got = scratch[m]["splits"].get(split)
                cells.append(f"{got[0]:.1%} in {got[1]:.0f} s" if got else "–")
                cols[m].append(got)
            out.append(f"| `{split}` | " + " | ".join(cells) + " |")
        means = []
        for m in ["backbone", *models]:
            have = [c for c in cols[m] if c]
            means.append(f"**{statistics.mean(a for a, _ in have):.1%}** ({len(have)}) in "
                         f"{statistics.mean(t for _, t in have):.0f} s" if have else "–")
        out += ["| **mean** | " + " | ".join(means) + " |", ""]
    return "\n".join(out)


def _cell(r: dict | None) -> tuple[str, str]:
    return (f"{r['accuracy']:.1%}", f"{r['seconds']:.0f}") if r else ("–", "–")


def render(rows: dict, plans: list, shots: list, cold: bool) -> str:
    import statistics

    out = []
    timing = [(k, v) for k, v in rows.items() if k.startswith("timing")]
    if "startup" in rows:
        st = rows["startup"]
        out += [f"Imported before the timed runs (once per process; the app's server has them loaded): "
                f"TensorFlow + Keras {st['tensorflow']:.1f} s, librosa + scipy with a first STFT "
                f"{st['librosa']:.1f} s.", ""]
    if timing:
        out += ["| timing (linear head on `sounds`, split none, embeddings included) | clips | seconds | "
                "of which embeddings + data |", "| --- | ---: | ---: | ---: |"]
        names = {"timing recorded cold": "recorded-style 5 x 8, cold embedding cache",
                 "timing recorded warm": "recorded-style 5 x 8, warm cache",
                 "timing esc10 cold": "ESC-10, all clips, cold embedding cache",
                 "timing esc10 first": "ESC-10, all clips, first run (cache not empty at start)",
                 "timing esc10 warm": "ESC-10, all clips, warm cache",
                 "timing recorded cli": "recorded-style 5 x 8, fresh `python -m audioclf train` process, empty "
                                        "cache (start-up and imports counted)"}
        for k, v in timing:
            feats = "–" if v["features"] is None else f"{v['features']:.1f}"
            out.append(f"| {names.get(k, k)} | {v['train_clips']} | {v['seconds']:.1f} | {feats} |")
        out.append("")
    out += ["| dataset | split | backbone + linear head: accuracy | time (s) | from scratch (quick recipe): "
            "accuracy | time (s) |", "| --- | --- | ---: | ---: | ---: | ---: |"]
    for name, _, backbone, how, values in plans:
        bb, sc = [], []
        for v in values:
            b = rows.get(f"{name} {how}:{v} backbone")
            s = rows.get(f"{name} {how}:{v} scratch")
            if b is None and s is None:
                continue
            bb += [b] if b else []
            sc += [s] if s else []
            out.append(f"| {name} (`{backbone}`) | `{how}:{v}` | {' | '.join(_cell(b))} | {' | '.join(_cell(s))} |")
        if len(bb) > 1:
            mean = statistics.mean(r["accuracy"] for r in bb)
            sc_mean = f"{statistics.mean(r['accuracy'] for r in sc):.1%} ({len(sc)})" if sc else "–"
            out.append(f"| {name} | **mean** | **{mean:.1%}** ({len(bb)}) | "
                       f"{statistics.mean(r['seconds'] for r in bb):.0f} | {sc_mean} | "
                       f"{statistics.mean(r['seconds'] for r in sc):.0f} |" if sc else
                       f"| {name} | **mean** | **{mean:.1%}** ({len(bb)}) | "
                       f"{statistics.mean(r['seconds'] for r in bb):.0f} | – | – |")
    out.append("")
    head = "| dataset | " + " | ".join(f"{n} per class" if n != "all" else "all" for n in shots) + " |"
    out += [head, "| --- |" + " ---: |" * len(shots)]
    for name, _, backbone, how, values in plans:
        cells = []
        for n in shots:
            keys = [f"{name} {how}:{v} backbone" if n == "all" else f"{name} {how}:{v} shots {n}" for v in values]
            accs = [rows[k]["accuracy"] for k in keys if k in rows]
            cells.append(f"{statistics.mean(accs):.1%} ({len(accs)})" if accs else "–")
        out.append(f"| {name} (`{backbone}`, by {how}) | " + " | ".join(cells) + " |")
    return "\n".join(out)


if __name__ == "__main__":
    main()
