"""``python -m audioclf embed DATA --backbone NAME --out emb.npz``: a dataset's backbone embeddings."""

from __future__ import annotations

import argparse

from ._common import Bars, load_data, print_json, quiet_frameworks


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("embed", help="embed every clip of a dataset with a pretrained backbone",
                       description="Run a pretrained backbone over every clip of DATA and write one .npz: the "
                                   "window embeddings (with the clip each came from and its start), their mean "
                                   "and max per clip, labels, classes, paths relative to the dataset, and folds "
                                   "and groups where the dataset has them. Embeddings are cached per clip "
                                   "(file hash, backbone, weight hash, front-end settings).")
    p.add_argument("data", metavar="DATA",
                   help="class-folder directory, manifest CSV, ESC-50 or FSDD root, zip of class folders, "
                        "or 'synthetic' / 'synthetic:DIR'")
    p.add_argument("--backbone", required=True, metavar="NAME", help="backbone name (see `backbones`)")
    p.add_argument("--out", required=True, metavar="FILE.npz", help="where to write the embeddings")
    p.add_argument("--esc10", action="store_true", help="ESC-50 layouts and manifests: keep the ESC-10 subset")
    p.add_argument("--cache-dir", metavar="DIR", help="embedding cache folder (default $AUDIOCLF_CACHE/embeddings "
                                                      "or ~/.cache/audioclf/embeddings)")
    p.add_argument("--no-cache", action="store_true", help="do not read or write the embedding cache")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from ..backbones.registry import get_backbone_spec
    from ..errors import ParameterError

    if not args.out.endswith(".npz"):
        raise ParameterError(f"--out {args.out} must end in .npz")
    get_backbone_spec(args.backbone)  # an unknown name fails before the dataset is read or Keras imported
    dataset = load_data(args.data, esc10=args.esc10)
    quiet_frameworks()
    from ..backbones.core import get_backbone
    from ..backbones.embeddings import embed_dataset, save_embeddings

    backbone = get_backbone(args.backbone)
    cache = False if args.no_cache else (args.cache_dir or True)
    with Bars(enabled=not args.quiet) as bars:
        result = embed_dataset(dataset, backbone, cache=cache,
                               progress=lambda done, total: bars.show("embedding", done, total))
    out = save_embeddings(result, args.out, root=dataset.root)
    n = len(result.clips)
    summary = {"backbone": backbone.name, "weights_sha256": backbone.spec.weights_sha256,
               "dataset": dataset.name, "clips": n, "windows": int(len(result.windows)),
               "embedding_dim": backbone.spec.embedding_dim, "classes": list(result.classes),
               "failed": [{"path": p, "error": e} for p, e in result.failed], "cached": result.cached,
               "computed": result.computed, "seconds": round(result.seconds, 3),
               "seconds_per_clip": round(result.seconds / max(n, 1), 4), "out": str(out)}
    if args.json:
        print_json(summary)
    else:
        print(f"{n} clips -> {summary['windows']} windows of {summary['embedding_dim']} numbers "
              f"({result.computed} computed, {result.cached} from the cache, {len(result.failed)} failed) "
              f"in {result.seconds:.1f} s; wrote {out}")
    return 0
