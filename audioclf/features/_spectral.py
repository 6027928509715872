"""Channels derived from the one shared STFT of a signal.

Each compute function asks :class:`~audioclf.features._shared.Shared` for the
spectrogram and hands it to librosa as ``S=``, so the values equal librosa's
own call from ``y`` with the same parameters while the STFT runs once.
"""

from __future__ import annotations

import librosa
import numpy as np

from ._shared import Shared
from ._types import ChannelInfo

__all__ = ["CHANNELS", "PITCH_CLASSES"]

#: Labels of the 12 chroma bins, starting at C as librosa orders them.
PITCH_CLASSES = ["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"]

_ONE_ROW = np.zeros(1)


def _fft_bins(sh: Shared) -> np.ndarray:
    return librosa.fft_frequencies(sr=sh.sr, n_fft=sh.config.n_fft)


def _centroid_values(sh: Shared) -> np.ndarray:
    cfg = sh.config
    return sh.cached("centroid", lambda: librosa.feature.spectral_centroid(
        S=sh.spectrogram(1), sr=sh.sr, n_fft=cfg.n_fft, hop_length=cfg.hop_length))


def _centroid(sh: Shared) -> tuple[np.ndarray, np.ndarray, None]:
    return _centroid_values(sh), _ONE_ROW, None


def _bandwidth(sh: Shared) -> tuple[np.ndarray, np.ndarray, None]:
    cfg = sh.config
    # librosa would recompute the very same centroid internally; hand it over.
    values = librosa.feature.spectral_bandwidth(S=sh.spectrogram(1), sr=sh.sr, n_fft=cfg.n_fft,
                                                hop_length=cfg.hop_length, centroid=_centroid_values(sh))
    return values, _ONE_ROW, None


def _rolloff(sh: Shared) -> tuple[np.ndarray, np.ndarray, None]:
    cfg = sh.config
    values = librosa.feature.spectral_rolloff(S=sh.spectrogram(1), sr=sh.sr, n_fft=cfg.n_fft,
                                              hop_length=cfg.hop_length, roll_percent=cfg.rolloff_percent)
    return values, _ONE_ROW, None


def _stft_mag(sh: Shared) -> tuple[np.ndarray, np.ndarray, None]:
    return sh.spectrogram(1), _fft_bins(sh), None


def _stft_phase(sh: Shared) -> tuple[np.ndarray, np.ndarray, None]:
    return np.angle(sh.stft()), _fft_bins(sh), None


def _stft_real(sh: Shared) -> tuple[np.ndarray, np.ndarray, None]:
    return sh.stft().real, _fft_bins(sh), None


def _stft_imag(sh: Shared) -> tuple[np.ndarray, np.ndarray, None]:
    return sh.stft().imag, _fft_bins(sh), None


def _mel(sh: Shared) -> tuple[np.ndarray, np.ndarray, None]:
    cfg = sh.config
    # Filter k peaks at the (k+1)-th of n_mels + 2 mel-spaced edge frequencies.
    centres = librosa.mel_frequencies(n_mels=cfg.n_mels + 2, fmin=cfg.fmin, fmax=sh.fmax)[1:-1]
    return sh.mel_power(), centres, None


def _mfcc(sh: Shared) -> tuple[np.ndarray, np.ndarray, None]:
    n = sh.config.n_mfcc
    return librosa.feature.mfcc(S=sh.mel_db(), n_mfcc=n), np.arange(float(n)), None


def _chroma_stft(sh: Shared) -> tuple[np.ndarray, np.ndarray, list[str]]:
    cfg = sh.config
    # tuning=None: librosa estimates it from the same power spectrogram, as from y.
    values = librosa.feature.chroma_stft(S=sh.spectrogram(2), sr=sh.sr, n_fft=cfg.n_fft,
                                         hop_length=cfg.hop_length, n_chroma=12)
    return values, np.arange(12.0), list(PITCH_CLASSES)


CHANNELS = (
    ChannelInfo(
        name="spectral_centroid", title="Spectral centroid", units="Hz", scale="linear",
        quantity=None, bin_kind="none", compute=_centroid,
        description=(
            "The 'centre of mass' of the spectrum in each window: the average frequency, weighting every "
            "frequency by how strong it is. Bright, sharp sounds (cymbals, hissing) have a high centroid; "
            "dull, muffled ones (a bass drum, a hum) a low one. It is one number per moment that tracks "
            "how bright the sound feels."),
    ),
    ChannelInfo(
        name="spectral_bandwidth", title="Spectral bandwidth", units="Hz", scale="linear",
        quantity=None, bin_kind="none", compute=_bandwidth,
        description=(
            "How widely the energy spreads around the spectral centroid, in hertz. A pure whistle puts "
            "all its energy at one frequency and has a small bandwidth; noise, applause or a crash spread "
            "energy over many frequencies and have a large one. Think of it as the 'width' of the sound "
            "in pitch."),
    ),
    ChannelInfo(
        name="spectral_rolloff", title="Spectral roll-off", units="Hz", scale="linear",
        quantity=None, bin_kind="none", compute=_rolloff,
        description=(
            "The frequency below which most of the energy sits (85 % by default). If it is low, the sound "
            "is mostly bass; if it is high, there is a lot of treble. It moves up sharply when noisy or "
            "percussive sounds start, which makes it a handy detector for hits and hisses."),
    ),
    ChannelInfo(
        name="stft_mag", title="STFT magnitude (spectrogram)", units="magnitude", scale="db",
        quantity="amplitude", bin_kind="hz", compute=_stft_mag,
        description=(
            "The classic spectrogram. The clip is cut into short overlapping windows, and a Fourier "
            "transform measures how much of each frequency every window contains. Time runs left to right, "
            "frequency bottom to top, and colour shows strength in decibels. A steady tone is a horizontal "
            "line, a click a vertical line, and noise a spread-out haze."),
    ),
    ChannelInfo(
        name="stft_phase", title="STFT phase", units="radians", scale="linear",
        quantity=None, bin_kind="hz", compute=_stft_phase,
        description=(
            "The other half of the Fourier transform: for every window and frequency, where in its cycle "
            "the wave was (an angle between -π and π). To the eye it looks like noise, because the angle "
            "wraps around constantly, yet together with the magnitude it is enough to rebuild the exact "
            "sound. Some models use it to catch timing detail the magnitude throws away."),
    ),
    ChannelInfo(
        name="stft_real", title="STFT real part", units="amplitude", scale="linear",
        quantity=None, bin_kind="hz", compute=_stft_real,
        description=(
            "The Fourier transform of each window written as a complex number has a real and an imaginary "
            "part; this is the real part. It swings between positive and negative values as the wave's "
            "phase turns, so it mixes 'how strong' with 'where in the cycle'. Paired with the imaginary "
            "part it holds all the information of the spectrogram and the phase together."),
    ),
    ChannelInfo(
        name="stft_imag", title="STFT imaginary part", units="amplitude", scale="linear",
        quantity=None, bin_kind="hz", compute=_stft_imag,
        description=(
            "The imaginary part of each window's Fourier transform: the partner of the real part, shifted "
            "a quarter of a cycle. Neither part alone is easy to read, but the pair (real, imaginary) is "
            "an exact, lossless description of the sound that a neural network can learn from directly."),
    ),
    ChannelInfo(
        name="mel", title="Mel spectrogram", units="power", scale="db",
        quantity="power", bin_kind="hz", compute=_mel,
        description=(
            "A spectrogram re-drawn with frequency bands spaced the way people hear pitch: many narrow "
            "bands in the low frequencies, where our ears tell small differences apart, and fewer, wider "
            "bands up high. Shown in decibels, it is the most common input for sound classifiers because "
            "it is compact and matches human hearing."),
    ),
    ChannelInfo(
        name="mfcc", title="MFCC", units="coefficient", scale="linear",
        quantity=None, bin_kind="index", compute=_mfcc,
        description=(
            "Mel-frequency cepstral coefficients: a short summary of the shape of the mel spectrum in each "
            "window. The log mel spectrum is treated like a signal and decomposed into smooth waves "
            "(a cosine transform); the first coefficients describe the broad shape, like overall "
            "loudness and tilt, the later ones finer ripples. They describe timbre, the 'colour' of a "
            "sound, in a few numbers."),
    ),
    ChannelInfo(
        name="chroma_stft", title="Chromagram (STFT)", units="relative energy (max = 1)", scale="linear",
        quantity=None, bin_kind="pitch", compute=_chroma_stft,
        description=(
            "Energy folded onto the 12 notes of the Western scale (C, C#, D … B), ignoring which octave it "
            "came from: every C on a piano adds to the same row. Each window is scaled so its strongest "
            "note is 1. Music and tonal sounds show clear rows; noise spreads over all twelve. This "
            "version is computed from the spectrogram."),
    ),
)
