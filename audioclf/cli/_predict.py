"""``python -m audioclf predict BUNDLE FILE...``: classify clips, window by window.

``--json`` prints one JSON list, one object per file: ``file``, ``top``
([{label, prob}]), ``windows`` ([{start, end, probs}]), ``attention`` for
models that have it (per window, rounded), ``notes`` and ``seconds``. A file
that cannot be read gives ``{"file", "error"}`` in the list and an
``error: …`` line on stderr; the exit status is then 2.
"""

from __future__ import annotations

import argparse
import sys

from ._common import print_json, quiet_frameworks


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("predict", help="classify audio files with a model bundle",
                       description="Classify audio files of any length with a model bundle: per-window "
                                   "probabilities with times, the clip's top classes and attention maps.")
    p.add_argument("bundle", help="bundle folder written by `train`")
    p.add_argument("files", nargs="+", metavar="FILE", help="audio files (WAV, FLAC, OGG, MP3)")
    p.add_argument("--top-k", type=int, default=3, help="classes listed per clip (default 3)")
    p.add_argument("--no-attention", action="store_true", help="leave attention maps out of the JSON")
    p.add_argument("--decimals", type=int, default=3, help="rounding of probabilities and attention (default 3)")
    p.add_argument("--json", action="store_true", help="print one JSON list")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    quiet_frameworks()
    from ..engine.bundle import load_bundle
    from ..engine.inference import predict
    from ..errors import AudioclfError, ParameterError
    if args.top_k < 1 or not 0 <= args.decimals <= 8:
        raise ParameterError("--top-k must be >= 1 and --decimals between 0 and 8")
    bundle = load_bundle(args.bundle)
    results, failed = [], 0
    for path in args.files:
        try:
            pred = predict(bundle, path, explain=not args.no_attention)
        except AudioclfError as exc:
            failed += 1
            print(f"error: {exc}", file=sys.stderr)
            results.append({"file": path, "error": str(exc)})
            continue
        d = pred.to_dict(top_k=args.top_k, decimals=args.decimals, attention=not args.no_attention)
        d["file"] = path
        results.append(d)
        if not args.json:
            top = ", ".join(f"{t['label']} {t['prob']:.2f}" for t in d["top"])
            print(f"{path}: {top}  ({len(d['windows'])} windows, {pred.seconds * 1000:.0f} ms)")
            for note in d["notes"]:
                print(f"  note: {note}")
    if args.json:
        print_json(results)
    return 2 if failed else 0
