"""``python -m audioclf``: the command-line face of the library.

Each subcommand lives in its own module of this package, exposing
``register(subparsers)`` which adds a parser whose ``handler`` default is a
function ``(args) -> int``. Errors from the library (:class:`AudioclfError`)
and bad arguments become one line ``error: <message>`` on stderr and exit
status 2 -- never a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from ..errors import AudioclfError
from . import (
    _backbones,
    _channels,
    _datasets,
    _device,
    _embed,
    _evaluate,
    _export,
    _features,
    _models,
    _predict,
    _pretrained,
    _train,
)
from ._common import print_json

__all__ = ["main", "build_parser", "print_json"]


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors follow the ``error: …`` / exit 2 contract."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise _UsageError(f"{self.prog}: {message}")


class _UsageError(Exception):
    pass


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m audioclf", description="Audio classification: features, models, training.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    # In the order ``--help`` lists them.
    for command in (_channels, _features, _models, _datasets, _train, _evaluate, _predict, _export, _pretrained,
                    _backbones, _embed, _device):
        command.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return the exit status."""
    from ._common import quiet_native_logs

    quiet_native_logs()
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if not getattr(args, "handler", None):
            parser.print_help(sys.stderr)
            return 2
        return int(args.handler(args) or 0)
    except _UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except AudioclfError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except (OSError, MemoryError) as exc:
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # a bug, not bad input: still one line, unless debugging
        if os.environ.get("AUDIOCLF_DEBUG"):
            raise
        print(f"error: internal error ({type(exc).__name__}: {exc}); set AUDIOCLF_DEBUG=1 for a traceback",
              file=sys.stderr)
        return 1
