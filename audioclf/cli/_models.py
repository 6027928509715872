"""``python -m audioclf models``: list the model zoo.

Keras is imported inside the handler only, so other subcommands do not pay
for it.
"""

from __future__ import annotations

import argparse
import sys
import textwrap

from ._common import print_json

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "models",
        help="list the registered model architectures",
        description="List every registered architecture: input kind, default input shape, "
        "attention kinds and parameter count (default input, 10 classes).",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON list instead of a table")
    parser.add_argument(
        "--no-params", action="store_true", help="skip building each model to count its parameters (faster)"
    )
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from ..models import count_params, list_models  # imports keras

    rows = []
    for spec in list_models():
        row = spec.as_dict()
        row["params"] = None if args.no_params else count_params(spec.name, num_classes=10)
        rows.append(row)
    if args.json:
        print_json(rows)
        return 0
    _print_table(rows)
    return 0


def _print_table(rows: list[dict]) -> None:
    header = ("name", "family", "input", "input shape", "attention", "params")
    table = [
        (
            r["name"],
            r["family"],
            r["input"],
            "x".join(str(d) for d in r["input_shape"]),
            ",".join(r["attention"]) or "-",
            "-" if r["params"] is None else f"{r['params']:,}",
        )
        for r in rows
    ]
    widths = [max(len(str(c)) for c in col) for col in zip(header, *table, strict=True)]
    line = "  ".join(f"{{:<{w}}}" for w in widths)
    out = sys.stdout
    out.write(line.format(*header) + "\n")
    out.write(line.format(*("-" * w for w in widths)) + "\n")
    for cells in table:
        out.write(line.format(*cells) + "\n")
    out.write("\n")
    for r in rows:
        out.write(f"{r['name']}: " + textwrap.fill(r["description"], 100, subsequent_indent="  ") + "\n")
