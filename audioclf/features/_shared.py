"""Per-signal cache: each STFT, CQT or tuning estimate is computed once.

Every channel receives one :class:`Shared` for the signal being analysed and
asks it for the intermediate it needs (``S`` for librosa's ``S=`` arguments,
the mel spectrum, a CQT …). The first request computes it, later ones reuse
it, so computing eighteen channels costs one STFT, not twelve.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import librosa
import numpy as np

from .._validate import check_positive_int
from ..errors import ParameterError
from ._config import FeatureConfig

__all__ = ["Shared", "check_signal", "quiet_short_signal_warnings"]

T = TypeVar("T")


def check_signal(y: Any, sr: Any) -> tuple[np.ndarray, int]:
    """Validate a mono signal and its sample rate; return ``(float32 y, int sr)``.

    Raises
    ------
    ParameterError
        If ``sr`` is not a positive integer, or ``y`` is not a non-empty,
        finite, 1-D numeric array.
    """
    check_positive_int(sr, "sr", hint=" sample rate in Hz, e.g. 22050")
    try:
        arr = np.asarray(y)
    except Exception as exc:  # ragged lists and the like
        raise ParameterError(f"y must be a 1-D array of samples; could not convert it ({exc})") from exc
    if arr.dtype.kind not in "fiu":
        raise ParameterError(f"y must hold real numbers, got dtype {arr.dtype}")
    if arr.ndim != 1:
        raise ParameterError(f"y must be mono with shape (n,), got shape {arr.shape}; "
                             "mix channels down first (e.g. y.mean(axis=0))")
    if arr.size == 0:
        raise ParameterError("y is empty (0 samples); a clip needs at least one sample")
    arr = arr.astype(np.float32, copy=False)
    if not np.all(np.isfinite(arr)):
        raise ParameterError("y contains NaN or infinite samples; clean or reload the audio")
    return np.ascontiguousarray(arr), int(sr)


@contextlib.contextmanager
def quiet_short_signal_warnings() -> Iterator[None]:
    """Silence librosa's warnings about clips shorter than one frame, and silence.

    A one-sample or silent clip is a supported input here (its frames are
    zero-padded), so librosa's "n_fft is too large" and "empty frequency
    set" notices would only alarm the user.
    """
    # catch_warnings swaps the process-wide filter list; under concurrent
    # threads (Streamlit) the worst case is one of these notices slipping through.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"n_fft=\d+ is too large for input signal", category=UserWarning)
        warnings.filterwarnings("ignore", message=r"Trying to estimate tuning from empty frequency set",
                                category=UserWarning)
        yield


class Shared:
    """Lazily computed intermediates of one signal under one config.

    Parameters
    ----------
    y : np.ndarray [shape=(n,), dtype=float32]
        The validated signal (see :func:`check_signal`).
    sr : int
        Sample rate in Hz.
    config : FeatureConfig
        Parameters of every channel.

    Attributes
    ----------
    n_frames : int
        Frames of every channel: ``1 + n // hop_length`` (centred frames).
    fmax : float
        Upper frequency of the mel and gammatone filterbanks (``sr / 2`` if
        ``config.fmax`` is None).
    counts : dict[str, int]
        How often each intermediate was actually computed (for tests and
        benchmarks: every value is 1 after any number of channels).
    """

    def __init__(self, y: np.ndarray, sr: int, config: FeatureConfig) -> None:
        self.y = y
        self.sr = sr
        self.config = config
        self.n_frames = 1 + len(y) // config.hop_length
        self.fmax = config.fmax_for(sr)
        self.counts: dict[str, int] = {}
        self._cache: dict[str, Any] = {}

    def cached(self, key: str, compute: Callable[[], T]) -> T:
        """Return ``compute()``, computing it only the first time ``key`` is asked for."""
        if key not in self._cache:
            self._cache[key] = compute()
            self.counts[key] = self.counts.get(key, 0) + 1
        return self._cache[key]

    def stft(self) -> np.ndarray:
        """The complex STFT, ``(1 + n_fft // 2, frames)``, Hann window, centred frames."""
        cfg = self.config
        return self.cached("stft", lambda: librosa.stft(self.y, n_fft=cfg.n_fft, hop_length=cfg.hop_length,
                                                        window="hann", center=True, pad_mode="constant"))

    def spectrogram(self, power: int = 1) -> np.ndarray:
        """``|STFT| ** power``: the ``S`` handed to librosa instead of ``y``.

        This is the one place that decides "y or S": channels never pass ``y``
        to an STFT-based librosa function, they pass this. ``power=1`` gives
        the magnitude, ``power=2`` the power spectrogram, exactly as librosa's
        own ``_spectrogram`` computes them from ``y``.

        Returns
        -------
        np.ndarray [shape=(1 + n_fft // 2, frames), dtype=float32]
        """
        if power == 1:
            return self.cached("magnitude", lambda: np.abs(self.stft()))
        if power == 2:
            return self.cached("power", lambda: self.spectrogram(1) ** 2)
        raise ParameterError(f"power={power!r} must be 1 (magnitude) or 2 (power)")

    def mel_power(self) -> np.ndarray:
        """Mel power spectrogram ``(n_mels, frames)`` from the shared power STFT."""
        cfg = self.config
        return self.cached("mel", lambda: librosa.feature.melspectrogram(
            S=self.spectrogram(2), sr=self.sr, n_fft=cfg.n_fft, hop_length=cfg.hop_length,
            n_mels=cfg.n_mels, fmin=cfg.fmin, fmax=self.fmax))

    def mel_db(self) -> np.ndarray:
        """Log-mel in dB exactly as :func:`librosa.feature.mfcc` makes it (ref 1, top_db 80)."""
        return self.cached("mel_db", lambda: librosa.power_to_db(self.mel_power()))

    def frame_times(self) -> np.ndarray:
        """Centre time (s) of each frame, ``(frames,)``."""
        return librosa.frames_to_time(np.arange(self.n_frames), sr=self.sr, hop_length=self.config.hop_length)

    def frames(self) -> np.ndarray:
        """The zero-padded signal cut into centred frames, ``(n_fft, frames)`` (a view)."""
        cfg = self.config

        def _frame() -> np.ndarray:
            pad = cfg.n_fft // 2
            padded = np.pad(self.y, (pad, pad), mode="constant")
            return librosa.util.frame(padded, frame_length=cfg.n_fft, hop_length=cfg.hop_length)

        return self.cached("frames", _frame)
