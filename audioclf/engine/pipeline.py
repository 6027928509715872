"""What happens between a loaded clip and a model's inputs: :class:`PipelineConfig`.

A :class:`PipelineConfig` says everything that happens between a loaded clip
and the tensor a model reads: preprocessing (denoise, silence removal), the
feature channels and their :class:`~audioclf.features.FeatureConfig`, the
windowing, the input kind and shape, and whether inputs are standardised.
It is saved in every model bundle, so loading a bundle alone reproduces the
exact inputs the model was trained on.

The input kinds and the stages that turn a clip into its inputs live in
:mod:`audioclf.engine.inputs`; this module only describes them.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._kinds import INPUT_KINDS
from ..audio.preprocess import PreprocessConfig
from ..audio.windowing import WindowConfig
from ..errors import ParameterError
from ..features import STFT_PAIRS, FeatureConfig, get_channel
from ..features.stats import SUMMARY_BINS, SUMMARY_COLUMNS, summary_labels

__all__ = [
    "INPUT_KINDS",
    "NORMALIZE_OPTIONS",
    "CENTER_OPTIONS",
    "LEVEL_OPTIONS",
    "SUMMARY_VECTOR_SHAPE",
    "SUMMARY_MATRIX_SHAPE",
    "PipelineConfig",
    "expand_channels",
]

#: ``"channel"``: standardise with mean/std per channel (per feature for
#: summary inputs) measured on the training windows; ``"none"``: raw values.
NORMALIZE_OPTIONS = ("channel", "none")
CENTER_OPTIONS = ("none", "time")
#: ``"peak"``: scale each clip to full-scale peak before features; ``"raw"``: keep the recorded level.
LEVEL_OPTIONS = ("peak", "raw")
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
