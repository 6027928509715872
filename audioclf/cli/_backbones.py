"""``python -m audioclf backbones``: list the pretrained backbones (no Keras needed)."""

from __future__ import annotations

import argparse

from ._common import print_json


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("backbones", help="list the pretrained backbones that turn clips into embeddings",
                       description="List the pretrained backbones (pretrained/backbones, or $AUDIOCLF_BACKBONES): "
                                   "name, sample rate, window, embedding size, parameters, licence and source. "
                                   "'weights_ok' says whether the weight file is present and intact.")
    p.add_argument("--json", action="store_true", help="print a JSON list")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from ..backbones.registry import list_backbones
    from ..errors import BackboneError

    rows = []
    for spec in list_backbones():
        row = spec.as_dict()
        row["weights_path"] = str(spec.weights_path())
        try:
            from ..backbones.core import verify_weights

            verify_weights(spec)
            row["weights_ok"], row["weights_problem"] = True, None
        except BackboneError as exc:
            row["weights_ok"], row["weights_problem"] = False, str(exc)
        rows.append(row)
    if args.json:
        print_json(rows)
        return 0
    for r in rows:
        state = "ok" if r["weights_ok"] else "MISSING OR ALTERED"
        print(f"{r['name']:8s} {r['sample_rate']:6d} Hz  window {r['window_s']:.3f} s every {r['hop_s']:.3f} s  "
              f"{r['embedding_dim']:4d}-d  {r['params']:>9,} params  {r['licence']:10s} weights {state}")
        print(f"         {r['title']}; from {r['source']}")
    return 0
