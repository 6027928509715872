"""Sliding windows over feature frames or raw samples.

A model sees fixed-size windows; a clip of any length becomes a stack of them,
each with its start and end time so predictions can be drawn on the clip's
time axis. Windows start every ``hop`` units from 0; when the clip does not end
exactly on a window boundary, one more window covers the tail. Any part of a
window beyond the clip (the tail, or a clip shorter than one window) is filled
by the padding policy and the window is flagged as padded:

* ``"repeat"`` (default) -- the clip is repeated (wrapped) to fill the window,
  so a short sound keeps its character;
* ``"constant"`` -- zeros (silence in samples, the clip's minimum in a feature,
  i.e. the quietest value in dB).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from .._validate import check_choice, check_keys, check_number, check_positive_int
from ..errors import ParameterError

__all__ = ["WindowConfig", "Windows", "frame_windows", "sample_windows", "hop_for_overlap", "PAD_POLICIES"]

PAD_POLICIES = ("repeat", "constant")


@dataclass(frozen=True)
class WindowConfig:
    """Window length and hop, in frames (feature models) or samples (waveform models).

    Defaults follow the reference collection: 128-frame windows with a hop of 64
    (50 % overlap). For waveform models use ``WindowConfig.for_waveform()``:
    30 000 samples with 50 % overlap.
    """

    length: int = 128
    hop: int = 64
    pad: str = "repeat"

    def __post_init__(self) -> None:
        for name in ("length", "hop"):
            check_positive_int(getattr(self, name), f"window {name}")
        check_choice(self.pad, "pad", PAD_POLICIES)

    @classmethod
    def for_waveform(cls, length: int = 30000, overlap: float = 0.5, pad: str = "repeat") -> WindowConfig:
        return cls(length=length, hop=hop_for_overlap(length, overlap), pad=pad)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> WindowConfig:
        """Rebuild from :meth:`to_dict` output; an unknown or missing key is a :class:`ParameterError`."""
        return cls(**check_keys(d, cls, required=("length", "hop")))


def hop_for_overlap(length: int, overlap: float) -> int:
    """The hop between windows of ``length`` that overlap by the fraction ``overlap`` in [0, 1) (at least 1).

    Example
    -------
    >>> hop_for_overlap(64, 0.75)
    16
    """
    check_number(overlap, "overlap", low=0, high=1, high_open=True)
    return max(1, int(round(length * (1.0 - overlap))))


@dataclass(frozen=True)
class Windows:
    """A stack of windows and where they sit in the clip.

    data : np.ndarray [shape=(n_windows, ..., length)]
        For frame windows (n_windows, bins, length); for samples (n_windows, length).
    starts, ends : np.ndarray [shape=(n_windows,)]
        Start and end of each window's real (unpadded) content, in seconds.
    padded : np.ndarray [shape=(n_windows,)], bool
        True where part of the window was filled by the padding policy.
    """

    data: np.ndarray
    starts: np.ndarray
    ends: np.ndarray
    padded: np.ndarray

    def __len__(self) -> int:
        return len(self.data)

    @property
    def any_padded(self) -> bool:
        return bool(np.any(self.padded))


def _starts(n: int, length: int, hop: int) -> np.ndarray:
    if n <= length:
        return np.zeros(1, dtype=np.int64)
    count = math.ceil((n - length) / hop) + 1
    return np.arange(count, dtype=np.int64) * hop


def _take(x: np.ndarray, start: int, length: int, pad: str) -> tuple[np.ndarray, bool]:
    """Slice ``length`` items from the last axis of ``x`` starting at ``start``, padding past the end."""
    n = x.shape[-1]
    stop = start + length
    if stop <= n:
        return x[..., start:stop], False
    if pad == "repeat":
        idx = np.arange(start, stop) % n
        return x[..., idx], True
    piece = x[..., start:n]
    fill_value = float(np.min(x)) if x.ndim > 1 else 0.0
    fill = np.full(x.shape[:-1] + (stop - max(start, n),), fill_value, dtype=x.dtype)
    return np.concatenate([piece, fill], axis=-1), True


def _window(x: np.ndarray, config: WindowConfig, seconds_per_unit: float, total_s: float) -> Windows:
    n = x.shape[-1]
    if n == 0:
        raise ParameterError("cannot window an empty signal or a feature with zero frames")
    starts = _starts(n, config.length, config.hop)
    pieces, padded = zip(*(_take(x, int(s), config.length, config.pad) for s in starts), strict=True)
    start_s = starts * seconds_per_unit
    end_s = np.minimum((starts + config.length) * seconds_per_unit, total_s)
    return Windows(np.stack(pieces), start_s.astype(np.float64), end_s.astype(np.float64), np.array(padded, bool))


def frame_windows(
    features: np.ndarray, *, sr: int, hop_length: int, config: WindowConfig | None = None,
    duration: float | None = None,
) -> Windows:
    """Cut a (bins, frames) feature matrix into windows of ``config.length`` frames.

    Parameters
    ----------
    features : np.ndarray [shape=(bins, frames) or (bins, frames, channels)]
        Channels, if any, stay last: windows are then (n, bins, length, channels).
    sr, hop_length : int
        To turn frame indices into seconds (frame i starts at i * hop_length / sr).
    duration : float, optional
        The clip's duration in seconds, so the last window's end is not past it.

    Returns
    -------
    Windows
    """
    config = config or WindowConfig()
    x = np.asarray(features)
    if x.ndim not in (2, 3):
        raise ParameterError(f"features must be (bins, frames) or (bins, frames, channels), got shape {x.shape}")
    if sr <= 0 or hop_length <= 0:
        raise ParameterError(f"sr={sr} and hop_length={hop_length} must be positive integers")
    moved = np.moveaxis(x, 1, -1) if x.ndim == 3 else x  # frames last for slicing
    total = duration if duration is not None else x.shape[1] * hop_length / sr
    w = _window(moved, config, hop_length / sr, total)
    data = np.moveaxis(w.data, -1, 2) if x.ndim == 3 else w.data  # (n, bins, length, channels)
    return Windows(data, w.starts, w.ends, w.padded)


def sample_windows(y: np.ndarray, sr: int, *, config: WindowConfig | None = None) -> Windows:
    """Cut raw samples into windows of ``config.length`` samples (waveform models).

    Parameters
    ----------
    y : np.ndarray [shape=(n,)]
    sr : int

    Returns
    -------
    Windows with ``data`` of shape (n_windows, length)
    """
    config = config or WindowConfig.for_waveform()
    y = np.asarray(y)
    if y.ndim != 1:
        raise ParameterError(f"y must be mono 1-D samples, got shape {y.shape}")
    if sr <= 0:
        raise ParameterError(f"sr={sr} must be a positive integer")
    return _window(y, config, 1.0 / sr, len(y) / sr)
