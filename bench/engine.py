"""Benchmark the training and inference engine on the real datasets; prints a Markdown table.

Runs the CLI exactly as a person would (``python -m audioclf ...``, one fresh
process each, so import and start-up time count):

1. ESC-10, folds 1-3 train, fold 4 validation, the CLI's quick recipe from scratch with
   a cold feature cache: ``train --data ESC10 --out B --split fold:4 --start scratch``
   (target: >= 80 % clip accuracy within 5 minutes, features included);
2. the same data again with the warm cache (``--epochs 1``: only the data
   preparation is compared; target: >= 10x faster);
3. FSDD, its standard test split (``--split split:test``; target >= 97 %) and
   a speaker-independent split (``--split group:SPEAKER``);
4. per-window inference of a 60-s clip with the ESC-10 bundle (target < 1 s),
   first call and median of repeats, in this process.

Usage::

    python bench/engine.py                    # everything (about 15-20 minutes on 2 cores)
    python bench/engine.py --only esc10,infer  # a subset
    python bench/engine.py --fsdd-epochs 30 --speaker theo

Data: ``$AUDIOCLF_DATA`` (default ``../shared/data`` beside the repository).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def data_root() -> Path:
    env = os.environ.get("AUDIOCLF_DATA")
    return Path(env) if env else ROOT.parent / "shared" / "data"


def cli(*args: str, cache: Path) -> tuple[dict, float, str]:
    """Run ``python -m audioclf ARGS --json``; return (last JSON line, wall seconds, command)."""
    cmd = [sys.executable, "-m", "audioclf", *args, "--json", "--quiet"]
    env = {**os.environ, "AUDIOCLF_CACHE": str(cache)}
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"command failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stderr[-2000:]}")
    shown = "python -m audioclf " + " ".join(a if " " not in a else repr(a) for a in args)
    return json.loads(proc.stdout.strip().splitlines()[-1]), wall, shown


def bench_esc10(rows: list, work: Path, data: Path) -> Path:
    esc = data / "esc10"
    cache = work / "cache"
    bundle = work / "esc10"
    res, wall, cmd = cli("train", "--data", str(esc), "--out", str(bundle), "--split", "fold:4", "--start", "scratch",
                         cache=cache)
    rows.append(("ESC-10 fold 4, quick recipe, cold cache", cmd, f"{res['accuracy']:.1%} clip "
                 f"({res['window_accuracy']:.1%} window)", f"{wall:.0f} s wall, features "
                 f"{res['timings']['features']:.1f} s, {res['epochs']} epochs", "≥ 80 % in ≤ 300 s"))
    cold = res["timings"]["features"]
    res2, wall2, cmd2 = cli("train", "--data", str(esc), "--out", str(work / "esc10-warm"), "--split", "fold:4",
                            "--start", "scratch", "--epochs", "1", cache=cache)
    warm = res2["timings"]["features"]
    rows.append(("ESC-10 data preparation, warm cache", cmd2, "-", f"features {warm:.2f} s vs {cold:.1f} s cold "
                 f"= {cold / max(warm, 1e-6):.0f}x faster", "≥ 10x"))
    return bundle


def bench_fsdd(rows: list, work: Path, data: Path, epochs: int, speaker: str) -> None:
    fsdd = data / "fsdd"
    cache = work / "cache"
    for split, target in (("split:test", "≥ 97 %"), (f"group:{speaker}", "report")):
        res, wall, cmd = cli("train", "--data", str(fsdd), "--out", str(work / f"fsdd-{split.replace(':', '-')}"),
                             "--split", split, "--epochs", str(epochs), cache=cache)
        rows.append((f"FSDD {split}", cmd, f"{res['accuracy']:.1%} clip ({res['val_clips']} clips)",
                     f"{wall:.0f} s wall", target))


def bench_inference(rows: list, bundle: Path, repeats: int) -> None:
    import numpy as np

    from audioclf.audio import synth
    from audioclf.engine.bundle import load_bundle
    from audioclf.engine.inference import predict
    t0 = time.perf_counter()
    b = load_bundle(bundle)
    load_s = time.perf_counter() - t0
    sr = b.pipeline.sr
    y = np.concatenate([synth.example(name, sr) for name in ("chirp", "noisy_tone", "bursts", "clicks")] * 6)
    y = y[: 60 * sr]
    first = predict(b, y, sr=sr)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        p = predict(b, y, sr=sr)
        times.append(time.perf_counter() - t)
    med = statistics.median(times)
    rows.append(("Inference, 60-s clip, ESC-10 bundle", f"predict(load_bundle(B), y) x {repeats}",
                 f"{len(p.window_probs)} windows", f"median {med:.2f} s (features {p.timings['features']:.2f} s, "
                 f"model {p.timings['model']:.2f} s); first call {first.seconds:.2f} s; load {load_s:.1f} s",
                 "< 1 s"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="esc10,fsdd,infer", help="comma-separated: esc10, fsdd, infer")
    parser.add_argument("--fsdd-epochs", type=int, default=20)
    parser.add_argument("--speaker", default="theo", help="held-out FSDD speaker for the group split")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--work", default=None, help="folder for bundles and caches (default: a temp folder)")
    args = parser.parse_args()
    parts = {p.strip() for p in args.only.split(",")}
    data = data_root()
    if not data.is_dir():
        raise SystemExit(f"datasets not found in {data}; set AUDIOCLF_DATA")
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="audioclf-bench-"))
    rows: list[tuple[str, ...]] = []
    bundle = work / "esc10"
    if "esc10" in parts:
        bundle = bench_esc10(rows, work, data)
    if "fsdd" in parts:
        bench_fsdd(rows, work, data, args.fsdd_epochs, args.speaker)
    if "infer" in parts:
        if not (bundle / "bundle.json").is_file():
            raise SystemExit(f"no ESC-10 bundle in {bundle}; run with --only esc10,infer")
        bench_inference(rows, bundle, args.repeats)
    from audioclf.engine.device import device_info

    print(f"\nEngine benchmark on {os.cpu_count()} CPU cores, {device_info().describe()}; work folder {work}\n")
    print("| what | command | accuracy | time | target |")
    print("| --- | --- | --- | --- | --- |")
    for row in rows:
        print("| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |")


if __name__ == "__main__":
    main()
