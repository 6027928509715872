"""Standardisation of model inputs with statistics of the training windows.

Measured once on the training side of a split (:func:`fit_stats`), saved in
the bundle, and applied to every input the model reads afterwards -- in
training, validation and inference alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import ParameterError

__all__ = ["NormStats", "fit_stats"]


@dataclass(frozen=True)
class NormStats:
    """Standardisation statistics measured on the training windows.

    ``mean`` and ``std`` broadcast against one input (without the batch
    axis): shape ``(c,)`` for spectrogram-like inputs (one value per plane),
    ``(1,)`` for waveforms, the full input shape for summaries.
    """

    mean: np.ndarray
    std: np.ndarray

    def apply(self, x: np.ndarray) -> np.ndarray:
        """``(x - mean) / std`` as float32."""
        return ((np.asarray(x, dtype=np.float32) - self.mean) / self.std).astype(np.float32, copy=False)

    def to_dict(self) -> dict[str, Any]:
        return {"mean": np.asarray(self.mean, np.float64).tolist(), "std": np.asarray(self.std, np.float64).tolist()}

    @classmethod
    def from_dict(cls, d: dict[str, Any], *, input_shape: tuple[int, ...]) -> NormStats:
        """Rebuild and check that the statistics broadcast against ``input_shape``.

        Raises
        ------
        ParameterError
            If the values are not finite numbers, a std is not positive, or the
            shapes do not broadcast against one input.
        """
        try:
            mean = np.asarray(d["mean"], dtype=np.float32)
            std = np.asarray(d["std"], dtype=np.float32)
        except (TypeError, ValueError, KeyError) as exc:
            raise ParameterError(f"normalisation statistics must hold numeric 'mean' and 'std' lists ({exc})") from exc
        if mean.shape != std.shape or not np.all(np.isfinite(mean)) or not np.all(np.isfinite(std)) \
                or np.any(std <= 0):
            raise ParameterError("normalisation statistics need finite mean and positive std of the same shape")
        try:
            np.broadcast_shapes(mean.shape, tuple(input_shape))
            if np.broadcast_shapes(mean.shape, tuple(input_shape)) != tuple(input_shape):
                raise ValueError
        except ValueError:
            raise ParameterError(f"normalisation statistics of shape {mean.shape} do not fit input_shape "
                                 f"{tuple(input_shape)}") from None
        return cls(mean, std)


def fit_stats(x: np.ndarray, *, input_kind: str) -> NormStats:
    """Measure standardisation statistics on training windows.

    Parameters
    ----------
    x : np.ndarray [shape=(n_windows, *input_shape)]
    input_kind : str
        Spectrogram-like and waveform inputs get one mean/std per channel
        (last axis); summary inputs one per feature (every entry).

    Returns
    -------
    NormStats
        A std below 1e-6 (a constant plane) is replaced by 1 so it stays finite.
    """
    x = np.asarray(x)
    if x.ndim < 2 or len(x) == 0:
        raise ParameterError(f"fit_stats needs a non-empty batch of windows, got shape {x.shape}")
    axes = (0,) if input_kind == "summary" else tuple(range(x.ndim - 1))
    # float64 sums: millions of float32 dB values lose digits otherwise.
    mean = x.mean(axis=axes, dtype=np.float64)
    std = x.std(axis=axes, dtype=np.float64)
    std = np.where(std < 1e-6, 1.0, std)
    return NormStats(mean.astype(np.float32), std.astype(np.float32))
