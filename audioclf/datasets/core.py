"""The data model of a labelled audio dataset: :class:`Clip` and :class:`Dataset`.

A dataset is an immutable list of clips (a path and a label, plus the optional
``fold``, ``group`` and ``split`` that keep evaluation honest) and the sorted
tuple of class names that integer labels index into. Subsets keep the parent's
classes, so label ``3`` means the same class in the training and validation
halves of a split.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import DatasetError

__all__ = ["Clip", "Dataset", "KINDS", "MIN_CLASSES", "require_classes"]

#: The kinds of source a dataset can come from (``Dataset.kind``).
KINDS = ("folders", "manifest", "esc50", "fsdd", "synthetic")
#: A classifier needs at least this many classes.
MIN_CLASSES = 2


@dataclass(frozen=True)
class Clip:
    """One labelled audio file.

    Parameters
    ----------
    path : Path
        Absolute path of the audio file.
    label : str
        Class name.
    fold : int or None
        Predefined cross-validation fold (ESC-50 style), if the source has one.
    group : str or None
        Clips that must stay on one side of a split: the speaker (FSDD) or the
        source recording (ESC-50 takes A/B/C of one Freesound sound).
    split : str or None
        A predefined split name such as ``"train"`` or ``"test"``.
    """

    path: Path
    label: str
    fold: int | None = None
    group: str | None = None
    split: str | None = None


@dataclass(frozen=True)
class Dataset:
    """An immutable labelled audio dataset.

    Parameters
    ----------
    name : str
        Display name (usually the folder name).
    root : Path
        Folder the clips were found in.
    kind : str
        One of :data:`KINDS`.
    clips : tuple of Clip
    classes : tuple of str
        Sorted, unique class names; ``labels`` index into it. Subsets keep the
        parent's classes even when a class has no clip left.
    notes : tuple of str
        What the loader skipped or assumed (non-audio files, extraction), for people.

    Examples
    --------
    >>> ds = load_dataset("data/fsdd")                        # doctest: +SKIP
    >>> ds.classes[:3], ds.labels[:3], len(ds)                 # doctest: +SKIP
    (('eight', 'five', 'four'), array([9, 9, 9]), 2500)
    """

    name: str
    root: Path
    kind: str
    clips: tuple[Clip, ...]
    classes: tuple[str, ...]
    notes: tuple[str, ...] = field(default=(), compare=False)

    def __post_init__(self) -> None:
        # Accept any sequence but store tuples, so the object really is immutable.
        object.__setattr__(self, "clips", tuple(self.clips))
        object.__setattr__(self, "classes", tuple(self.classes))
        object.__setattr__(self, "notes", tuple(self.notes))
        object.__setattr__(self, "root", Path(self.root))
        if self.kind not in KINDS:
            raise DatasetError(f"kind={self.kind!r} is not a dataset kind; expected one of {', '.join(KINDS)}")
        if list(self.classes) != sorted(set(self.classes)):
            raise DatasetError(f"classes must be sorted and unique, got {list(self.classes)[:10]}")
        known = set(self.classes)
        unknown = sorted({c.label for c in self.clips} - known)
        if unknown:
            raise DatasetError(f"clip labels {unknown[:5]} are not in classes {list(self.classes)[:10]}")

    @classmethod
    def from_clips(cls, clips: Iterable[Clip], *, name: str, root: str | Path, kind: str,
                   notes: Sequence[str] = ()) -> Dataset:
        """Build a dataset whose classes are the sorted labels of ``clips``."""
        clips = tuple(clips)
        return cls(name=name, root=Path(root), kind=kind, clips=clips,
                   classes=tuple(sorted({c.label for c in clips})), notes=tuple(notes))

    # --- views --------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.clips)

    def __iter__(self) -> Iterator[Clip]:
        return iter(self.clips)

    @property
    def labels(self) -> np.ndarray:
        """Integer label of every clip, an index into :attr:`classes` [shape=(n_clips,)], int64."""
        index = {c: i for i, c in enumerate(self.classes)}
        return np.fromiter((index[c.label] for c in self.clips), dtype=np.int64, count=len(self.clips))

    @property
    def paths(self) -> tuple[Path, ...]:
        return tuple(c.path for c in self.clips)

    @property
    def folds(self) -> tuple[int, ...]:
        """Distinct folds, sorted (empty when the source defines none)."""
        return tuple(sorted({c.fold for c in self.clips if c.fold is not None}))

    @property
    def groups(self) -> tuple[str, ...]:
        """Distinct groups (speakers, source recordings), sorted."""
        return tuple(sorted({c.group for c in self.clips if c.group is not None}))

    @property
    def splits(self) -> tuple[str, ...]:
        """Distinct predefined split names, sorted."""
        return tuple(sorted({c.split for c in self.clips if c.split is not None}))

    def counts(self) -> dict[str, int]:
        """Number of clips per class, in :attr:`classes` order (0 for a class with none left)."""
        counter = Counter(c.label for c in self.clips)
        return {label: counter.get(label, 0) for label in self.classes}

    # --- subsets ------------------------------------------------------------------------------

    def subset(self, indices: Iterable[int], *, name: str | None = None) -> Dataset:
        """The clips at ``indices`` (in that order), keeping this dataset's classes."""
        idx = [int(i) for i in indices]
        bad = [i for i in idx if not 0 <= i < len(self.clips)]
        if bad:
            raise DatasetError(f"indices {bad[:5]} are out of range for a dataset of {len(self.clips)} clips")
        return Dataset(name=name or self.name, root=self.root, kind=self.kind,
                       clips=tuple(self.clips[i] for i in idx), classes=self.classes, notes=self.notes)

    def filter(self, *, labels: Iterable[str] | None = None, folds: Iterable[int] | None = None,
               groups: Iterable[str] | None = None, splits: Iterable[str] | None = None,
               where: Callable[[Clip], bool] | None = None, name: str | None = None) -> Dataset:
        """Keep the clips that match every given criterion (``None`` means any).

        Parameters
        ----------
        labels, folds, groups, splits : iterable, optional
            Allowed values of the clip attribute of the same name.
        where : callable, optional
            Extra predicate ``Clip -> bool``.
        name : str, optional
            Name of the result (default: this dataset's name).

        Raises
        ------
        DatasetError
            If ``labels`` names a class the dataset does not have.
        """
        allowed = {
            "label": None if labels is None else set(labels),
            "fold": None if folds is None else {int(f) for f in folds},
            "group": None if groups is None else set(groups),
            "split": None if splits is None else set(splits),
        }
        if allowed["label"] is not None and allowed["label"] - set(self.classes):
            missing = sorted(allowed["label"] - set(self.classes))
            raise DatasetError(f"labels {missing} are not classes of {self.name!r}; it has {list(self.classes)}")

        def keep(clip: Clip) -> bool:
            for attr, values in allowed.items():
                if values is not None and getattr(clip, attr) not in values:
                    return False
            return where is None or bool(where(clip))

        return self.subset([i for i, c in enumerate(self.clips) if keep(c)], name=name)

def clip_id(clip: Clip, root: str | Path) -> str:
    """A clip's name inside its dataset: its path relative to ``root`` with ``/`` separators.

    File names alone are not unique (recorded datasets name every class's files
    ``000.wav``, ``001.wav`` ...), so evaluations, predictions and the app name
    clips by this. A clip outside ``root`` is named by its full path.

    Example
    -------
    >>> clip_id(Clip(Path("/data/dog/000.wav"), "dog"), "/data")
    'dog/000.wav'
    """
    path = Path(clip.path)
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()


def require_classes(dataset: Dataset, *, where: str | Path | None = None) -> Dataset:
    """Refuse a dataset a classifier cannot learn from (no clips, or fewer than two classes).

    Raises
    ------
    DatasetError
        ``"found 1 class 'dog' in …; a classifier needs at least 2"``.
    """
    place = where if where is not None else dataset.root
    if not dataset.clips:
        raise DatasetError(f"found no audio clips in {place}; expected audio files "
                           f"(extensions .wav, .flac, .ogg, .mp3, …) organised by class")
    present = sorted({c.label for c in dataset.clips})
    if len(present) < MIN_CLASSES:
        listed = ", ".join(repr(c) for c in present)
        noun = "class" if len(present) == 1 else "classes"
        raise DatasetError(f"found {len(present)} {noun} {listed} in {place}; a classifier needs at least "
                           f"{MIN_CLASSES}: add a folder (or manifest rows) for another class")
    return dataset
