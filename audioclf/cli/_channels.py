"""``python -m audioclf channels``: list the feature channels."""

from __future__ import annotations

import argparse
import textwrap

from ._common import print_json

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "channels", help="list the feature channels",
        description="List every feature channel with its units, display scale and description.")
    parser.add_argument("--json", action="store_true",
                        help="print one JSON list of {name, title, description, units, scale, bin_kind}")
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from ..features import list_channels  # deferred: librosa loads slowly and --help needs none of it

    channels = list_channels()
    if args.json:
        print_json([c.as_dict() for c in channels])
        return 0
    width = max(len(c.name) for c in channels)
    for c in channels:
        print(f"{c.name:<{width}}  {c.title}  [{c.units}; {c.scale}]")
        print(textwrap.fill(c.description, width=100, initial_indent=" " * (width + 2),
                            subsequent_indent=" " * (width + 2)))
    return 0
