"""A linear probe of the backbones: logistic regression on each clip's [mean, max] window embeddings.

    python -m audioclf embed ../shared/data/esc10 --backbone sounds --out runs/esc10_sounds.npz
    python -m audioclf embed ../shared/data/fsdd --backbone speech --out runs/fsdd_speech.npz
    python scripts/probe_backbones.py runs/esc10_sounds.npz --by folds
    python scripts/probe_backbones.py runs/fsdd_speech.npz --by groups

Leaves out one fold (ESC-10) or one speaker (FSDD) at a time, standardises the
features on the training side only, and prints each held-out part's accuracy
and their mean. No augmentation, no tuning: a check that the embeddings carry
the classes, not a trained model.
"""

from __future__ import annotations

import argparse
import json

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler


def probe(path: str, by: str, *, c: float = 1.0) -> dict:
    with np.load(path, allow_pickle=False) as z:
        x = np.concatenate([z["mean"], z["max"]], axis=1)
        y = z["labels"]
        parts = z[by]
        backbone = str(z["backbone"])
    scores = {}
    for part in sorted(set(parts.tolist())):
        test = parts == part
        model = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=5000))
        model.fit(x[~test], y[~test])
        scores[str(part)] = float(np.mean(model.predict(x[test]) == y[test]))
    return {"backbone": backbone, "file": path, "by": by, "clips": int(len(y)), "held_out": scores,
            "mean": float(np.mean(list(scores.values())))}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("npz", help="output of `python -m audioclf embed`")
    ap.add_argument("--by", choices=("folds", "groups"), required=True, help="what to hold out, one at a time")
    ap.add_argument("--C", type=float, default=1.0, help="inverse regularisation strength (default 1)")
    args = ap.parse_args()
    result = probe(args.npz, args.by, c=args.C)
    for part, acc in result["held_out"].items():
        print(f"{args.by[:-1]} {part}: {100 * acc:.1f} %")
    print(f"mean over {len(result['held_out'])}: {100 * result['mean']:.1f} %")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
