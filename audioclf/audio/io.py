"""Audio input and output.

:func:`load_audio` reads a clip from a path, bytes or a file-like object
(Streamlit uploads are file-like), decodes WAV/FLAC/OGG/MP3 through
soundfile's bundled libsndfile, mixes to mono, resamples with soxr and checks
the result. Every failure is an :class:`~audioclf.errors.AudioError` subclass
whose message names the source and the problem.
"""

from __future__ import annotations

import io
import os
import re
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import soundfile as sf

from .._atomic import atomic_path
from .._validate import check_number, check_positive_int
from ..errors import (
    AudioError,
    AudioTooLongError,
    EmptyAudioError,
    NonFiniteAudioError,
    ParameterError,
    TruncatedAudioError,
    UnsupportedFormatError,
    ZeroFramesError,
)

__all__ = [
    "AudioSource",
    "AudioInfo",
    "DEFAULT_SR",
    "DEFAULT_MAX_DURATION",
    "AUDIO_EXTENSIONS",
    "load_audio",
    "audio_info",
    "resample",
    "to_wav_bytes",
    "write_audio",
]

AudioSource = str | os.PathLike | bytes | bytearray | memoryview | BinaryIO

DEFAULT_SR = 22050
#: Ten minutes: long enough for any classroom clip, short enough to bound memory.
DEFAULT_MAX_DURATION = 600.0
AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".oga", ".mp3", ".aif", ".aiff")


@dataclass(frozen=True)
class AudioInfo:
    """What a file says about itself, before decoding."""

    name: str
    samplerate: int
    channels: int
    frames: int
    format: str
    subtype: str

    @property
    def duration(self) -> float:
        return self.frames / self.samplerate if self.samplerate else 0.0


def _read_source(source: AudioSource, name: str | None) -> tuple[bytes, str]:
    """Return the raw bytes of ``source`` and a display name for messages."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        return bytes(source), name or "<bytes>"
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        label = name or path.name
        if not path.exists():
            raise AudioError(f"{label}: file not found ({path})")
        if path.is_dir():
            raise AudioError(f"{label}: is a folder, expected an audio file")
        return path.read_bytes(), label
    if hasattr(source, "read"):
        label = name or Path(str(getattr(source, "name", "") or "<upload>")).name
        if hasattr(source, "seek"):
            try:
                source.seek(0)
            except (OSError, ValueError):
                pass
        data = source.read()
        if isinstance(data, str):
            raise UnsupportedFormatError(f"{label}: a text stream was given, expected binary audio")
        return bytes(data), label
    raise ParameterError(f"source of type {type(source).__name__} is not a path, bytes or a binary file object")


def _wav_declared_data_bytes(data: bytes) -> tuple[int, int] | None:
    """For a RIFF/WAVE file: (declared data-chunk size, bytes actually present).

    libsndfile quietly reads whatever is there when a header promises more
    than the file holds; we want to tell the user the file is cut short.
    Returns None when the file is not RIFF/WAVE or declares no usable size.
    """
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        return None
    pos = 12
    while pos + 8 <= len(data):
        chunk_id, size = data[pos : pos + 4], struct.unpack("<I", data[pos + 4 : pos + 8])[0]
        body = pos + 8
        if chunk_id == b"data":
            if size in (0, 0xFFFFFFFF):  # streaming writers leave the size unknown
                return None
            return size, len(data) - body
        pos = body + size + (size & 1)
    return None


def audio_info(source: AudioSource, *, name: str | None = None) -> AudioInfo:
    """Read the header of an audio source without decoding the samples.

    Raises
    ------
    EmptyAudioError, UnsupportedFormatError
    """
    if isinstance(source, (str, os.PathLike)):
        # Header only: a dataset summary must not read every file into memory.
        path = Path(source)
        label = name or path.name
        if not path.is_file():
            raise AudioError(f"{label}: file not found ({path})")
        if path.stat().st_size == 0:
            raise EmptyAudioError(f"{label}: the file is empty (0 bytes)")
        try:
            info = sf.info(str(path))
        except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as exc:
            raise UnsupportedFormatError(
                f"{label}: not a readable audio file ({_short(exc)}); supported formats are WAV, FLAC, OGG/Vorbis and MP3"
            ) from None
        return AudioInfo(label, int(info.samplerate), int(info.channels), int(info.frames), info.format, info.subtype)
    data, label = _read_source(source, name)
    return _info_from_bytes(data, label)


def _info_from_bytes(data: bytes, label: str) -> AudioInfo:
    if len(data) == 0:
        raise EmptyAudioError(f"{label}: the file is empty (0 bytes)")
    try:
        info = sf.info(io.BytesIO(data))
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as exc:
        raise UnsupportedFormatError(
            f"{label}: not a readable audio file ({_short(exc)}); supported formats are WAV, FLAC, OGG/Vorbis and MP3"
        ) from None
    return AudioInfo(label, int(info.samplerate), int(info.channels), int(info.frames), info.format, info.subtype)


def _short(exc: Exception) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    # libsndfile prefixes "Error opening <_io.BytesIO object at 0x...>: "; keep the reason only.
    text = re.sub(r"^Error opening (<[^>]*>|'[^']*'):\s*", "", text)
    return text.rstrip(".")[:160]


def resample(y: np.ndarray, orig_sr: int, target_sr: int) -> np.ndarray:
    """Resample ``y`` with soxr's high-quality mode (float32 in, float32 out).

    Parameters
    ----------
    y : np.ndarray [shape=(n,) or (n, channels)]
    orig_sr, target_sr : int
    """
    orig_sr = check_positive_int(orig_sr, "orig_sr")
    target_sr = check_positive_int(target_sr, "target_sr")
    if orig_sr == target_sr or len(y) == 0:
        return np.asarray(y, dtype=np.float32)
    import soxr

    out = soxr.resample(np.asarray(y, dtype=np.float32), orig_sr, target_sr, quality="HQ")
    if out.shape[0] == 0:  # one input sample can round down to none
        out = np.asarray(y[:1], dtype=np.float32)
    return np.asarray(out, dtype=np.float32)


def load_audio(
    source: AudioSource,
    *,
    sr: int | None = DEFAULT_SR,
    mono: bool = True,
    max_duration: float | None = DEFAULT_MAX_DURATION,
    name: str | None = None,
) -> tuple[np.ndarray, int]:
    """Load an audio clip as float32 samples.

    Parameters
    ----------
    source : path, bytes or binary file-like
        WAV (8-bit unsigned, 16/24/32-bit int, 32/64-bit float), FLAC, OGG/Vorbis or MP3.
    sr : int or None
        Target sample rate (soxr HQ resampling); ``None`` keeps the native rate.
    mono : bool
        Mix channels down to one by averaging. With ``mono=False`` the result is (n, channels).
    max_duration : float or None
        Refuse clips longer than this many seconds (checked from the header, before decoding).
    name : str, optional
        Name used in error messages (defaults to the file name).

    Returns
    -------
    y : np.ndarray [shape=(n,) or (n, channels)], float32
    sr : int

    Raises
    ------
    EmptyAudioError, UnsupportedFormatError, TruncatedAudioError, ZeroFramesError,
    NonFiniteAudioError, AudioTooLongError, ParameterError

    Examples
    --------
    >>> y, sr = load_audio("dog.flac", sr=22050)          # doctest: +SKIP
    """
    check_positive_int(sr, "sr", allow_none=True, hint=" (None keeps the native rate)")
    if max_duration is not None:
        check_number(max_duration, "max_duration", low=0, low_open=True, hint=" of seconds or None")
    data, label = _read_source(source, name)
    info = _info_from_bytes(data, label)
    if info.frames == 0:
        raise ZeroFramesError(f"{label}: the file is valid {info.format} audio but holds zero samples")
    if max_duration is not None and info.duration > max_duration:
        raise AudioTooLongError(
            f"{label}: {info.duration:.1f} s is longer than the maximum of {max_duration:g} s; "
            "cut the clip or raise max_duration"
        )
    declared = _wav_declared_data_bytes(data)
    if declared is not None and declared[1] < declared[0]:
        raise TruncatedAudioError(
            f"{label}: truncated WAV: the header promises {declared[0]} bytes of audio but only {declared[1]} are present"
        )
    try:
        y, native_sr = sf.read(io.BytesIO(data), dtype="float64", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, ValueError) as exc:
        raise TruncatedAudioError(f"{label}: the audio data is damaged or cut short ({_short(exc)})") from None
    if y.shape[0] == 0:
        raise ZeroFramesError(f"{label}: no samples could be decoded")
    if not np.all(np.isfinite(y)):
        bad = int(np.size(y) - np.count_nonzero(np.isfinite(y)))
        raise NonFiniteAudioError(f"{label}: {bad} samples are NaN or infinite; the file is corrupt")
    y = y.astype(np.float32)
    if mono:
        y = y.mean(axis=1)
    if sr is not None and sr != native_sr:
        y = resample(y, int(native_sr), int(sr))
        native_sr = sr
    # Resampling a full-scale signal can ring slightly past +-1; keep the range.
    np.clip(y, -1.0, 1.0, out=y)
    return y, int(native_sr)


def to_wav_bytes(y: np.ndarray, sr: int, *, subtype: str = "PCM_16") -> bytes:
    """Encode samples as a WAV file in memory (for ``st.audio`` and downloads)."""
    sr = check_positive_int(sr, "sr")
    buf = io.BytesIO()
    sf.write(buf, np.clip(np.asarray(y, dtype=np.float32), -1.0, 1.0), int(sr), format="WAV", subtype=subtype)
    return buf.getvalue()


def write_audio(path: str | os.PathLike, y: np.ndarray, sr: int, *, subtype: str | None = None) -> Path:
    """Write samples to ``path``; the format follows the extension (.wav, .flac, .ogg, .mp3)."""
    path = Path(path)
    if path.suffix.lower() not in AUDIO_EXTENSIONS:
        raise ParameterError(f"cannot write {path.name!r}: extension must be one of {', '.join(AUDIO_EXTENSIONS)}")
    sr = check_positive_int(sr, "sr")
    with atomic_path(path) as tmp:  # a crash leaves the old file or the new one, never half of it
        sf.write(str(tmp), np.asarray(y, dtype=np.float32), int(sr), subtype=subtype)
    return path
