"""Small helpers the app's pages share; no streamlit import here either."""

from __future__ import annotations

from pathlib import Path

from ..service.store import list_bundles

__all__ = ["pretrained_table", "describe_channels"]


def pretrained_table(root: Path | None = None) -> list[dict]:
    """Rows describing the bundles in ``pretrained/`` (read from their JSON, no model load)."""
    rows = []
    for e in list_bundles(root):
        value = e.headline.get("value")
        rows.append({"name": e.name, "model": e.architecture + (f" + {e.attention} attention" if e.attention else ""),
                     "dataset": e.dataset, "classes": len(e.classes),
                     # one headline column for every bundle (their metrics differ: CV, LOSO, test split)
                     "headline": f"{value:.1%}" if isinstance(value, float) else value,
                     "measured as": e.headline.get("protocol") or e.headline.get("name", "accuracy")})
    return rows


def describe_channels(names: list[str]) -> list[tuple[str, str]]:
    """(title, description) for each channel name, in order, from the registry."""
    from ..features import get_channel

    return [(get_channel(n).title, get_channel(n).description) for n in names]
