"""Benchmark the exported models against their Keras bundles; prints Markdown.

For every shipped model (``pretrained/``) and every variant -- the exported graph run by Keras, ONNX
(float32, int8) in onnxruntime, TFLite (float32, float16, int8) in LiteRT -- one run measures:

* the model file's size (Keras: ``model.keras``, without the front end, which librosa computes there);
* the per-window latency: one window through the exported graph (front end included), median of
  ``--repeats`` calls after a warm-up; for Keras the same graph through ``predict_on_batch``;
* ``max |dp|``: the largest difference of the window probabilities from the Keras bundle's
  (:func:`audioclf.engine.inference.predict`) on the shipped example clips of the model's task;
* the clip accuracy on a real dataset split when ``$AUDIOCLF_DATA`` holds it (ESC-10 fold 1 for the
  ESC-10 models, FSDD's test split for the digit models), through ``classify.py``'s code for the exports and
  ``predict`` for the Keras bundle; a variant more than 1 point below the bundle is marked ``(!)``.

Usage::

    python bench/export.py                                   # every shipped model and variant
    python bench/export.py --models fsdd_sfc_dcnn --variants onnx,tflite --no-data

The machine's other load changes the latencies; compare rows of one run only.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

VARIANTS = ("onnx", "onnx-int8", "tflite", "tflite-float16", "tflite-int8")
SPLITS = {"esc10": ("esc10", "fold:1"), "fsdd": ("fsdd", "split:test")}


def _data(name: str):
    """(paths, labels) of the real split for a model of dataset ``name``, or None."""
    from audioclf.datasets import load_dataset, split_dataset

    root = Path(os.environ.get("AUDIOCLF_DATA", ROOT.parent / "shared" / "data"))
    folder, split = SPLITS[name]
    if not (root / folder).is_dir():
        return None
    ds = load_dataset(root / folder, esc10_only=folder == "esc10")
    val = split_dataset(ds, split)[1]
    return [str(c.path) for c in val.clips], [c.label for c in val.clips]


def _latency(fn, repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000.0


def _one_window(spec: dict) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    feeds = {k: rng.normal(0, 0.1, (1, *shape)).astype(np.float32) for k, shape in spec["inputs"].items()}
    for k in ("clip_peak",):
        if k in feeds:
            feeds[k][:] = 0.0
    if "slot_mask" in feeds:
        feeds["slot_mask"][:] = 1.0
    return feeds


def bench_model(name: str, variants: tuple[str, ...], repeats: int, use_data: bool) -> list[dict]:
    from audioclf.engine import export_runner
    from audioclf.engine.bundle import load_bundle
    from audioclf.engine.export import export_bundle, export_graph
    from audioclf.engine.inference import predict

    bundle = load_bundle(ROOT / "pretrained" / name)
    task = name.split("_")[0]
    data = _data(task) if use_data else None
    rows = []
    graph = export_graph(bundle)
    with tempfile.TemporaryDirectory() as tmp:
        ref = export_bundle(bundle, Path(tmp) / "ref", fmt="onnx", check=False)
        spec = export_runner.load(ref.folder)[1]
        one = _one_window(spec)
        keras_ms = _latency(lambda: graph.predict_on_batch(one), repeats)
        keras_acc = None
        if data:
            keras_acc = float(np.mean([predict(bundle, p, explain=False).label == lab
                                       for p, lab in zip(*data, strict=True)]))
        rows.append({"model": name, "variant": "keras", "bytes": (bundle.path / "model.keras").stat().st_size,
                     "ms": keras_ms, "diff": 0.0, "acc": keras_acc})
        for variant in variants:
            fmt, _, q = variant.partition("-")
            out = Path(tmp) / variant
            t = time.perf_counter()
            r = export_bundle(bundle, out, fmt=fmt, quantize=q or "none")
            seconds = time.perf_counter() - t
            model, spec = export_runner.load(out)
            ms = _latency(lambda: model.run(one), repeats)  # noqa: B023 -- called here, in this iteration
            acc = None
            if data:
                hits = [export_runner.result(p, spec, export_runner.classify_samples(
                    model, spec, export_runner.load_audio(p, spec["sample_rate"])))["label"] == lab
                    for p, lab in zip(*data, strict=True)]
                acc = float(np.mean(hits))
            rows.append({"model": name, "variant": variant, "bytes": r.bytes, "ms": ms, "diff": r.max_abs_diff,
                         "acc": acc, "export_s": seconds, "warnings": r.warnings})
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--models", default=None, help="comma-separated shipped models (default: all)")
    p.add_argument("--variants", default=",".join(VARIANTS), help=f"comma-separated, of {', '.join(VARIANTS)}")
    p.add_argument("--repeats", type=int, default=20)
    p.add_argument("--no-data", action="store_true", help="skip the accuracy on the real split")
    args = p.parse_args()
    from audioclf.service.store import list_bundles

    names = args.models.split(",") if args.models else [b.name for b in list_bundles(ROOT / "pretrained")]
    variants = tuple(v for v in args.variants.split(",") if v)
    print("| model | variant | file (MB) | per-window latency (ms, median) | max abs diff vs Keras (examples) "
          "| clip accuracy (real split) |")
    print("| --- | --- | ---: | ---: | ---: | ---: |")
    for name in names:
        rows = bench_model(name, variants, args.repeats, not args.no_data)
        base = rows[0]["acc"]
        for r in rows:
            acc = "-" if r["acc"] is None else f"{r['acc']:.3f}"
            if r["acc"] is not None and base is not None and r["acc"] < base - 0.01:
                acc += " (!)"
            print(f"| {r['model']} | {r['variant']} | {r['bytes'] / 1e6:.2f} | {r['ms']:.2f} | {r['diff']:.1e} "
                  f"| {acc} |", flush=True)


if __name__ == "__main__":
    main()
