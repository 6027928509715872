"""classify.py of an exported model: run it on audio files with numpy, soundfile, soxr and one runtime.

This file is copied as it is into every export folder (:func:`audioclf.engine.export.export_bundle`), so it
imports nothing from audioclf, TensorFlow, Keras or librosa. It repeats, in numpy, exactly the steps of
:func:`audioclf.engine.inference.predict` that lie outside the exported graph: reading the file (soundfile,
mono mix-down, soxr HQ resampling, clipping to [-1, 1]), trimming it to its sound (pipelines that trim:
:func:`trim_bounds`), scaling the clip to full-scale peak, cutting it into the frames of the front end and the
windows of the model (the same starts, hop and padding policy), averaging the windows' probabilities and the
open-set ("none of these") verdict.

The graph reads **frames** of audio, not one contiguous stretch: the bundle's features are computed over the
whole clip and then cut into windows, so a window's frames are the clip's frames (a tail window padded by
'repeat' wraps to the clip's first frames, which no contiguous stretch of audio holds). Frames are plain
slices of the clip, centred as librosa does (``n_fft // 2`` zeros each side). Decibel channels are limited
to ``top_db`` below the *clip's* peak: the graph takes that peak as its ``clip_peak`` input and gives each
input's own peak as its ``peak`` output, so this runner calls it twice (once for the peak, once for the
probabilities). A live stream can pass the peak of the stretch it holds.

Usage::

    python classify.py CLIP... [--json] [--top-k 3]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
_SILENT_PEAK = 1e-8  # as audioclf.engine.inputs: below -160 dBFS a clip is left as it is
_NO_PEAK = -1e30  # a clip peak that floors nothing (the first pass)


class RunnerError(Exception):
    """A problem a person can fix: a missing runtime, an unreadable file."""


# --- windowing, as audioclf.audio.windowing ----------------------------------------------------------------------

def window_starts(n: int, length: int, hop: int) -> np.ndarray:
    """Start of every window over ``n`` units: every ``hop``, one more for a tail (audioclf.audio.windowing._starts)."""
    if n <= length:
        return np.zeros(1, dtype=np.int64)
    count = math.ceil((n - length) / hop) + 1
    return np.arange(count, dtype=np.int64) * hop


def window_index(n: int, length: int, hop: int, pad: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Which unit fills each slot of each window: ``(starts, index (n_windows, length), kept, padded)``.

    'repeat' wraps to the start; 'constant' slots past the end are left empty: ``kept`` is False there
    and their ``index`` is 0, which only keeps the gather in range. ``padded`` says which windows reach past
    the end (either policy).
    """
    starts = window_starts(n, length, hop)
    idx = starts[:, None] + np.arange(length)[None, :]
    inside = idx < n
    kept = inside if pad == "constant" else np.ones_like(inside)
    return starts, np.where(inside, idx, idx % n if pad == "repeat" else 0), kept, ~inside.all(axis=1)


# --- reading audio, as audioclf.audio.io.load_audio ----------------------------------------------------------------

def load_audio(path: str, sr: int) -> np.ndarray:
    """Mono float32 samples of ``path`` at ``sr`` (soxr HQ), clipped to [-1, 1]."""
    try:
        import soundfile as sf
    except ImportError:
        raise RunnerError("soundfile is not installed; pip install soundfile") from None
    try:
        y, native = sf.read(path, dtype="float64", always_2d=True)
    except Exception as exc:  # noqa: BLE001 -- any unreadable file is one line for the person
        raise RunnerError(f"{path}: cannot read the audio ({exc})") from None
    if y.shape[0] == 0:
        raise RunnerError(f"{path}: no samples could be decoded")
    if not np.all(np.isfinite(y)):
        raise RunnerError(f"{path}: NaN or infinite samples")
    y = y.astype(np.float32).mean(axis=1)
    if native != sr:
        try:
            import soxr
        except ImportError:
            raise RunnerError("soxr is not installed; pip install soxr") from None
        out = soxr.resample(y, int(native), int(sr), quality="HQ")
        y = np.asarray(out if out.shape[0] else y[:1], dtype=np.float32)
    np.clip(y, -1.0, 1.0, out=y)
    return y


def peak_level(y: np.ndarray) -> np.ndarray:
    """The whole clip scaled to full-scale peak, as the bundle's ``level='peak'`` (before any windowing)."""
    peak = float(np.max(np.abs(y)))
    return (y / peak).astype(np.float32) if peak > _SILENT_PEAK else y


def trim_bounds(y: np.ndarray, sr: int, *, above_floor_db: float = 15.0, within_peak_db: float = 25.0,
                frame_s: float = 0.02, pad_s: float = 0.2, floor_percentile: float = 10.0) -> tuple[int, int]:
    """Where the sound of a take lies: ``(start, end)`` samples of ``y`` to keep (audioclf's ``TrimConfig``).

    The clip is cut into frames of ``frame_s`` seconds (the last one zero-filled); a frame is sound when its RMS
    is more than ``above_floor_db`` over the take's noise floor (the ``floor_percentile``-th percentile of the
    frames' RMS) or within ``within_peak_db`` of the loudest frame. The first to the last such frame are kept,
    ``pad_s`` more on each side (a word's quiet onset and tail), within the clip. The second rule keeps a clip
    that is sound from end to end (a tight recording, whose quietest frames are speech) as it is; the first
    trims a take's room noise down to the word. A clip without sound (all zeros) is kept whole.

    Example
    -------
    >>> y = np.zeros(16000, np.float32); y[6000:9000] = 0.5
    >>> trim_bounds(y, 16000)
    (2560, 12480)
    """
    n = len(y)
    f = max(1, int(round(frame_s * sr)))
    count = -(-n // f)
    if count == 0:
        return 0, 0
    padded = np.zeros(count * f, np.float64)
    padded[:n] = y
    rms = np.sqrt(np.mean(padded.reshape(count, f) ** 2, axis=1))
    top = float(rms.max())
    if not top > 0.0:
        return 0, n
    floor = float(np.percentile(rms, floor_percentile))
    threshold = min(floor * 10.0 ** (above_floor_db / 20.0), top * 10.0 ** (-within_peak_db / 20.0))
    loud = np.flatnonzero(rms > threshold)
    if len(loud) == 0:  # a constant level: every frame at the threshold
        return 0, n
    pad = int(round(pad_s * sr))
    return max(0, int(loud[0]) * f - pad), min(n, (int(loud[-1]) + 1) * f + pad)


def frame(x: np.ndarray, n_fft: int, hop: int, *, center: bool) -> np.ndarray:
    """Frames of ``n_fft`` samples every ``hop`` [shape=(n_frames, n_fft)]; centred as librosa (zero padding)."""
    if center:
        x = np.pad(x, (n_fft // 2, n_fft // 2))
    if len(x) < n_fft:
        x = np.pad(x, (0, n_fft - len(x)))
    return np.lib.stride_tricks.sliding_window_view(x, n_fft)[::hop]


# --- the model -----------------------------------------------------------------------------------------------

class Model:
    """The exported graph behind one ``run(feeds) -> dict`` call, in onnxruntime or LiteRT."""

    def __init__(self, path: Path, outputs: list[str]) -> None:
        self.path = path
        if path.suffix == ".onnx":
            try:
                import onnxruntime as ort
            except ImportError:
                raise RunnerError("onnxruntime is not installed; pip install onnxruntime") from None
            self._sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
            self.inputs = [i.name for i in self._sess.get_inputs()]
            self.outputs = [o.name for o in self._sess.get_outputs()]
            self._tfl = None
        else:
            try:
                from ai_edge_litert.interpreter import Interpreter
            except ImportError:
                raise RunnerError("ai-edge-litert is not installed; pip install ai-edge-litert") from None
            self._tfl = Interpreter(model_path=str(path))
            runner = self._tfl.get_signature_runner()
            self._runner = runner
            details = runner.get_input_details()
            self.inputs = list(details)
            # the graph's outputs in sorted name order, which LiteRT calls output_0, output_1...
            found = sorted(runner.get_output_details(), key=lambda k: int(k.rsplit("_", 1)[-1]))
            self._names = dict(zip(found, outputs, strict=True))
            self.outputs = list(outputs)

    def run(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        feeds = {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in feeds.items() if k in self.inputs}
        if self._tfl is None:
            return dict(zip(self.outputs, self._sess.run(None, feeds), strict=True))
        n = len(next(iter(feeds.values())))
        rows = [self._runner(**{k: v[i:i + 1] for k, v in feeds.items()}) for i in range(n)]  # batch of 1
        return {self._names[k]: np.concatenate([r[k] for r in rows]) for k in rows[0]}


def _batched(model: Model, feeds: dict[str, np.ndarray], batch: int = 32) -> dict[str, np.ndarray]:
    n = len(next(iter(feeds.values())))
    parts = [model.run({k: v[i:i + batch] for k, v in feeds.items()}) for i in range(0, n, batch)]
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def _clip_peak(model: Model, units: np.ndarray, group: int, extra: dict[str, np.ndarray], floors: int) -> np.ndarray:
    """First pass: the peak of every decibel channel over all of a clip's ``units`` (frames or blocks)."""
    n = len(units)
    rows = -(-n // group)
    idx = np.arange(rows * group) % n  # groups of the model's window size; the last wraps (a peak is a max)
    feeds = {"frames": units[idx].reshape((rows, group) + units.shape[1:]),
             "clip_peak": np.full((rows, floors), _NO_PEAK, np.float32)}
    feeds.update({k: np.repeat(v[:1], rows, axis=0) for k, v in extra.items()})
    return _batched(model, feeds)["peak"].max(axis=0, keepdims=True)


def classify_samples(model: Model, spec: dict, y: np.ndarray) -> dict:
    """Window probabilities, times and (embedding models) the clip's mean embedding of one clip at the model's rate."""
    fe, sr = spec["frontend"], spec["sample_rate"]
    duration = len(y) / sr
    offset = 0
    if spec.get("trim"):  # the pipeline's trim to the sound, before the level
        offset, end = trim_bounds(y, sr, **spec["trim"])
        y = y[offset:end]
    y = peak_level(y) if spec.get("level") == "peak" else y
    span = len(y) / sr  # what the windows cut: the trimmed clip
    kind = fe["kind"]
    out: dict = {"duration": duration, "embedding": None}
    if kind == "waveform":
        length, hop = spec["window_samples"], spec["hop_samples"]
        starts, idx, kept, padded = window_index(len(y), length, hop, fe["pad"])
        x = np.where(kept, y[idx], 0.0).astype(np.float32)  # 'constant': silence past the end
        probs = _batched(model, {"audio": x})["probs"]
        out.update(starts=starts / sr, ends=np.minimum((starts + length) / sr, span), padded=padded)
    elif kind == "frames":
        frames = frame(y, fe["n_fft"], fe["hop"], center=True)[:1 + len(y) // fe["hop"]]
        n, length = len(frames), fe["window_frames"]
        starts, idx, kept, padded = window_index(n, length, fe["window_hop"], fe["pad"])
        feeds = {"frames": frames[idx] * kept[..., None]}  # 'constant': silent frames past the end
        if fe["floors"]:
            feeds["clip_peak"] = np.repeat(_clip_peak(model, frames, length, {}, fe["floors"]), len(idx), axis=0)
        probs = _batched(model, feeds)["probs"]
        out.update(starts=starts * fe["hop"] / sr,
                   ends=np.minimum((starts + length) * fe["hop"] / sr, span), padded=padded)
    else:  # blocks of a backbone
        probs = _blocks(model, spec, fe, y, span, out)
    if offset:  # trimmed: window times in the clip as read
        out["starts"] = out["starts"] + offset / sr
        out["ends"] = out["ends"] + offset / sr
    out["probs"] = probs
    return out


def _blocks(model: Model, spec: dict, fe: dict, y: np.ndarray, duration: float, out: dict) -> np.ndarray:
    sr = spec["sample_rate"]
    need = fe["need_samples"]
    short = len(y) < need
    if short:  # as audioclf.engine.inputs._backbone_signal
        if fe["pad"] == "constant":
            pad = need - len(y)
            y = np.pad(y, (pad // 2, pad - pad // 2))
        else:
            y = np.resize(y, need)
    if fe["peak_normalise"]:  # the backbone's own front end scales again (aiSFX)
        peak = float(np.max(np.abs(y))) if y.size else 0.0
        y = y / (peak if peak > 0 else 1.0)
    if fe["min_samples"] and len(y) < fe["min_samples"]:  # speech: centred in zeros to one window
        off = (fe["min_samples"] - len(y)) // 2
        y = np.pad(y, (off, fe["min_samples"] - len(y) - off))
    frames = frame(y.astype(np.float32), fe["n_fft"], fe["hop"], center=fe["center"])
    if fe["center"]:
        frames = frames[:1 + len(y) // fe["hop"]]
    n, block, bhop = len(frames), fe["block"], fe["block_hop"]
    if n < block:  # one block, zero frames after the clip (audioclf.backbones.frontends.block_frames)
        blocks = np.zeros((1, block, fe["n_fft"]), np.float32)
        blocks[0, :n] = frames
    else:
        bstarts = np.arange(0, n - block + 1, bhop)
        blocks = frames[bstarts[:, None] + np.arange(block)[None, :]]
    k, n_emb = fe["window_frames"], len(blocks)
    starts, idx, kept, padded = window_index(n_emb, k, fe["window_hop"], fe["pad"])
    if short:
        starts, idx, kept, padded = starts[:1], idx[:1], kept[:1], padded[:1]
    feeds = {"frames": blocks[idx], "slot_mask": kept.astype(np.float32),
             "slot_fill": np.zeros((len(idx), 1), np.float32)}
    if fe["floors"]:
        every = {"slot_mask": np.ones((1, k), np.float32), "slot_fill": np.zeros((1, 1), np.float32)}
        peak = _clip_peak_blocks(model, frames, k, every, fe)
        feeds["clip_peak"] = np.repeat(peak, len(idx), axis=0)
    res = _batched(model, feeds)
    if not kept.all():  # 'constant': the empty slots hold the smallest embedding value of the clip
        fill = float(res["embedding"][kept].min())
        feeds["slot_fill"] = np.full((len(idx), 1), fill, np.float32)
        res = _batched(model, feeds)
    hop_s = fe["hop_samples"] / sr
    if short:
        out.update(starts=np.zeros(1), ends=np.full(1, duration), padded=np.ones(1, bool))
    else:
        out.update(starts=starts * hop_s, ends=np.minimum(starts * hop_s + fe["window_seconds"], duration),
                   padded=padded)
    emb = res["embedding"].astype(np.float64)
    out["embedding"] = emb.mean(axis=tuple(range(emb.ndim - 1))).astype(np.float32)
    out["sequences"] = res["embedding"]  # each input's K embeddings, for the position-by-position distance
    return res["probs"]


def _clip_peak_blocks(model: Model, frames: np.ndarray, k: int, extra: dict, fe: dict) -> np.ndarray:
    """The peak over every frame of the clip, also those no block holds (the backbone floors over all of them)."""
    block = fe["block"]
    n = len(frames)
    rows = -(-n // block)
    units = frames[np.arange(rows * block) % n].reshape(rows, block, -1)  # all frames as blocks
    return _clip_peak(model, units, k, extra, fe["floors"])


# --- verdicts ------------------------------------------------------------------------------------------------

def unit_rows(x: np.ndarray) -> np.ndarray:
    """Each row of ``x`` scaled to unit length, in ``x``'s dtype (a zero row stays zero)."""
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def nearest_cosine(e, c) -> np.ndarray:
    """Cosine distance from each row of ``e`` to the nearest row of ``c`` [shape=(n,)], in [0, 2]."""
    e, c = (unit_rows(np.asarray(a, dtype=np.float64)) for a in (e, c))
    return np.clip(1.0 - (e @ c.T).max(axis=1), 0.0, 2.0)


def rank_spread(reference) -> float:
    """The scale of a rank's tail beyond its references: their standard deviation, at least 1e-6."""
    return max(float(np.std(reference)), 1e-6)


def far_rank(reference, value):
    """A distance's rank among the sorted reference distances of the known clips a model got right: (1 + how many
    were at least this far) / (n + 1), the count interpolated between neighbouring references, and beyond the
    farthest ``2 exp(-excess / spread) / (n + 1)`` (:func:`joint_ranks`). A scalar gives a float, an array an array.

    Example
    -------
    >>> far_rank(np.array([0.1, 0.2, 0.3, 0.4]), 0.3)
    0.6
    """
    rd = np.asarray(reference, dtype=np.float64)
    d = np.asarray(value, dtype=np.float64)
    m = len(rd)
    tail = 2.0 * np.exp(-np.maximum(d - rd[-1], 0.0) / rank_spread(rd)) / (m + 1)
    rank = np.where(d > rd[-1], tail, (1.0 + m - np.interp(d, rd, np.arange(0.0, m))) / (m + 1))
    return float(rank) if rank.ndim == 0 else rank


def joint_ranks(reference_confidences, reference_distances, confidence, distance) -> tuple:
    """Ranks of confidences and distances among the known clips a model got right (smoothed conformal p-values,
    in (0, 1]; audioclf.engine.openset's "both together" test). Scalars give floats, arrays arrays.

    ``confidence_rank``: (1 + how many reference clips were at most this sure) / (n + 1); ``distance_rank``:
    (1 + how many were at least this far) / (n + 1) (:func:`far_rank`). Small is odd. The counts are interpolated
    linearly between neighbouring reference values, so a rank moves little when the number moves little. Beyond the
    least sure / the farthest reference clip the rank keeps falling from 2 / (n + 1),
    ``2 exp(-excess / spread) / (n + 1)`` (``spread``: the references' standard deviation, at least 1e-6), so
    that with a few dozen clips a clip far beyond every known one is still refused however sure the model is.
    References sorted ascending.

    Example
    -------
    >>> joint_ranks(np.array([0.6, 0.8, 0.9, 0.95]), np.array([0.1, 0.2, 0.3, 0.4]), 0.8, 0.3)
    (0.6, 0.6)
    """
    rc = np.asarray(reference_confidences, dtype=np.float64)
    c = np.asarray(confidence, dtype=np.float64)
    n = len(rc)
    c_tail = 2.0 * np.exp(-np.maximum(rc[0] - c, 0.0) / rank_spread(rc)) / (n + 1)
    c_rank = np.where(c < rc[0], c_tail, (1.0 + np.interp(c, rc, np.arange(1.0, n + 1))) / (n + 1))
    d_rank = np.asarray(far_rank(reference_distances, distance))
    if c_rank.ndim == 0 and d_rank.ndim == 0:
        return float(c_rank), float(d_rank)
    return c_rank, d_rank


def sequence_distances(inputs, centroids) -> np.ndarray:
    """Each model input's cosine distance to the nearest class's mean sequence [shape=(n,)], in [0, 2]: the input's
    K window embeddings laid end to end [shape=(n, K, dim)], compared position by position (the k-th window with the
    k-th), where the centroid distance compares their mean. A clip's distance is the smallest over its inputs."""
    x = np.asarray(inputs, dtype=np.float64)
    return nearest_cosine(x.reshape(len(x), -1), centroids)


def judge(open_set: dict | None, probs: np.ndarray, embedding: np.ndarray | None,
          sequences: np.ndarray | None = None) -> dict:
    """"None of these" as audioclf.engine.openset.OpenSetCalibration.judge (``sequences``: the clip's model inputs,
    (n, K, dim), for a calibration with ``sequence_centroids``)."""
    if not open_set:
        return {}
    top = float(np.max(probs))
    out = {"confidence": top, "confidence_threshold": open_set["confidence"]}
    unknown = top < open_set["confidence"]
    if open_set.get("centroids") is not None and open_set.get("distance") is not None and embedding is not None:
        d = float(nearest_cosine(np.asarray(embedding)[None], open_set["centroids"])[0])
        out.update(distance=d, distance_threshold=open_set["distance"])
        if open_set.get("joint") is not None:  # confidence and distance judged together by their ranks
            rc = np.asarray(open_set["reference_confidences"], np.float64)
            rd = np.asarray(open_set["reference_distances"], np.float64)
            c_rank, d_rank = joint_ranks(rc, rd, top, d)
            product = c_rank * d_rank
            out.update(confidence_rank=c_rank, distance_rank=d_rank)
            if open_set.get("sequence_centroids") is not None and sequences is not None:  # the third rank
                s = float(sequence_distances(sequences, open_set["sequence_centroids"]).min())
                s_rank = far_rank(np.asarray(open_set["reference_sequences"], np.float64), s)
                product *= s_rank
                out.update(sequence_distance=s, sequence_distance_threshold=open_set["sequence_distance"],
                           sequence_rank=s_rank)
            out.update(joint=product, joint_threshold=open_set["joint"])
            unknown = product < open_set["joint"]  # the product decides alone (its edges are the thresholds)
        else:
            unknown = unknown or d > open_set["distance"]
    if open_set.get("scaled_distance") is not None and embedding is not None:
        z = (np.asarray(embedding, np.float64) - np.asarray(open_set["center"], np.float64)) \
            / np.asarray(open_set["scale"], np.float64)
        d = float(nearest_cosine(z[None], open_set["scaled_centroids"])[0])
        out.update(scaled_distance=d, scaled_distance_threshold=open_set["scaled_distance"])
        unknown = unknown or d > open_set["scaled_distance"]
    out["unknown"] = bool(unknown)
    return out


def verdict_number(value: float, decimals: int = 3) -> float:
    """A verdict's number for JSON: ``decimals`` after the point, and for a value under 0.1 as many more as keep
    its first ``decimals`` significant digits (a product of ranks of 0.00047 against a threshold of 0.00051 must
    not read 0.0 against 0.0).

    Example
    -------
    >>> verdict_number(0.9543), verdict_number(0.000470722)
    (0.954, 0.000471)
    """
    v = float(value)
    if v == 0.0 or not math.isfinite(v):
        return v
    return round(v, max(decimals, decimals - 1 - math.floor(math.log10(abs(v)))))


def result(name: str, spec: dict, res: dict, *, top_k: int = 3, decimals: int = 3) -> dict:
    """The fields of ``predict --json`` for one clip."""
    classes = spec["classes"]
    window_probs = res["probs"]
    probs = window_probs.mean(axis=0)
    order = np.argsort(-probs)[:top_k]
    verdict = judge(spec.get("open_set"), probs, res["embedding"], res.get("sequences"))
    return {
        "file": name,
        "label": classes[int(np.argmax(probs))],
        "top": [{"label": classes[i], "prob": round(float(probs[i]), decimals)} for i in order],
        "duration": round(res["duration"], 4),
        "classes": list(classes),
        "windows": [{"start": round(float(s), 4), "end": round(float(e), 4), "padded": bool(p),
                     "probs": [round(float(v), decimals) for v in row]}
                    for s, e, p, row in zip(res["starts"], res["ends"], res["padded"], window_probs, strict=True)],
        "unknown": bool(verdict.get("unknown", False)),
        "unknown_score": round(float(verdict.get("confidence", np.max(probs))), decimals),
        "open_set": {k: (verdict_number(v, decimals) if isinstance(v, float) else v) for k, v in verdict.items()},
    }


def load(folder: Path = HERE) -> tuple[Model, dict]:
    """The model and ``labels.json`` of an export folder."""
    spec = json.loads((folder / "labels.json").read_text(encoding="utf-8"))
    return Model(folder / spec["model_file"], spec["outputs"]), spec


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Classify audio files with this exported model.")
    p.add_argument("files", nargs="+", metavar="CLIP")
    p.add_argument("--json", action="store_true", help="print one JSON list")
    p.add_argument("--top-k", type=int, default=3)
    args = p.parse_args(argv)
    try:
        model, spec = load()
    except RunnerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    results, failed = [], 0
    for path in args.files:
        try:
            res = classify_samples(model, spec, load_audio(path, spec["sample_rate"]))
        except RunnerError as exc:
            failed += 1
            print(f"error: {exc}", file=sys.stderr)
            results.append({"file": path, "error": str(exc)})
            continue
        d = result(path, spec, res, top_k=args.top_k)
        results.append(d)
        if not args.json:
            top = ", ".join(f"{t['label']} {t['prob']:.2f}" for t in d["top"])
            print(f"{path}: {top}{'  (none of these?)' if d['unknown'] else ''}  ({len(d['windows'])} windows)")
    if args.json:
        print(json.dumps(results, indent=1))
    return 2 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
