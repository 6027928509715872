"""Multi-channel model inputs: channels resized to one grid and stacked.

Resizing is separable linear interpolation with aligned corners: along each
axis, output sample ``i`` of ``m`` reads input position ``i · (n - 1) / (m - 1)``
and interpolates between its two neighbours (``np.interp`` semantics), so the
first and last bins and frames are kept exactly. An axis of length 1 is
repeated. Channels whose display scale is dB are converted to dB first
(:meth:`ChannelData.model_input`), so interpolation happens where the values
are spread evenly.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from ..errors import ParameterError
from ._config import FeatureConfig
from ._registry import compute_channels
from ._types import ChannelData

__all__ = ["NORMALIZATIONS", "STFT_PAIRS", "interp_axis", "resize_2d", "normalize_channels", "stack_channels",
           "stack_computed", "stft_pair"]

#: Per-channel normalisation options of :func:`stack_channels`.
NORMALIZATIONS = ("none", "minmax", "standard")
#: The two-channel STFT variants of :func:`stft_pair`.
STFT_PAIRS = {"magphase": ("stft_mag", "stft_phase"), "realimag": ("stft_real", "stft_imag")}


def _check_shape(shape: Sequence[int]) -> tuple[int, int]:
    ok = (isinstance(shape, (tuple, list)) and len(shape) == 2
          and all(isinstance(s, (int, np.integer)) and not isinstance(s, bool) and s >= 1 for s in shape))
    if not ok:
        raise ParameterError(f"shape={shape!r} must be two positive integers (freq, time), e.g. (128, 128)")
    return int(shape[0]), int(shape[1])


def interp_axis(x: np.ndarray, size: int, axis: int) -> np.ndarray:
    """Resize ``x`` to ``size`` entries along ``axis`` by linear interpolation (aligned corners).

    One entry is repeated; the first and last entries are kept exactly.

    This is ``scipy.ndimage.zoom(order=1, grid_mode=False)`` along one axis (equal within
    5e-7 in float32; ``test_resize_matches_scipy_zoom_linear`` compares them), kept rather
    than calling scipy because it is one code path for three users: :func:`resize_2d`, the
    pipeline's frequency-axis resize, and the interpolation matrix the export bakes into
    an ONNX/TFLite graph (``interp_axis(np.eye(n), f, 0)``), so training, serving and an
    export resample identically; and because zoom is slower on these shapes (2 cores,
    float32, median of 200: a (128, 431) plane to (128, 128) 0.17 ms here against
    0.96 ms; (40, 10) to (128, 128) 0.21 ms against 0.77 ms).
    """
    n = x.shape[axis]
    if n == size:
        return x
    if n == 1:
        return np.repeat(x, size, axis=axis)
    pos = np.linspace(0.0, n - 1, size)
    lo = np.minimum(np.floor(pos).astype(int), n - 2)
    frac = (pos - lo).astype(x.dtype)
    a = np.take(x, lo, axis=axis)
    b = np.take(x, lo + 1, axis=axis)
    shape = [1] * x.ndim
    shape[axis] = size
    frac = frac.reshape(shape)
    return a + (b - a) * frac


def resize_2d(x: np.ndarray, shape: Sequence[int]) -> np.ndarray:
    """Resize a 2-D array by linear interpolation along each axis (aligned corners).

    Parameters
    ----------
    x : np.ndarray [shape=(bins, frames)]
    shape : (int, int)
        Output ``(bins, frames)``.

    Returns
    -------
    np.ndarray [shape=shape, dtype=float32]

    Examples
    --------
    >>> resize_2d(np.array([[0.0, 2.0]]), (1, 3)).tolist()
    [[0.0, 1.0, 2.0]]
    """
    f, t = _check_shape(shape)
    x = np.asarray(x, dtype=np.float32)
    if x.ndim != 2 or 0 in x.shape:
        raise ParameterError(f"resize_2d expects a non-empty 2-D array, got shape {x.shape}")
    return interp_axis(interp_axis(x, f, 0), t, 1)


def normalize_channels(x: np.ndarray, method: str = "none") -> np.ndarray:
    """Normalise each channel of an ``(f, t, c)`` tensor on its own.

    Parameters
    ----------
    x : np.ndarray [shape=(f, t, c)]
    method : {'none', 'minmax', 'standard'}
        ``'minmax'`` maps each channel to [0, 1]; ``'standard'`` to zero mean
        and unit standard deviation. A constant channel becomes all zeros.

    Returns
    -------
    np.ndarray [shape=(f, t, c), dtype=float32]

    Raises
    ------
    ParameterError
        If ``method`` is not one of :data:`NORMALIZATIONS`.
    """
    if method not in NORMALIZATIONS:
        raise ParameterError(f"normalize={method!r} is not an option; choose one of {', '.join(NORMALIZATIONS)}")
    x = np.asarray(x, dtype=np.float32)
    if method == "none":
        return x
    # Statistics in float64: a 128x128 sum in float32 loses the last digits.
    x64 = x.astype(np.float64)
    if method == "minmax":
        lo = x64.min(axis=(0, 1), keepdims=True)
        span = x64.max(axis=(0, 1), keepdims=True) - lo
        out = np.where(span > 0, (x64 - lo) / np.where(span > 0, span, 1.0), 0.0)
    else:
        mean = x64.mean(axis=(0, 1), keepdims=True)
        std = x64.std(axis=(0, 1), keepdims=True)
        out = np.where(std > 0, (x64 - mean) / np.where(std > 0, std, 1.0), 0.0)
    return out.astype(np.float32)


def stack_channels(y: np.ndarray, sr: int, names: Iterable[str] | str, *, config: FeatureConfig | None = None,
                   shape: Sequence[int] = (128, 128), normalize: str = "none") -> np.ndarray:
    """Stack channels of one signal into an ``(f, t, c)`` model input.

    Each channel is computed once (sharing STFT/CQT), put in its model form
    (dB for ``scale='db'`` channels, see :meth:`ChannelData.model_input`),
    resized to ``shape`` (see the module docstring) and normalised.

    Parameters
    ----------
    y : np.ndarray [shape=(n,)]
        Mono signal.
    sr : int
        Sample rate in Hz.
    names : iterable of str or str
        Channels, in stacking order (see :func:`list_channels`).
    config : FeatureConfig, optional
    shape : (int, int)
        ``(frequency, time)`` size of every channel. Default (128, 128).
    normalize : {'none', 'minmax', 'standard'}
        Per-channel normalisation (see :func:`normalize_channels`).

    Returns
    -------
    np.ndarray [shape=(shape[0], shape[1], len(names)), dtype=float32]

    Raises
    ------
    ParameterError
        For an unknown channel or option, a bad shape or a bad signal.

    Examples
    --------
    >>> from audioclf import synth
    >>> stack_channels(synth.tone(440, 1.0, 22050), 22050, ["mel", "mfcc", "cqt"]).shape
    (128, 128, 3)
    """
    size = _check_shape(shape)
    if normalize not in NORMALIZATIONS:
        raise ParameterError(f"normalize={normalize!r} is not an option; choose one of {', '.join(NORMALIZATIONS)}")
    return stack_computed(compute_channels(y, sr, names, config=config), shape=size, normalize=normalize)


def stack_computed(channels: Mapping[str, ChannelData] | Sequence[ChannelData], *,
                   shape: Sequence[int] = (128, 128), normalize: str = "none") -> np.ndarray:
    """Stack channels already computed by :func:`compute_channels` (no recomputation).

    Parameters
    ----------
    channels : mapping of name to ChannelData, or sequence of ChannelData
        In stacking order.
    shape, normalize
        As in :func:`stack_channels`.

    Returns
    -------
    np.ndarray [shape=(shape[0], shape[1], len(channels)), dtype=float32]
    """
    size = _check_shape(shape)
    if normalize not in NORMALIZATIONS:
        raise ParameterError(f"normalize={normalize!r} is not an option; choose one of {', '.join(NORMALIZATIONS)}")
    items = list(channels.values()) if isinstance(channels, Mapping) else list(channels)
    if not items or not all(isinstance(ch, ChannelData) for ch in items):
        raise ParameterError("channels must be a non-empty mapping or sequence of ChannelData "
                             "(the result of compute_channels)")
    planes = [resize_2d(ch.model_input(), size) for ch in items]  # each (f, t)
    return normalize_channels(np.stack(planes, axis=-1), normalize)  # (f, t, c)


def stft_pair(y: np.ndarray, sr: int, *, kind: str = "magphase", config: FeatureConfig | None = None,
              shape: Sequence[int] = (128, 128), normalize: str = "none") -> np.ndarray:
    """The two-channel STFT input: magnitude (dB) + phase, or real + imaginary.

    Parameters
    ----------
    kind : {'magphase', 'realimag'}
        ``'magphase'`` stacks ``stft_mag`` (in dB) and ``stft_phase`` (radians);
        ``'realimag'`` stacks ``stft_real`` and ``stft_imag`` (linear).
    y, sr, config, shape, normalize
        As in :func:`stack_channels`.

    Returns
    -------
    np.ndarray [shape=(shape[0], shape[1], 2), dtype=float32]

    Raises
    ------
    ParameterError
        If ``kind`` is not one of :data:`STFT_PAIRS`.
    """
    if kind not in STFT_PAIRS:
        raise ParameterError(f"kind={kind!r} is not an STFT pair; choose one of {', '.join(STFT_PAIRS)}")
    return stack_channels(y, sr, STFT_PAIRS[kind], config=config, shape=shape, normalize=normalize)
