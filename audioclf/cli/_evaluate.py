"""``python -m audioclf evaluate BUNDLE --data PATH``: score a saved model on a dataset.

The bundle's own preprocessing, channels and windowing are applied. With
``--split`` only the validation side of that split is scored. ``--json``
prints one object with ``accuracy``, ``window_accuracy``, ``per_class``,
``confusion`` (rows = true class), ``labels`` and ``misclassified``.
"""

from __future__ import annotations

import argparse
import time

from ._common import Bars, add_data_arguments, cache_arg, load_data, print_json, quiet_frameworks


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("evaluate", help="score a model bundle on a dataset",
                       description="Score a model bundle on a dataset with the bundle's own preprocessing: clip "
                                   "and window accuracy, per-class precision/recall/F1, confusion matrix.")
    p.add_argument("bundle", help="bundle folder written by `train`")
    add_data_arguments(p)
    p.add_argument("--split", default=None, help="score only the validation side of this split "
                                                 "(fold:K, group:NAME, split:test, ratio:R)")
    p.add_argument("--seed", type=int, default=0, help="seed of a ratio or group:auto split (default 0)")
    p.add_argument("--vote", choices=("mean", "majority"), default="mean",
                   help="combine windows by mean probability (default) or majority vote")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    quiet_frameworks()
    from ..datasets import split_dataset
    from ..engine.bundle import load_bundle
    from ..engine.evaluate import evaluate_bundle
    t0 = time.perf_counter()
    bundle = load_bundle(args.bundle)
    dataset = load_data(args.data, esc10=args.esc10)
    if args.split:
        dataset = split_dataset(dataset, args.split, seed=args.seed)[1]
    with Bars(enabled=not args.quiet) as bars:
        ev = evaluate_bundle(bundle, dataset, vote=args.vote, cache=cache_arg(args), workers=args.workers,
                             progress=lambda done, total: bars.show("features", done, total))
    out = ev.to_dict()
    out.update({"bundle": str(bundle.path), "model": bundle.architecture, "dataset": dataset.name,
                "split": args.split, "seconds": round(time.perf_counter() - t0, 3)})
    if args.json:
        print_json(out)
        return 0
    print(f"{bundle.architecture} on {dataset.name} ({ev.n_clips} clips): clip accuracy {ev.accuracy:.3f}, "
          f"window accuracy {ev.window_accuracy:.3f}, macro F1 {ev.macro_f1:.3f}")
    width = max(len(lab) for lab in ev.labels)
    print(f"{'class':{width}s}  precision  recall     f1  support")
    for label, row in out["per_class"].items():
        print(f"{label:{width}s}  {row['precision']:9.3f} {row['recall']:7.3f} {row['f1']:6.3f} {row['support']:8d}")
    for m in out["misclassified"][:10]:
        top = ", ".join(f"{t['label']} {t['prob']:.2f}" for t in m["top"])
        print(f"  wrong: {m['clip']} ({m['true']}) -> {top}")
    return 0
