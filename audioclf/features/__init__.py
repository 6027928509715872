"""Feature channels: one registry of named 2-D views of a sound.

Every channel maps ``(y, sr, FeatureConfig)`` to a ``(bins, frames)`` array
with its frame times, bin centres, display scale, units and a plain-language
description (:class:`ChannelData`). Channels computed together share one
STFT and each CQT (:func:`compute_channels`).

Channels (see :func:`list_channels`): ``waveform``, ``zcr``, ``rms``,
``spectral_centroid``, ``spectral_bandwidth``, ``spectral_rolloff``,
``stft_mag``, ``stft_phase``, ``stft_real``, ``stft_imag``, ``mel``, ``mfcc``,
``gfcc``, ``gammatonegram``, ``cqt``, ``chroma_stft``, ``chroma_cqt``,
``chroma_cens``.

Model inputs: :func:`stack_channels` / :func:`stft_pair` give ``(f, t, c)``
float32 tensors; :func:`summary_matrix`, :func:`summary_vector` and
:func:`mean_stft` give clip-level vectors.

Examples
--------
>>> from audioclf import synth
>>> from audioclf.features import compute_channels, stack_channels
>>> y = synth.tone(440.0, 1.0, 22050)
>>> compute_channels(y, 22050, ["mel"])["mel"].values.shape
(128, 44)
>>> stack_channels(y, 22050, ["mel", "gammatonegram"], normalize="minmax").shape
(128, 128, 2)
"""

from __future__ import annotations

from ._config import C1_HZ, FeatureConfig
from ._cqt import fit_cqt_bins
from ._cqt_basis import clear_cqt_cache
from ._registry import channel_names, compute_channel, compute_channels, get_channel, list_channels
from ._types import ChannelData, ChannelInfo
from .gammatone import erb_bandwidth, gammatone_centres, gammatone_filterbank
from .stack import NORMALIZATIONS, STFT_PAIRS, normalize_channels, resize_2d, stack_channels, stack_computed, stft_pair
from .stats import SUMMARY_COLUMNS, mean_stft, summary_labels, summary_matrix, summary_vector

__all__ = [
    "clear_cqt_cache",
    "C1_HZ",
    "FeatureConfig",
    "ChannelInfo",
    "ChannelData",
    "list_channels",
    "channel_names",
    "get_channel",
    "compute_channels",
    "compute_channel",
    "NORMALIZATIONS",
    "STFT_PAIRS",
    "resize_2d",
    "normalize_channels",
    "stack_channels",
    "stack_computed",
    "stft_pair",
    "SUMMARY_COLUMNS",
    "summary_matrix",
    "summary_vector",
    "summary_labels",
    "mean_stft",
    "fit_cqt_bins",
    "erb_bandwidth",
    "gammatone_centres",
    "gammatone_filterbank",
]
