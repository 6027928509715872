"""The one configuration of the feature channels: :class:`FeatureConfig`."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from .._validate import check_int, check_number, check_positive_int
from ..errors import ParameterError

__all__ = ["FeatureConfig", "C1_HZ"]

#: Frequency of the note C1 (MIDI 24) in Hz, the lowest CQT bin by default.
C1_HZ = 440.0 * 2.0 ** ((24 - 69) / 12)


@dataclass(frozen=True)
class FeatureConfig:
    """Parameters of every feature channel, saved as JSON with each model.

    All fields are flat and defaulted; the sample rate is not part of the
    config (the caller passes it with the signal). Validation happens on
    construction and raises :class:`~audioclf.errors.ParameterError`.

    Parameters
    ----------
    n_fft : int
        STFT frame length in samples, even (also the frame length of
        ``zcr``, ``rms`` and ``waveform``). Default 2048.
    hop_length : int
        Samples between successive frames, for every channel. Default 512.
    n_mels : int
        Mel bands of the ``mel`` channel (and the mel spectrum under ``mfcc``).
    n_mfcc : int
        MFCC coefficients kept; at most ``n_mels``.
    fmin : float
        Lowest frequency (Hz) of the mel filterbank. Default 0.
    fmax : float or None
        Highest frequency (Hz) of the mel and gammatone filterbanks; ``None``
        means ``sr / 2``.
    cqt_fmin : float
        Frequency (Hz) of the lowest CQT bin. Default C1 ≈ 32.70 Hz.
    cqt_bins_per_octave : int
        CQT bins per octave of the ``cqt`` channel. Default 12 (semitones).
    cqt_n_bins : int
        CQT bins of the ``cqt`` channel. Default 84 (7 octaves). When the top
        filters would pass the Nyquist frequency ``sr / 2`` (e.g. at
        ``sr=8000``), fewer bins are computed; see ``audioclf.features._cqt``.
    n_gammatone : int
        Gammatone filters of ``gammatonegram`` (and under ``gfcc``). Default 64.
    n_gfcc : int
        GFCC coefficients kept; at most ``n_gammatone``. Default 40.
    gammatone_fmin : float
        Centre frequency (Hz) of the lowest gammatone filter. Default 50 Hz
        (as in Ellis' gammatonegram); a gammatone filter centred at 0 Hz
        would have no meaning.
    rolloff_percent : float
        Fraction of spectral energy below ``spectral_rolloff``, in (0, 1).
    top_db : float or None
        Dynamic range kept when a channel is converted to decibels (the
        display and model form); ``None`` keeps everything down to the floor.

    Examples
    --------
    >>> cfg = FeatureConfig(n_mels=64)
    >>> FeatureConfig.from_dict(cfg.to_dict()) == cfg
    True
    """

    n_fft: int = 2048
    hop_length: int = 512
    n_mels: int = 128
    n_mfcc: int = 40
    fmin: float = 0.0
    fmax: float | None = None
    cqt_fmin: float = C1_HZ
    cqt_bins_per_octave: int = 12
    cqt_n_bins: int = 84
    n_gammatone: int = 64
    n_gfcc: int = 40
    gammatone_fmin: float = 50.0
    rolloff_percent: float = 0.85
    top_db: float | None = 80.0

    def __post_init__(self) -> None:
        check_int(self.n_fft, "n_fft", low=2)
        if self.n_fft % 2:
            # Centred frames of an odd n_fft drift by one against the CQT's frames.
            raise ParameterError(f"n_fft={self.n_fft} must be even, e.g. {self.n_fft + 1}")
        for name in ("hop_length", "n_mels", "n_mfcc", "cqt_bins_per_octave", "cqt_n_bins",
                     "n_gammatone", "n_gfcc"):
            check_positive_int(getattr(self, name), name)
        check_number(self.fmin, "fmin", low=0)
        if self.fmax is not None:
            check_number(self.fmax, "fmax", low=0, low_open=True, hint=" or None")
        check_number(self.cqt_fmin, "cqt_fmin", low=0, low_open=True)
        check_number(self.gammatone_fmin, "gammatone_fmin", low=0, low_open=True)
        if self.top_db is not None:
            check_number(self.top_db, "top_db", low=0, low_open=True, hint=" or None")
        check_number(self.rolloff_percent, "rolloff_percent", low=0, low_open=True)
        if self.rolloff_percent >= 1:
            raise ParameterError(f"rolloff_percent={self.rolloff_percent!r} must be in (0, 1), e.g. 0.85")
        if self.n_mfcc > self.n_mels:
            raise ParameterError(f"n_mfcc={self.n_mfcc} must be <= n_mels={self.n_mels}; "
                                 "lower n_mfcc or raise n_mels")
        if self.n_gfcc > self.n_gammatone:
            raise ParameterError(f"n_gfcc={self.n_gfcc} must be <= n_gammatone={self.n_gammatone}; "
                                 "lower n_gfcc or raise n_gammatone")
        if self.fmax is not None and self.fmax <= self.fmin:
            raise ParameterError(f"fmax={self.fmax} must be greater than fmin={self.fmin} (or None for sr/2)")
        if self.fmax is not None and self.fmax <= self.gammatone_fmin:
            raise ParameterError(f"fmax={self.fmax} must be greater than gammatone_fmin={self.gammatone_fmin}")

    def fmax_for(self, sr: int) -> float:
        """The effective upper frequency for sample rate ``sr``: ``fmax`` or ``sr / 2``.

        Raises
        ------
        ParameterError
            If ``fmax`` (or ``fmin``, ``gammatone_fmin``) is not below the
            Nyquist frequency ``sr / 2``.
        """
        nyquist = sr / 2.0
        if self.fmax is not None and self.fmax > nyquist:
            raise ParameterError(f"fmax={self.fmax} exceeds the Nyquist frequency sr/2={nyquist:g} "
                                 f"for sr={sr}; lower fmax or use fmax=None")
        fmax = nyquist if self.fmax is None else float(self.fmax)
        for name in ("fmin", "gammatone_fmin"):
            if getattr(self, name) >= fmax:
                raise ParameterError(f"{name}={getattr(self, name)} must be below the upper frequency "
                                     f"{fmax:g} Hz at sr={sr}")
        return fmax

    def to_dict(self) -> dict[str, Any]:
        """Every field as a JSON-ready dict (``None`` stays ``None``)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FeatureConfig:
        """Build a config from :meth:`to_dict` output; missing keys take defaults.

        Raises
        ------
        ParameterError
            If ``data`` is not a dict or holds a key that is not a field.
        """
        if not isinstance(data, dict):
            raise ParameterError(f"FeatureConfig.from_dict expects a dict, got {type(data).__name__}")
        names = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(set(data) - set(names))
        if unknown:
            raise ParameterError(f"unknown FeatureConfig field(s) {unknown}; valid fields: {', '.join(names)}")
        return cls(**data)
