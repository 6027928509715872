"""Constant-Q channels: ``cqt``, ``chroma_cqt`` and ``chroma_cens``.

Two different CQTs are computed, each at most once per signal:

* ``cqt`` uses the config's own settings (``cqt_fmin``, ``cqt_bins_per_octave``,
  ``cqt_n_bins``) with ``tuning=0``, librosa's default for :func:`librosa.cqt`.
* ``chroma_cqt`` and ``chroma_cens`` use librosa's chroma settings instead
  (36 bins per octave, tuning estimated from the signal) and share that one
  CQT and tuning estimate through ``C=``. Reusing the 12-bin ``cqt`` here would
  change their values, so they deliberately do not.

Both go through :func:`audioclf.features._cqt_basis.cqt`, librosa's algorithm
with its filter bases cached between calls (equal to :func:`librosa.cqt`).

Low sample rates: a CQT whose top filters would reach past the Nyquist
frequency ``sr / 2`` is an error in librosa. :func:`fit_cqt_bins` lowers the
bin count until the highest filter's upper band edge fits (84 → 83 bins at
8 kHz for ``cqt``; 7 → 6 octaves for the chroma CQT, reserving room for a
tuning shift of up to half a bin).

Short clips: the CQT zero-pads centred frames and returns ``1 + n // hop_length``
finite frames even for a one-sample clip. Only where librosa's early
decimation needs more samples than the clip has (1-8 samples at 44.1 kHz
and above) is the clip zero-padded to that minimum (at most ``hop_length``
samples), see :mod:`audioclf.features._cqt_basis`.
"""

from __future__ import annotations

import functools
import math

import librosa
import numpy as np

from ..errors import ParameterError
from ._cqt_basis import cqt
from ._shared import Shared
from ._spectral import PITCH_CLASSES
from ._types import ChannelInfo

__all__ = ["CHANNELS", "fit_cqt_bins", "CHROMA_BINS_PER_OCTAVE"]

#: Bins per octave of the CQT under ``chroma_cqt`` and ``chroma_cens`` (librosa's default).
CHROMA_BINS_PER_OCTAVE = 36
_CHROMA_MAX_OCTAVES = 7  # librosa's default n_octaves
# estimate_tuning(y) runs piptrack on a magnitude STFT with these settings; when
# the config uses the same ones, the shared STFT gives the identical estimate.
_TUNING_STFT = (2048, 512)


@functools.lru_cache(maxsize=64)
def fit_cqt_bins(sr: float, fmin: float, bins_per_octave: int, n_bins: int, *, max_tuning: float = 0.0) -> int:
    """The largest CQT bin count ``<= n_bins`` whose filters stay below ``sr / 2``.

    Mirrors librosa's own check in :func:`librosa.vqt`: the upper band edge
    of the highest filter (from :func:`librosa.filters.wavelet_lengths`) must
    not exceed the Nyquist frequency.

    Parameters
    ----------
    sr : float
        Sample rate in Hz.
    fmin : float
        Frequency of the lowest bin before tuning, Hz.
    bins_per_octave : int
        Bins per octave.
    n_bins : int
        Bins wanted.
    max_tuning : float
        Largest tuning offset (fractions of a bin) the CQT may apply; the
        lowest bin moves up to ``fmin * 2 ** (max_tuning / bins_per_octave)``.

    Returns
    -------
    int
        ``n_bins`` itself when it fits, else the largest count that does.

    Raises
    ------
    ParameterError
        If not even one bin fits (``fmin`` is too close to ``sr / 2``).

    Examples
    --------
    >>> fit_cqt_bins(8000, 32.70319566257483, 12, 84)
    83
    """
    nyquist = sr / 2.0
    f0 = fmin * 2.0 ** (max_tuning / bins_per_octave)
    # Start from the count whose top centre is just below Nyquist, then step down.
    n = min(n_bins, max(1, math.floor(bins_per_octave * math.log2(nyquist / f0)) + 1))
    while n >= 1:
        freqs = librosa.cqt_frequencies(n_bins=n, fmin=f0, bins_per_octave=bins_per_octave)
        alpha = None
        if n == 1:  # librosa's relative bandwidth of a lone bin (constantq.__et_relative_bw)
            r = 2.0 ** (1.0 / bins_per_octave)
            alpha = (r**2 - 1) / (r**2 + 1)
        _, cutoff = librosa.filters.wavelet_lengths(freqs=freqs, sr=sr, alpha=alpha)
        if cutoff <= nyquist:
            return n
        n -= 1
    raise ParameterError(f"cqt_fmin={fmin:g} Hz leaves no room for a CQT below the Nyquist frequency "
                         f"{nyquist:g} Hz at sr={sr:g}; lower cqt_fmin (default C1 = 32.70 Hz)")


def _cqt_bins(sh: Shared) -> int:
    cfg = sh.config
    return fit_cqt_bins(float(sh.sr), float(cfg.cqt_fmin), cfg.cqt_bins_per_octave, cfg.cqt_n_bins)


def _cqt(sh: Shared) -> tuple[np.ndarray, np.ndarray, list[str]]:
    cfg = sh.config
    n_bins = _cqt_bins(sh)

    def compute() -> np.ndarray:
        return np.abs(cqt(sh.y, sr=sh.sr, hop_length=cfg.hop_length, fmin=cfg.cqt_fmin,
                          n_bins=n_bins, bins_per_octave=cfg.cqt_bins_per_octave, tuning=0.0))

    values = sh.cached("cqt", compute)
    freqs = librosa.cqt_frequencies(n_bins=n_bins, fmin=cfg.cqt_fmin, bins_per_octave=cfg.cqt_bins_per_octave)
    labels = [str(n) for n in librosa.hz_to_note(freqs, cents=cfg.cqt_bins_per_octave != 12, unicode=False)]
    return values, freqs, labels


def chroma_octaves(sr: int, fmin: float) -> int:
    """Octaves of the chroma CQT at ``sr``: librosa's 7, fewer if they would pass ``sr / 2``."""
    bins = fit_cqt_bins(float(sr), float(fmin), CHROMA_BINS_PER_OCTAVE,
                        _CHROMA_MAX_OCTAVES * CHROMA_BINS_PER_OCTAVE, max_tuning=0.5)
    if bins < CHROMA_BINS_PER_OCTAVE:
        raise ParameterError(f"cqt_fmin={fmin:g} Hz leaves less than one octave below sr/2={sr / 2:g} Hz "
                             "for chroma_cqt; lower cqt_fmin")
    return bins // CHROMA_BINS_PER_OCTAVE


def _chroma_cqt_input(sh: Shared) -> np.ndarray:
    """The magnitude CQT that librosa's ``chroma_cqt(y=...)`` would compute, once per signal."""
    cfg = sh.config

    def tuning() -> float:
        if (cfg.n_fft, cfg.hop_length) == _TUNING_STFT:
            return float(librosa.estimate_tuning(S=sh.spectrogram(1), sr=sh.sr,
                                                 bins_per_octave=CHROMA_BINS_PER_OCTAVE))
        return float(librosa.estimate_tuning(y=sh.y, sr=sh.sr, bins_per_octave=CHROMA_BINS_PER_OCTAVE))

    def compute() -> np.ndarray:
        n_octaves = chroma_octaves(sh.sr, cfg.cqt_fmin)
        return np.abs(cqt(sh.y, sr=sh.sr, hop_length=cfg.hop_length, fmin=cfg.cqt_fmin,
                          n_bins=n_octaves * CHROMA_BINS_PER_OCTAVE, bins_per_octave=CHROMA_BINS_PER_OCTAVE,
                          tuning=sh.cached("chroma_tuning", tuning)))

    return sh.cached("chroma_cqt_input", compute)


def _chroma_kwargs(sh: Shared) -> dict[str, object]:
    cfg = sh.config
    return {"C": _chroma_cqt_input(sh), "sr": sh.sr, "hop_length": cfg.hop_length, "fmin": cfg.cqt_fmin,
            "bins_per_octave": CHROMA_BINS_PER_OCTAVE, "n_octaves": chroma_octaves(sh.sr, cfg.cqt_fmin)}


def _chroma_cqt(sh: Shared) -> tuple[np.ndarray, np.ndarray, list[str]]:
    return librosa.feature.chroma_cqt(**_chroma_kwargs(sh)), np.arange(12.0), list(PITCH_CLASSES)


def _chroma_cens(sh: Shared) -> tuple[np.ndarray, np.ndarray, list[str]]:
    return librosa.feature.chroma_cens(**_chroma_kwargs(sh)), np.arange(12.0), list(PITCH_CLASSES)


CHANNELS = (
    ChannelInfo(
        name="cqt", title="Constant-Q transform", units="magnitude", scale="db",
        quantity="amplitude", bin_kind="hz", compute=_cqt,
        description=(
            "A spectrogram whose rows are musical notes: each row is one semitone, from C1 (about 33 Hz) "
            "upwards, so every octave gets the same number of rows. Low notes are measured with long "
            "windows and high notes with short ones, like a piano keyboard turned on its side. Melodies "
            "and harmonics line up neatly, which is why musicians and bird-song researchers like it."),
    ),
    ChannelInfo(
        name="chroma_cqt", title="Chromagram (CQT)", units="relative energy (max = 1)", scale="linear",
        quantity=None, bin_kind="pitch", compute=_chroma_cqt,
        description=(
            "The 12 pitch classes (C, C#, D … B) again, but measured from a fine constant-Q transform with "
            "three rows per semitone and an automatic tuning correction. Every octave of a note adds to "
            "the same row and each window is scaled so its strongest note is 1. It is usually cleaner "
            "than the STFT chromagram for low notes."),
    ),
    ChannelInfo(
        name="chroma_cens", title="Chroma energy normalised (CENS)", units="normalised energy",
        scale="linear", quantity=None, bin_kind="pitch", compute=_chroma_cens,
        description=(
            "A smoothed, simplified chromagram. The constant-Q chroma is rounded to a few energy levels "
            "and averaged over about a second, so small changes in loudness, timbre or articulation "
            "disappear and only the slowly changing harmony remains. It is used to recognise the same "
            "tune played in different ways."),
    ),
)
