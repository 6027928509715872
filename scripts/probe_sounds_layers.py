"""Probe what else the ``sounds`` backbone offers ESC-10: a lower block, denser windows, other classifiers.

    python scripts/probe_sounds_layers.py                 # $AUDIOCLF_DATA/esc10, about 3 minutes on 2 cores
    python scripts/probe_sounds_layers.py --npz runs/esc10_layers.npz   # keep (or reuse) the features

The recipe search behind the ``esc10_sounds`` card, for ideas that the CLI's
heads cannot express: every ESC-10 clip is cut into aiSFX blocks every 10
frames (0.23 s) instead of 50, and for each block the output of block 3 (256
channels) and of block 4 (512, the embedding) is pooled the backbone's way
(mean over frequency, max over time) and also by the mean over time. Each clip
is the mean and max of its blocks. Then, 4-fold cross-validation by ESC-10
fold (standardised on the training folds only): logistic regression (C in 0.01,
0.1, 1) on block 4, blocks 3 + 4, and both poolings, at hops 50 and 10; an RBF
SVM on the same; and a per-window logistic regression whose log-probabilities
are averaged over a clip's windows (a shift augmentation by other means).
Prints one line per variant: the mean and each fold's clip accuracy.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

HOP = 10  # frames between blocks; 50 is the backbone's own hop (every 5th block here)


def features(data: Path) -> dict[str, np.ndarray]:
    import keras

    from audioclf.audio.io import load_audio
    from audioclf.backbones import get_backbone
    from audioclf.backbones.frontends import block_frames, sounds_melspectrogram
    from audioclf.datasets import load_dataset

    ds = load_dataset(data)
    net = get_backbone("sounds").model
    multi = keras.Model(net.inputs, [net.get_layer("block3_relu2").output, net.get_layer("block4_relu2").output])
    out: dict[str, list] = {k: [] for k in ("b3max", "b3mean", "b4max", "b4mean", "clip", "start")}
    labels, folds = [], []
    t0 = time.perf_counter()
    for i, c in enumerate(ds.clips):
        y, _ = load_audio(c.path, sr=44100)
        blocks, starts = block_frames(sounds_melspectrogram(y), 100, HOP)
        a3, a4 = (np.asarray(a).mean(axis=2) for a in multi.predict_on_batch(blocks.astype(np.float32)))
        out["b3max"].append(a3.max(1))  # (blocks, 256): mean over frequency, max over time
        out["b3mean"].append(a3.mean(1))
        out["b4max"].append(a4.max(1))  # the backbone's embedding
        out["b4mean"].append(a4.mean(1))
        out["clip"].append(np.full(len(blocks), i))
        out["start"].append(starts)
        labels.append(ds.classes.index(c.label))
        folds.append(c.fold)
        if i % 80 == 0:
            print(f"[probe] {i}/{len(ds.clips)} clips, {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    return {**{k: np.concatenate(v) for k, v in out.items()}, "labels": np.array(labels), "folds": np.array(folds)}


def main() -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=None, help="ESC-10 folder (default $AUDIOCLF_DATA/esc10)")
    ap.add_argument("--npz", default=None, help="features file: read when it exists, else written")
    args = ap.parse_args()
    data = Path(args.data) if args.data else Path(os.environ.get("AUDIOCLF_DATA", ROOT.parent / "shared" / "data")
                                                  ) / "esc10"
    if args.npz and Path(args.npz).is_file():
        with np.load(args.npz, allow_pickle=False) as z:
            d = dict(z)
    else:
        d = features(data)
        if args.npz:
            np.savez(args.npz, **d)
    clip, start, labels, folds = d["clip"], d["start"], d["labels"], d["folds"]
    n = len(labels)

    def pooled(key: str, hop: int) -> np.ndarray:
        keep = start % hop == 0
        per_clip = (d[key][(clip == i) & keep] for i in range(n))
        return np.array([np.concatenate([w.mean(0), w.max(0)]) for w in per_clip])

    def cv(x: np.ndarray, make, name: str) -> None:
        accs = []
        for k in sorted(set(folds.tolist())):
            tr, te = folds != k, folds == k
            sc = StandardScaler().fit(x[tr])
            accs.append(float(np.mean(make().fit(sc.transform(x[tr]), labels[tr]).predict(sc.transform(x[te]))
                                      == labels[te])))
        print(f"{name:55s} {np.mean(accs):6.1%}  " + " / ".join(f"{a:.1%}" for a in accs), flush=True)

    def per_window(keys: tuple[str, ...], c: float) -> None:
        accs = []
        wl, wf = labels[clip], folds[clip]
        x = np.concatenate([d[k] for k in keys], axis=1)
        for k in sorted(set(folds.tolist())):
            tr, te = wf != k, wf == k
            sc = StandardScaler().fit(x[tr])
            lp = LogisticRegression(C=c, max_iter=3000).fit(sc.transform(x[tr]), wl[tr]).predict_log_proba(
                sc.transform(x[te]))
            ids = np.unique(clip[te])
            pred = np.array([lp[clip[te] == i].mean(0).argmax() for i in ids])
            accs.append(float(np.mean(pred == labels[ids])))
        print(f"{'per-window LR ' + '+'.join(keys) + f' hop 10 C={c}':55s} {np.mean(accs):6.1%}  "
              + " / ".join(f"{a:.1%}" for a in accs), flush=True)

    for hop in (50, 10):
        for keys in (("b4max",), ("b4max", "b4mean"), ("b3max", "b4max"), ("b3max", "b3mean", "b4max", "b4mean")):
            x = np.concatenate([pooled(k, hop) for k in keys], axis=1)
            for c in (0.01, 0.1, 1.0):
                cv(x, lambda c=c: LogisticRegression(C=c, max_iter=3000), f"LR {'+'.join(keys)} hop {hop} C={c}")
            if keys in (("b4max",), ("b3max", "b4max")):
                for c in (1.0, 10.0):
                    cv(x, lambda c=c: SVC(C=c, kernel="rbf"), f"SVM rbf {'+'.join(keys)} hop {hop} C={c}")
    for c in (0.01, 0.1, 1.0):
        per_window(("b4max",), c)
        per_window(("b3max", "b4max"), c)


if __name__ == "__main__":
    main()
