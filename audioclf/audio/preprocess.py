"""Preprocessing: spectral-gating denoise, trimming a take to its sound, and silence splitting.

Both functions accept any finite clip -- silent, one sample long, clipped or
very loud -- and never return NaN. They guard known edge cases of the
libraries underneath (measured with noisereduce 3.0.3 and librosa 0.11):

* noisereduce's non-stationary mode turns an all-zero clip into all NaN;
* its stationary mode raises ``ValueError`` on clips shorter than its FFT;
* ``y_noise`` is silently ignored unless ``stationary=True``;
* librosa's ``effects.split`` calls an all-zero clip entirely "non-silent",
  because its threshold is relative to the clip's own maximum.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from .._validate import check_keys, check_number, check_positive_int
from ..engine.export_runner import trim_bounds  # one numpy implementation, shared with an export's classify.py
from ..errors import AudioError, ParameterError

__all__ = [
    "DenoiseConfig",
    "SplitConfig",
    "SplitResult",
    "TrimConfig",
    "trim_to_sound",
    "denoise",
    "split_silence",
    "trim_silence",
    "require_sound",
    "PreprocessConfig",
    "Preprocessed",
    "preprocess",
]

_NR_N_FFT = 1024  # noisereduce's default FFT size; shorter clips are padded to it
_EPS_PEAK = 1e-12


def _check_signal(y: np.ndarray, what: str = "y") -> np.ndarray:
    y = np.asarray(y)
    if y.ndim != 1:
        raise ParameterError(f"{what} must be a mono 1-D array, got shape {y.shape}")
    if not np.issubdtype(y.dtype, np.floating):
        raise ParameterError(f"{what} must hold floating-point samples, got dtype {y.dtype}")
    if not np.all(np.isfinite(y)):
        raise ParameterError(f"{what} contains NaN or infinite samples; load audio with audioclf.load_audio")
    return y.astype(np.float32, copy=False)


@dataclass(frozen=True)
class DenoiseConfig:
    """Spectral-gating settings (noisereduce).

    stationary : bool or None
        True estimates one noise spectrum (steady hum, hiss); False tracks a noise
        floor that changes over time. None (default) picks non-stationary for a
        whole-clip profile -- it keeps sound events that a single whole-clip
        spectrum would partly count as noise -- and stationary when a
        ``noise_range`` is given (noisereduce uses a noise clip only then).
    prop_decrease : float in [0, 1]
        How much of the estimated noise to remove (1 = all of it).
    noise_range : (start_s, end_s) or None
        A stretch of the clip that holds only noise. None (the default) takes the
        noise profile from the whole clip -- the usual advice when no noise-only part
        is known. A range needs ``stationary=True``.
    """

    stationary: bool | None = None
    prop_decrease: float = 1.0
    noise_range: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        if self.stationary is None:
            object.__setattr__(self, "stationary", self.noise_range is not None)
        check_number(self.prop_decrease, "prop_decrease", low=0, high=1)
        if self.noise_range is not None:
            start, end = self.noise_range
            if not (0.0 <= start < end):
                raise ParameterError(f"noise_range={self.noise_range} must be (start_s, end_s) with 0 <= start < end")
            if not self.stationary:
                raise ParameterError(
                    "a noise_range needs stationary=True: noisereduce uses a noise clip only in stationary mode"
                )
            object.__setattr__(self, "noise_range", (float(start), float(end)))

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> DenoiseConfig:
        """Rebuild from :meth:`to_dict` output; an unknown key is a :class:`ParameterError`."""
        d = check_keys(d, cls)
        if d.get("noise_range"):
            d["noise_range"] = tuple(d["noise_range"])
        return cls(**d)


def denoise(y: np.ndarray, sr: int, *, config: DenoiseConfig | None = None) -> np.ndarray:
    """Reduce background noise by spectral gating (noisereduce).

    Parameters
    ----------
    y : np.ndarray [shape=(n,)]
    sr : int
    config : DenoiseConfig, optional

    Returns
    -------
    np.ndarray [shape=(n,)], float32, finite

    Raises
    ------
    ParameterError
        Bad parameters, or a ``noise_range`` outside the clip.

    Examples
    --------
    >>> clean = denoise(y, sr, config=DenoiseConfig(stationary=True, prop_decrease=0.9))  # doctest: +SKIP
    """
    import noisereduce as nr

    config = config or DenoiseConfig()
    y = _check_signal(y)
    check_positive_int(sr, "sr")
    n = len(y)
    if n == 0 or np.max(np.abs(y)) < _EPS_PEAK:
        return y.copy()  # nothing to gate; non-stationary mode would return NaN here
    y_noise = None
    if config.noise_range is not None:
        start, end = (int(round(t * sr)) for t in config.noise_range)
        if start >= n:
            raise ParameterError(
                f"noise_range starts at {config.noise_range[0]:.3f} s but the clip is only {n / sr:.3f} s long"
            )
        y_noise = y[start : min(end, n)]
        if len(y_noise) < _NR_N_FFT:
            y_noise = np.pad(y_noise, (0, _NR_N_FFT - len(y_noise)), mode="wrap")
    # noisereduce needs at least one FFT frame of signal; pad short clips by
    # repetition (zeros would look like a noise floor of silence).
    padded = np.pad(y, (0, _NR_N_FFT * 2 - n), mode="wrap") if n < _NR_N_FFT * 2 else y
    out = nr.reduce_noise(
        y=padded,
        sr=sr,
        stationary=config.stationary,
        y_noise=y_noise,
        prop_decrease=config.prop_decrease,
        n_fft=_NR_N_FFT,
        use_tqdm=False,
        n_jobs=1,
    )[:n]
    out = np.asarray(out, dtype=np.float32)
    if not np.all(np.isfinite(out)):
        out = np.nan_to_num(out, nan=0.0, posinf=0.0, neginf=0.0)
    return out


@dataclass(frozen=True)
class SplitConfig:
    """Silence-splitting settings (librosa.effects.split).

    top_db : float
        A frame is silent when it is this many dB below the loudest frame.
    frame_length, hop_length : int
        Analysis frame and hop in samples.
    floor_db : float
        Absolute floor in dBFS: a clip whose peak is below it counts as all silent
        (librosa's threshold is relative only, so it would call digital silence sound).
    """

    top_db: float = 30.0
    frame_length: int = 2048
    hop_length: int = 512
    floor_db: float = -80.0

    def __post_init__(self) -> None:
        if self.top_db <= 0:
            raise ParameterError(f"top_db={self.top_db} must be positive (dB below the loudest frame)")
        for name in ("frame_length", "hop_length"):
            check_positive_int(getattr(self, name), name)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> SplitConfig:
        """Rebuild from :meth:`to_dict` output; an unknown key is a :class:`ParameterError`."""
        return cls(**check_keys(d, cls))


@dataclass(frozen=True)
class SplitResult:
    """Non-silent intervals of a clip and the clip with silences removed.

    intervals : np.ndarray [shape=(k, 2)], int
        Start and end sample of each non-silent stretch (end exclusive).
    sr : int
    y : np.ndarray [shape=(m,)]
        The non-silent stretches joined; empty when the clip is all silent.
    """

    intervals: np.ndarray
    sr: int
    y: np.ndarray = field(repr=False)

    @property
    def intervals_s(self) -> np.ndarray:
        """Intervals in seconds [shape=(k, 2)]."""
        return self.intervals.astype(np.float64) / self.sr

    @property
    def is_silent(self) -> bool:
        return len(self.intervals) == 0


def _is_silent(y: np.ndarray, floor_db: float) -> bool:
    return len(y) == 0 or float(np.max(np.abs(y))) < 10.0 ** (floor_db / 20.0)


def _refine_edges(y: np.ndarray, intervals: np.ndarray, config: SplitConfig) -> np.ndarray:
    """Move each interval edge to the first/last sample above librosa's threshold.

    librosa decides per centred frame, so its edges can be off by half a frame
    (46 ms at 2048 samples and 22 kHz). Its threshold is ``top_db`` below the
    loudest frame's RMS; we look for samples above that level within one frame
    of each edge, which puts the edge within a fraction of a period of the truth.
    """
    import librosa

    if len(intervals) == 0:
        return intervals
    rms = librosa.feature.rms(y=y, frame_length=config.frame_length, hop_length=config.hop_length)[0]
    thr = float(np.max(rms)) * 10.0 ** (-config.top_db / 20.0)
    loud = np.abs(y) > thr
    out = intervals.copy()
    w = config.frame_length
    for row in out:
        a, b = int(row[0]), int(row[1])
        lo, hi = max(0, a - w), min(len(y), a + w)
        idx = np.flatnonzero(loud[lo:hi])
        if len(idx):
            row[0] = lo + idx[0]
        lo, hi = max(0, b - w), min(len(y), b + w)
        idx = np.flatnonzero(loud[lo:hi])
        if len(idx):
            row[1] = lo + idx[-1] + 1
    # Refinement can make neighbours touch or overlap; merge them.
    merged: list[list[int]] = []
    for a, b in out:
        if merged and a <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], int(b))
        else:
            merged.append([int(a), int(b)])
    return np.asarray(merged, dtype=np.int64).reshape(-1, 2)


def split_silence(y: np.ndarray, sr: int, *, config: SplitConfig | None = None) -> SplitResult:
    """Find the non-silent intervals of ``y`` and remove the silences.

    Returns
    -------
    SplitResult
        Empty ``intervals`` (shape (0, 2)) when the whole clip is silent.

    Examples
    --------
    >>> res = split_silence(y, sr, config=SplitConfig(top_db=30))   # doctest: +SKIP
    >>> res.intervals_s                                             # doctest: +SKIP
    """
    import librosa

    config = config or SplitConfig()
    y = _check_signal(y)
    if _is_silent(y, config.floor_db):
        return SplitResult(np.zeros((0, 2), dtype=np.int64), sr, np.zeros(0, dtype=np.float32))
    intervals = librosa.effects.split(
        y, top_db=config.top_db, frame_length=config.frame_length, hop_length=config.hop_length
    )
    intervals = np.clip(np.asarray(intervals, dtype=np.int64).reshape(-1, 2), 0, len(y))
    intervals = _refine_edges(y, intervals, config)
    intervals = intervals[intervals[:, 1] > intervals[:, 0]]
    kept = np.concatenate([y[a:b] for a, b in intervals]) if len(intervals) else np.zeros(0, np.float32)
    return SplitResult(intervals, sr, kept.astype(np.float32))


def trim_silence(y: np.ndarray, sr: int, *, config: SplitConfig | None = None) -> tuple[np.ndarray, tuple[int, int]]:
    """Trim leading and trailing silence.

    Returns
    -------
    y_trimmed : np.ndarray [shape=(m,)]
    (start, end) : sample indices kept; (0, 0) and an empty array for an all-silent clip.
    """
    res = split_silence(y, sr, config=config)
    if res.is_silent:
        return np.zeros(0, dtype=np.float32), (0, 0)
    start, end = int(res.intervals[0, 0]), int(res.intervals[-1, 1])
    return np.asarray(y[start:end], dtype=np.float32), (start, end)


def require_sound(result: SplitResult, *, name: str = "clip") -> np.ndarray:
    """Return the kept audio, or raise a clear :class:`AudioError` when there is none.

    For callers that cannot work with silence (e.g. training on split audio).
    """
    if result.is_silent:
        raise AudioError(
            f"{name}: no sound found -- the whole clip is silent at this threshold; "
            "turn silence splitting off or raise top_db"
        )
    return result.y


#: TrimConfig's fields: (low, high, low bound excluded).
_TRIM_BOUNDS = {"above_floor_db": (0.0, None, True), "within_peak_db": (0.0, None, True),
                "frame_s": (0.001, 1.0, False), "pad_s": (0.0, 5.0, False), "floor_percentile": (0.0, 100.0, False)}


@dataclass(frozen=True)
class TrimConfig:
    """Cut a take back to its sound: the room noise before and after a spoken word goes, the word stays.

    A frame of ``frame_s`` seconds is sound when its RMS is more than ``above_floor_db`` over the take's own
    noise floor (the ``floor_percentile``-th percentile of its frames) or within ``within_peak_db`` of its
    loudest frame; the first to the last sound frame are kept, with ``pad_s`` seconds more on each side.
    Unlike :class:`SplitConfig` (relative to the loudest frame only) it follows the noise of the room, and it
    keeps the pauses inside the sound. Plain numpy, so an exported model repeats it exactly
    (``classify.py`` and the browser).
    """

    above_floor_db: float = 15.0
    within_peak_db: float = 25.0
    frame_s: float = 0.02
    pad_s: float = 0.2
    floor_percentile: float = 10.0

    def __post_init__(self) -> None:
        # stored as plain floats (as AugmentConfig does), so a NumPy scalar never reaches the saved JSON
        for name, (low, high, low_open) in _TRIM_BOUNDS.items():
            object.__setattr__(self, name, check_number(getattr(self, name), name, low=low, high=high,
                                                        low_open=low_open))

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> TrimConfig:
        """Rebuild from :meth:`to_dict` output; an unknown key is a :class:`ParameterError`."""
        return cls(**check_keys(d, cls))


def trim_to_sound(y: np.ndarray, sr: int, *, config: TrimConfig | None = None) -> tuple[np.ndarray, tuple[int, int]]:
    """``y`` cut back to its sound (:class:`TrimConfig`) and the ``(start, end)`` samples kept.

    A clip that is sound from end to end, or holds no sound at all, comes back whole.

    Examples
    --------
    >>> y = np.r_[np.zeros(8000), np.ones(4000), np.zeros(8000)].astype(np.float32)
    >>> trim_to_sound(y, 16000)[1]
    (4800, 15360)
    """
    config = config or TrimConfig()
    y = _check_signal(y)
    check_positive_int(sr, "sr")
    start, end = trim_bounds(y, sr, **config.to_dict())
    return np.asarray(y[start:end], dtype=np.float32), (start, end)


@dataclass(frozen=True)
class PreprocessConfig:
    """What happens to a clip before features: optional denoise, then an optional trim to its sound, then
    optional silence removal.

    Saved in every model bundle so inference repeats exactly what training did.
    """

    denoise: DenoiseConfig | None = None
    split: SplitConfig | None = None
    trim: TrimConfig | None = None

    def to_dict(self) -> dict:
        out = {
            "denoise": self.denoise.to_dict() if self.denoise else None,
            "split": self.split.to_dict() if self.split else None,
        }
        if self.trim is not None:  # absent when off, so pipelines from before the trim keep their hashes
            out["trim"] = self.trim.to_dict()
        return out

    @classmethod
    def from_dict(cls, d: dict | None) -> PreprocessConfig:
        d = check_keys(d or {}, cls)
        return cls(
            denoise=DenoiseConfig.from_dict(d["denoise"]) if d.get("denoise") else None,
            split=SplitConfig.from_dict(d["split"]) if d.get("split") else None,
            trim=TrimConfig.from_dict(d["trim"]) if d.get("trim") else None,
        )


@dataclass(frozen=True)
class Preprocessed:
    """The result of :func:`preprocess`.

    y : np.ndarray [shape=(m,)]
        The processed clip (denoised, trimmed, silences removed if asked).
    intervals : np.ndarray [shape=(k, 2)] or None
        Where the kept audio lies in the (denoised) input, in samples: the non-silent intervals of a split, the
        one kept stretch of a trim; None when neither was asked.
    """

    y: np.ndarray
    sr: int
    intervals: np.ndarray | None = None

    @property
    def duration(self) -> float:
        return len(self.y) / self.sr


def preprocess(y: np.ndarray, sr: int, *, config: PreprocessConfig | None = None, name: str = "clip",
               allow_silent: bool = False) -> Preprocessed:
    """Apply :class:`PreprocessConfig` to a clip.

    With a split and an all-silent clip, raises :class:`AudioError` unless
    ``allow_silent`` (then the untouched clip is kept, so a caller that must
    produce a prediction still can).
    """
    config = config or PreprocessConfig()
    y = _check_signal(y)
    if config.denoise is not None:
        y = denoise(y, sr, config=config.denoise)
    offset = 0
    if config.trim is not None:
        y, (offset, end) = trim_to_sound(y, sr, config=config.trim)
        if config.split is None:
            return Preprocessed(y, sr, np.array([[offset, end]], dtype=np.int64))
    if config.split is None:
        return Preprocessed(y, sr)
    res = split_silence(y, sr, config=config.split)
    if res.is_silent:
        if allow_silent:
            return Preprocessed(y, sr, res.intervals + offset)
        require_sound(res, name=name)
    return Preprocessed(res.y, sr, res.intervals + offset)
