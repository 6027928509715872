"""``python -m audioclf device``: the device the active Keras backend will really train on.

With ``--json`` one JSON object: ``backend``, ``device`` (one line for people),
``kind`` (``cpu``/``gpu``), ``gpus`` (usable by the backend), ``system_gpus``
(seen by ``nvidia-smi``), ``usable``, ``reason`` and ``fix`` (why a present GPU
is unused and the command that fixes it), ``precision`` (the dtype policy
training uses by default here), ``devices`` (how many the backend can spread
a batch over) and ``workers`` (from ``TF_CONFIG``).
"""

from __future__ import annotations

import argparse

from ._common import print_json, quiet_frameworks


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("device", help="the device training will really use, and how to fix a GPU left unused",
                       description="Ask the active Keras backend (KERAS_BACKEND) which device it trains on. When "
                                   "nvidia-smi sees a GPU the backend cannot use, say why and print the command "
                                   "that fixes it.")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    quiet_frameworks()
    from ..engine.backend import local_device_count, resolve_precision, worker_info
    from ..engine.device import device_info

    info = device_info()
    out = {**info.to_dict(), "precision": resolve_precision("auto", info), "devices": local_device_count(),
           "workers": worker_info().count}
    if args.json:
        print_json(out)
        return 0
    print(f"training device: {info.describe()}")
    print(f"default precision: {out['precision']}; local devices for --devices: {out['devices']}; "
          f"workers (TF_CONFIG): {out['workers']}")
    if not info.usable:
        print(f"GPU present but unused: {', '.join(info.system_gpus)} -- {info.reason}")
        print(f"fix: {info.fix}" + ("   (or: make run-gpu)" if info.backend == "tensorflow" else ""))
    return 0
