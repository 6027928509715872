"""Exports for downloads: computed channels as ``.npz``."""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from ..features import ChannelData

__all__ = ["channels_npz_bytes"]


def channels_npz_bytes(channels: Mapping[str, ChannelData], *, sr: int | None = None) -> bytes:
    """Every channel's values and axes in one compressed ``.npz`` (no pickled objects).

    Keys: ``<name>`` (bins, frames) in natural units, ``<name>__display`` in the
    display scale (dB where it applies), ``<name>__times`` and ``<name>__bins``.
    """
    arrays: dict[str, np.ndarray] = {}
    for name, ch in channels.items():
        arrays[name] = np.asarray(ch.values)
        arrays[f"{name}__display"] = np.asarray(ch.model_input())
        arrays[f"{name}__times"] = np.asarray(ch.times)
        arrays[f"{name}__bins"] = np.asarray(ch.bins)
    if sr is not None:
        arrays["sr"] = np.asarray(sr)
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    return buf.getvalue()
