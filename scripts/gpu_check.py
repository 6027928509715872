"""The Python side of scripts/gpu_check.sh: train zoo models on one side (GPU or CPU), then report.

``--side gpu``: three zoo models (and a transfer head when :mod:`audioclf.backbones` exists) on the synthetic
dataset, a few epochs each with the engine's default precision (mixed on a GPU); bundles zipped to OUT with
their predictions for fixed probe windows. ``--side cpu``: the same models, two epochs on the CPU, for samples/s
only. ``--side report``: the table. Samples/s are training windows per second of ``model.fit`` (features are
cached first and not counted).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import time
from pathlib import Path

import numpy as np

#: (name, architecture, builder options, input shape): three families of the zoo at moderate sizes.
MODELS = [
    ("sfc_dcnn", "sfc_dcnn", {"filters": (32, 32, 64, 64, 128, 128), "dense_units": (128,)}, (64, 64, 1)),
    ("crnn_resnet", "crnn_resnet", {"units": 64, "dense_units": 64}, (64, 64, 1)),
    ("mobilenet_v2", "mobilenet_v2", {"alpha": 0.35}, (64, 64, 1)),
]
EPOCHS = {"gpu": 4, "cpu": 2}
BATCH = 32


def _dataset(root: Path, clips: int):
    from audioclf.datasets import SyntheticConfig, make_synthetic_dataset

    config = SyntheticConfig(clips_per_class=clips, sr=16000, min_duration=3.0, max_duration=6.0)
    return make_synthetic_dataset(root / f"synthetic_{clips}", config=config)


def _train_side(side: str, out: Path, clips: int, epochs: int | None, only: list[str] | None = None) -> None:
    import keras

    from audioclf.audio.augment import AUGMENT_PRESETS
    from audioclf.engine.bundle import export_zip, load_bundle
    from audioclf.engine.config import TrainConfig
    from audioclf.engine.inference import predict_windows
    from audioclf.engine.recipes import default_pipeline
    from audioclf.engine.train import train

    ds = _dataset(Path("/tmp/audioclf_gpu_check"), clips)
    figures, probes = {}, {}
    jobs = [m for m in MODELS if not only or m[0] in only]
    if importlib.util.find_spec("audioclf.backbones") is not None:  # optional: the transfer-learning issue's head
        jobs.append(("transfer_head", None, {}, None))
    for name, arch, options, shape in jobs:
        if arch is None:
            print(f"{side}: transfer head -- audioclf.backbones exists but this script predates its API; skipped")
            continue
        config = TrainConfig(model=arch, model_options=options, epochs=epochs or EPOCHS[side], batch_size=BATCH,
                             augment=AUGMENT_PRESETS["none"], split="ratio:0.25", run_eagerly=False)
        pipeline = default_pipeline(arch, sr=16000, input_shape=shape)
        epoch_times: list[float] = []
        marks: dict[str, float] = {}

        def progress(ev, marks=marks, epoch_times=epoch_times):
            if ev.kind == "batch" and ev.batch == 1:
                marks["start"] = time.perf_counter()
            elif ev.kind == "epoch":
                epoch_times.append(time.perf_counter() - marks.get("start", time.perf_counter()))

        bundle_dir = Path("/tmp/audioclf_gpu_check") / side / name
        res = train(ds, config=config, pipeline=pipeline, out=bundle_dir, progress=progress, workers=8)
        windows = int(res.summary["train"]["windows"])
        # The first epoch pays compilation; later epochs are the steady state.
        steady = epoch_times[1:] or epoch_times
        sps = windows * len(steady) / sum(steady)
        figures[name] = {"samples_per_s": round(sps, 1), "windows": windows, "epochs": res.epochs_run,
                         "accuracy": round(res.accuracy, 4), "device": res.device["device"],
                         "params": int(res.model.count_params())}
        print(f"{side}: {name:14s} {sps:10.1f} samples/s  ({res.device['device']}, accuracy {res.accuracy:.3f})",
              flush=True)
        if side == "gpu":
            bundle = load_bundle(bundle_dir)
            x = np.random.default_rng(7).normal(size=(8, *bundle.pipeline.input_shape)).astype(np.float32)
            probes[f"x_{name}"], probes[f"p_{name}"] = x, predict_windows(bundle, x)
            export_zip(bundle_dir, out / f"{name}.zip")
            np.savez(out / "probes.npz", **probes)  # after each model, so a run cut short still verifies
        (out / f"figures_{side}.json").write_text(json.dumps({"backend": keras.backend.backend(),
                                                             "models": figures}, indent=1))


def _report(out: Path) -> None:
    sides = {s: json.loads((out / f"figures_{s}.json").read_text()) for s in ("gpu", "cpu")
             if (out / f"figures_{s}.json").exists()}
    print("| model | params | GPU samples/s | CPU samples/s | GPU / CPU | GPU device |")
    print("|---|---:|---:|---:|---:|---|")
    for name in sides.get("gpu", {}).get("models", {}):
        g = sides["gpu"]["models"][name]
        c = sides.get("cpu", {}).get("models", {}).get(name)
        cpu = f"{c['samples_per_s']:.1f}" if c else "-"
        ratio = f"{g['samples_per_s'] / c['samples_per_s']:.1f}x" if c else "-"
        print(f"| {name} | {g['params']:,} | {g['samples_per_s']:.1f} | {cpu} | {ratio} | {g['device']} |")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--side", choices=("gpu", "cpu", "report"), required=True)
    p.add_argument("--models", nargs="+", default=None, help=f"a subset of {[m[0] for m in MODELS]}")
    p.add_argument("--clips", type=int, default=40, help="synthetic clips per class (default 40)")
    p.add_argument("--epochs", type=int, default=None, help="default: 4 on the GPU side, 2 on the CPU side")
    args = p.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if args.side == "report":
        _report(args.out)
    else:
        _train_side(args.side, args.out, args.clips, args.epochs, args.models)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
