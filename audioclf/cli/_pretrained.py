"""``python -m audioclf pretrained``: list the shipped model bundles."""

from __future__ import annotations

import argparse

from ._common import print_json


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("pretrained", help="list the pretrained model bundles",
                       description="List the bundles in pretrained/ (or $AUDIOCLF_PRETRAINED). Each 'path' works as "
                                   "the BUNDLE argument of predict and evaluate.")
    p.add_argument("--dir", help="list this folder instead")
    p.add_argument("--json", action="store_true", help="print a JSON list")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from ..service.store import list_bundles

    entries = list_bundles(args.dir)
    if args.json:
        print_json([e.to_dict() for e in entries])
        return 0
    if not entries:
        print("no pretrained bundles found")
    for e in entries:
        value = e.headline.get("value")
        metric = f"{e.headline.get('name')}={value:.3f}" if isinstance(value, float) else ""
        print(f"{e.name:28s} {e.architecture:14s} {e.dataset:10s} {len(e.classes):3d} classes  {metric}  {e.path}")
    return 0
