"""Clip-level summaries for the feature-MLP and feature-2D-CNN baselines.

* :func:`summary_matrix` — ``(40, 5)``: the time-average of five channels,
  40 values each, columns in :data:`SUMMARY_COLUMNS` order:
  MFCC (40 coefficients, from the config's ``n_mels`` log-mel), log-mel
  (40 bands; the mean of the dB values, ref 1.0, 80 dB range), and the
  three chromagrams.
  Chroma has 12 pitch classes natively; each time-averaged chroma is
  *resampled* to 40 bins by linear interpolation around the pitch circle
  (bin ``j`` sits at pitch class ``12 j / 40``; B wraps back to C). This
  keeps the three chroma columns identical in meaning to the 12-bin channels
  and reuses their shared CQT instead of computing 40-bin chroma CQTs.
* :func:`summary_vector` — ``(220,)``: the matrix flattened column by column
  (200 values), then mean, std, min and max over time of ``zcr``, ``rms``,
  ``spectral_centroid``, ``spectral_bandwidth`` and ``spectral_rolloff``
  (20 values); :func:`summary_labels` names every entry.
* :func:`mean_stft` — ``(257,)`` by default: the time-average STFT magnitude
  with ``n_fft=512``.
"""

from __future__ import annotations

import librosa
import numpy as np

from ..errors import ParameterError
from ._config import FeatureConfig
from ._registry import compute_shared
from ._shared import check_signal, quiet_short_signal_warnings
from ._types import ChannelData

__all__ = ["SUMMARY_BINS", "SUMMARY_COLUMNS", "SUMMARY_STATS_CHANNELS", "summary_matrix", "summary_vector",
           "summary_labels", "mean_stft", "chroma_to_bins"]

#: Rows of the summary matrix.
SUMMARY_BINS = 40
#: Columns of the summary matrix, in order.
SUMMARY_COLUMNS = ("mfcc", "mel", "chroma_stft", "chroma_cqt", "chroma_cens")
#: One-row channels whose mean/std/min/max end the summary vector.
SUMMARY_STATS_CHANNELS = ("zcr", "rms", "spectral_centroid", "spectral_bandwidth", "spectral_rolloff")
_STATS = ("mean", "std", "min", "max")


def chroma_to_bins(chroma: np.ndarray, n_bins: int = SUMMARY_BINS) -> np.ndarray:
    """Resample a 12-bin chroma vector to ``n_bins`` around the pitch circle.

    Parameters
    ----------
    chroma : np.ndarray [shape=(12,)]
    n_bins : int

    Returns
    -------
    np.ndarray [shape=(n_bins,)]
        Output bin ``j`` is the linear interpolation at pitch class
        ``12 j / n_bins`` (between B and C it interpolates towards C).

    Examples
    --------
    >>> chroma_to_bins(np.arange(12.0), 24)[:4].tolist()
    [0.0, 0.5, 1.0, 1.5]
    """
    chroma = np.asarray(chroma, dtype=float)
    if chroma.shape != (12,):
        raise ParameterError(f"chroma must have shape (12,), got {chroma.shape}")
    pos = np.arange(n_bins) * 12.0 / n_bins
    return np.interp(pos, np.arange(13.0), np.append(chroma, chroma[0]))


def _compute(y: np.ndarray, sr: int, config: FeatureConfig | None,
             with_stats: bool) -> tuple[np.ndarray, dict[str, ChannelData]]:
    """The (40, 5) matrix and the channels computed for it, sharing one STFT and CQT."""
    config = FeatureConfig() if config is None else config
    if isinstance(config, FeatureConfig) and config.n_mels < SUMMARY_BINS:
        raise ParameterError(f"n_mels={config.n_mels} is too small for the {SUMMARY_BINS} MFCCs of the "
                             f"summary; use n_mels >= {SUMMARY_BINS}")
    names = ["chroma_stft", "chroma_cqt", "chroma_cens"] + (list(SUMMARY_STATS_CHANNELS) if with_stats else [])
    chans, shared = compute_shared(y, sr, names, config=config)
    with quiet_short_signal_warnings():
        mfcc = librosa.feature.mfcc(S=shared.mel_db(), n_mfcc=SUMMARY_BINS)  # (40, frames)
        mel40 = librosa.feature.melspectrogram(S=shared.spectrogram(2), sr=shared.sr, n_mels=SUMMARY_BINS,
                                               fmin=config.fmin, fmax=shared.fmax)
    columns = [mfcc.mean(axis=1), librosa.power_to_db(mel40).mean(axis=1)]
    columns += [chroma_to_bins(chans[name].values.mean(axis=1)) for name in SUMMARY_COLUMNS[2:]]
    matrix = np.stack(columns, axis=1).astype(np.float32)  # (40, 5)
    return matrix, chans


def summary_matrix(y: np.ndarray, sr: int, *, config: FeatureConfig | None = None) -> np.ndarray:
    """Time-averaged MFCC, log-mel and three chromagrams as a ``(40, 5)`` matrix.

    Parameters
    ----------
    y : np.ndarray [shape=(n,)]
        Mono signal.
    sr : int
        Sample rate in Hz.
    config : FeatureConfig, optional
        STFT/mel/CQT parameters; ``n_mels`` must be at least 40.

    Returns
    -------
    np.ndarray [shape=(40, 5), dtype=float32]
        Columns in :data:`SUMMARY_COLUMNS` order (see the module docstring).

    Raises
    ------
    ParameterError
        For a bad signal or config.

    Examples
    --------
    >>> from audioclf import synth
    >>> summary_matrix(synth.tone(440, 1.0, 22050), 22050).shape
    (40, 5)
    """
    return _compute(y, sr, config, with_stats=False)[0]


def summary_vector(y: np.ndarray, sr: int, *, config: FeatureConfig | None = None) -> np.ndarray:
    """The summary matrix flattened, plus frame statistics: a ``(220,)`` vector.

    Entries are named by :func:`summary_labels`: the 40×5 matrix column by
    column (``vector[:200].reshape(5, 40).T == summary_matrix(...)``), then
    mean, std, min, max of each channel in :data:`SUMMARY_STATS_CHANNELS`.

    Returns
    -------
    np.ndarray [shape=(220,), dtype=float32]

    Examples
    --------
    >>> from audioclf import synth
    >>> summary_vector(synth.tone(440, 1.0, 22050), 22050).shape
    (220,)
    """
    matrix, chans = _compute(y, sr, config, with_stats=True)
    stats = []
    for name in SUMMARY_STATS_CHANNELS:
        row = chans[name].values[0].astype(np.float64)
        stats += [row.mean(), row.std(), row.min(), row.max()]
    return np.concatenate([matrix.T.ravel(), np.asarray(stats)]).astype(np.float32)


def summary_labels() -> list[str]:
    """Names of the :func:`summary_vector` entries, e.g. ``'mfcc[0]'``, ``'rms.std'``."""
    labels = [f"{col}[{i}]" for col in SUMMARY_COLUMNS for i in range(SUMMARY_BINS)]
    labels += [f"{name}.{stat}" for name in SUMMARY_STATS_CHANNELS for stat in _STATS]
    return labels


def mean_stft(y: np.ndarray, sr: int, *, n_fft: int = 512, hop_length: int | None = None) -> np.ndarray:
    """Time-averaged STFT magnitude: ``1 + n_fft // 2`` values (257 by default).

    Parameters
    ----------
    y : np.ndarray [shape=(n,)]
        Mono signal.
    sr : int
        Sample rate in Hz (validated; the bins are ``k · sr / n_fft`` Hz).
    n_fft : int
        FFT size, even. Default 512.
    hop_length : int, optional
        Default ``n_fft // 4``.

    Returns
    -------
    np.ndarray [shape=(1 + n_fft // 2,), dtype=float32]
        Linear magnitude (Hann window, centred frames), averaged over frames.

    Examples
    --------
    >>> import numpy as np
    >>> mean_stft(np.zeros(1000, np.float32), 16000).shape
    (257,)
    """
    hop = n_fft // 4 if hop_length is None and isinstance(n_fft, int) else hop_length
    cfg = FeatureConfig(n_fft=n_fft, hop_length=hop)  # validates both
    y, sr = check_signal(y, sr)
    with quiet_short_signal_warnings():
        mag = np.abs(librosa.stft(y, n_fft=cfg.n_fft, hop_length=cfg.hop_length, center=True))
    return mag.mean(axis=1).astype(np.float32)
