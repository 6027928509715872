"""The two records of the channel registry: what a channel is, and what it computed."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import librosa
import numpy as np

if TYPE_CHECKING:
    from ._shared import Shared

__all__ = ["ChannelInfo", "ChannelData", "ChannelFn", "Scale", "BinKind"]

Scale = Literal["db", "linear"]
BinKind = Literal["hz", "index", "pitch", "none"]

#: A channel's compute function: from the shared per-signal cache to
#: ``(values (bins, frames), bin centres (bins,), bin labels or None)``.
ChannelFn = Callable[["Shared"], "tuple[np.ndarray, np.ndarray, list[str] | None]"]

# Floors of the dB conversion: 1e-10 in power is 1e-5 in amplitude, both -100 dB,
# so silence maps to a finite value instead of -inf (librosa's own defaults).
_AMIN_POWER = 1e-10
_AMIN_AMPLITUDE = 1e-5


@dataclass(frozen=True)
class ChannelInfo:
    """A registered feature channel: what it is called and how to show it.

    Attributes
    ----------
    name : str
        Registry key, e.g. ``"mel"``.
    title : str
        Short human title for plots, e.g. ``"Mel spectrogram"``.
    description : str
        One plain-language paragraph for learners, shown beside the plot.
    units : str
        Units of the values (before any dB conversion), e.g. ``"power"``, ``"Hz"``.
    scale : {'db', 'linear'}
        How the channel is displayed and fed to models: ``'db'`` channels are
        converted with :meth:`ChannelData.model_input`.
    quantity : {'power', 'amplitude', None}
        Whether values are power (10·log10) or amplitude (20·log10); ``None``
        for channels that are never converted.
    bin_kind : {'hz', 'index', 'pitch', 'none'}
        What the bins axis means: frequencies in Hz, coefficient indices,
        pitch classes, or a single row (``'none'``).
    compute : callable
        Internal compute function; use :func:`compute_channels` instead.
    """

    name: str
    title: str
    description: str
    units: str
    scale: Scale
    quantity: Literal["power", "amplitude"] | None
    bin_kind: BinKind
    compute: ChannelFn

    def as_dict(self) -> dict[str, str]:
        """The displayable fields as a JSON-ready dict (no compute function)."""
        return {"name": self.name, "title": self.title, "description": self.description,
                "units": self.units, "scale": self.scale, "bin_kind": self.bin_kind}


@dataclass(frozen=True, eq=False)
class ChannelData:
    """One computed channel of one signal.

    Attributes
    ----------
    info : ChannelInfo
        The registry entry (name, title, description, units, scale).
    values : np.ndarray [shape=(bins, frames), dtype=float32]
        The channel in its natural units (power, magnitude, Hz, …).
    times : np.ndarray [shape=(frames,)]
        Centre of each frame in seconds (frame ``k`` is centred on sample
        ``k * hop_length``).
    bins : np.ndarray [shape=(bins,)]
        Bin centres: Hz for ``bin_kind='hz'``, else 0, 1, 2, ….
    bin_labels : list of str or None
        Names of the bins when they are not numbers (pitch classes, min/max).
    top_db : float or None
        Dynamic range kept by :meth:`model_input` (from the config).

    Examples
    --------
    >>> import numpy as np
    >>> from audioclf.features import compute_channel
    >>> ch = compute_channel("mel", np.zeros(22050, np.float32), 22050)
    >>> ch.values.shape, ch.scale
    ((128, 44), 'db')
    """

    info: ChannelInfo
    values: np.ndarray
    times: np.ndarray
    bins: np.ndarray
    bin_labels: list[str] | None
    top_db: float | None = 80.0

    @property
    def name(self) -> str:
        return self.info.name

    @property
    def title(self) -> str:
        return self.info.title

    @property
    def description(self) -> str:
        return self.info.description

    @property
    def units(self) -> str:
        return self.info.units

    @property
    def scale(self) -> Scale:
        return self.info.scale

    @property
    def bin_kind(self) -> BinKind:
        return self.info.bin_kind

    @property
    def shape(self) -> tuple[int, int]:
        """``(bins, frames)``."""
        return self.values.shape  # type: ignore[return-value]

    def model_input(self) -> np.ndarray:
        """The channel as displayed and as models see it.

        ``scale='db'`` channels become decibels relative to 1.0 (full scale),
        floored at -100 dB and limited to ``top_db`` below the clip's peak;
        ``'linear'`` channels are returned unchanged.

        Returns
        -------
        np.ndarray [shape=(bins, frames), dtype=float32]
        """
        if self.info.scale == "linear":
            return self.values
        if self.info.quantity == "power":
            out = librosa.power_to_db(self.values, ref=1.0, amin=_AMIN_POWER, top_db=self.top_db)
        else:
            out = librosa.amplitude_to_db(self.values, ref=1.0, amin=_AMIN_AMPLITUDE, top_db=self.top_db)
        return np.asarray(out, dtype=np.float32)
