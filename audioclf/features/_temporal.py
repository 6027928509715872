"""Channels read straight from the samples: waveform envelope, ZCR, RMS.

They use the same centred frames as the STFT (``n_fft`` long, ``hop_length``
apart), so frame ``k`` of every channel describes the same moment.
"""

from __future__ import annotations

import librosa
import numpy as np

from ._shared import Shared
from ._types import ChannelInfo

__all__ = ["CHANNELS"]

_ONE_ROW = np.zeros(1)


def _waveform(sh: Shared) -> tuple[np.ndarray, np.ndarray, list[str]]:
    frames = sh.frames()  # (n_fft, frames), zero-padded at both ends
    values = np.stack([frames.min(axis=0), frames.max(axis=0)])  # (2, frames)
    return values, np.arange(2.0), ["min", "max"]


def _zcr(sh: Shared) -> tuple[np.ndarray, np.ndarray, None]:
    cfg = sh.config
    values = librosa.feature.zero_crossing_rate(sh.y, frame_length=cfg.n_fft, hop_length=cfg.hop_length,
                                                center=True)
    return values, _ONE_ROW, None


def _rms(sh: Shared) -> tuple[np.ndarray, np.ndarray, None]:
    cfg = sh.config
    values = librosa.feature.rms(y=sh.y, frame_length=cfg.n_fft, hop_length=cfg.hop_length,
                                 center=True, pad_mode="constant")
    return values, _ONE_ROW, None


CHANNELS = (
    ChannelInfo(
        name="waveform", title="Waveform envelope", units="amplitude (full scale = 1)", scale="linear",
        quantity=None, bin_kind="index", compute=_waveform,
        description=(
            "The raw sound wave, squeezed so a whole clip fits on screen. A microphone records how air "
            "pressure moves up and down thousands of times per second; here each short time window is "
            "reduced to its lowest and highest sample. Loud parts make a wide band, quiet parts a thin "
            "line, so you can spot where events start and stop, but not which pitches they contain."),
    ),
    ChannelInfo(
        name="zcr", title="Zero-crossing rate", units="fraction of samples", scale="linear",
        quantity=None, bin_kind="none", compute=_zcr,
        description=(
            "How often the wave crosses zero, as a fraction of the samples in each window. A low hum "
            "crosses zero rarely; hiss and other noisy, high-pitched sounds cross it very often. It is a "
            "cheap, rough hint of how bright or noisy a sound is, and it jumps up during consonants "
            "like 's' or during rain and wind."),
    ),
    ChannelInfo(
        name="rms", title="RMS energy", units="amplitude (full scale = 1)", scale="linear",
        quantity=None, bin_kind="none", compute=_rms,
        description=(
            "The loudness of each window, measured as the root mean square of its samples: square every "
            "sample, average them, take the square root. It rises when something happens and falls to "
            "zero in silence, so it shows the rhythm and dynamics of a clip: a dog bark is a sharp spike, "
            "an engine a steady plateau."),
    ),
)
