"""Helpers shared by the ``train``, ``evaluate`` and ``predict`` commands (private)."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from typing import Any


def quiet_native_logs() -> None:
    """Hide TensorFlow's C++ logs (oneDNN notices, grappler "remapper failed"): noise on a command line.

    Called by :func:`audioclf.cli.main` before any command runs, so before TensorFlow is first
    imported; importing this module changes nothing. The user's own ``TF_CPP_MIN_LOG_LEVEL`` wins.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def quiet_frameworks() -> None:
    """Silence Python-side framework warnings (e.g. TensorFlow's retracing notices)."""
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    logging.getLogger("absl").setLevel(logging.ERROR)


def add_data_arguments(p: argparse.ArgumentParser, *, required: bool = True) -> None:
    p.add_argument("--data", required=required, metavar="PATH",
                   help="class-folder directory, manifest CSV, ESC-50 or FSDD root, zip of class folders, "
                        "or 'synthetic' / 'synthetic:DIR' for the built-in synthetic dataset")
    p.add_argument("--esc10", action="store_true", help="ESC-50 layouts and manifests: keep the ESC-10 subset")
    p.add_argument("--cache-dir", metavar="DIR", help="feature cache folder (default $AUDIOCLF_CACHE/features "
                                                      "or ~/.cache/audioclf/features)")
    p.add_argument("--no-cache", action="store_true", help="do not read or write the feature cache")
    p.add_argument("--workers", type=int, default=None, help="processes for feature extraction (default: cores)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def load_data(spec: str, *, esc10: bool = False) -> Any:
    """The dataset named on the command line (``synthetic[:DIR]`` or a path)."""
    from ..datasets import default_cache_dir, load_dataset

    if spec == "synthetic" or spec.startswith("synthetic:"):
        folder = spec.partition(":")[2] or str(default_cache_dir() / "synthetic")
        return load_dataset(folder, kind="synthetic")
    return load_dataset(spec, esc10_only=esc10)


def cache_arg(args: argparse.Namespace) -> Any:
    if args.no_cache:
        return False
    return args.cache_dir if args.cache_dir else True


class Bars:
    """tqdm progress bars on stderr, one at a time: each :meth:`show` closes the previous bar.

    Disabled (every call a no-op) with ``enabled=False``.
    """

    def __init__(self, *, enabled: bool) -> None:
        self.enabled = enabled
        self._name: str | None = None
        self._bar: Any = None

    def show(self, name: str, done: float, total: float, *, unit: str = "clip", **postfix: Any) -> None:
        """Move bar ``name`` to ``done`` of ``total`` (opening it, and closing another, if needed)."""
        if not self.enabled:
            return
        if self._name != name:
            self.close()
            from tqdm import tqdm

            self._bar = tqdm(total=total, desc=name, unit=unit, file=sys.stderr, mininterval=0.5, leave=False,
                             dynamic_ncols=True)
            self._name = name
        bar = self._bar
        if total != bar.total:
            bar.total = total
        bar.n = done
        if postfix:
            bar.set_postfix(postfix, refresh=False)
        bar.refresh()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
        self._bar, self._name = None, None

    def __enter__(self) -> Bars:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def print_json(obj: Any) -> None:
    """Print ``obj`` as one line of JSON on stdout (the last line a script reads)."""
    sys.stdout.write(json.dumps(obj, default=_json_default) + "\n")
    sys.stdout.flush()


def _json_default(o: Any) -> Any:
    import numpy as np

    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")
