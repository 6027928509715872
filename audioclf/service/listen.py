"""Live listening: what the browser's Listen view needs from the server, and its server-side fallback.

The Listen view (``web/component``, a Streamlit component the pages embed through ``pages/_listen.py``) runs
the *exported* model in the browser with onnxruntime-web, so the server does no per-window work while a
class listens. The server's part is done once per model:

* :func:`prepare` exports the bundle to ONNX (:func:`audioclf.engine.export.export_bundle`, checked against
  the Keras bundle) into the component's ``models/`` folder, under a key made of the bundle's files, so the
  page can load ``models/<key>/model.onnx`` from the app itself; a second request for the same model reuses
  it, and a model that :func:`~audioclf.engine.export.check_exportable` refuses raises
  :class:`~audioclf.errors.ExportError`, which the page answers with the server fallback;
* :func:`live_hop` picks the live hop: ``predict``'s hop divided by the smallest whole number that updates
  the bars at least every :data:`MAX_UPDATE_S` seconds, so every m-th live window is one of ``predict``'s;
* :func:`display_params` gives the scrolling spectrogram's log-mel settings;
* :func:`classify_chunk` is the fallback: a few seconds of audio from the browser classified through the
  server's work queue (:func:`audioclf.serving.classify`), as a recorded clip is.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["COMPONENT_DIR", "MODELS_DIR", "VENDOR_FILES", "MAX_UPDATE_S", "PEAK_S", "KEEP_S", "LiveModel",
           "runtime_missing", "live_hop", "display_params", "bundle_key", "prepare", "classify_chunk"]

#: The Listen component's folder (served by the app at /component/<name>/).
COMPONENT_DIR = Path(__file__).resolve().parents[2] / "web" / "component"
#: Exported models the component loads; git-ignored, one folder per bundle key.
MODELS_DIR = COMPONENT_DIR / "models"
#: onnxruntime-web's single-threaded wasm runtime, copied here by ``make web-deps`` (part of ``make run``).
VENDOR_FILES = ("ort.wasm.bundle.min.js", "ort-wasm-simd-threaded.wasm")
MAX_UPDATE_S = 0.5  # the bars move at least twice a second
PEAK_S = 10.0  # the live level policy: scale to the peak of the last 10 s (web/component/src/live.js)
KEEP_S = 30.0  # seconds kept for the clip offered on Stop
KEEP_MODELS = 24  # exported models kept in MODELS_DIR; older ones are removed

_LOCK = threading.Lock()
_BUSY: dict[str, threading.Lock] = {}


@dataclass(frozen=True)
class LiveModel:
    """An exported model the Listen component can load: its URL relative to the component, and labels.json."""

    key: str
    folder: Path
    url: str
    spec: dict
    bytes: int
    seconds: float  # the export's time (0 when it was already there)


def runtime_missing(folder: Path = COMPONENT_DIR) -> str | None:
    """A sentence when onnxruntime-web's files are not in the component's folder, else None."""
    missing = [n for n in VENDOR_FILES if not (folder / "vendor" / n).is_file()]
    if missing:
        return (f"the browser runtime (onnxruntime-web: {', '.join(missing)}) is not installed; "
                "run `make web-deps` (make run does it)")
    return None


def live_hop(spec: dict, max_update_s: float = MAX_UPDATE_S) -> tuple[int, float]:
    """The live hop in the model's units (samples, frames or backbone hops) and in seconds.

    ``predict``'s hop divided by the smallest whole ``m`` that makes it at most ``max_update_s``; if no
    divisor of the hop gets there, its finest step (one unit).
    """
    fe, sr = spec["frontend"], spec["sample_rate"]
    if fe["kind"] == "waveform":
        hop, unit = spec["hop_samples"], 1.0 / sr
    elif fe["kind"] == "frames":
        hop, unit = fe["window_hop"], fe["hop"] / sr
    else:
        hop, unit = fe["window_hop"], fe["hop_samples"] / sr
    for m in range(1, hop + 1):
        if hop % m == 0 and hop // m * unit <= max_update_s + 1e-9:
            return hop // m, hop // m * unit
    return 1, unit


def display_params(sr: int, config: Any = None) -> dict:
    """The scrolling spectrogram's log-mel: the feature config's (Explore), else about 46 ms frames, 64 bands."""
    if config is not None:
        return {"n_fft": int(config.n_fft), "hop": int(config.hop_length), "n_mels": int(config.n_mels),
                "fmin": float(config.fmin), "fmax": None if config.fmax is None else float(config.fmax),
                "top_db": 80.0 if config.top_db is None else float(config.top_db)}
    n_fft = 2 ** max(8, round(math.log2(sr * 0.046)))
    return {"n_fft": n_fft, "hop": n_fft // 4, "n_mels": 64 if sr > 8000 else 40, "fmin": 0.0, "fmax": None,
            "top_db": 80.0}


def bundle_key(path: str | os.PathLike) -> str:
    """A key of the bundle's files (their names and bytes): the same model gives the same export folder."""
    h = hashlib.sha256()
    root = Path(path)
    for p in sorted(root.iterdir()):
        if p.is_file() and p.suffix in (".json", ".keras", ".npz", ".npy", ".h5"):
            h.update(p.name.encode())
            with p.open("rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    h.update(block)
    return h.hexdigest()[:20]


def _prune(keep: str, limit: int = KEEP_MODELS) -> None:
    folders = [p for p in MODELS_DIR.iterdir() if p.is_dir() and not p.name.startswith(".")]
    folders.sort(key=lambda p: p.stat().st_mtime, reverse=True)
    for p in folders[limit:]:
        if p.name != keep:
            shutil.rmtree(p, ignore_errors=True)


def prepare(bundle: Any, path: str | os.PathLike, *, models_dir: Path | None = None) -> LiveModel:
    """Export the bundle for the browser once (ONNX, float32, checked), or find the earlier export.

    Parameters
    ----------
    bundle : Bundle
        The loaded bundle at ``path``.
    path : path
        Its folder (the key is made of its files).

    Raises
    ------
    ExportError
        The bundle cannot be exported (the page falls back to the server), or the conversion failed.
    """
    from ..engine.export import check_exportable, export_bundle

    check_exportable(bundle)
    root = MODELS_DIR if models_dir is None else Path(models_dir)
    key = bundle_key(path)
    folder = root / key
    with _LOCK:
        busy = _BUSY.setdefault(key, threading.Lock())
    seconds = 0.0
    with busy:  # one export per model at a time; the others wait for it and reuse it
        if not (folder / "labels.json").is_file():
            t0 = time.perf_counter()
            root.mkdir(parents=True, exist_ok=True)
            export_bundle(bundle, folder, fmt="onnx", check=True)
            seconds = time.perf_counter() - t0
        else:
            os.utime(folder)
    spec = json.loads((folder / "labels.json").read_text(encoding="utf-8"))
    if models_dir is None:
        _prune(key)
    rel = folder.relative_to(COMPONENT_DIR).as_posix() if folder.is_relative_to(COMPONENT_DIR) else str(folder)
    return LiveModel(key=key, folder=folder, url=f"{rel}/{spec['model_file']}", spec=spec,
                     bytes=(folder / spec["model_file"]).stat().st_size, seconds=seconds)


def classify_chunk(bundle: Any, data: bytes, *, start: float, seq: int, queue: Any = None) -> dict:
    """The server fallback: one chunk of the browser's audio (WAV bytes) classified as a clip.

    Returns the fields the component draws: ``seq``, ``start``, ``probs``, ``top``, ``unknown``, ``verdict``
    (or ``error`` with a sentence, for a chunk that could not be read).
    """
    from ..errors import AudioclfError
    from .serving import classify

    try:
        pred = classify(bundle, data, name=f"live chunk {seq}", explain=False, queue=queue)
    except AudioclfError as exc:
        return {"seq": seq, "start": start, "error": f"a chunk could not be classified: {exc}"}
    probs = np.asarray(pred.probs, dtype=float)
    verdict = {k: v for k, v in pred.open_set.items() if isinstance(v, (int, float, bool))}
    return {"seq": seq, "start": float(start), "probs": [round(float(p), 4) for p in probs],
            "top": int(np.argmax(probs)), "unknown": bool(pred.unknown), "verdict": verdict}

