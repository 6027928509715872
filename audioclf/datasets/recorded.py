"""A dataset from clips recorded per class in the app (the Teachable-Machine habit)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path

from ..audio.io import load_audio, write_audio
from ..errors import DatasetError
from .core import Dataset
from .sources import load_class_folders

__all__ = ["dataset_from_recordings", "valid_label"]

_LABEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.-]{0,39}$")


def valid_label(label: str) -> bool:
    """Whether ``label`` can name a class folder: 1-40 letters, digits, spaces, '.', '_' or '-', starting with a
    letter or digit."""
    return bool(_LABEL.match(label))


def dataset_from_recordings(root: str | Path, recordings: Mapping[str, Sequence[bytes]], *,
                            sr: int = 22050) -> Dataset:
    """Write each class's recordings as WAV files under ``root/<label>/`` and load them as class folders.

    Parameters
    ----------
    root : path
        An empty or new folder (the app uses the session's own folder).
    recordings : mapping of label to list of audio bytes (any format :func:`load_audio` reads)
    sr : int
        Rate of the written files.

    Raises
    ------
    DatasetError
        A label that is not a plain name, fewer than 2 classes, or a class without clips.
    AudioError
        A recording that cannot be read (its label and number are named).
    """
    root = Path(root)
    labels = [lab.strip() for lab in recordings]
    bad = [lab for lab in labels if not _LABEL.match(lab)]
    if bad:
        raise DatasetError(f"class name(s) {bad} must be 1-40 letters, digits, spaces, '.', '_' or '-'")
    if len({lab.lower() for lab in labels}) != len(labels):
        raise DatasetError("two classes have the same name; give each class its own name")
    empty = [lab for lab, clips in recordings.items() if not clips]
    if empty:
        raise DatasetError(f"class(es) {empty} have no recordings yet; record at least one clip each")
    if len(labels) < 2:
        raise DatasetError(f"found {len(labels)} class; a classifier needs at least 2 -- add another class")
    for label, clips in recordings.items():
        folder = root / label.strip()
        folder.mkdir(parents=True, exist_ok=True)
        for i, data in enumerate(clips):
            y, _ = load_audio(data, sr=sr, name=f"{label} recording {i + 1}")
            write_audio(folder / f"{i:03d}.wav", y, sr)
    return load_class_folders(root, name="recordings")
