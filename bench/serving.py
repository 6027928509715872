"""Serving benchmark: 1, 5 and 20 simultaneous classifications through the app's work queue, batching on and off.

A library-level stand-in for a class on one server: each request is a thread that runs the Classify page's job
(the clip's display mel, then :func:`audioclf.service.serving.classify`) through one :class:`~audioclf.service.workqueue.WorkQueue`,
as the page does, on a different real ESC-10 clip every time (``$AUDIOCLF_DATA/esc10/audio``) and with a new,
empty embedding cache, so nothing is served from an earlier answer. The model is the one Classify offers first,
loaded and run once before (as the server's warm start does). No browser: the figures are the server's own.

For each case prints the server time of a request (queue wait + work, from the queue's job log, as
``bench/load.py`` reads it from the app) at the 50th and 95th percentile, the process's CPU seconds, the clips
per second (requests / wall time from the first request to the last answer) and the mean batch size.

    python bench/serving.py                       # 1, 5, 20 at once, 3 rounds each, batching off and on
    python bench/serving.py --counts 20 --rounds 5
    python bench/serving.py --model pretrained/esc10_sfc_dcnn --batch-backbone
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from audioclf.service import serving
from audioclf.service.batching import Batcher  # noqa: E402
from audioclf.service.workqueue import WorkQueue, default_slots  # noqa: E402


def _page_job(bundle, data: bytes, name: str, batch: Batcher, queue: WorkQueue, backbone: bool):
    """What pages/classify.py's ``classify`` job does, with the bundle already loaded."""
    from audioclf.engine.inference import load_clip
    from audioclf.features import FeatureConfig, compute_channels

    clip = load_clip(bundle, data, name=name)
    mel = compute_channels(clip.y, bundle.pipeline.sr, ["mel"], config=FeatureConfig(n_mels=64))["mel"]
    return serving.classify(bundle, clip, batch=batch, queue=queue, backbone=backbone), mel


def _round(bundle, clips: list[Path], batch: Batcher, log: Path, backbone: bool = False) -> dict:
    """All ``clips`` requested at once (one thread each, released together); the round's figures."""
    log.unlink(missing_ok=True)
    queue = WorkQueue(log=log)
    go = threading.Barrier(len(clips) + 1)
    errors: list[str] = []

    def request(p: Path) -> None:
        data = p.read_bytes()
        go.wait()
        try:
            queue.run(_page_job, bundle, data, p.name, batch, queue, backbone, key=("classify", p.name))
        except Exception as exc:  # counted, not raised: the table says how many failed
            errors.append(f"{p.name}: {type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=request, args=(p,)) for p in clips]
    for t in threads:
        t.start()
    cpu0 = time.process_time()
    go.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    cpu = time.process_time() - cpu0
    jobs = [json.loads(line) for line in log.read_text().splitlines()]
    return {"server": [j["waited"] + j["ran"] for j in jobs], "batch": [j.get("batch", 1) for j in jobs],
            "wall": wall, "cpu": cpu, "errors": errors, "n": len(clips)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--counts", default="1,5,20", help="simultaneous requests per case, comma-separated")
    ap.add_argument("--rounds", type=int, default=3, help="rounds per case, new clips each")
    ap.add_argument("--window-ms", type=float, default=30.0, help="the batcher's collection window")
    ap.add_argument("--batch-backbone", action="store_true",
                    help="batching on also batches a backbone's network calls ($AUDIOCLF_BATCH_BACKBONE=1)")
    ap.add_argument("--model", default=None, help="a bundle folder (default: the model Classify offers first)")
    args = ap.parse_args()
    counts = [int(c) for c in args.counts.split(",") if c.strip()]
    root = Path(os.environ.get("AUDIOCLF_DATA") or Path(__file__).resolve().parents[2] / "shared" / "data")
    folder = root / "esc10" / "audio"
    if not folder.is_dir():
        print(f"error: {folder} not found: set AUDIOCLF_DATA", file=sys.stderr)
        return 2
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in {".wav", ".flac", ".ogg"})
    need = 2 * args.rounds * sum(counts) + 2
    if len(files) < need:
        print(f"error: {folder} holds {len(files)} clips; this run needs {need}", file=sys.stderr)
        return 2
    rng = np.random.default_rng(0)
    files = [files[i] for i in rng.permutation(len(files))]  # ESC-10 is sorted by class: mix them
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["AUDIOCLF_CACHE"] = str(Path(tmp) / "cache")  # new and empty: every embedding computed
        path = args.model or serving.default_model_path()
        t = time.perf_counter()
        rss0 = serving.rss_mb()
        state = serving.warm_in_background(path, shared=serving.models())
        state.wait()
        if state.error:
            print(f"error: warm start failed: {state.error}", file=sys.stderr)
            return 1
        bundle = serving.models().get(path)
        print(f"model {Path(path).name}; warm start {time.perf_counter() - t:.1f} s, resident memory "
              f"{rss0:.0f} MB at start, {state.rss_before:.0f} MB with TensorFlow imported, "
              f"{state.rss_after:.0f} MB with the model warm ({state.rss_after - state.rss_before:+.0f} MB)")
        log = Path(tmp) / "queue.jsonl"
        first = _round(bundle, files[-1:], Batcher(window=args.window_ms / 1000), log)
        print(f"first classification after the warm start: {first['server'][0]:.3f} s of server time "
              f"({files[-1].name})")
        load = os.getloadavg()
        print(f"cores usable: {len(os.sched_getaffinity(0))}; load average {load[0]:.1f} / {load[1]:.1f} / "
              f"{load[2]:.1f} (1 / 5 / 15 min) before the cases\n")
        print("| at once | batching | rounds | errors | server p50 (s) | server p95 (s) | CPU s per round | "
              "clips/s | mean batch |\n| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        at = 0
        for n in counts:
            res: dict[bool, list[dict]] = {False: [], True: []}
            for _ in range(args.rounds):  # off and on alternate, so a change in the machine's load hits both
                for on in (False, True):
                    clips, at = files[at:at + n], at + n
                    res[on].append(_round(bundle, clips, Batcher(window=args.window_ms / 1000,
                                                                 parallel=default_slots(), enabled=on), log,
                                          on and args.batch_backbone))
            for on in (False, True):
                rs = res[on]
                server = np.concatenate([r["server"] for r in rs])
                errs = sum(len(r["errors"]) for r in rs)
                rate = sum(r["n"] for r in rs) / sum(r["wall"] for r in rs)
                print(f"| {n} | {'on' if on else 'off'} | {len(rs)} | {errs} | {np.median(server):.2f} | "
                      f"{np.percentile(server, 95):.2f} | {np.median([r['cpu'] for r in rs]):.2f} | {rate:.1f} | "
                      f"{np.mean(np.concatenate([r['batch'] for r in rs])):.1f} |", flush=True)
                for r in rs:
                    for e in r["errors"]:
                        print(f"  error: {e}")
        load = os.getloadavg()
        print(f"\nload average at the end {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} (1 / 5 / 15 min)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
