"""Small helpers the app's pages share; no streamlit import here either."""

from __future__ import annotations

import json
from pathlib import Path

__all__ = ["PRETRAINED_DIR", "pretrained_table", "describe_channels"]

PRETRAINED_DIR = Path(__file__).resolve().parents[2] / "pretrained"


def pretrained_table(root: Path = PRETRAINED_DIR) -> list[dict]:
    """Rows describing the bundles in ``pretrained/`` (read from their JSON, no model load)."""
    rows = []
    for meta in sorted(root.glob("*/bundle.json")):
        try:
            d = json.loads(meta.read_text())
        except (OSError, ValueError):
            continue
        rows.append({
            "name": meta.parent.name,
            "model": d.get("model", {}).get("name", "?") if isinstance(d.get("model"), dict) else d.get("model"),
            "classes": len(d.get("classes", [])),
            "dataset": (d.get("training") or {}).get("dataset", d.get("dataset", "")),
        })
    return rows


def describe_channels(names: list[str]) -> list[tuple[str, str]]:
    """(title, description) for each channel name, in order, from the registry."""
    from ..features import get_channel

    return [(get_channel(n).title, get_channel(n).description) for n in names]
