"""What is in a dataset: clips per class, durations, sample rates, problems.

Only file headers are read (libsndfile's ``sf.info``, falling back to
:func:`audioclf.audio.io.audio_info` for its error message), over a thread pool
because the work is file I/O, so summarizing thousands of clips takes seconds. Unreadable files are listed rather than raised, unless none can be
read at all.
"""

from __future__ import annotations

import os
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from .._validate import check_positive_int
from ..audio.io import audio_info
from ..errors import AudioclfError, DatasetError
from .core import Dataset, require_classes

__all__ = ["DurationStats", "DatasetSummary", "summarize_dataset"]

#: How many problem files a message or a warning names before it says "and N more".
_NAMED = 5


@dataclass(frozen=True)
class DurationStats:
    """Durations of a set of clips, in seconds."""

    n: int
    min: float
    median: float
    max: float
    total: float

    @classmethod
    def of(cls, seconds: list[float]) -> DurationStats:
        if not seconds:
            return cls(0, 0.0, 0.0, 0.0, 0.0)
        arr = np.asarray(seconds, dtype=np.float64)
        return cls(len(arr), float(arr.min()), float(np.median(arr)), float(arr.max()), float(arr.sum()))

    def to_dict(self) -> dict[str, float]:
        return {"n": self.n, "min": round(self.min, 4), "median": round(self.median, 4),
                "max": round(self.max, 4), "total": round(self.total, 3)}


@dataclass(frozen=True)
class DatasetSummary:
    """The result of :func:`summarize_dataset`.

    Attributes
    ----------
    per_class : dict[str, int]
        Clips per class, in class order.
    durations : DurationStats
        Over every readable clip.
    per_class_durations : dict[str, DurationStats]
    sample_rates : dict[int, int]
        Native sample rate -> number of clips.
    unreadable : tuple of (str, str)
        (path, reason) of the files whose header could not be read.
    small_classes : tuple of str
        Classes with fewer than ``min_clips`` clips.
    warnings : tuple of str
        Plain-language problems worth fixing before training.
    """

    name: str
    kind: str
    root: Path
    classes: tuple[str, ...]
    n_clips: int
    per_class: dict[str, int]
    durations: DurationStats
    per_class_durations: dict[str, DurationStats]
    sample_rates: dict[int, int]
    channels: dict[int, int]
    folds: dict[int, int]
    n_groups: int
    splits: dict[str, int]
    unreadable: tuple[tuple[str, str], ...]
    min_clips: int
    small_classes: tuple[str, ...]
    warnings: tuple[str, ...]
    notes: tuple[str, ...]

    @property
    def total_seconds(self) -> float:
        return self.durations.total

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (what ``python -m audioclf datasets --json`` prints)."""
        return {
            "name": self.name,
            "kind": self.kind,
            "root": str(self.root),
            "classes": list(self.classes),
            "n_classes": len(self.classes),
            "clips": self.n_clips,
            "per_class": dict(self.per_class),
            "total_seconds": round(self.total_seconds, 3),
            "durations": self.durations.to_dict(),
            "per_class_durations": {k: v.to_dict() for k, v in self.per_class_durations.items()},
            "sample_rates": {str(k): v for k, v in sorted(self.sample_rates.items())},
            "channels": {str(k): v for k, v in sorted(self.channels.items())},
            "folds": {str(k): v for k, v in sorted(self.folds.items())},
            "groups": self.n_groups,
            "splits": dict(sorted(self.splits.items())),
            "unreadable": [{"path": p, "error": e} for p, e in self.unreadable],
            "min_clips": self.min_clips,
            "small_classes": list(self.small_classes),
            "warnings": list(self.warnings),
            "notes": list(self.notes),
        }

    def format(self) -> str:
        """A few lines of plain text for a terminal."""
        d = self.durations
        rates = ", ".join(f"{sr} Hz x{n}" for sr, n in sorted(self.sample_rates.items())) or "none readable"
        lines = [
            f"{self.name}: {self.kind}, {self.n_clips} clips, {len(self.classes)} classes, "
            f"{self.total_seconds / 60:.1f} min of audio",
            f"  durations: min {d.min:.2f} s, median {d.median:.2f} s, max {d.max:.2f} s",
            f"  sample rates: {rates}",
        ]
        if self.folds:
            lines.append("  folds: " + ", ".join(f"{k} ({v})" for k, v in sorted(self.folds.items())))
        if self.n_groups:
            lines.append(f"  groups: {self.n_groups}")
        if self.splits:
            lines.append("  splits: " + ", ".join(f"{k} ({v})" for k, v in sorted(self.splits.items())))
        width = max((len(c) for c in self.classes), default=5)
        lines.append("  per class:")
        for label in self.classes:
            cd = self.per_class_durations[label]
            lines.append(f"    {label:<{width}}  {self.per_class[label]:>5} clips  {cd.total:8.1f} s  "
                         f"(median {cd.median:.2f} s)")
        lines += [f"  note: {n}" for n in self.notes]
        lines += [f"  warning: {w}" for w in self.warnings]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.format()


def _header(path: Path) -> tuple[float, int, int] | str:
    """(duration, samplerate, channels) of one file, or the reason it cannot be read."""
    try:
        # libsndfile reads only the header from a path; audio_info reads the whole file first.
        info = sf.info(str(path))
        if info.samplerate > 0 and info.frames >= 0:
            return info.frames / info.samplerate, int(info.samplerate), int(info.channels)
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError, OSError):
        pass
    try:  # the slow path, for the library's own message about what is wrong
        info = audio_info(path)
    except (AudioclfError, OSError) as exc:
        return str(exc)
    return info.duration, info.samplerate, info.channels


def _named(items: list[str]) -> str:
    more = f" and {len(items) - _NAMED} more" if len(items) > _NAMED else ""
    return ", ".join(items[:_NAMED]) + more


def summarize_dataset(dataset: Dataset, *, min_clips: int = 5, max_workers: int | None = None) -> DatasetSummary:
    """Count clips, read every header and collect warnings.

    Parameters
    ----------
    dataset : Dataset
    min_clips : int
        Classes with fewer clips than this are flagged in ``warnings`` (default 5).
    max_workers : int, optional
        Threads reading headers (default: 4 per CPU, at most 16).

    Returns
    -------
    DatasetSummary

    Raises
    ------
    DatasetError
        If the dataset has fewer than 2 classes, or no file can be read at all.
    ParameterError
        If ``min_clips`` or ``max_workers`` is not a positive integer.

    Examples
    --------
    >>> s = summarize_dataset(load_dataset("data/esc10"))      # doctest: +SKIP
    >>> s.per_class["dog"], s.sample_rates                     # doctest: +SKIP
    (32, {22050: 320})
    """
    check_positive_int(min_clips, "min_clips")
    if max_workers is None:
        max_workers = min(16, 4 * (os.cpu_count() or 1))
    check_positive_int(max_workers, "max_workers")
    require_classes(dataset)

    with ThreadPoolExecutor(max_workers=max_workers) as pool:
        headers = list(pool.map(_header, dataset.paths))

    bad = [(str(c.path), h) for c, h in zip(dataset.clips, headers, strict=True) if isinstance(h, str)]
    if len(bad) == len(dataset.clips):
        raise DatasetError(f"none of the {len(bad)} files in {dataset.root} could be read as audio: "
                           + _named([f"{Path(p).name} ({e})" for p, e in bad]))

    seconds: list[float] = []
    by_class: dict[str, list[float]] = {label: [] for label in dataset.classes}
    rates: Counter[int] = Counter()
    channels: Counter[int] = Counter()
    for clip, head in zip(dataset.clips, headers, strict=True):
        if isinstance(head, str):
            continue
        duration, sr, ch = head
        seconds.append(duration)
        by_class[clip.label].append(duration)
        rates[sr] += 1
        channels[ch] += 1

    per_class = dataset.counts()
    small = tuple(label for label, n in per_class.items() if n < min_clips)
    warnings: list[str] = []
    if small:
        warnings.append(f"{len(small)} class(es) have fewer than {min_clips} clips: "
                        + _named([f"{label!r} ({per_class[label]})" for label in small])
                        + "; collect more examples or drop them")
    if bad:
        warnings.append(f"{len(bad)} file(s) could not be read and will fail in training: "
                        + _named([f"{Path(p).name} ({e})" for p, e in bad]))
    if len(rates) > 1:
        warnings.append(f"clips have {len(rates)} different sample rates ({', '.join(map(str, sorted(rates)))} Hz); "
                        "they are resampled to one rate when loaded")
    counts = [n for n in per_class.values() if n]
    if counts and max(counts) >= 3 * min(counts):
        warnings.append(f"classes are imbalanced: {min(counts)} to {max(counts)} clips per class; "
                        "accuracy alone will flatter the majority class")

    return DatasetSummary(
        name=dataset.name, kind=dataset.kind, root=dataset.root, classes=dataset.classes,
        n_clips=len(dataset), per_class=per_class, durations=DurationStats.of(seconds),
        per_class_durations={k: DurationStats.of(v) for k, v in by_class.items()},
        sample_rates=dict(sorted(rates.items())), channels=dict(sorted(channels.items())),
        folds=dict(sorted(Counter(c.fold for c in dataset.clips if c.fold is not None).items())),
        n_groups=len(dataset.groups),
        splits=dict(sorted(Counter(c.split for c in dataset.clips if c.split is not None).items())),
        unreadable=tuple(bad), min_clips=min_clips, small_classes=small,
        warnings=tuple(warnings), notes=dataset.notes,
    )
