"""The backbones' front ends, in numpy/librosa, exactly as their originals compute them.

* ``sounds`` (aiSFX, ``aisfx/spectrogram/spectrogram_librosa.py``, ``preprocessing.py``,
  ``inference.py``): 44.1 kHz, peak-normalised; mel power spectrogram with 96 HTK
  bands, filters normalised to unit sum (``norm=1.0``), ``n_fft = win = 2048``,
  hop 1024, 0-22050 Hz, centred frames with zero padding; ``log10(S * 1e4 + 1)``
  divided by the training maximum 9.457798957824707; time-major ``(frames, 96)``
  (the layout of the Essentia path the network was trained with -- the wheel's
  librosa path returns ``(96, frames)`` and blocks it along the mel axis, a bug we
  do not copy); blocks of 100 frames every 50. As the original (``drop_partial_block=True``)
  a tail shorter than a whole block is dropped, and a clip shorter than one block
  gives one block padded with zeros at the end (the original's ``compute_hopSize``
  would refuse clips under 50 frames; we pad them the same way).
* ``speech`` (openWakeWord 0.5.1 ``utils.py`` and ``melspectrogram.onnx``): 16 kHz
  audio scaled to int16 range; frames of 512 samples every 160 with no centring,
  a periodic Hann window of 400 samples centred in the 512; power spectrum; 32
  Slaney-normalised mel bands 60-3800 Hz; ``10 * log10(max(S, 1e-10))`` floored
  at its maximum minus 80 dB; then ``x / 10 + 2``; windows of 76 frames every 8,
  a tail shorter than a window dropped (as ``_get_embeddings``). A clip shorter
  than one window (0.7825 s) is centred in zeros to that length first (the
  original would return no embedding at all).
"""

from __future__ import annotations

import functools

import numpy as np

__all__ = ["sounds_frontend", "speech_frontend", "sounds_melspectrogram", "speech_melspectrogram",
           "block_frames", "SOUNDS_SCALE"]

#: aiSFX's normalisation constant: the largest log-mel value over its training data.
SOUNDS_SCALE = 9.457798957824707


def sounds_melspectrogram(y: np.ndarray) -> np.ndarray:
    """aiSFX's normalised log-mel spectrogram of 44.1 kHz audio [shape=(frames, 96), float32].

    Parameters
    ----------
    y : np.ndarray [shape=(n,)]
        Mono samples at 44 100 Hz (any scale: the clip is peak-normalised here).
    """
    import librosa

    y = np.asarray(y, dtype=np.float32)
    peak = float(np.max(np.abs(y))) if y.size else 0.0
    y = y / (peak if peak > 0 else 1.0)
    # librosa.feature.melspectrogram's computation, with the filter bank built once and applied as a matrix
    # product (its einsum took 11 ms of the 12 ms per 5-s clip).
    power = np.abs(librosa.stft(y, n_fft=2048, hop_length=1024, win_length=2048, center=True,
                                pad_mode="constant")) ** 2  # (1025, frames)
    s = _sounds_mel_basis() @ power  # (96, frames)
    return (np.log10(s * 10000.0 + 1) / SOUNDS_SCALE).T.astype(np.float32)  # (frames, 96)


@functools.lru_cache(maxsize=1)
def _sounds_mel_basis() -> np.ndarray:
    import librosa

    return librosa.filters.mel(sr=44100, n_fft=2048, n_mels=96, fmin=0.0, fmax=22050.0, htk=True, norm=1.0)


def block_frames(spec: np.ndarray, block: int, hop: int, *, pad: str = "end") -> tuple[np.ndarray, np.ndarray]:
    """Cut ``(frames, bands)`` into whole blocks of ``block`` frames every ``hop``.

    A tail shorter than a block is dropped. A spectrogram shorter than one block
    gives one block, zero-padded at the end (``pad="end"``).

    Returns
    -------
    blocks : np.ndarray [shape=(n_blocks, block, bands)]
    starts : np.ndarray [shape=(n_blocks,)], int
        First frame of each block.
    """
    n = spec.shape[0]
    if n < block:
        out = np.zeros((1, block, spec.shape[1]), dtype=spec.dtype)
        out[0, :n] = spec
        return out, np.zeros(1, dtype=np.int64)
    starts = np.arange(0, n - block + 1, hop, dtype=np.int64)
    return np.stack([spec[s:s + block] for s in starts]), starts


def sounds_frontend(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """aiSFX blocks of 44.1 kHz audio: ``(n_blocks, 100, 96)`` float32 and each block's start in seconds."""
    blocks, starts = block_frames(sounds_melspectrogram(y), 100, 50)
    return blocks.astype(np.float32), starts * 1024 / 44100


# --- speech --------------------------------------------------------------------------------------------

_SPEECH_N_FFT, _SPEECH_HOP, _SPEECH_WIN = 512, 160, 400
_SPEECH_MIN_SAMPLES = _SPEECH_N_FFT + 75 * _SPEECH_HOP  # one window of 76 frames


@functools.lru_cache(maxsize=1)
def _speech_tables() -> tuple[np.ndarray, np.ndarray]:
    import librosa

    window = librosa.util.pad_center(librosa.filters.get_window("hann", _SPEECH_WIN, fftbins=True),
                                     size=_SPEECH_N_FFT)
    mel = librosa.filters.mel(sr=16000, n_fft=_SPEECH_N_FFT, n_mels=32, fmin=60.0, fmax=3800.0, htk=False,
                              norm="slaney")  # (32, 257)
    return window, mel


def speech_melspectrogram(x: np.ndarray) -> np.ndarray:
    """openWakeWord's ``melspectrogram.onnx`` then ``x / 10 + 2`` [shape=(frames, 32), float32].

    Parameters
    ----------
    x : np.ndarray [shape=(n,)]
        16 kHz samples in int16 range (-32768..32767), at least 512 of them.
    """
    window, mel = _speech_tables()
    x = np.asarray(x, dtype=np.float64)
    frames = np.lib.stride_tricks.sliding_window_view(x, _SPEECH_N_FFT)[::_SPEECH_HOP]  # (frames, 512)
    power = np.abs(np.fft.rfft(frames * window, axis=1)) ** 2  # (frames, 257)
    db = 10.0 * np.log10(np.maximum(power @ mel.T, 1e-10))  # (frames, 32)
    db = np.maximum(db, db.max() - 80.0)
    return (db / 10.0 + 2.0).astype(np.float32)


def speech_frontend(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """speech_embedding windows of 16 kHz audio in [-1, 1]: ``(n_windows, 76, 32)`` float32 and starts in s.

    The samples are scaled to int16 range (x 32768, clipped), as openWakeWord reads 16-bit PCM.
    """
    x = np.clip(np.asarray(y, dtype=np.float64) * 32768.0, -32768.0, 32767.0)
    offset = 0
    if x.size < _SPEECH_MIN_SAMPLES:
        offset = (_SPEECH_MIN_SAMPLES - x.size) // 2
        x = np.pad(x, (offset, _SPEECH_MIN_SAMPLES - x.size - offset))
    spec = speech_melspectrogram(x)
    blocks, starts = block_frames(spec, 76, 8)
    return blocks, (starts * _SPEECH_HOP - offset) / 16000
