"""From a clip to model inputs: the one mapping shared by training and inference.

A :class:`PipelineConfig` says everything that happens between a loaded clip
and the tensor a model reads: preprocessing (denoise, silence removal), the
feature channels and their :class:`~audioclf.features.FeatureConfig`, the
windowing, the input kind and shape, and whether inputs are standardised.
It is saved in every model bundle, so loading a bundle alone reproduces the
exact inputs the model was trained on.

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

import contextlib
import hashlib
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._kinds import INPUT_KINDS
from ..audio.preprocess import PreprocessConfig, preprocess
from ..audio.windowing import WindowConfig, Windows, frame_windows, sample_windows
from ..errors import ParameterError
from ..features import STFT_PAIRS, FeatureConfig, compute_channels, get_channel, summary_matrix, summary_vector
from ..features.stack import interp_axis
from ..features.stats import SUMMARY_BINS, SUMMARY_COLUMNS, summary_labels

__all__ = [
    "INPUT_KINDS",
    "NORMALIZE_OPTIONS",
    "CENTER_OPTIONS",
    "LEVEL_OPTIONS",
    "SUMMARY_VECTOR_SHAPE",
    "SUMMARY_MATRIX_SHAPE",
    "PipelineConfig",
    "ClipInputs",
    "clip_inputs",
    "backbone_windows",
    "expand_channels",
]

#: ``"channel"``: standardise with mean/std per channel (per feature for
#: summary inputs) measured on the training windows; ``"none"``: raw values.
NORMALIZE_OPTIONS = ("channel", "none")
CENTER_OPTIONS = ("none", "time")
#: ``"peak"``: scale each clip to full-scale peak before features; ``"raw"``: keep the recorded level.
LEVEL_OPTIONS = ("peak", "raw")
_SILENT_PEAK = 1e-8  # below -160 dBFS a clip is treated as silence and left as it is
#: Bumped whenever the mapping itself changes, so old cache entries are never reused.
PIPELINE_VERSION = 1
#: Input shapes of the two summary inputs: the summary vector and the summary matrix.
SUMMARY_VECTOR_SHAPE = (len(summary_labels()),)
SUMMARY_MATRIX_SHAPE = (SUMMARY_BINS, len(SUMMARY_COLUMNS), 1)
_ALIASES = {f"stft_{k}": v for k, v in STFT_PAIRS.items()}  # "stft_magphase" -> (stft_mag, stft_phase)


def expand_channels(channels: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """Replace the aliases ``stft_magphase`` / ``stft_realimag`` by their two planes.

    Examples
    --------
    >>> expand_channels(("stft_magphase",))
    ('stft_mag', 'stft_phase')
    """
    out: list[str] = []
    for name in channels:
        out.extend(_ALIASES.get(name, (name,)))
    return tuple(out)


def _positive_shape(shape: Any) -> tuple[int, ...]:
    try:
        dims = tuple(shape)
    except TypeError:
        dims = ()
    if not dims or any(isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d <= 0 for d in dims):
        raise ParameterError(f"input_shape={shape!r} must be a tuple of positive integers without the batch axis, "
                             "e.g. (64, 64, 1)")
    return tuple(int(d) for d in dims)


@dataclass(frozen=True)
class PipelineConfig:
    """Everything between a loaded clip and the model's input tensor.

    Parameters
    ----------
    sr : int
        Clips are resampled to this rate on loading.
    preprocess : PreprocessConfig
        Optional denoise and silence removal.
    features : FeatureConfig
        STFT / mel / CQT parameters of the channels.
    channels : tuple of str
        Feature channels (spectrogram: exactly one; multichannel: one per
        input plane, ``stft_magphase`` / ``stft_realimag`` count as two);
        empty for ``waveform`` and ``summary`` inputs.
    window : WindowConfig
        Window length and hop in frames (samples for ``waveform``). The length
        must equal the input's time axis (``input_shape[1]``; ``input_shape[0]``
        for waveforms).
    input_kind : {'summary', 'spectrogram', 'multichannel', 'waveform', 'embedding'}
    input_shape : tuple of int
        Model input shape without the batch axis.
    normalize : {'channel', 'none'}
        Standardise inputs with statistics measured on the training windows.
    level : {'peak', 'raw'}
        ``'peak'`` scales each clip (after preprocessing) so its loudest sample
        is at full scale before features are computed, so the model does not
        learn recording levels: a speaker recorded 20 dB quieter looks the
        same. ``'raw'`` keeps the level as recorded.
    center : {'none', 'time'}
        ``'time'`` subtracts, in each window, every frequency bin's mean over
        the window's frames (spectrogram-like inputs; cepstral mean
        normalisation on a log spectrogram): a fixed colouring of the sound
        -- a microphone's response, a room, a voice's spectral tilt -- is
        removed and what changes over time is kept.
    backbone : str or None
        ``embedding`` inputs: the pretrained backbone that hears the clip
        (``"sounds"``, ``"speech"``; see :func:`audioclf.backbones.list_backbones`).
        ``sr`` must be its sample rate, ``input_shape`` ``(K, embedding_dim)``
        and ``window`` counts backbone windows.
    fine_tune : bool
        ``embedding`` inputs: stop below the backbone's top block, whose trained copy the
        model holds (:meth:`audioclf.backbones.Backbone.top_block`); ``input_shape`` is then
        ``(K, *TopBlock.input_shape)`` and ``normalize`` ``'none'`` (the model standardises
        the embeddings itself).

    Examples
    --------
    >>> cfg = audioclf.engine.recipes.default_pipeline("feature_mlp")   # doctest: +SKIP
    >>> PipelineConfig.from_dict(cfg.to_dict()) == cfg  # doctest: +SKIP
    True
    """

    sr: int = 22050
    preprocess: PreprocessConfig = field(default_factory=PreprocessConfig)
    features: FeatureConfig = field(default_factory=FeatureConfig)
    channels: tuple[str, ...] = ("mel",)
    window: WindowConfig = field(default_factory=WindowConfig)
    input_kind: str = "spectrogram"
    input_shape: tuple[int, ...] = (128, 128, 1)
    normalize: str = "channel"
    level: str = "peak"
    center: str = "none"
    backbone: str | None = None
    fine_tune: bool = False

    def __post_init__(self) -> None:
        if isinstance(self.sr, bool) or not isinstance(self.sr, (int, np.integer)) or self.sr <= 0:
            raise ParameterError(f"sr={self.sr!r} must be a positive integer sample rate, e.g. 22050")
        object.__setattr__(self, "sr", int(self.sr))
        for name, cls in (("preprocess", PreprocessConfig), ("features", FeatureConfig), ("window", WindowConfig)):
            if not isinstance(getattr(self, name), cls):
                raise ParameterError(f"{name} must be a {cls.__name__}, got {type(getattr(self, name)).__name__}")
        if self.input_kind not in INPUT_KINDS:
            raise ParameterError(f"input_kind={self.input_kind!r} must be one of {', '.join(INPUT_KINDS)}")
        if self.center not in CENTER_OPTIONS:
            raise ParameterError(f"center={self.center!r} must be one of {', '.join(CENTER_OPTIONS)}")
        if self.center != "none" and self.input_kind not in ("spectrogram", "multichannel"):
            raise ParameterError(f"center={self.center!r} applies to spectrogram-like inputs, not {self.input_kind}")
        if self.normalize not in NORMALIZE_OPTIONS:
            raise ParameterError(f"normalize={self.normalize!r} must be one of {', '.join(NORMALIZE_OPTIONS)}")
        if self.level not in LEVEL_OPTIONS:
            raise ParameterError(f"level={self.level!r} must be one of {', '.join(LEVEL_OPTIONS)}")
        if isinstance(self.channels, str):
            raise ParameterError(f"channels={self.channels!r} must be a tuple of names, e.g. ('mel',)")
        object.__setattr__(self, "channels", tuple(self.channels))
        shape = _positive_shape(self.input_shape)
        object.__setattr__(self, "input_shape", shape)
        self._check_kind(shape)

    def _check_kind(self, shape: tuple[int, ...]) -> None:
        kind, planes = self.input_kind, expand_channels(self.channels)
        if self.fine_tune and kind != "embedding":
            raise ParameterError(f"fine_tune=True fine-tunes a pretrained backbone; it needs embedding inputs, "
                                 f"not {kind}")
        if (kind == "embedding") != (self.backbone is not None):
            raise ParameterError(f"backbone={self.backbone!r}: embedding inputs need a backbone, and only they "
                                 f"take one (input_kind={kind!r})")
        for name in planes:
            get_channel(name)  # raises ParameterError listing the valid names
        if kind in ("spectrogram", "multichannel"):
            if len(shape) != 3:
                raise ParameterError(f"a {kind} input_shape is (freq, time, channels), got {shape}")
            if kind == "spectrogram" and (len(planes) != 1 or shape[2] != 1):
                raise ParameterError(f"a spectrogram input has one channel; got channels={self.channels} and "
                                     f"input_shape={shape}; use a multichannel model for several")
            if len(planes) != shape[2]:
                raise ParameterError(f"channels {planes} give {len(planes)} planes but input_shape={shape} "
                                     f"expects {shape[2]}; list exactly {shape[2]} channels")
            if self.window.length != shape[1]:
                raise ParameterError(f"window.length={self.window.length} frames must equal the input's time axis "
                                     f"input_shape[1]={shape[1]}")
        elif kind == "waveform":
            if len(shape) != 2 or shape[1] != 1:
                raise ParameterError(f"a waveform input_shape is (n_samples, 1), got {shape}")
            if self.window.length != shape[0]:
                raise ParameterError(f"window.length={self.window.length} samples must equal input_shape[0]="
                                     f"{shape[0]} for a waveform input")
        elif kind == "embedding":
            from ..backbones import get_backbone_spec

            spec = get_backbone_spec(self.backbone)  # unknown names fail here, listing the valid ones
            if planes:
                raise ParameterError(f"embedding inputs read no feature channels, got channels={self.channels}")
            if self.sr != spec.sample_rate:
                raise ParameterError(f"the {spec.name} backbone hears {spec.sample_rate} Hz audio; sr={self.sr} "
                                     f"must be {spec.sample_rate}")
            if not isinstance(self.fine_tune, bool):
                raise ParameterError(f"fine_tune={self.fine_tune!r} must be True or False")
            if self.fine_tune:
                from ..backbones import get_top_block

                top = get_top_block(spec.name)  # BackboneError: this backbone has no top block
                if len(shape) != 1 + len(top.input_shape) or shape[1:] != top.input_shape:
                    raise ParameterError(f"a fine-tuned {spec.name} input_shape is (windows, "
                                         f"{', '.join(map(str, top.input_shape))}), got {shape}")
                if self.normalize != "none":
                    raise ParameterError(f"normalize={self.normalize!r}: fine-tuned inputs feed the pretrained top "
                                         "block as they are; use normalize='none' (the model standardises the "
                                         "embeddings itself)")
            elif len(shape) != 2 or shape[1] != spec.embedding_dim:
                raise ParameterError(f"an embedding input_shape is (windows, {spec.embedding_dim}) for the "
                                     f"{spec.name} backbone, got {shape}")
            if self.window.length != shape[0]:
                raise ParameterError(f"window.length={self.window.length} backbone windows must equal "
                                     f"input_shape[0]={shape[0]}")
        else:  # summary
            if shape not in (SUMMARY_VECTOR_SHAPE, SUMMARY_MATRIX_SHAPE):
                raise ParameterError(f"a summary input_shape is {SUMMARY_VECTOR_SHAPE} (summary vector) or "
                                     f"{SUMMARY_MATRIX_SHAPE} (summary matrix), got {shape}")
            if self.features.n_mels < SUMMARY_BINS:
                raise ParameterError(f"summary inputs need n_mels >= {SUMMARY_BINS}, got {self.features.n_mels}")

    # --- derived -----------------------------------------------------------------------------

    @property
    def planes(self) -> tuple[str, ...]:
        """The channels with STFT aliases expanded, one per input plane."""
        return expand_channels(self.channels)

    @property
    def window_seconds(self) -> float:
        """Duration of one window in seconds."""
        if self.input_kind == "waveform":
            return self.window.length / self.sr
        if self.input_kind == "embedding":
            from ..backbones import get_backbone_spec

            spec = get_backbone_spec(self.backbone)
            return (self.window.length - 1) * spec.hop_s + spec.window_s
        return self.window.length * self.features.hop_length / self.sr

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (saved in ``bundle.json``)."""
        d = {
            "sr": self.sr,
            "preprocess": self.preprocess.to_dict(),
            "features": self.features.to_dict(),
            "channels": list(self.channels),
            "window": self.window.to_dict(),
            "input_kind": self.input_kind,
            "input_shape": list(self.input_shape),
            "normalize": self.normalize,
            "level": self.level,
            "center": self.center,
        }
        if self.backbone is not None:  # absent otherwise: older descriptions and cache keys stay as they were
            d["backbone"] = self.backbone
        if self.fine_tune:  # absent when False, likewise
            d["fine_tune"] = True
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> PipelineConfig:
        """Rebuild a config from :meth:`to_dict` output.

        Raises
        ------
        ParameterError
            If a key is missing or a value has the wrong type or range.
        """
        if not isinstance(d, dict):
            raise ParameterError(f"a pipeline description must be a dict, got {type(d).__name__}")
        required = ("sr", "features", "channels", "window", "input_kind", "input_shape")
        missing = [k for k in required if k not in d]
        if missing:
            raise ParameterError(f"pipeline description lacks {', '.join(missing)}")
        try:
            return cls(
                sr=d["sr"],
                preprocess=PreprocessConfig.from_dict(d.get("preprocess")),
                features=FeatureConfig.from_dict(d["features"]),
                channels=tuple(d["channels"]),
                window=WindowConfig.from_dict(d["window"]),
                input_kind=d["input_kind"],
                input_shape=tuple(d["input_shape"]),
                normalize=d.get("normalize", "channel"),
                level=d.get("level", "raw"),  # descriptions without the field predate the level step
                center=d.get("center", "none"),
                backbone=d.get("backbone"),
                fine_tune=d.get("fine_tune", False),  # older descriptions predate fine-tuning
            )
        except ParameterError:
            raise
        except (TypeError, ValueError, KeyError, AttributeError) as exc:
            raise ParameterError(f"pipeline description is malformed: {type(exc).__name__}: {exc}") from exc

    def cache_key(self) -> str:
        """A hash of everything that shapes the (unnormalised) inputs: the feature cache key.

        ``normalize`` is left out (it is applied after the cache); the library
        versions that compute features are in, so an upgrade never reuses stale entries.
        """
        key = self.__dict__.get("_cache_key")
        if key is None:
            import librosa

            d = self.to_dict()
            d.pop("normalize")
            d["_version"] = PIPELINE_VERSION
            d["_librosa"] = librosa.__version__
            if self.backbone is not None:  # new weights make new embeddings
                from ..backbones import get_backbone_spec

                d["_weights"] = get_backbone_spec(self.backbone).weights_sha256
            text = json.dumps(d, sort_keys=True, separators=(",", ":"))
            key = hashlib.sha256(text.encode()).hexdigest()
            object.__setattr__(self, "_cache_key", key)  # memo on a frozen instance; not a field
        return key


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


class EmbeddingDeferred(Exception):
    """Raised by :func:`_embedding_windows` inside :func:`deferred_embeddings`: the clip's backbone input was
    set aside to go through the network with other clips' (see :func:`audioclf.engine.extract.extract_dataset`)."""


_batch = threading.local()


@contextlib.contextmanager
def deferred_embeddings() -> Iterator[list[tuple[str, str, bool, np.ndarray, np.ndarray]]]:
    """Collect the backbone inputs of clips not in the embedding cache instead of running the network per clip.

    Inside the block, :func:`clip_inputs` of an embedding pipeline whose clip misses the cache appends
    ``(digest, cache_key, fine_tune_cut, frames, starts)`` to the yielded list and raises
    :class:`EmbeddingDeferred`.
    One network call for the windows of many clips is then made by the caller, who hands the results to
    :func:`computed_embeddings`; a 5-s ESC-10 clip alone is 3 windows, padded to a batch of 4, at about
    two thirds of the throughput of a batch of 64.
    """
    pending: list[tuple[str, str, bool, np.ndarray, np.ndarray]] = []
    _batch.pending = pending
    try:
        yield pending
    finally:
        _batch.pending = None


@contextlib.contextmanager
def computed_embeddings(found: dict[tuple[str, str], np.ndarray]) -> Iterator[None]:
    """Inside the block, :func:`clip_inputs` takes a clip's backbone output from ``found[(digest, cache_key)]``."""
    _batch.found = found
    try:
        yield
    finally:
        _batch.found = None


def _embedding_windows(y: np.ndarray, config: PipelineConfig) -> Windows:
    """Backbone embeddings of ``y`` grouped into windows of ``K`` consecutive ones: (n, K, dim)."""
    from ..backbones import EmbeddingCache, get_backbone, get_top_block
    from ..backbones.embeddings import cache_key

    bb = get_backbone(config.backbone)
    spec = bb.spec
    duration = len(y) / config.sr
    y, short, _ = _backbone_signal(y, config)
    # Cached per signal (not per pipeline), so another K or hop over the same clips costs nothing.
    signal = np.ascontiguousarray(y, dtype=np.float32)
    digest = "sig-" + hashlib.sha256(signal.tobytes() + f"@{config.sr}".encode()).hexdigest()
    # Fine-tuning: what the top block reads, one flattened row per backbone window.
    cut = get_top_block(spec.name) if config.fine_tune else None
    cache = EmbeddingCache()
    key = cache_key(bb, cut=cut.cut if cut else None)
    dim = int(np.prod(cut.input_shape)) if cut else spec.embedding_dim
    emb = (getattr(_batch, "found", None) or {}).get((digest, key))  # just computed in a batch: no read back
    if emb is None:
        hit = cache.get(digest, key, dim)
        emb = None if hit is None else hit[0]
    if emb is None:
        frames, starts = bb.frontend(signal, config.sr)  # (n_emb, frames, bands); short clips: one padded window
        pending = getattr(_batch, "pending", None)
        if pending is not None:
            pending.append((digest, key, cut is not None, frames, np.asarray(starts, dtype=np.float64)))
            raise EmbeddingDeferred(digest)
        emb = bb.top_inputs(frames).reshape(len(frames), dim) if cut else bb.embed_windows(frames)  # (n_emb, dim)
        try:
            cache.put(digest, key, emb, starts)
        except OSError:
            pass  # a read-only or full cache folder costs time, never a result
    hop_samples = int(round(spec.hop_s * config.sr))
    # frame_windows cuts the (dim, n_emb, 1) "spectrogram" of embeddings like any feature over time;
    # one frame = one backbone hop, so window starts land on backbone window starts.
    w = frame_windows(emb.T[:, :, None], sr=config.sr, hop_length=hop_samples, config=config.window,
                      duration=duration)
    data = np.transpose(w.data[..., 0], (0, 2, 1))  # (n, dim, K) -> (n, K, dim)
    if cut:
        data = data.reshape((len(data), data.shape[1], *cut.input_shape))  # (n, K, *top_input_shape)
    if short:
        return Windows(data[:1], np.zeros(1), np.full(1, duration), np.ones(1, bool))
    ends = np.minimum(w.starts + config.window_seconds, duration)
    return Windows(data, w.starts, ends, w.padded)


def _prepared(y: np.ndarray, sr: int, config: PipelineConfig, name: str) -> tuple[np.ndarray, Any, list[str]]:
    """Preprocessing and level: the signal every input kind is cut from, the kept intervals, notes."""
    if sr != config.sr:
        raise ParameterError(f"{name}: sample rate {sr} Hz differs from the pipeline's {config.sr} Hz; "
                             f"load the clip with load_audio(..., sr={config.sr})")
    notes: list[str] = []
    pre = preprocess(y, sr, config=config.preprocess, name=name, allow_silent=True)
    intervals = pre.intervals
    if intervals is not None and len(intervals) == 0:
        notes.append("no sound found by silence splitting: the whole (unsplit) clip was used")
        intervals = None
    signal = pre.y
    if len(signal) == 0:
        raise ParameterError(f"{name}: the clip holds no samples")
    if config.level == "peak":
        peak = float(np.max(np.abs(signal)))
        if peak > _SILENT_PEAK:
            signal = (signal / peak).astype(np.float32)
    return signal, intervals, notes


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
        The pipeline does not read embeddings, or see :func:`clip_inputs`.
    """
    from ..backbones import get_backbone

    if config.input_kind != "embedding":
        raise ParameterError(f"backbone_windows needs an embedding pipeline, not input_kind={config.input_kind!r}")
    signal, _, _ = _prepared(y, sr, config, name)
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


def clip_inputs(y: np.ndarray, sr: int, *, config: PipelineConfig, name: str = "clip") -> ClipInputs:
    """Turn one loaded clip into unnormalised model inputs.

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
    signal, intervals, notes = _prepared(y, sr, config, name)
    kind = config.input_kind
    if kind == "embedding":
        w = _embedding_windows(signal, config)
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
    if w.any_padded and len(w) == 1:
        notes.append(f"clip ({len(signal) / sr:.2f} s after preprocessing) is shorter than one window "
                     f"({config.window_seconds:.2f} s): padded by '{config.window.pad}'")
    starts = _to_original_time(w.starts, intervals, sr)
    ends = _to_original_time(w.ends, intervals, sr)
    return ClipInputs(np.ascontiguousarray(data, dtype=np.float32), starts, ends, w.padded.copy(),
                      len(y) / sr, tuple(notes))
