"""Benchmark every registered model on this machine's CPU.

For each model at its default input shape and 10 classes it measures:

- parameters;
- training throughput (samples/s) with ``train_on_batch`` at batch 32, after
  warm-up batches (the first one traces the graph);
- the same with XLA (``jit_compile=True``; TensorFlow backend only);
- single-clip inference latency, median over repeats, through
  ``predict_on_batch`` and through a direct call ``model(x, training=False)``.

It prints a Markdown table. Example (a quick pass, about 10-20 minutes on 2 cores)::

    python bench/models.py --steps 3 --repeats 10

Options select models (``--models lstm cldnn``), attention variants
(``--attention``), and skip XLA (``--no-jit``).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import keras  # noqa: E402
import numpy as np  # noqa: E402

from audioclf.models import build_model, compile_model, list_models, training_targets  # noqa: E402


def _train_rate(model, x, targets, *, warmup: int, steps: int) -> float:
    """Samples per second of train_on_batch after ``warmup`` untimed batches."""
    for _ in range(warmup):
        model.train_on_batch(x, targets)
    start = time.perf_counter()
    for _ in range(steps):
        model.train_on_batch(x, targets)
    return steps * len(x) / (time.perf_counter() - start)


def _latency_ms(fn, *, repeats: int) -> float:
    fn()
    fn()  # the first calls trace / warm caches
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def bench_one(name: str, attention: str | None, args: argparse.Namespace, rng) -> dict:
    spec = next(s for s in list_models() if s.name == name)
    shape = spec.default_input_shape
    x = rng.normal(size=(args.batch_size, *shape)).astype("float32")
    y = np.eye(10, dtype="float32")[rng.integers(0, 10, args.batch_size)]

    keras.utils.set_random_seed(0)
    model = compile_model(build_model(name, num_classes=10, attention=attention))
    row = {"model": name + (f" +{attention}" if attention else ""), "params": model.count_params()}
    targets = training_targets(model, x, y)
    row["train"] = _train_rate(model, x, targets, warmup=args.warmup, steps=args.steps)

    clip = x[:1]
    row["predict_on_batch"] = _latency_ms(lambda: model.predict_on_batch(clip), repeats=args.repeats)
    row["call"] = _latency_ms(
        lambda: keras.ops.convert_to_numpy(model(clip, training=False)["probs"]), repeats=args.repeats
    )
    if args.no_jit or keras.backend.backend() != "tensorflow":
        row["train_xla"] = None
    else:
        keras.utils.set_random_seed(0)
        xla = compile_model(build_model(name, num_classes=10, attention=attention), jit_compile=True)
        row["train_xla"] = _train_rate(xla, x, targets, warmup=args.warmup, steps=args.steps)
    keras.backend.clear_session()  # free the graphs before the next model
    return row


def _fmt(v, digits=1):
    return "-" if v is None else f"{v:,.{digits}f}"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="*", help="model names (default: all)")
    parser.add_argument("--attention", action="store_true", help="also bench each supported attention kind")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--warmup", type=int, default=2, help="untimed training batches")
    parser.add_argument("--steps", type=int, default=3, help="timed training batches")
    parser.add_argument("--repeats", type=int, default=10, help="latency repeats")
    parser.add_argument("--no-jit", action="store_true", help="skip the XLA (jit_compile=True) column")
    args = parser.parse_args(argv)

    specs = [s for s in list_models() if not args.models or s.name in args.models]
    rng = np.random.default_rng(0)
    print(f"keras {keras.__version__}, backend {keras.backend.backend()}, {os.cpu_count()} CPUs, "
          f"batch {args.batch_size}, {args.warmup} warm-up + {args.steps} timed batches, "
          f"latency median of {args.repeats}", file=sys.stderr)
    header = ("| model | input | params | train samples/s | train samples/s (XLA) | XLA speed-up "
              "| latency predict_on_batch (ms) | latency call (ms) |")
    print(header)
    print("|" + "---|" * header.count(" | ") + "---|")
    for spec in specs:
        for attention in (None, *spec.attention) if args.attention else (None,):
            row = bench_one(spec.name, attention, args, rng)
            speedup = None if row["train_xla"] is None else row["train_xla"] / row["train"]
            print(f"| {row['model']} | {'x'.join(map(str, spec.default_input_shape))} | {row['params']:,} "
                  f"| {_fmt(row['train'])} | {_fmt(row['train_xla'])} | {_fmt(speedup, 2)} "
                  f"| {_fmt(row['predict_on_batch'])} | {_fmt(row['call'])} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
