"""Spoken digits as a user records them: a word somewhere in a take of room noise, against FSDD's tight clips.

FSDD's clips are cut close around each digit (about 0.5 s), so the ``speech`` pipeline centres every one of them
in silence inside its 1.3-s input: the k-th window is the same moment of every word. A take recorded in the app
is longer (a press, a word, a press), with the word anywhere in it, so the inputs slide over the take and most
hold part of the word and a stretch of noise. This measures what that costs, for the recorded-style case of
issue 25 (one speaker records each digit five times and trains the default recipe, ``--split none``), on the
other speakers' digits:

* **short**: the FSDD clips as they are;
* **long**: each clip placed at a random point of ``--seconds`` of white noise (standard deviation ``--noise``;
  the clip scaled to a peak of 0.5 first, so about 30 dB under the speech).

Each form is trained and tested with the ``speech`` pipeline as it is by default, which trims every take to its
sound (:class:`audioclf.audio.preprocess.TrimConfig`), and with the trim off (``make_recipe(trim=False)``, the
pipeline before 2026-12-07).

Prints, per recording speaker and as a mean: the accuracy and the share answered "none of these" for each
training form x test form. Runs through :func:`audioclf.engine.train.train` and the saved bundle, as the app
does; the clips are written to a temporary folder (``--work``), FSDD is read from ``$AUDIOCLF_DATA``.

Usage::

    python bench/takes.py                  # every speaker, 5 takes per digit, 2-s takes
    python bench/takes.py --speakers george,jackson --takes 8
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from transfer import clip_verdicts, data_root  # noqa: E402  ($AUDIOCLF_DATA as every benchmark here; verdicts)

FORMS = ("short", "long")
TRIMS = {"trim off": False, "trim (default)": None}


def make_forms(clip, work: Path, rng: np.random.Generator, args) -> dict:
    """The clip in each form: ``{form: Clip}``, written once under ``work``."""
    import soundfile as sf

    from audioclf.audio.io import load_audio

    out = {"short": clip}
    y, sr = load_audio(clip.path, sr=16000)
    y = (y / max(float(np.max(np.abs(y))), 1e-9) * 0.5).astype(np.float32)
    n = int(args.seconds * sr)
    take = rng.normal(0.0, args.noise, n).astype(np.float32)
    if len(y) < n:
        off = int(rng.integers(0, n - len(y) + 1))
        take[off:off + len(y)] += y
    else:
        take = y[:n] + take
    path = work / "long" / f"{clip.path.stem}.wav"
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, take, sr)
    out["long"] = dataclasses.replace(clip, path=path)
    return out


def judge(bundle, clips: list, root: Path) -> tuple[float, float]:
    """Accuracy and the share answered "none of these" of the saved ``bundle`` on ``clips``."""
    seen, probs, verdicts = clip_verdicts(bundle, clips, root)
    right = [bundle.classes[int(np.argmax(p))] == clip.label for p, clip in zip(probs, seen, strict=True)]
    return float(np.mean(right)), float(np.mean([v["unknown"] for v in verdicts]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--speakers", default="all", help="recording speakers, comma-separated (default all)")
    parser.add_argument("--takes", type=int, default=5, help="takes per digit (default 5)")
    parser.add_argument("--test", type=int, default=150, help="test clips from the other speakers (default 150)")
    parser.add_argument("--seconds", type=float, default=2.0, help="length of a long take (default 2.0)")
    parser.add_argument("--noise", type=float, default=3e-3, help="noise standard deviation (default 3e-3)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work", default=None, help="folder for the clips, bundles and cache (default: temporary)")
    args = parser.parse_args()

    from audioclf.datasets import Dataset, load_dataset
    from audioclf.engine.bundle import load_bundle
    from audioclf.engine.recipes import make_recipe
    from audioclf.engine.train import train

    data = data_root()
    if not (data / "fsdd").is_dir():
        raise SystemExit(f"FSDD not found in {data}; set AUDIOCLF_DATA")
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="audioclf-takes-"))
    os.environ.setdefault("AUDIOCLF_CACHE", str(work / "cache"))
    fsdd = load_dataset(data / "fsdd")
    speakers = sorted({c.group for c in fsdd.clips})
    if args.speakers != "all":
        speakers = [s.strip() for s in args.speakers.split(",")]
    rng = np.random.default_rng(args.seed)
    table: dict[tuple[str, str], list] = {}
    for spk in speakers:
        mine = [c for c in fsdd.clips if c.group == spk]
        others = [c for c in fsdd.clips if c.group != spk]
        takes = []
        for label in fsdd.classes:
            idx = [i for i, c in enumerate(mine) if c.label == label]
            takes += [mine[i] for i in sorted(rng.choice(idx, size=args.takes, replace=False))]
        test = [others[i] for i in sorted(rng.choice(len(others), size=args.test, replace=False))]
        take_forms = [make_forms(c, work / spk / "takes", rng, args) for c in takes]
        test_forms = [make_forms(c, work / spk / "test", rng, args) for c in test]
        for recipe, trim in TRIMS.items():
            for trained in FORMS:
                ds = Dataset(name=f"{spk} {trained}", root=work, kind="folders", classes=fsdd.classes,
                             clips=tuple(f[trained] for f in take_forms))
                config, pipeline = make_recipe(backbone="speech", training={"split": "none"}, dataset=ds, trim=trim)
                out = work / spk / "bundles" / f"{trained}-{'off' if trim is False else 'on'}"
                train(ds, config=dataclasses.replace(config, seed=0), pipeline=pipeline, out=out)
                bundle = load_bundle(out)
                for tested in FORMS:
                    acc, refused = judge(bundle, [f[tested] for f in test_forms], work)
                    table.setdefault((recipe, trained, tested), []).append((acc, refused))
                    print(f"[takes] {spk}, {recipe}: trained on {trained}, tested on {tested}: {acc:.1%} right, "
                          f"{refused:.1%} 'none of these'", file=sys.stderr, flush=True)
    print(f"\n{args.takes} takes per digit by one speaker ({', '.join(speakers)} in turn), default recipe "
          f"(`--split none`); {args.test} digits of the other speakers; long takes {args.seconds:g} s, noise "
          f"{args.noise:g}.\n")
    print("| pipeline | trained on | tested on | accuracy, mean (per speaker) | answered \"none of these\", mean |")
    print("| --- | --- | --- | ---: | ---: |")
    for (recipe, trained, tested), rows in table.items():
        accs = [a for a, _ in rows]
        print(f"| {recipe} | {trained} | {tested} | {np.mean(accs):.1%} ({' / '.join(f'{a:.0%}' for a in accs)}) | "
              f"{np.mean([r for _, r in rows]):.1%} |")


if __name__ == "__main__":
    main()
