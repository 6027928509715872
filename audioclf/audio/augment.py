"""Data augmentation of training batches: time shift, noise, SpecAugment, frequency warp, time stretch, mixup.

Applied to standardised training batches only, never to validation or test
inputs. The order matters for models with a reconstruction output: mixup and
the time shift change *what* the sound is (the reconstruction target follows
them), while noise and masks only corrupt what the model sees (the target
stays clean, as for a denoising autoencoder).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from .._validate import check_int, check_keys, check_number

__all__ = ["AugmentConfig", "augment_batch", "AUGMENT_PRESETS"]

# The largest value of each option (all start at 0 = off).
_UPPER = {"time_shift": 0.5, "noise": 10.0, "time_mask_width": 1.0, "freq_mask_width": 1.0, "mixup": 10.0,
          "freq_warp": 0.5, "time_stretch": 0.5, "filter_gain": 5.0, "band_limit": 0.5}
_MAX_MASKS = 10


@dataclass(frozen=True)
class AugmentConfig:
    """What to do to training batches (every field 0 = off).

    Parameters
    ----------
    time_shift : float
        Roll each window along time by up to this fraction of its length
        (either way, wrapping around).
    noise : float
        Add Gaussian noise with this standard deviation (in standardised
        units, i.e. fractions of the training data's spread).
    time_masks, freq_masks : int
        SpecAugment: number of time / frequency stripes set to the mean
        (0 after standardisation) in each spectrogram window.
    time_mask_width, freq_mask_width : float
        Largest stripe width as a fraction of the axis.
    mixup : float
        Mixup's Beta(alpha, alpha) parameter: each window is blended with a
        random other one and the labels likewise; 0 turns it off.
    freq_warp : float
        Spectrogram inputs: stretch or squeeze each window's frequency axis
        by a random factor in [1 - freq_warp, 1 + freq_warp], anchored at the
        lowest bin (linear interpolation, the top edge repeated). On a mel or
        log-frequency axis this moves pitch and formants together, as
        vocal-tract length perturbation (Jaitly & Hinton 2013) does for
        speech: a different speaker, or a larger or smaller dog.
    time_stretch : float
        Spectrogram inputs: play each window faster or slower by a random
        factor in [1 - time_stretch, 1 + time_stretch] (frames interpolated
        along time, wrapping around as the time shift does).
    filter_gain : float
        Spectrogram inputs: FilterAugment (Nam et al. 2022). Each window gets
        a random equaliser: a piecewise-linear gain curve over the frequency
        axis through 3-6 random knots, each in [-filter_gain, filter_gain]
        (standardised units, so 0.5 is half the training data's spread; on
        log-mel about 8-10 dB), the same at every frame. It stands for a
        different microphone, room or distance: the spectral colouring that
        separates one recording set-up from another.
    band_limit : float
        Spectrogram inputs: simulate a band-limited recording chain. Each
        window, with probability 1/2, loses its low end (a high-pass edge at a
        random bin in the lowest ``band_limit`` of the frequency axis) and,
        independently with probability 1/2, its top (a low-pass edge in the
        highest ``band_limit``). Past an edge each bin drops by a random 0.25-1
        standardised units per bin further out (a steep roll-off), never below
        the window's own floor (its quietest value). It stands for a
        microphone or codec that cuts the bass or the treble -- the
        FilterAugment curves are too gentle for that.

    Examples
    --------
    >>> AugmentConfig.from_dict(AUGMENT_PRESETS["standard"].to_dict()) == AUGMENT_PRESETS["standard"]
    True
    """

    time_shift: float = 0.0
    noise: float = 0.0
    time_masks: int = 0
    time_mask_width: float = 0.1
    freq_masks: int = 0
    freq_mask_width: float = 0.1
    mixup: float = 0.0
    freq_warp: float = 0.0
    time_stretch: float = 0.0
    filter_gain: float = 0.0
    band_limit: float = 0.0

    def __post_init__(self) -> None:
        # Stored as plain float / int, so a NumPy scalar never reaches the saved JSON.
        for name, upper in _UPPER.items():
            object.__setattr__(self, name, check_number(getattr(self, name), name, low=0, high=upper))
        for name in ("time_masks", "freq_masks"):
            object.__setattr__(self, name, check_int(getattr(self, name), name, low=0, high=_MAX_MASKS))

    @property
    def active(self) -> bool:
        """True if any augmentation is switched on."""
        return bool(self.time_shift or self.noise or self.time_masks or self.freq_masks or self.mixup
                    or self.freq_warp or self.time_stretch or self.filter_gain or self.band_limit)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> AugmentConfig:
        if not d:
            return cls()
        return cls(**check_keys(d, cls, what="augmentation"))


#: Named settings for the CLI (``--augment NAME``) and the app.
AUGMENT_PRESETS: dict[str, AugmentConfig] = {
    "none": AugmentConfig(),
    "light": AugmentConfig(time_shift=0.1, noise=0.05),
    "standard": AugmentConfig(time_shift=0.25, time_masks=2, freq_masks=2, time_mask_width=0.1,
                              freq_mask_width=0.1, mixup=0.2),
    "strong": AugmentConfig(time_shift=0.5, noise=0.1, time_masks=2, freq_masks=2, time_mask_width=0.15,
                            freq_mask_width=0.15, mixup=0.4),
    # New voices and new sources: pitch/formant warps and tempo changes on top of the standard set.
    "speech": AugmentConfig(time_shift=0.25, time_masks=2, freq_masks=2, time_mask_width=0.1,
                            freq_mask_width=0.1, mixup=0.2, freq_warp=0.12, time_stretch=0.15),
    # Heads on backbone embeddings: the order of the windows rolled, a little noise, mixup.
    "embedding": AugmentConfig(time_shift=0.25, noise=0.1, mixup=0.2),
}


def _time_axis(kind: str) -> int | None:
    # (batch, f, t, c) -> 2; (batch, L, 1) -> 1; summaries have no time axis.
    return {"spectrogram": 2, "multichannel": 2, "waveform": 1, "embedding": 1}.get(kind)


def augment_batch(x: np.ndarray, y: np.ndarray, *, config: AugmentConfig, input_kind: str,
                  rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Augment one standardised training batch.

    Parameters
    ----------
    x : np.ndarray [shape=(batch, *input_shape)]
    y : np.ndarray [shape=(batch, classes)]
        One-hot labels (float).
    config : AugmentConfig
    input_kind : str
        Decides the time and frequency axes (masks apply to spectrogram-like inputs only).
    rng : np.random.Generator

    Returns
    -------
    x_seen : np.ndarray
        What the model reads (all augmentations applied).
    x_target : np.ndarray
        The reconstruction target: mixup and shift applied, noise and masks not.
    y : np.ndarray [shape=(batch, classes)]
        Labels, blended where mixup blended the inputs.
    """
    x = np.array(x, dtype=np.float32, copy=True)
    y = np.asarray(y, dtype=np.float32)
    n = len(x)
    t_axis = _time_axis(input_kind)
    if config.mixup > 0 and n > 1:
        lam = rng.beta(config.mixup, config.mixup, size=n).astype(np.float32)
        lam = np.maximum(lam, 1.0 - lam)  # the first window stays dominant: its position is kept
        perm = rng.permutation(n)
        shape = (n,) + (1,) * (x.ndim - 1)
        x = lam.reshape(shape) * x + (1.0 - lam.reshape(shape)) * x[perm]
        y = lam[:, None] * y + (1.0 - lam[:, None]) * y[perm]
    if config.time_shift > 0 and t_axis is not None:
        length = x.shape[t_axis]
        limit = int(config.time_shift * length)
        if limit > 0:
            shifts = rng.integers(-limit, limit + 1, size=n)
            for i, s in enumerate(shifts):
                if s:
                    x[i] = np.roll(x[i], int(s), axis=t_axis - 1)
    if input_kind in ("spectrogram", "multichannel"):
        if config.freq_warp > 0:
            _warp(x, axis=1, amount=config.freq_warp, wrap=False, rng=rng)
        if config.time_stretch > 0:
            _warp(x, axis=2, amount=config.time_stretch, wrap=True, rng=rng)
        if config.filter_gain > 0:
            _filter(x, gain=config.filter_gain, rng=rng)
        if config.band_limit > 0:
            _band_limit(x, fraction=config.band_limit, rng=rng)
    target = x.copy()
    if config.noise > 0:
        x += rng.normal(0.0, config.noise, size=x.shape).astype(np.float32)
    if input_kind in ("spectrogram", "multichannel"):
        _masks(x, axis=2, count=config.time_masks, width=config.time_mask_width, rng=rng)
        _masks(x, axis=1, count=config.freq_masks, width=config.freq_mask_width, rng=rng)
    return x, target, y


def _masks(x: np.ndarray, *, axis: int, count: int, width: float, rng: np.random.Generator) -> None:
    """Set ``count`` random stripes along ``axis`` of each window to 0 (the standardised mean)."""
    length = x.shape[axis]
    widest = int(width * length)
    if count == 0 or widest < 1:
        return
    for i in range(len(x)):
        for _ in range(count):
            w = int(rng.integers(1, widest + 1))
            start = int(rng.integers(0, length - w + 1))
            index = [i, slice(None), slice(None), slice(None)]
            index[axis] = slice(start, start + w)
            x[tuple(index)] = 0.0


def _filter(x: np.ndarray, *, gain: float, rng: np.random.Generator) -> None:
    """Add a random piecewise-linear curve over frequency (axis 1) to each window, in place (FilterAugment)."""
    bins = x.shape[1]
    if bins < 2:
        return
    grid = np.arange(bins, dtype=np.float64)
    for i in range(len(x)):
        inner = int(rng.integers(1, 5))  # 3-6 knots: both edges and 1-4 inside
        knots = np.concatenate([[0.0], np.sort(rng.uniform(0, bins - 1, size=inner)), [bins - 1.0]])
        gains = rng.uniform(-gain, gain, size=len(knots))
        curve = np.interp(grid, knots, gains).astype(np.float32)
        x[i] += curve.reshape((bins,) + (1,) * (x.ndim - 2))


def _band_limit(x: np.ndarray, *, fraction: float, rng: np.random.Generator) -> None:
    """Cut each window's low and/or high end along frequency (axis 1) with a steep roll-off, in place."""
    bins = x.shape[1]
    reach = int(round(fraction * bins))
    if bins < 2 or reach < 1:
        return
    grid = np.arange(bins, dtype=np.float64)
    for i in range(len(x)):
        drop = np.zeros(bins)
        if rng.random() < 0.5:  # high-pass: bins below the edge fall away
            edge = rng.uniform(0, reach)
            drop += np.maximum(edge - grid, 0.0) * rng.uniform(0.25, 1.0)
        if rng.random() < 0.5:  # low-pass: bins above the edge fall away
            edge = rng.uniform(bins - 1 - reach, bins - 1)
            drop += np.maximum(grid - edge, 0.0) * rng.uniform(0.25, 1.0)
        if not drop.any():
            continue
        floor = x[i].min(axis=(0, 1), keepdims=True)  # per channel: the window's quietest value
        x[i] = np.maximum(x[i] - drop.astype(np.float32).reshape((bins,) + (1,) * (x.ndim - 2)), floor)


def _warp(x: np.ndarray, *, axis: int, amount: float, wrap: bool, rng: np.random.Generator) -> None:
    """Resample each window along ``axis`` by a random factor in [1 - amount, 1 + amount], in place.

    Output index ``i`` reads input position ``i / factor`` (linear interpolation):
    a factor above 1 stretches the content (a lower voice on a frequency axis,
    a slower sound on a time axis). Past the end, the time axis wraps around
    and the frequency axis repeats its top bin.
    """
    length = x.shape[axis]
    if length < 2:
        return
    factors = rng.uniform(1.0 - amount, 1.0 + amount, size=len(x))
    index = np.arange(length, dtype=np.float64)
    for i, factor in enumerate(factors):
        pos = index / factor
        if wrap:
            pos = np.mod(pos, length)
            lo = np.floor(pos).astype(int) % length
            hi = (lo + 1) % length
        else:
            pos = np.minimum(pos, length - 1)
            lo = np.floor(pos).astype(int)
            hi = np.minimum(lo + 1, length - 1)
        frac = (pos - np.floor(pos)).astype(np.float32)
        shape = [1] * (x.ndim - 1)
        shape[axis - 1] = length
        frac = frac.reshape(shape)
        xi = x[i]
        x[i] = np.take(xi, lo, axis=axis - 1) * (1.0 - frac) + np.take(xi, hi, axis=axis - 1) * frac
