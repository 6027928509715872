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
   (subsampled per class, ``--draws`` different draws per point, seeds 0, 1, ...; the
   "all" point, which draws nothing, is trained with ``--seeds`` training seeds instead),
   the validation side unchanged; the library's default recipe for that size
   (:func:`audioclf.engine.recipes.default_head`) through the engine, and beside it,
   on the very same clips, the baseline: scikit-learn's ``LogisticRegression(C=0.1)``
   on the standardised mean and max of each clip's window embeddings as
   ``python -m audioclf embed`` writes them. Mean clip accuracy over every fold /
   speaker and draw, with the standard deviation over them. ``--recipes`` adds
   the ``linear`` and ``mlp`` heads at every point, which is what the default's
   size threshold was read from.
4. **"None of these"** (``unknown``): the default recipe trained with ``split none``
   (so calibrated out of fold, as a user's model is) on all folds / speakers but
   one; the share of the held-out fold's / speaker's clips answered "unknown"
   (known sounds: should be low) and of foreign sounds (should be high): FSDD digits
   for ``sounds``, ESC-10 clips and spoken words that are not digits (espeak-ng,
   when installed) for ``speech``; and the same for a recorded-style set (5 classes x
   8 clips, the other clips of those classes known, FSDD digits and the other five
   ESC-10 classes foreign).

Every result is saved to ``--results`` (JSON) as soon as it is measured, and a
rerun with the same file reuses what is there, so an interrupted run resumes.
The embedding and feature caches live in ``--cache`` (default: a new empty
folder, so the first ESC-10 run is cold; later runs reuse it).

Usage::

    python bench/transfer.py                                # everything (about 30-40 minutes on 2 busy cores)
    python bench/transfer.py --only timing,compare --folds 1,2 --speakers george
    python bench/transfer.py --scratch-all --results runs/transfer.json
    python bench/transfer.py --only fewshot,unknown --draws 3 --recipes   # issue 25's tables

Data: ``$AUDIOCLF_DATA`` (default ``../shared/data`` beside the repository).
"""

from __future__ import annotations

import argparse
import contextlib
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


@contextlib.contextmanager
def cache_at(cache: Path):
    """``$AUDIOCLF_CACHE`` (embeddings and features) set to ``cache`` for the block."""
    old = os.environ.get("AUDIOCLF_CACHE")
    os.environ["AUDIOCLF_CACHE"] = str(cache)
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("AUDIOCLF_CACHE", None)
        else:
            os.environ["AUDIOCLF_CACHE"] = old


def run_train(dataset, config, pipeline, split: str, *, cache: Path, seed: int = 0) -> dict:
    """Train once (training seed ``seed``) with ``$AUDIOCLF_CACHE`` (embeddings and features) at ``cache``;
    accuracy and seconds."""
    from audioclf.engine.train import train

    with cache_at(cache):
        t0 = time.perf_counter()
        res = train(dataset, config=dataclasses.replace(config, split=split, seed=seed), pipeline=pipeline)
        wall = time.perf_counter() - t0
    return {"accuracy": float(res.accuracy), "seconds": wall, "features": float(res.timings.get("features", 0.0)),
            "train": float(res.timings.get("train", 0.0)), "evaluate": float(res.timings.get("evaluate", 0.0)),
            "train_clips": res.summary["train"]["clips"],
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


def baseline_features(dataset, backbone: str, cache: Path):
    """``{clip path: [mean, max] of its window embeddings}``, as ``python -m audioclf embed`` computes them."""
    import numpy as np

    from audioclf.backbones.core import get_backbone
    from audioclf.backbones.embeddings import embed_dataset

    emb = embed_dataset(dataset, get_backbone(backbone), cache=cache / "embeddings")
    feats = np.concatenate([emb.pooled("mean"), emb.pooled("max")], axis=1)
    return {str(c.path): f for c, f in zip(emb.clips, feats, strict=True)}


def median_run(run, n: int = 3) -> dict:
    """``run()`` ``n`` times: the run of median total seconds, with every run's total in ``runs``."""
    rows = sorted((run() for _ in range(n)), key=lambda r: r["seconds"])
    return {**rows[n // 2], "runs": [round(r["seconds"], 2) for r in rows]}


def run_baseline(dataset, feats: dict) -> dict:
    """Logistic regression (C=0.1) on the standardised clip features of ``dataset``'s train side, scored on val."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    t0 = time.perf_counter()
    train = [c for c in dataset.clips if c.split == "train"]
    val = [c for c in dataset.clips if c.split == "val"]
    xt = np.stack([feats[str(c.path)] for c in train])
    xv = np.stack([feats[str(c.path)] for c in val])
    scaler = StandardScaler().fit(xt)
    model = LogisticRegression(C=0.1, max_iter=2000).fit(scaler.transform(xt), [c.label for c in train])
    acc = float(np.mean(model.predict(scaler.transform(xv)) == np.array([c.label for c in val])))
    return {"accuracy": acc, "seconds": time.perf_counter() - t0, "train_clips": len(train), "val_clips": len(val)}


def run_recipe(dataset, backbone: str, head: str | None, split: str, *, cache: Path, seed: int = 0) -> dict:
    """The library's recipe (``head`` None: the default head for the data's size) through the engine."""
    from audioclf.engine.recipes import make_recipe

    config, pipeline = make_recipe(backbone=backbone, head=head, training={"split": split}, dataset=dataset)
    out = run_train(dataset, config, pipeline, split, cache=cache, seed=seed)
    return {**out, "head": "attention" if config.attention else config.model.removeprefix("head_"),
            "solver": config.solver}


def clip_verdicts(bundle, clips: list, root: Path) -> tuple[tuple, list, list]:
    """The clips as extracted, each one's probabilities (its windows' mean) and its "none of these" verdict from a
    saved ``bundle``: what ``predict`` gives, for many clips at once through the feature cache. ``clips`` need not
    carry the bundle's classes (foreign sounds)."""
    from audioclf.datasets import Dataset
    from audioclf.engine.extract import extract_dataset
    from audioclf.engine.inference import predict_windows

    ds = Dataset(name="probe", root=root, kind="folders", classes=tuple(sorted({c.label for c in clips})),
                 clips=tuple(clips))
    ex = extract_dataset(ds, config=bundle.pipeline, cache=True)
    windows = predict_windows(bundle, ex.x)
    probs = [windows[ex.clip_index == i].mean(axis=0) for i in range(len(ex.clips))]
    verdicts = [bundle.open_set.judge(p, inputs=ex.x[ex.clip_index == i]) for i, p in enumerate(probs)]
    return ex.clips, probs, verdicts


def unknown_rates(train_ds, backbone: str, known: list, foreign: dict, *, cache: Path, work: Path) -> dict:
    """Train the default recipe on ``train_ds`` with split none; the share of ``known`` clips and of each
    foreign set answered "none of these" by the saved bundle (read back from disk)."""
    import numpy as np

    from audioclf.engine.bundle import load_bundle
    from audioclf.engine.recipes import make_recipe
    from audioclf.engine.train import train

    config, pipeline = make_recipe(backbone=backbone, training={"split": "none"}, dataset=train_ds)
    out_dir = work / f"unknown-{abs(hash((train_ds.name, len(train_ds.clips))))}"

    def share(clips: list) -> tuple[float, int]:
        _, _, verdicts = clip_verdicts(bundle, clips, train_ds.root)
        unknown = np.array([v["unknown"] for v in verdicts])
        by_confidence = np.array([v["confidence"] < v["confidence_threshold"] for v in verdicts])
        by_distance = np.array([v.get("distance", 0.0) > v.get("distance_threshold", np.inf) for v in verdicts])
        # the window-by-window distance's own edge (trimmed speech pipelines)
        by_sequence = np.array([v.get("sequence_distance", 0.0) > v.get("sequence_distance_threshold", np.inf)
                                for v in verdicts])
        # refused by the ranks together (the joint test) though within each edge alone
        together = unknown & ~by_confidence & ~by_distance & ~by_sequence
        tests = {"confidence": float(by_confidence.mean()), "distance": float(by_distance.mean()),
                 "together": float(together.mean())}
        if any("sequence_rank" in v for v in verdicts):
            tests["sequence"] = float(by_sequence.mean())
        return float(unknown.mean()), len(unknown), tests

    with cache_at(cache):  # the training and the probes read the benchmark's cache
        t0 = time.perf_counter()
        train(train_ds, config=dataclasses.replace(config, seed=0), pipeline=pipeline, out=out_dir)
        seconds = time.perf_counter() - t0
        bundle = load_bundle(out_dir)
        rates = {"known": share(known), **{name: share(clips) for name, clips in foreign.items()}}
    return {"head": config.model.removeprefix("head_"), "source": bundle.open_set.source,
            "confidence": bundle.open_set.confidence, "distance": bundle.open_set.distance,
            "joint": bundle.open_set.joint, "seconds": seconds,
            **{k: {"rate": r, "clips": n, "by_test": tests} for k, (r, n, tests) in rates.items()}}


def spoken_words(work: Path) -> list:
    """Spoken English words that are not digits (espeak-ng, several voices), as clips; [] without espeak-ng."""
    import shutil
    import subprocess

    from audioclf.datasets import Clip

    if shutil.which("espeak-ng") is None:
        return []
    words = ("hello", "water", "yes", "stop", "tree", "heaven", "nice", "fun", "table", "window", "seventy",
             "chair", "apple", "later", "green", "house")
    out = []
    folder = work / "words"
    folder.mkdir(parents=True, exist_ok=True)
    for voice in ("en", "en-us", "en+m3", "en+f2"):
        for w in words:
            path = folder / f"{w}_{voice.replace('+', '_')}.wav"
            subprocess.run(["espeak-ng", "-v", voice, "-w", str(path), w], check=True, capture_output=True)
            out.append(Clip(path=path, label="word"))
    return out


def recorded_style(esc10, seed: int | None = None):
    """5 classes x 8 clips of real ESC-10 audio, like a person's own recordings (no folds).

    ``seed`` None: the first 5 classes and the first 8 clips of each by name (the timing rows and the fixed
    "none of these" row); a number: 5 classes and 8 clips of each drawn at random with that seed.
    """
    import numpy as np

    from audioclf.datasets import Dataset

    rng = None if seed is None else np.random.default_rng(seed)
    labels = esc10.classes[:5] if rng is None else sorted(rng.choice(esc10.classes, size=5, replace=False).tolist())
    clips = []
    for label in labels:
        mine = sorted((c for c in esc10.clips if c.label == label), key=lambda c: c.path.name)
        mine = mine[:8] if rng is None else [mine[i] for i in sorted(rng.choice(len(mine), size=8, replace=False))]
        clips.extend(dataclasses.replace(c, fold=None, group=None, split=None) for c in mine)
    return Dataset(name="recorded-style 5x8 (ESC-10 clips)", root=esc10.root, kind=esc10.kind, clips=tuple(clips),
                   classes=tuple(sorted({c.label for c in clips})))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="timing,compare,fewshot,unknown",
                        help="comma-separated: timing, compare, fewshot, unknown")
    parser.add_argument("--draws", type=int, default=3, help="draws of the training clips per few-shot point")
    parser.add_argument("--seeds", type=int, default=1,
                        help="training seeds 0..N-1 of the 'all' point (its only variation: it draws no clips)")
    parser.add_argument("--recorded-draws", type=int, default=5,
                        help="recorded-style 5 x 8 sets drawn at random for the unknown rates (beside the fixed one)")
    parser.add_argument("--recipes", action="store_true",
                        help="also the linear and mlp heads at every few-shot point (what the default was chosen by)")
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
        rec = recorded_style(esc)
        rec_cache = cache.with_name(cache.name + "-recorded")
        # the default recipe for each (split none: the linear head for 8 clips a class, mlp for 32), its
        # out-of-fold calibration of "none of these" included
        for key in ("timing recorded cold", "timing recorded warm"):
            res.get(key, functools.partial(run_recipe, rec, "sounds", None, "none", cache=rec_cache))
        res.get("timing esc10 cold" if cold_before else "timing esc10 first",
                functools.partial(run_recipe, esc, "sounds", None, "none", cache=cache))
        # warm: the median of three runs (their totals are kept beside it), the machine's noise being what it is
        res.get("timing esc10 warm", functools.partial(median_run, functools.partial(
            run_recipe, esc, "sounds", None, "none", cache=cache)))
        res.get("timing esc10 linear warm", functools.partial(median_run, functools.partial(
            run_recipe, esc, "sounds", "linear", "none", cache=cache)))
        res.get("timing recorded cli", functools.partial(cli_train, rec, work))
    # Cheapest first, so an interrupted run has the most rows: few-shot points (small training sides),
    # full backbone runs, then from scratch.
    for name, ds, backbone, how, values in plans if "fewshot" in parts else ():
        feats = baseline_features(ds, backbone, cache)
        heads = ["linear", "mlp", None] if args.recipes else [None]
        for n in shots:
            for v in values:
                # a few-shot point draws its clips (draw d, training seed 0); "all" has one set of clips,
                # trained with seeds 0..seeds-1 ("draw d" is then the seed)
                for d in range(args.draws if n != "all" else args.seeds):
                    sub = few_shot(ds, f"{how}:{v}", n, seed=d if n != "all" else 0)
                    seed = d if n == "all" else 0
                    key = f"{name} {how}:{v} shots {n} draw {d}"
                    res.get(f"{key} baseline", functools.partial(run_baseline, sub, feats))
                    for head in heads:
                        if head is None and args.recipes:  # the same run as the head the default picks
                            from audioclf.engine.recipes import default_head

                            picked = res.rows[f"{key} {default_head(sub, 'split:val')}"]
                            res.get(f"{key} default", lambda picked=picked: dict(picked))
                            continue
                        res.get(f"{key} {head or 'default'}",
                                functools.partial(run_recipe, sub, backbone, head, "split:val", cache=cache, seed=seed))
    # Full backbone runs of the old fixed recipe (a linear head trained by Adam) against from scratch.
    for name, ds, backbone, how, values in plans:
        if "compare" in parts:
            cfg, pipe = transfer_recipe(backbone)
            for v in values:
                res.get(f"{name} {how}:{v} backbone", functools.partial(run_train, ds, cfg, pipe, f"{how}:{v}",
                                                                        cache=cache))
    if "unknown" in parts:
        run_unknown(res, plans, esc, fsdd, cache=cache, work=work, recorded_draws=args.recorded_draws)
    for name, ds, _, how, values in plans if "compare" in parts else ():
        scfg, spipe = quick_recipe()
        for v in values if args.scratch_all else values[:1]:
            res.get(f"{name} {how}:{v} scratch", functools.partial(run_train, ds, scfg, spipe, f"{how}:{v}",
                                                                   cache=cache))
    print(render(res.rows, plans, shots, cold_before))
    print("\n" + render_fewshot(res.rows, plans, shots, args.draws, args.seeds))
    print("\n" + render_unknown(res.rows))
    if "compare" in parts or args.table:
        print("\nThe shipped from-scratch models' protocol runs (their cards), beside the backbone:\n")
        print(render_shipped(res.rows, plans, shipped_protocols()))
    print(f"\nresults: {res.path}", file=sys.stderr)


def run_unknown(res: Results, plans: list, esc, fsdd, *, cache: Path, work: Path, recorded_draws: int = 5) -> None:
    """Issue 25's "none of these" rates: default recipe, split none, one fold / speaker held out."""
    import numpy as np

    from audioclf.datasets import Dataset

    rng = np.random.default_rng(0)
    digits = [fsdd.clips[i] for i in sorted(rng.choice(len(fsdd.clips), 100, replace=False))]
    sounds = [esc.clips[i] for i in sorted(rng.choice(len(esc.clips), 100, replace=False))]
    words = spoken_words(work)
    for name, ds, backbone, how, values in plans:
        for v in values:
            held = [c for c in ds.clips if (c.fold if how == "fold" else c.group) == v]
            rest = [c for c in ds.clips if (c.fold if how == "fold" else c.group) != v]
            train_ds = Dataset(name=f"{ds.name} without {how} {v}", root=ds.root, kind=ds.kind, clips=tuple(rest),
                               classes=ds.classes)
            foreign = {"FSDD digits": digits} if backbone == "sounds" else {"ESC-10 clips": sounds}
            if backbone == "speech" and words:
                foreign["spoken words (espeak-ng)"] = words
            known = held if len(held) <= 150 else [held[i] for i in np.linspace(0, len(held) - 1, 150).astype(int)]
            res.get(f"unknown {name} {how}:{v}", functools.partial(unknown_rates, train_ds, backbone, known, foreign,
                                                                  cache=cache, work=work))
    # the fixed 5 x 8 set, then `recorded_draws` sets drawn at random: with 40 clips a threshold rests on one or
    # two of them, so one set says little
    for seed in (None, *range(1, recorded_draws + 1)):
        rec = recorded_style(esc, seed)
        mine = {c.path for c in rec.clips}
        known = [c for c in esc.clips if c.label in rec.classes and c.path not in mine]
        others = [c for c in esc.clips if c.label not in rec.classes]
        res.get("unknown recorded 5x8" + ("" if seed is None else f" draw {seed}"), functools.partial(
            unknown_rates, rec, "sounds", known, {"FSDD digits": digits, "other ESC-10 classes": others},
            cache=cache, work=work))


def render_fewshot(rows: dict, plans: list, shots: list, draws: int, seeds: int = 1) -> str:
    """The few-shot curve: default recipe beside the logistic-regression baseline, mean +- sd over runs."""
    import statistics

    def cell(accs: list) -> str:
        if not accs:
            return "–"
        sd = statistics.pstdev(accs) if len(accs) > 1 else 0.0
        return f"{statistics.mean(accs):.1%} ± {sd:.1%}"

    recipes = sorted({k.rsplit(" ", 1)[1] for k in rows if " draw " in k} - {"baseline", "default"})
    out = ["| dataset | recipe | " + " | ".join(f"{n} per class" if n != "all" else "all" for n in shots) + " |",
           "| --- | --- |" + " ---: |" * len(shots)]
    for name, _, backbone, how, values in plans:
        for recipe in ["baseline", "default", *recipes]:
            cells, heads, train_s = [], [], []
            for n in shots:
                accs = []
                for v in values:
                    for d in range(draws if n != "all" else seeds):
                        r = rows.get(f"{name} {how}:{v} shots {n} draw {d} {recipe}")
                        if r:
                            accs.append(r["accuracy"])
                            heads.append(f"{n}:{r.get('head', '')}")
                            train_s.append(r.get("train", 0.0))
                cells.append(cell(accs))
            label = {"baseline": "baseline: LogisticRegression(C=0.1) on `embed` mean+max",
                     "default": "**default recipe**"}.get(recipe, f"`--head {recipe}`")
            if recipe == "default":
                by = {h.split(":")[0]: h.split(":")[1] for h in heads}
                label += " (" + ", ".join(f"{n}: {by.get(n, '?')}" for n in shots) + ")"
            out.append(f"| {name} (`{backbone}`, every {how}) | {label} | " + " | ".join(cells) + " |")
    return "\n".join(out)


def render_unknown(rows: dict) -> str:
    """"None of these" rates of the default recipe (split none, calibrated out of fold)."""
    runs = {k: v for k, v in rows.items() if k.startswith("unknown ")}
    if not runs:
        return ""
    def tests(v: dict) -> str:  # which test refused them (a clip may fail both)
        by = v.get("by_test")
        if not by:
            return ""
        both = f", only together {by['together']:.0%}" if "together" in by else ""
        seq = f", window by window {by['sequence']:.0%}" if "sequence" in by else ""
        return f" (confidence {by['confidence']:.0%}, distance {by['distance']:.0%}{seq}{both})"

    out = ["| trained on | head | calibration | known clips answered unknown (refused by each test) | "
           "foreign answered unknown (refused by each test) |",
           "| --- | --- | --- | ---: | --- |"]
    for k, r in runs.items():
        foreign = "; ".join(f"{name} {v['rate']:.0%} of {v['clips']}{tests(v)}" for name, v in r.items()
                            if isinstance(v, dict) and name != "known")
        out.append(f"| {k.removeprefix('unknown ')} | {r['head']} | {r['source']} | "
                   f"{r['known']['rate']:.1%} of {r['known']['clips']}{tests(r['known'])} | {foreign} |")
    draws = [r for k, r in runs.items() if k.startswith("unknown recorded 5x8 draw ")]
    if draws:
        def mean(name: str) -> str:
            rates = [r[name]["rate"] for r in draws]
            return f"{sum(rates) / len(rates):.1%} (range {min(rates):.1%}-{max(rates):.1%})"

        out.append(f"| recorded 5x8, mean of the {len(draws)} random draws | {draws[0]['head']} | {draws[0]['source']} | "
                   f"{mean('known')} | FSDD digits {mean('FSDD digits')}; other ESC-10 classes "
                   f"{mean('other ESC-10 classes')} |")
    return "\n".join(out)


def shipped_protocols(root: Path | None = None) -> dict[str, dict]:
    """The protocol runs of every shipped model, from its card: ``{model: {dataset, backbone, splits}}``.

    ``splits`` maps a split (``fold:1``, ``group:george`` ...) to ``(clip accuracy, training seconds)``,
    as ``scripts/build_pretrained.py`` measured them and wrote them into the card's protocol table.
    """
    import re

    from audioclf.service.store import list_bundles, read_card

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
        out += ["| timing (default recipe on `sounds`, split none, embeddings and calibration included) | clips | "
                "head | seconds | of which embeddings + data | of which the head's fit | of which scoring + calibration "
                "(out-of-fold fits) |", "| --- | ---: | --- | ---: | ---: | ---: | ---: |"]
        names = {"timing recorded cold": "recorded-style 5 x 8, cold embedding cache",
                 "timing recorded warm": "recorded-style 5 x 8, warm cache",
                 "timing esc10 cold": "ESC-10, all clips, cold embedding cache",
                 "timing esc10 first": "ESC-10, all clips, first run (cache not empty at start)",
                 "timing esc10 warm": "ESC-10, all clips, warm cache (median of three runs)",
                 "timing esc10 linear warm": "ESC-10, all clips, warm cache, `--head linear` (median of three runs)",
                 "timing recorded cli": "recorded-style 5 x 8, fresh `python -m audioclf train` process, empty "
                                        "cache (start-up and imports counted)"}
        for k, v in timing:
            feats = "–" if v["features"] is None else f"{v['features']:.1f}"
            fit = "–" if k.endswith("cli") else f"{v['train']:.1f}"  # the CLI reports train()'s whole time only
            cal = "–" if v.get("evaluate") is None else f"{v['evaluate']:.1f}"
            runs = f" (median of {', '.join(f'{x:.1f}' for x in v['runs'])})" if v.get("runs") else ""
            out.append(f"| {names.get(k, k)} | {v['train_clips']} | {v.get('head', 'linear')} | {v['seconds']:.1f}{runs} | "
                       f"{feats} | {fit} | {cal} |")
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
    return "\n".join(out)


if __name__ == "__main__":
    main()
