"""The registry of named channels and the functions that compute them."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from ..errors import ParameterError
from . import _cqt, _spectral, _temporal, gammatone
from ._config import FeatureConfig
from ._shared import Shared, check_signal, quiet_short_signal_warnings
from ._types import ChannelData, ChannelInfo

__all__ = ["list_channels", "get_channel", "channel_names", "compute_channels", "compute_channel",
           "compute_shared"]

# Display order: time domain, STFT summaries, STFT planes, perceptual, pitch.
_ORDER = (
    "waveform", "zcr", "rms", "spectral_centroid", "spectral_bandwidth", "spectral_rolloff",
    "stft_mag", "stft_phase", "stft_real", "stft_imag", "mel", "mfcc", "gfcc", "gammatonegram",
    "cqt", "chroma_stft", "chroma_cqt", "chroma_cens",
)
_BY_NAME: dict[str, ChannelInfo] = {
    info.name: info
    for info in (*_temporal.CHANNELS, *_spectral.CHANNELS, *gammatone.CHANNELS, *_cqt.CHANNELS)
}
_REGISTRY: dict[str, ChannelInfo] = {name: _BY_NAME[name] for name in _ORDER}
if set(_BY_NAME) != set(_REGISTRY):  # a channel defined but not placed in _ORDER
    raise ImportError(f"unordered channels: {sorted(set(_BY_NAME) - set(_REGISTRY))}")


def channel_names() -> list[str]:
    """Names of every registered channel, in display order."""
    return list(_REGISTRY)


def list_channels() -> list[ChannelInfo]:
    """Every registered channel, in display order.

    Examples
    --------
    >>> [c.name for c in list_channels()][:3]
    ['waveform', 'zcr', 'rms']
    """
    return list(_REGISTRY.values())


def get_channel(name: str) -> ChannelInfo:
    """The registry entry of channel ``name``.

    Raises
    ------
    ParameterError
        If ``name`` is not registered; the message lists the valid names.
    """
    try:
        return _REGISTRY[name]
    except (KeyError, TypeError):
        raise ParameterError(f"unknown channel {name!r}; valid channels: {', '.join(_REGISTRY)}") from None


def _resolve(names: Iterable[str] | str | None) -> list[str]:
    if names is None:
        return list(_REGISTRY)
    if isinstance(names, str):  # a lone name, not an iterable of its letters
        names = [names]
    out: list[str] = []
    for name in names:
        get_channel(name)
        if name not in out:
            out.append(name)
    if not out:
        raise ParameterError(f"names is empty; choose at least one of: {', '.join(_REGISTRY)}")
    return out


def _check_config(config: FeatureConfig | None) -> FeatureConfig:
    if config is None:
        return FeatureConfig()
    if not isinstance(config, FeatureConfig):
        raise ParameterError(f"config must be a FeatureConfig, got {type(config).__name__}; "
                             "build one with FeatureConfig(...) or FeatureConfig.from_dict(d)")
    return config


def compute_shared(y: np.ndarray, sr: int, names: Iterable[str] | str | None = None, *,
                   config: FeatureConfig | None = None) -> tuple[dict[str, ChannelData], Shared]:
    """Like :func:`compute_channels`, also returning the per-signal cache.

    The cache's ``counts`` tell how often each STFT/CQT was computed (once);
    :mod:`audioclf.features.stats` reuses its intermediates.
    """
    config = _check_config(config)
    y, sr = check_signal(y, sr)
    wanted = _resolve(names)
    shared = Shared(y, sr, config)
    times = shared.frame_times()
    out: dict[str, ChannelData] = {}
    with quiet_short_signal_warnings():
        for name in wanted:
            info = _REGISTRY[name]
            values, bins, labels = info.compute(shared)
            values = np.asarray(values, dtype=np.float32)
            if values.ndim != 2 or values.shape[1] != shared.n_frames:
                # Every channel must line up frame for frame; anything else is a bug here.
                raise RuntimeError(f"channel {name!r} returned shape {values.shape}, "
                                   f"expected (bins, {shared.n_frames})")
            out[name] = ChannelData(info=info, values=values, times=times, bins=np.asarray(bins, dtype=float),
                                    bin_labels=labels, top_db=config.top_db)
    return out, shared


def compute_channels(y: np.ndarray, sr: int, names: Iterable[str] | str | None = None, *,
                     config: FeatureConfig | None = None) -> dict[str, ChannelData]:
    """Compute several channels of one signal, sharing their STFT and CQTs.

    Parameters
    ----------
    y : np.ndarray [shape=(n,)]
        Mono signal, finite, at least one sample (converted to float32).
    sr : int
        Sample rate in Hz.
    names : iterable of str, str or None
        Channels to compute, in the order wanted; ``None`` computes all of
        them (see :func:`list_channels`). Duplicates are ignored.
    config : FeatureConfig, optional
        Parameters; the defaults when omitted.

    Returns
    -------
    dict[str, ChannelData]
        One entry per name, in the requested order. Every channel has
        ``1 + n // hop_length`` frames, aligned in time.

    Raises
    ------
    ParameterError
        For an unknown channel name, a bad ``y``/``sr``, or a config that
        does not fit ``sr`` (e.g. ``fmax`` above ``sr / 2``).

    Examples
    --------
    >>> import numpy as np
    >>> from audioclf import synth
    >>> chans = compute_channels(synth.tone(440, 1.0, 22050), 22050, ["mel", "mfcc"])
    >>> {k: v.values.shape for k, v in chans.items()}
    {'mel': (128, 44), 'mfcc': (40, 44)}
    """
    return compute_shared(y, sr, names, config=config)[0]


def compute_channel(name: str, y: np.ndarray, sr: int, *, config: FeatureConfig | None = None) -> ChannelData:
    """Compute one channel; see :func:`compute_channels` for parameters.

    Examples
    --------
    >>> import numpy as np
    >>> compute_channel("rms", np.ones(1024, np.float32), 22050).values.shape
    (1, 3)
    """
    get_channel(name)
    return compute_channels(y, sr, [name], config=config)[name]
