"""Synthesized sounds: test fixtures, the app's built-in examples and the
building blocks of the offline synthetic dataset.

Every generator is deterministic given ``rng`` (a :class:`numpy.random.Generator`
or a seed) and returns float32 mono samples in [-1, 1].
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .._validate import check_choice, check_number, check_positive_int

__all__ = [
    "tone",
    "chirp",
    "noise",
    "noise_band",
    "click_train",
    "harmonic_stack",
    "square_wave",
    "silence",
    "burst_in_silence",
    "EXAMPLES",
    "example",
]


def _n(duration: float, sr: int) -> int:
    check_positive_int(sr, "sr")
    check_number(duration, "duration", low=0, low_open=True, hint=" (seconds)")
    return max(1, int(round(duration * sr)))


def _rng(rng: np.random.Generator | int | None) -> np.random.Generator:
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


def _fade(y: np.ndarray, sr: int, fade_s: float = 0.005) -> np.ndarray:
    n = min(len(y) // 2, int(fade_s * sr))
    if n > 0:
        ramp = np.linspace(0.0, 1.0, n, dtype=np.float32)
        y[:n] *= ramp
        y[-n:] *= ramp[::-1]
    return y


def tone(freq: float = 440.0, duration: float = 1.0, sr: int = 22050, *, amp: float = 0.5) -> np.ndarray:
    """A pure sine tone of ``freq`` Hz."""
    t = np.arange(_n(duration, sr)) / sr
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def chirp(f0: float = 200.0, f1: float = 4000.0, duration: float = 1.0, sr: int = 22050, *,
          amp: float = 0.5, method: str = "logarithmic") -> np.ndarray:
    """A sweep from ``f0`` to ``f1`` Hz (``method``: linear or logarithmic)."""
    check_choice(method, "method", ("linear", "logarithmic"))
    n = _n(duration, sr)
    t = np.arange(n) / sr
    if method == "linear":
        phase = 2 * np.pi * (f0 * t + (f1 - f0) * t**2 / (2 * duration))
    else:
        k = (f1 / f0) ** (1 / duration)
        phase = 2 * np.pi * f0 * (k**t - 1) / np.log(k)
    return (amp * np.sin(phase)).astype(np.float32)


def noise(duration: float = 1.0, sr: int = 22050, *, amp: float = 0.1,
          rng: np.random.Generator | int | None = 0) -> np.ndarray:
    """White Gaussian noise with standard deviation ``amp``."""
    return (amp * _rng(rng).standard_normal(_n(duration, sr))).astype(np.float32)


def noise_band(low: float = 1000.0, high: float = 2000.0, duration: float = 1.0, sr: int = 22050, *,
               amp: float = 0.3, rng: np.random.Generator | int | None = 0) -> np.ndarray:
    """Noise band-limited to [``low``, ``high``] Hz (brick-wall filter in the FFT domain)."""
    n = _n(duration, sr)
    spec = np.fft.rfft(_rng(rng).standard_normal(n))
    freqs = np.fft.rfftfreq(n, 1 / sr)
    spec[(freqs < low) | (freqs > high)] = 0
    y = np.fft.irfft(spec, n)
    peak = np.max(np.abs(y)) or 1.0
    return _fade((amp * y / peak).astype(np.float32), sr)


def click_train(rate: float = 8.0, duration: float = 1.0, sr: int = 22050, *, amp: float = 0.8,
                click_ms: float = 2.0) -> np.ndarray:
    """Short decaying clicks at ``rate`` per second."""
    n = _n(duration, sr)
    y = np.zeros(n, dtype=np.float32)
    length = max(1, int(click_ms * 1e-3 * sr))
    shape = (amp * np.exp(-np.arange(length) / (length / 4))).astype(np.float32)
    for start in (np.arange(0, duration, 1.0 / rate) * sr).astype(int):
        stop = min(n, start + length)
        y[start:stop] += shape[: stop - start]
    return y


def harmonic_stack(f0: float = 220.0, duration: float = 1.0, sr: int = 22050, *, n_harmonics: int = 6,
                   amp: float = 0.5) -> np.ndarray:
    """A tone with ``n_harmonics`` partials of amplitude 1/k, below Nyquist."""
    t = np.arange(_n(duration, sr)) / sr
    y = np.zeros_like(t)
    for k in range(1, n_harmonics + 1):
        if k * f0 < sr / 2:
            y += np.sin(2 * np.pi * k * f0 * t) / k
    peak = np.max(np.abs(y)) or 1.0
    return _fade((amp * y / peak).astype(np.float32), sr)


def square_wave(freq: float = 220.0, duration: float = 1.0, sr: int = 22050, *, amp: float = 1.0) -> np.ndarray:
    """A hard-clipped square wave (full scale by default): a 'clipped' test clip."""
    t = np.arange(_n(duration, sr)) / sr
    return (amp * np.sign(np.sin(2 * np.pi * freq * t + 1e-9))).astype(np.float32)


def silence(duration: float = 1.0, sr: int = 22050) -> np.ndarray:
    """All-zero samples."""
    return np.zeros(_n(duration, sr), dtype=np.float32)


def burst_in_silence(sr: int = 22050, *, before: float = 0.5, burst: float = 0.5, after: float = 0.5,
                     freq: float = 1000.0, amp: float = 0.5) -> np.ndarray:
    """Silence, a tone burst, silence: the fixture for silence splitting."""
    return np.concatenate([silence(before, sr), tone(freq, burst, sr, amp=amp), silence(after, sr)])


def _ex_speechlike(sr: int) -> np.ndarray:
    # Three vowel-like harmonic syllables separated by pauses.
    parts = []
    for f0 in (140.0, 180.0, 120.0):
        parts += [silence(0.15, sr), harmonic_stack(f0, 0.35, sr, n_harmonics=12)]
    parts.append(silence(0.15, sr))
    return np.concatenate(parts)


EXAMPLES: dict[str, tuple[str, Callable[[int], np.ndarray]]] = {
    "tone_440": ("A 440 Hz sine tone (concert A), 2 s", lambda sr: tone(440.0, 2.0, sr)),
    "chirp": ("A rising sweep from 100 Hz to 8 kHz, 3 s", lambda sr: chirp(100.0, min(8000.0, sr / 2.2), 3.0, sr)),
    "noisy_tone": ("A 1 kHz tone buried in white noise, 3 s: try denoising",
                   lambda sr: tone(1000.0, 3.0, sr, amp=0.3) + noise(3.0, sr, amp=0.15, rng=1)),
    "clicks": ("A click train at 6 clicks per second, 2 s", lambda sr: click_train(6.0, 2.0, sr)),
    "bursts": ("Three tone bursts separated by silence, 3 s: try silence splitting",
               lambda sr: np.concatenate([burst_in_silence(sr, before=0.4, burst=0.4, after=0.2, freq=f)
                                          for f in (500.0, 1000.0, 2000.0)])),
    "harmonics": ("A 220 Hz note with 8 harmonics, 2 s", lambda sr: harmonic_stack(220.0, 2.0, sr, n_harmonics=8)),
    "syllables": ("Three voice-like harmonic syllables with pauses, 1.6 s", _ex_speechlike),
}


def example(name: str, sr: int = 22050) -> np.ndarray:
    """One of the built-in example clips by name (see :data:`EXAMPLES`).

    Raises
    ------
    ParameterError
        If ``name`` is not a known example.
    """
    check_choice(name, "example name", EXAMPLES)
    return np.clip(EXAMPLES[name][1](sr), -1.0, 1.0).astype(np.float32)
