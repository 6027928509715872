"""From a clip to model inputs, in explicit stages: the one mapping shared by training and inference.

A :class:`~audioclf.engine.pipeline.PipelineConfig` says what happens; this module does it. Each stage
is a plain call returning the value the next one takes:

1. :func:`prepare_clip` -- preprocessing (denoise, silence removal) and level: a :class:`PreparedClip`.
2. ``embedding`` pipelines only -- the backbone's windows, through the embedding cache:
   :func:`backbone_input` per clip (a cache hit, or the front end's windows on a miss), then
   :func:`clip_embeddings` for many clips at once (one network call for all the misses, whose
   embeddings go to the cache).
3. :func:`model_inputs` -- the prepared clip (and its embeddings) cut into windows: a :class:`ClipInputs`.

:func:`clip_inputs` runs the three for one clip; :func:`dataset_group_inputs` runs them for a group of
files, the backbone batched over the group. Every clip is preprocessed once.

Input kinds (``input_shape`` excludes the batch axis):

* ``spectrogram`` -- one channel's model form (dB for dB channels), resized
  along frequency to ``input_shape[0]`` bins, cut into windows of
  ``input_shape[1]`` frames: ``(n, f, t, 1)``.
* ``multichannel`` -- several channels, each resized to ``f`` bins, stacked
  last: ``(n, f, t, c)``. ``"stft_magphase"`` / ``"stft_realimag"`` stand for
  the two STFT planes of :func:`audioclf.features.stft_pair`.
* ``waveform`` -- windows of ``input_shape[0]`` raw samples: ``(n, L, 1)``.
* ``summary`` -- windows of ``window.length * hop_length`` samples, each
  turned into :func:`~audioclf.features.summary_vector` (``(n, 220)``) or
  :func:`~audioclf.features.summary_matrix` (``(n, 40, 5, 1)``).
* ``embedding`` -- a pretrained backbone (:mod:`audioclf.backbones`) turns the
  clip into one embedding per backbone window; ``input_shape[0]`` consecutive
  embeddings make one input: ``(n, K, embedding_dim)``. With ``fine_tune`` the
  pipeline stops below the backbone's top block (:func:`~audioclf.backbones.get_top_block`)
  and the model holds a trained copy of that block: ``(n, K, *top_input_shape)``.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..audio.preprocess import preprocess
from ..audio.windowing import WindowConfig, Windows, frame_windows, sample_windows
from ..backbones.embeddings import EmbeddingCache, cache_key
from ..errors import AudioclfError, ParameterError
from ..features import compute_channels, summary_matrix, summary_vector
from ..features.stack import interp_axis
from .pipeline import SUMMARY_VECTOR_SHAPE, PipelineConfig

__all__ = [
    "ClipInputs",
    "PreparedClip",
    "BackboneInput",
    "prepare_clip",
    "backbone_input",
    "embed_frames",
    "clip_embeddings",
    "model_inputs",
    "clip_inputs",
    "backbone_windows",
    "dataset_group_inputs",
    "embedding_groups",
]

_SILENT_PEAK = 1e-8  # below -160 dBFS a clip is treated as silence and left as it is
# Clips whose backbone windows go through the network together (~70 windows of 5-s clips), fewer when their
# files are large: their decoded signals are held until the group's network call.
_EMBED_GROUP = 24
_EMBED_GROUP_BYTES = 16 << 20
#: The network call of stage 2: several clips' front-end windows -> each clip's rows.
Embed = Callable[[list[np.ndarray]], list[np.ndarray]]


@dataclass(frozen=True)
class ClipInputs:
    """The model inputs of one clip and where each window sits in it.

    Attributes
    ----------
    x : np.ndarray [shape=(n_windows, *input_shape), dtype=float32]
        Unnormalised inputs (apply :class:`audioclf.features.normalization.NormStats` before the model).
    starts, ends : np.ndarray [shape=(n_windows,)]
        Start and end of each window's real content, in seconds of the
        *original* clip (silences removed by splitting are mapped back).
    padded : np.ndarray [shape=(n_windows,)], bool
        Windows partly filled by the padding policy (the clip was shorter).
    duration : float
        Duration of the loaded clip in seconds.
    notes : tuple of str
        What a person should know (silent clip kept unsplit, clip shorter than a window).
    """

    x: np.ndarray
    starts: np.ndarray
    ends: np.ndarray
    padded: np.ndarray
    duration: float
    notes: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.x)


@dataclass(frozen=True)
class PreparedClip:
    """Stage 1: a clip preprocessed and levelled, the signal every input kind is cut from.

    Attributes
    ----------
    signal : np.ndarray [shape=(n,)]
        The preprocessed (and, with ``level='peak'``, peak-normalised) samples at ``sr``.
    sr : int
    intervals : np.ndarray [shape=(k, 2)] or None
        Kept sample intervals of the loaded clip when silence splitting removed some.
    duration : float
        Duration of the loaded clip in seconds (before preprocessing).
    notes : tuple of str
    """

    signal: np.ndarray
    sr: int
    intervals: np.ndarray | None
    duration: float
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class BackboneInput:
    """Stage 2, for one clip: its backbone rows from the embedding cache, or the windows still to embed.

    Attributes
    ----------
    digest, key : str
        The clip's entry in the embedding cache: the hash of the signal the backbone hears, and
        :func:`audioclf.backbones.embeddings.cache_key` of the backbone (and its cut when fine-tuning).
    embeddings : np.ndarray [shape=(n_emb, dim), dtype=float32] or None
        The cached rows (embeddings, or the top block's flattened inputs); None on a miss.
    frames : np.ndarray [shape=(n_emb, frames, bands), dtype=float32] or None
        The backbone's front-end windows on a miss; None on a hit.
    starts : np.ndarray [shape=(n_emb,)] or None
        The front-end windows' starts in seconds, on a miss.
    """

    digest: str
    key: str
    embeddings: np.ndarray | None = None
    frames: np.ndarray | None = None
    starts: np.ndarray | None = None


# --- stage 1 -------------------------------------------------------------------------------------


def prepare_clip(y: np.ndarray, sr: int, *, config: PipelineConfig, name: str = "clip") -> PreparedClip:
    """Stage 1: preprocessing and level, once per clip.

    Parameters
    ----------
    y : np.ndarray [shape=(n,)]
        Mono samples at ``config.sr``.
    sr : int
        Must equal ``config.sr`` (load with ``load_audio(..., sr=config.sr)``).
    config : PipelineConfig
    name : str
        For messages.

    Returns
    -------
    PreparedClip
        A silent clip with silence splitting on keeps the unsplit audio (said in ``notes``).

    Raises
    ------
    ParameterError
        If ``sr`` differs from ``config.sr`` or ``y`` is not a usable signal.
    """
    if sr != config.sr:
        raise ParameterError(f"{name}: sample rate {sr} Hz differs from the pipeline's {config.sr} Hz; "
                             f"load the clip with load_audio(..., sr={config.sr})")
    notes: list[str] = []
    pre = preprocess(y, sr, config=config.preprocess, name=name, allow_silent=True)
    intervals = pre.intervals
    if intervals is not None and len(intervals) == 0:
        notes.append("no sound found by silence splitting: the whole (unsplit) clip was used")
        intervals = None
    elif config.preprocess.trim is not None and config.preprocess.split is None and intervals is not None:
        a, b = (int(v) for v in intervals[0])
        if b - a < len(y):
            notes.append(f"trimmed to its sound: {a / sr:.2f}-{b / sr:.2f} s of {len(y) / sr:.2f} s")
    signal = pre.y
    if len(signal) == 0:
        raise ParameterError(f"{name}: the clip holds no samples")
    if config.level == "peak":
        peak = float(np.max(np.abs(signal)))
        if peak > _SILENT_PEAK:
            signal = (signal / peak).astype(np.float32)
    return PreparedClip(signal, int(sr), intervals, len(y) / sr, tuple(notes))


# --- stage 2: backbone windows -----------------------------------------------------------------


def _backbone_signal(y: np.ndarray, config: PipelineConfig) -> tuple[np.ndarray, bool, float]:
    """The signal the backbone hears, whether it was padded to one input, and the seconds added before it."""
    need = int(round(config.window_seconds * config.sr))
    if len(y) >= need:
        return y, False, 0.0
    # Shorter than one input: filled by the window policy at the signal, before the backbone
    # hears it -- 'constant' centres the clip in silence (a word as a keyword spotter hears
    # it), 'repeat' loops it -- so every input holds K real windows.
    if config.window.pad == "constant":
        pad = need - len(y)
        return np.pad(y, (pad // 2, pad - pad // 2)), True, (pad // 2) / config.sr
    return np.resize(y, need), True, 0.0


def _need_embeddings(config: PipelineConfig) -> None:
    if config.input_kind != "embedding":
        raise ParameterError(f"backbone windows need an embedding pipeline, not input_kind={config.input_kind!r}")


def _cut(config: PipelineConfig) -> Any:
    """The top block whose inputs a fine-tune pipeline reads, or None (embeddings)."""
    from ..backbones import get_top_block

    return get_top_block(config.backbone) if config.fine_tune else None


def _row_dim(config: PipelineConfig) -> int:
    from ..backbones import get_backbone_spec

    cut = _cut(config)
    return int(np.prod(cut.input_shape)) if cut else get_backbone_spec(config.backbone).embedding_dim


def backbone_input(clip: PreparedClip, *, config: PipelineConfig, cache: EmbeddingCache | None = None
                   ) -> BackboneInput:
    """Stage 2a, one clip: its backbone rows from the embedding cache, or on a miss the front end's windows.

    The cache is keyed by the signal the backbone hears (not by the pipeline), so another ``K`` or
    hop over the same clips costs nothing.

    Parameters
    ----------
    clip : PreparedClip
    config : PipelineConfig
        An ``embedding`` pipeline.
    cache : EmbeddingCache, optional
        Default: the embedding cache under ``$AUDIOCLF_CACHE``.

    Raises
    ------
    ParameterError
        The pipeline reads no embeddings, or the signal is unusable.
    """
    from ..backbones import get_backbone

    _need_embeddings(config)
    bb = get_backbone(config.backbone)
    heard, _, _ = _backbone_signal(clip.signal, config)
    signal = np.ascontiguousarray(heard, dtype=np.float32)
    digest = "sig-" + hashlib.sha256(signal.tobytes() + f"@{config.sr}".encode()).hexdigest()
    cut = _cut(config)
    key = cache_key(bb, cut=cut.cut if cut else None)
    hit = (cache if cache is not None else EmbeddingCache()).get(digest, key, _row_dim(config))
    if hit is not None:
        return BackboneInput(digest, key, embeddings=hit[0])
    frames, starts = bb.frontend(signal, config.sr)  # (n_emb, frames, bands); short clips: one padded window
    return BackboneInput(digest, key, frames=frames, starts=np.asarray(starts, dtype=np.float64))


def embed_frames(config: PipelineConfig, frames: list[np.ndarray]) -> list[np.ndarray]:
    """One network call over several clips' front-end windows; each clip's rows.

    Parameters
    ----------
    config : PipelineConfig
        An ``embedding`` pipeline: its backbone, and whether it reads the top block's inputs (``fine_tune``).
    frames : list of np.ndarray [shape=(n_emb, frames, bands)]

    Returns
    -------
    list of np.ndarray [shape=(n_emb, dim), dtype=float32]
        Embeddings, or with ``fine_tune`` the top block's inputs flattened to one row per window.
    """
    from ..backbones import get_backbone

    bb = get_backbone(config.backbone)
    stacked = np.concatenate(frames)
    emb = bb.top_inputs(stacked).reshape(len(stacked), -1) if config.fine_tune else bb.embed_windows(stacked)
    ends = np.cumsum([len(f) for f in frames])
    return [emb[int(e - len(f)):int(e)] for f, e in zip(frames, ends, strict=True)]


def clip_embeddings(inputs: Sequence[BackboneInput], *, config: PipelineConfig, cache: EmbeddingCache | None = None,
                    embed: Embed | None = None) -> list[np.ndarray]:
    """Stage 2b, many clips: every clip's backbone rows, the cache misses embedded by one network call.

    A 5-s ESC-10 clip alone is 3 windows, at about two thirds of the throughput of a batch of 64, so the
    misses of many clips go through the network together; their rows are written to the cache.

    Parameters
    ----------
    inputs : sequence of BackboneInput
        From :func:`backbone_input`.
    config : PipelineConfig
    cache : EmbeddingCache, optional
        Where the new rows go; default: the embedding cache under ``$AUDIOCLF_CACHE``.
    embed : callable ``list of frames -> list of rows``, optional
        The network call; default :func:`embed_frames` (a server passes one that batches across requests).

    Returns
    -------
    list of np.ndarray [shape=(n_emb, dim), dtype=float32]
        One per input, in order.
    """
    rows: list[np.ndarray | None] = [b.embeddings for b in inputs]
    todo = [k for k, b in enumerate(inputs) if b.embeddings is None]
    if todo:
        run = embed if embed is not None else (lambda frames: embed_frames(config, frames))
        store = cache if cache is not None else EmbeddingCache()
        for k, emb in zip(todo, run([inputs[k].frames for k in todo]), strict=True):
            rows[k] = emb
            try:
                store.put(inputs[k].digest, inputs[k].key, emb, inputs[k].starts)
            except OSError:
                pass  # a read-only or full cache folder costs time, never a result
    return rows  # type: ignore[return-value]  # every slot is filled above


def backbone_windows(y: np.ndarray, sr: int, *, config: PipelineConfig,
                     name: str = "clip") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The backbone's front-end windows of a clip and which of them make each model input (``embedding`` kind).

    Returns
    -------
    frames : np.ndarray [shape=(n_emb, frames, bands), dtype=float32]
        The backbone's log-mel input windows, as :func:`clip_inputs` embeds them.
    index : np.ndarray [shape=(n_windows, K)], int
        Row of ``frames`` behind each slot of each model input; -1 where the
        slot holds the constant padding of the last input.
    starts : np.ndarray [shape=(n_emb,)]
        Each backbone window's start in seconds of the preprocessed clip (a
        short clip centred in silence has negative starts before it).

    Raises
    ------
    ParameterError
        The pipeline does not read embeddings, or see :func:`prepare_clip`.
    """
    from ..backbones import get_backbone

    _need_embeddings(config)
    signal = prepare_clip(y, sr, config=config, name=name).signal
    duration = len(signal) / config.sr
    bb = get_backbone(config.backbone)
    heard, short, offset = _backbone_signal(signal, config)
    frames, starts = bb.frontend(np.ascontiguousarray(heard, dtype=np.float32), config.sr)
    n = len(frames)
    rows = np.stack([np.arange(n), np.full(n, -1)]).astype(np.float64)  # constant padding fills with the min, -1
    w = frame_windows(rows, sr=config.sr, hop_length=int(round(bb.spec.hop_s * config.sr)), config=config.window,
                      duration=duration)
    index = w.data[:, 0, :].astype(np.int64)  # (n_windows, K)
    return frames, (index[:1] if short else index), np.asarray(starts, np.float64) - offset


# --- stage 3: model inputs -----------------------------------------------------------------------


def _to_original_time(t: np.ndarray, intervals: np.ndarray | None, sr: int) -> np.ndarray:
    """Map times in the silence-removed clip back to times in the original clip."""
    if intervals is None or len(intervals) == 0:
        return t
    lengths = intervals[:, 1] - intervals[:, 0]
    cum = np.concatenate([[0], np.cumsum(lengths)])  # start of each kept piece in the joined clip
    samples = np.asarray(t, dtype=np.float64) * sr
    k = np.clip(np.searchsorted(cum, samples, side="right") - 1, 0, len(intervals) - 1)
    return (intervals[k, 0] + np.minimum(samples - cum[k], lengths[k])) / sr


def _summary_windows(y: np.ndarray, config: PipelineConfig) -> Windows:
    hop = config.features.hop_length
    win = WindowConfig(length=config.window.length * hop, hop=config.window.hop * hop, pad=config.window.pad)
    w = sample_windows(y, config.sr, config=win)
    one = summary_vector if config.input_shape == SUMMARY_VECTOR_SHAPE else summary_matrix
    rows = [one(piece, config.sr, config=config.features) for piece in w.data]
    data = np.stack(rows).reshape((len(rows),) + config.input_shape)
    return Windows(data, w.starts, w.ends, w.padded)


def _embedding_windows(y: np.ndarray, emb: np.ndarray, config: PipelineConfig) -> Windows:
    """A clip's backbone rows grouped into windows of ``K`` consecutive ones: (n, K, dim)."""
    from ..backbones import get_backbone_spec

    spec = get_backbone_spec(config.backbone)
    duration = len(y) / config.sr
    _, short, _ = _backbone_signal(y, config)
    hop_samples = int(round(spec.hop_s * config.sr))
    # frame_windows cuts the (dim, n_emb, 1) "spectrogram" of embeddings like any feature over time;
    # one frame = one backbone hop, so window starts land on backbone window starts.
    w = frame_windows(emb.T[:, :, None], sr=config.sr, hop_length=hop_samples, config=config.window,
                      duration=duration)
    data = np.transpose(w.data[..., 0], (0, 2, 1))  # (n, dim, K) -> (n, K, dim)
    cut = _cut(config)
    if cut:
        data = data.reshape((len(data), data.shape[1], *cut.input_shape))  # (n, K, *top_input_shape)
    if short:
        return Windows(data[:1], np.zeros(1), np.full(1, duration), np.ones(1, bool))
    ends = np.minimum(w.starts + config.window_seconds, duration)
    return Windows(data, w.starts, ends, w.padded)


def model_inputs(clip: PreparedClip, *, config: PipelineConfig, embeddings: np.ndarray | None = None) -> ClipInputs:
    """Stage 3: a prepared clip cut into unnormalised model inputs.

    Parameters
    ----------
    clip : PreparedClip
        From :func:`prepare_clip` with the same ``config``.
    config : PipelineConfig
    embeddings : np.ndarray [shape=(n_emb, dim)], optional
        ``embedding`` pipelines: the clip's backbone rows (:func:`clip_embeddings`); other kinds take none.

    Returns
    -------
    ClipInputs
        A clip shorter than one window is padded by the window policy (said in ``notes``).

    Raises
    ------
    ParameterError
        ``embeddings`` missing for an embedding pipeline, or given to another kind.
    """
    kind, signal, sr = config.input_kind, clip.signal, clip.sr
    if (kind == "embedding") != (embeddings is not None):
        need = "needs the clip's backbone embeddings" if kind == "embedding" else "takes no backbone embeddings"
        raise ParameterError(f"model_inputs: a {kind} pipeline {need} (see clip_embeddings)")
    if kind == "embedding":
        w = _embedding_windows(signal, embeddings, config)
        data = w.data
    elif kind == "waveform":
        w = sample_windows(signal, sr, config=config.window)
        data = w.data[..., None]  # (n, L, 1)
    elif kind == "summary":
        w = _summary_windows(signal, config)
        data = w.data
    else:
        f = config.input_shape[0]
        chans = compute_channels(signal, sr, config.planes, config=config.features)
        planes = [interp_axis(chans[p].model_input(), f, 0) for p in config.planes]  # each (f, frames)
        stacked = np.stack(planes, axis=-1)  # (f, frames, c)
        w = frame_windows(stacked, sr=sr, hop_length=config.features.hop_length, config=config.window,
                          duration=len(signal) / sr)
        data = w.data  # (n, f, t, c)
        if config.center == "time":
            data = data - data.mean(axis=2, keepdims=True)
    notes = list(clip.notes)
    if w.any_padded and len(w) == 1:
        notes.append(f"clip ({len(signal) / sr:.2f} s after preprocessing) is shorter than one window "
                     f"({config.window_seconds:.2f} s): padded by '{config.window.pad}'")
    starts = _to_original_time(w.starts, clip.intervals, sr)
    ends = _to_original_time(w.ends, clip.intervals, sr)
    return ClipInputs(np.ascontiguousarray(data, dtype=np.float32), starts, ends, w.padded.copy(),
                      clip.duration, tuple(notes))


# --- the stages together -------------------------------------------------------------------------


def clip_inputs(y: np.ndarray, sr: int, *, config: PipelineConfig, name: str = "clip",
                embed: Embed | None = None) -> ClipInputs:
    """Turn one loaded clip into unnormalised model inputs: :func:`prepare_clip`, the backbone's windows
    (``embedding`` pipelines, through the embedding cache), :func:`model_inputs`.

    Parameters
    ----------
    y, sr, config, name
        As :func:`prepare_clip`.
    embed : callable, optional
        The backbone's network call on a cache miss (see :func:`clip_embeddings`).

    Returns
    -------
    ClipInputs
        A silent clip with silence splitting on keeps the unsplit audio, and
        a clip shorter than one window is padded by the window policy; both
        are said in ``notes``.

    Raises
    ------
    ParameterError
        If ``sr`` differs from ``config.sr`` or ``y`` is not a usable signal.

    Examples
    --------
    >>> from audioclf import synth
    >>> cfg = default_pipeline("sfc_dcnn")                                 # doctest: +SKIP
    >>> clip_inputs(synth.tone(440, 4.0, 22050), 22050, config=cfg).x.shape  # doctest: +SKIP
    (3, 128, 128, 1)
    """
    clip = prepare_clip(y, sr, config=config, name=name)
    if config.input_kind != "embedding":
        return model_inputs(clip, config=config)
    (emb,) = clip_embeddings([backbone_input(clip, config=config)], config=config, embed=embed)
    return model_inputs(clip, config=config, embeddings=emb)


def embedding_groups(todo: Sequence[int], paths: Sequence[str]) -> Iterator[list[int]]:
    """Indices of ``paths`` in groups whose backbone windows go through the network together.

    At most 24 clips, fewer when their files are large (16 MiB): their decoded signals are held until
    the group's network call.
    """
    group: list[int] = []
    size = 0
    for i in todo:
        try:
            n = os.path.getsize(paths[i])
        except OSError:
            n = 0  # the clip's own load reports it
        if group and (len(group) >= _EMBED_GROUP or size + n > _EMBED_GROUP_BYTES):
            yield group
            group, size = [], 0
        group.append(i)
        size += n
    if group:
        yield group


def dataset_group_inputs(paths: Sequence[str], config: PipelineConfig) -> list[tuple[str, Any]]:
    """Load a group of clips and turn them into model inputs, each loaded and prepared once.

    For an ``embedding`` pipeline the backbone runs once for the whole group: each clip's rows are
    read from the embedding cache or computed, with the group's other misses, in one network call
    (:func:`clip_embeddings`); keep such groups small (:func:`embedding_groups`). Other kinds go
    clip by clip, holding nothing.

    Returns
    -------
    list of (str, Any)
        Per path, in order: ``("ok", ClipInputs)`` or ``("error", message)`` for a clip that could not
        be read or prepared.
    """
    from ..audio.io import load_audio

    out: list[tuple[str, Any] | None] = [None] * len(paths)
    waiting: dict[int, tuple[PreparedClip, BackboneInput]] = {}  # embedding pipelines: clips held for stage 2b
    cache = EmbeddingCache() if config.input_kind == "embedding" else None
    for k, p in enumerate(paths):
        try:
            y, sr = load_audio(p, sr=config.sr)
            clip = prepare_clip(y, sr, config=config, name=Path(p).name)
            if cache is None:
                out[k] = ("ok", model_inputs(clip, config=config))
            else:
                waiting[k] = (clip, backbone_input(clip, config=config, cache=cache))
        except AudioclfError as exc:
            out[k] = ("error", str(exc))
    if waiting:
        rows = clip_embeddings([b for _, b in waiting.values()], config=config, cache=cache)
        for (k, (clip, _)), emb in zip(waiting.items(), rows, strict=True):
            try:
                out[k] = ("ok", model_inputs(clip, config=config, embeddings=emb))
            except AudioclfError as exc:
                out[k] = ("error", str(exc))
    return [r if r is not None else ("error", f"{Path(p).name}: not computed") for r, p in zip(out, paths,
                                                                                               strict=True)]
