"""Model stores: folders of bundles, listed from their JSON without loading a model.

``pretrained/`` ships with the repository; the app also keeps a per-session
store of bundles trained or uploaded in that session.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["PRETRAINED_DIR", "pretrained_dir", "BundleEntry", "list_bundles", "read_card", "read_json", "card_parts"]

PRETRAINED_DIR = Path(__file__).resolve().parents[2] / "pretrained"


def pretrained_dir() -> Path:
    """The shipped models' folder: ``$AUDIOCLF_PRETRAINED`` if set, else the repository's ``pretrained/``."""
    env = os.environ.get("AUDIOCLF_PRETRAINED")
    return Path(env) if env else PRETRAINED_DIR


@dataclass(frozen=True)
class BundleEntry:
    """What a bundle folder says about itself (``bundle.json``), enough to list and choose it.

    ``headline`` is the card's headline metric: ``metrics.headline`` when the
    bundle names one (``{"name": ..., "value": ...}``), else validation clip accuracy.
    """

    name: str
    path: Path
    architecture: str
    attention: str | None
    classes: tuple[str, ...]
    dataset: str
    headline: dict[str, Any] = field(default_factory=dict)
    backbone: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "path": str(self.path), "architecture": self.architecture,
                "attention": self.attention, "dataset": self.dataset, "classes": list(self.classes),
                "backbone": self.backbone,
                "headline": self.headline, self.headline.get("name", "accuracy"): self.headline.get("value")}


def read_json(folder: str | Path) -> dict[str, Any]:
    """A bundle folder's ``bundle.json`` as it is (not validated: see :func:`audioclf.engine.bundle.read_description`),
    or an empty dict when it cannot be read."""
    try:
        d = json.loads((Path(folder) / "bundle.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return d if isinstance(d, dict) else {}


def _entry(folder: Path) -> BundleEntry | None:
    d = read_json(folder)
    try:
        arch = d["architecture"]
        classes = tuple(str(c) for c in d["classes"])
    except (KeyError, TypeError, AttributeError):
        return None  # not a (valid) bundle: listing never fails on one bad folder
    metrics = d.get("metrics") or {}
    training = d.get("training") or {}
    dataset = training.get("dataset")
    dataset = dataset.get("name", "") if isinstance(dataset, dict) else str(dataset or "")
    head = metrics.get("headline")
    if not isinstance(head, dict):
        head = {"name": "accuracy", "value": metrics.get("accuracy")}
    return BundleEntry(name=folder.name, path=folder, architecture=str(arch.get("name", "?")),
                       attention=arch.get("attention"), classes=classes, dataset=dataset, headline=head,
                       backbone=(d.get("backbone") or {}).get("name") if isinstance(d.get("backbone"), dict) else None)


def _best_first(e: BundleEntry) -> tuple:
    """Dataset, then held-out headlines (cross-validation, unseen speakers) before the rest, best value first."""
    value = e.headline.get("value")
    held_out = e.headline.get("name") in ("cv_accuracy", "loso_accuracy")
    return (e.dataset, not held_out, -(value if isinstance(value, (int, float)) else -1.0), e.name)


def list_bundles(root: str | Path | None = None) -> list[BundleEntry]:
    """Every valid bundle folder directly under ``root`` (default :func:`pretrained_dir`).

    Grouped by dataset, the best model of each first (by its card's headline: held-out
    protocols before others, the higher figure first), so the app offers it first.
    """
    root = Path(root) if root is not None else pretrained_dir()
    if not root.is_dir():
        return []
    entries = (_entry(p) for p in sorted(root.iterdir()) if p.is_dir() and (p / "bundle.json").is_file())
    return sorted((e for e in entries if e is not None), key=_best_first)


def read_card(folder: str | Path) -> str:
    """The bundle's model card (``card.md``), or an empty string."""
    try:
        return (Path(folder) / "card.md").read_text(encoding="utf-8")
    except OSError:
        return ""


_IMAGE = re.compile(r"!\[([^\]]*)\]\(([^)\s]+)\)")


def card_parts(folder: str | Path, card: str | None = None) -> list[tuple[str, str, Path | None]]:
    """A model card split into Markdown text and the images it shows, for a page to render in order.

    A card links its figures relatively (``![attention](attention.png)``), which a
    browser cannot resolve against the bundle folder; each such link becomes an
    ``("image", alt, path)`` part with the file's real path. Links that leave the
    folder, or name a missing file, become a short note -- never a broken image.

    Returns
    -------
    list of (kind, text, path)
        ``("markdown", text, None)`` or ``("image", alt text, path)``.
    """
    folder = Path(folder).resolve()
    text = read_card(folder) if card is None else card
    parts: list[tuple[str, str, Path | None]] = []
    pos = 0
    for m in _IMAGE.finditer(text):
        target = (folder / m.group(2)).resolve()
        if text[pos:m.start()].strip():
            parts.append(("markdown", text[pos:m.start()], None))
        if target.is_relative_to(folder) and target.is_file() and target.suffix.lower() == ".png":
            parts.append(("image", m.group(1), target))
        else:
            parts.append(("markdown", f"*(figure `{m.group(2)}` is not in this bundle)*", None))
        pos = m.end()
    if text[pos:].strip():
        parts.append(("markdown", text[pos:], None))
    return parts
