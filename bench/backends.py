"""Training throughput per Keras backend: float32 vs mixed precision, one device vs two.

Each (backend, model, precision, devices) runs in a fresh process (the backend, XLA's host device count and
TensorFlow's logical CPUs are fixed at start), builds the model inside :func:`audioclf.engine.backend.distribution_scope`
and times ``model.fit`` over ``--steps`` batches of 32 after one untimed epoch (tracing / compilation).
On a CPU the two "devices" are virtual (TensorFlow logical CPUs, JAX
``--xla_force_host_platform_device_count=2``) sharing the same cores, so that column shows the overhead of
data parallelism, not a speed-up; mixed precision on a CPU is emulated (the engine refuses it there; this
benchmark sets the policy directly to show why). Prints a Markdown table::

    python bench/backends.py --steps 8 --backends tensorflow jax
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: name -> (builder options, input shape): small enough for a shared 2-core machine.
MODELS = {
    "sfc_dcnn": ({"filters": (32, 32, 64, 64, 128, 128), "dense_units": (128,)}, (64, 64, 1)),
    "lstm": ({"units": 64, "dense_units": 32}, (64, 64, 1)),
    "crnn_resnet": ({"units": 64, "dense_units": 64}, (64, 64, 1)),
}
CONFIGS = [("float32", 1), ("mixed", 1), ("float32", 2)]


def one(model: str, precision: str, devices: int, steps: int) -> dict:
    sys.path.insert(0, str(ROOT))
    import keras
    import numpy as np

    from audioclf.engine.backend import distribution_scope, replicated_steps
    from audioclf.models import build_model, compile_model, training_targets

    options, shape = MODELS[model]
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32 * steps, *shape)).astype("float32")
    y = np.eye(10, dtype="float32")[rng.integers(0, 10, len(x))]
    keras.utils.set_random_seed(0)
    if precision == "mixed":
        keras.mixed_precision.set_global_policy("mixed_float16")
    with distribution_scope(devices):
        net = compile_model(build_model(model, input_shape=shape, num_classes=10, **options))
        if devices > 1:  # as the engine does: an uncompiled JAX step over several devices can abort (issue 30)
            replicated_steps(net)
        targets = training_targets(net, x, y)
        net.fit(x, targets, batch_size=32, epochs=1, verbose=0, shuffle=False)  # traces / compiles
        start = time.perf_counter()
        net.fit(x, targets, batch_size=32, epochs=1, verbose=0, shuffle=False)
        seconds = time.perf_counter() - start
    return {"samples_per_s": len(x) / seconds, "params": int(net.count_params())}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=8)
    p.add_argument("--backends", nargs="+", default=["tensorflow", "jax"])
    p.add_argument("--models", nargs="+", default=list(MODELS))
    p.add_argument("--one", nargs=3, metavar=("MODEL", "PRECISION", "DEVICES"), help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.one:
        print(json.dumps(one(args.one[0], args.one[1], int(args.one[2]), args.steps)))
        return 0
    print(f"{os.cpu_count()} CPU cores; batch 32, {args.steps} timed batches after one untimed epoch\n")
    print("| backend | model | params | float32, 1 device | mixed_float16, 1 device | float32, 2 virtual devices |")
    print("|---|---|---:|---:|---:|---:|")
    for backend in args.backends:
        for model in args.models:
            cells, params = [], 0
            for precision, devices in CONFIGS:
                env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3",
                       "XLA_FLAGS": "--xla_force_host_platform_device_count=2"}
                proc = subprocess.run([sys.executable, __file__, "--steps", str(args.steps), "--one", model,
                                       precision, str(devices)], env=env, capture_output=True, text=True)
                if proc.returncode != 0:
                    cells.append("failed: " + (proc.stderr.strip().splitlines() or ["?"])[-1][:60])
                    continue
                r = json.loads(proc.stdout.strip().splitlines()[-1])
                params = r["params"]
                cells.append(f"{r['samples_per_s']:.1f}")
            print(f"| {backend} | {model} | {params:,} | " + " | ".join(cells) + " |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
