"""``python -m audioclf datasets PATH``: what is in a dataset, read from file headers only."""

from __future__ import annotations

import argparse

from ._common import print_json


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "datasets", help="summarize a dataset (folder, manifest, ESC-50, FSDD, zip) or make the synthetic one",
        description="Detect a dataset's layout and summarize it: clips per class, durations, sample rates, "
                    "folds, groups and warnings. With --synthetic DIR, generate the built-in synthetic dataset "
                    "in DIR (or reuse it) and summarize that.")
    p.add_argument("path", nargs="?", help="dataset folder, .csv manifest or .zip of class folders")
    p.add_argument("--synthetic", metavar="DIR", help="generate the synthetic dataset in DIR instead")
    p.add_argument("--kind", default="auto",
                   help="auto (default), folders, manifest, esc50, fsdd, zip or synthetic")
    p.add_argument("--esc10", action="store_true", help="ESC-50 layouts and manifests: keep the ESC-10 subset")
    p.add_argument("--extract-dir", metavar="DIR", help="for a zip: extract into this empty folder")
    p.add_argument("--min-clips", type=int, default=5, help="warn about classes with fewer clips (default 5)")
    p.add_argument("--seed", type=int, default=0, help="with --synthetic: random seed (default 0)")
    p.add_argument("--clips-per-class", type=int, default=None,
                   help="with --synthetic: clips of each class (default 20)")
    p.add_argument("--overwrite", action="store_true",
                   help="with --synthetic: replace a synthetic dataset made there with other settings")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from ..datasets import SyntheticConfig, load_dataset, make_synthetic_dataset, summarize_dataset
    from ..errors import ParameterError

    if (args.path is None) == (args.synthetic is None):
        raise ParameterError("give either a dataset PATH or --synthetic DIR (not both, not neither)")
    if args.synthetic is not None:
        options = {"seed": args.seed}
        if args.clips_per_class is not None:
            options["clips_per_class"] = args.clips_per_class
        ds = make_synthetic_dataset(args.synthetic, config=SyntheticConfig(**options), overwrite=args.overwrite)
    else:
        ds = load_dataset(args.path, kind=args.kind, esc10_only=args.esc10, extract_dir=args.extract_dir)
    summary = summarize_dataset(ds, min_clips=args.min_clips)
    if args.json:
        print_json(summary.to_dict())
    else:
        print(summary.format())
    return 0
