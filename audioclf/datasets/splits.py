"""Train/validation splits that do not leak.

A validation score only means something if no clip -- and no near-duplicate
of a clip -- was trained on. Near-duplicates share a ``group`` (a speaker, the
takes of one recording) or a predefined ``fold``, so every split here keeps a
group entirely on one side.

Split specs are short strings, as typed on a command line:

``fold:K``
    Clips of fold K are validation (ESC-50's 5 folds).
``group:NAME`` / ``group:auto``
    Clips of group NAME are validation; ``auto`` holds out one group chosen by the seed.
``split:test``
    Use the clips' own split column (FSDD's official test set); ``split:NAME`` for another value.
``ratio:R``
    A stratified random fraction R to validation; whole groups when the dataset has groups.
``none``
    Train on every clip (e.g. a model to ship after cross-validation); the "validation"
    side is then the training clips themselves, so its score is training accuracy only.

The two random splits are written here rather than taken from scikit-learn, which
has no equivalent: its stratified ``train_test_split`` rounds the validation share
over the whole set, so at ``ratio:0.2`` a class of 3 clips beside a larger one may
get no validation clip at all, and it refuses a class of a single clip; ours gives
every class of 2 or more clips at least one validation clip and keeps a lone clip
for training (small data sets are the app's common case). With groups,
``StratifiedGroupKFold`` only splits into ``1/k`` shares and ``GroupShuffleSplit``
ignores the classes; ``ratio:R`` takes any R. The out-of-fold folds used for
calibration do use scikit-learn (:func:`audioclf.engine.convex.clip_folds`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from ..errors import DatasetError, ParameterError
from .core import Dataset

__all__ = ["split_dataset", "kfold_splits", "leaks", "shared_files", "SPLIT_KINDS"]

SPLIT_KINDS = ("fold", "group", "split", "ratio")


def _parse(spec: str) -> tuple[str, str]:
    if not isinstance(spec, str) or ":" not in spec:
        raise DatasetError(f"split spec {spec!r} is not understood; expected one of 'fold:K', 'group:NAME', "
                           "'group:auto', 'split:test' or 'ratio:R' (e.g. 'ratio:0.2')")
    how, _, value = spec.partition(":")
    how, value = how.strip().lower(), value.strip()
    if how not in SPLIT_KINDS or not value:
        raise DatasetError(f"split spec {spec!r} is not understood; expected one of 'fold:K', 'group:NAME', "
                           "'group:auto', 'split:test' or 'ratio:R' (e.g. 'ratio:0.2')")
    return how, value


def _sides(dataset: Dataset, val_mask: np.ndarray, spec: str) -> tuple[Dataset, Dataset]:
    train_idx = np.flatnonzero(~val_mask)
    val_idx = np.flatnonzero(val_mask)
    if len(val_idx) == 0:
        raise DatasetError(f"split {spec!r} of {dataset.name!r} leaves the validation side empty")
    if len(train_idx) == 0:
        raise DatasetError(f"split {spec!r} of {dataset.name!r} leaves the training side empty")
    return (dataset.subset(train_idx, name=f"{dataset.name} [train, {spec}]"),
            dataset.subset(val_idx, name=f"{dataset.name} [val, {spec}]"))


def split_dataset(dataset: Dataset, spec: str, *, seed: int = 0) -> tuple[Dataset, Dataset]:
    """Split ``dataset`` into (train, validation) by a spec such as ``"fold:1"`` or ``"ratio:0.2"``.

    Parameters
    ----------
    dataset : Dataset
    spec : str
        ``fold:K``, ``group:NAME``, ``group:auto``, ``split:NAME`` or ``ratio:R`` (0 < R < 1);
        see the module docstring.
    seed : int
        Seeds ``group:auto`` and ``ratio:R``; the same seed gives the same split.

    Returns
    -------
    train, val : Dataset
        Disjoint; both keep ``dataset.classes`` so integer labels agree.

    Raises
    ------
    DatasetError
        An unknown spec, a fold/group/split value the dataset lacks (the message lists
        the ones it has), or a split that leaves one side empty.

    Examples
    --------
    >>> train, val = split_dataset(load_dataset("data/esc10"), "fold:4")   # doctest: +SKIP
    >>> len(train), len(val)                                                # doctest: +SKIP
    (240, 80)
    """
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ParameterError(f"seed={seed!r} must be a non-negative integer")
    if isinstance(spec, str) and spec.strip().lower() == "none":
        every = np.arange(len(dataset))
        return (dataset.subset(every, name=f"{dataset.name} [train, all clips]"),
                dataset.subset(every, name=f"{dataset.name} [training clips, split none]"))
    how, value = _parse(spec)
    if how == "fold":
        return _sides(dataset, _fold_mask(dataset, value, spec), spec)
    if how == "group":
        return _sides(dataset, _group_mask(dataset, value, spec, seed), spec)
    if how == "split":
        have = dataset.splits
        if value.lower() not in have:
            raise DatasetError(f"split {spec!r}: {dataset.name!r} has no clips with split {value!r}; it has "
                               f"{list(have) or 'no split column'}")
        return _sides(dataset, np.array([c.split == value.lower() for c in dataset.clips], dtype=bool), spec)
    try:
        ratio = float(value)
    except ValueError:
        ratio = float("nan")
    if not 0.0 < ratio < 1.0:
        raise DatasetError(f"split {spec!r}: the ratio must be a number between 0 and 1 (e.g. 'ratio:0.2')")
    if dataset.groups:
        return _sides(dataset, _group_ratio_mask(dataset, ratio, seed), spec)
    return _sides(dataset, _ratio_mask(dataset, ratio, seed), spec)


def _fold_mask(dataset: Dataset, value: str, spec: str) -> np.ndarray:
    folds = dataset.folds
    if not folds:
        raise DatasetError(f"split {spec!r}: {dataset.name!r} has no folds; use 'ratio:0.2' or 'group:NAME'")
    try:
        fold = int(value)
    except ValueError:
        raise DatasetError(f"split {spec!r}: the fold must be an integer, one of {list(folds)}") from None
    if fold not in folds:
        raise DatasetError(f"split {spec!r}: {dataset.name!r} has no fold {fold}; its folds are {list(folds)}")
    return np.array([c.fold == fold for c in dataset.clips], dtype=bool)


def _group_mask(dataset: Dataset, value: str, spec: str, seed: int) -> np.ndarray:
    groups = dataset.groups
    if not groups:
        raise DatasetError(f"split {spec!r}: {dataset.name!r} has no groups (speakers, recordings); "
                           "use 'ratio:0.2' or 'fold:K'")
    if value == "auto":
        if len(groups) < 2:
            raise DatasetError(f"split {spec!r}: {dataset.name!r} has only one group ({groups[0]!r}); "
                               "holding it out leaves nothing to train on")
        value = groups[int(np.random.default_rng(seed).integers(len(groups)))]
    elif value not in groups:
        shown = ", ".join(groups[:10]) + (f" … ({len(groups)} in all)" if len(groups) > 10 else "")
        raise DatasetError(f"split {spec!r}: {dataset.name!r} has no group {value!r}; its groups are {shown}")
    return np.array([c.group == value for c in dataset.clips], dtype=bool)


def _ratio_mask(dataset: Dataset, ratio: float, seed: int) -> np.ndarray:
    """Per class, a shuffled ``round(ratio * n)`` clips to validation (at least 1 where n >= 2)."""
    rng = np.random.default_rng(seed)
    labels = dataset.labels
    mask = np.zeros(len(dataset), dtype=bool)
    for k in range(len(dataset.classes)):
        idx = np.flatnonzero(labels == k)
        if len(idx) < 2:
            continue  # a lone clip is more use for training than for a one-clip validation class
        n_val = min(len(idx) - 1, max(1, int(round(ratio * len(idx)))))
        mask[rng.permutation(idx)[:n_val]] = True
    return mask


def _group_ratio_mask(dataset: Dataset, ratio: float, seed: int) -> np.ndarray:
    """A stratified group split: whole groups to validation, greedily matching ``ratio`` per class.

    Groups are visited in a seeded random order, largest first; a group goes to
    validation when that brings the per-class validation counts closer to
    ``ratio`` times the class totals (L1 distance). A clip without a group is
    its own group.
    """
    n_cls = len(dataset.classes)
    labels = dataset.labels
    members: dict[object, list[int]] = defaultdict(list)
    for i, clip in enumerate(dataset.clips):
        members[clip.group if clip.group is not None else ("clip", i)].append(i)
    keys = list(members)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(keys))
    # Stable sort by size after the shuffle: ties between equal-sized groups stay random.
    order = sorted(order, key=lambda j: -len(members[keys[j]]))
    counts = {k: np.bincount(labels[members[k]], minlength=n_cls) for k in keys}
    target = ratio * np.bincount(labels, minlength=n_cls)
    val = np.zeros(n_cls)
    chosen: list[object] = []
    for j in order:
        key = keys[j]
        gain = np.abs(val + counts[key] - target).sum() - np.abs(val - target).sum()
        if gain < 0:
            val += counts[key]
            chosen.append(key)
    if not chosen:  # every group is bigger than the target: hold out the one that overshoots least
        key = min(keys, key=lambda k: (np.abs(counts[k] - target).sum(), str(k)))
        chosen.append(key)
    if len(chosen) == len(keys):
        chosen.pop()  # keep something to train on
    mask = np.zeros(len(dataset), dtype=bool)
    for key in chosen:
        mask[members[key]] = True
    return mask


def kfold_splits(dataset: Dataset, *, by: str = "fold") -> Iterator[tuple[str, Dataset, Dataset]]:
    """Cross-validation: yield ``(spec, train, val)`` for each fold, or for each group held out.

    Parameters
    ----------
    dataset : Dataset
    by : {"fold", "group"}
        ``"fold"``: one split per predefined fold. ``"group"``: leave-one-group-out
        (e.g. leave-one-speaker-out on FSDD).

    Yields
    ------
    spec : str
        ``"fold:K"`` or ``"group:NAME"``, accepted by :func:`split_dataset`.
    train, val : Dataset

    Raises
    ------
    DatasetError
        If the dataset has fewer than 2 folds (or groups).

    Examples
    --------
    >>> for spec, train, val in kfold_splits(load_dataset("data/fsdd"), by="group"):   # doctest: +SKIP
    ...     print(spec, len(train), len(val))
    group:george 2000 500
    """
    if by not in ("fold", "group"):
        raise ParameterError(f"by={by!r} must be 'fold' or 'group'")
    values = dataset.folds if by == "fold" else dataset.groups
    if len(values) < 2:
        raise DatasetError(f"cross-validation by {by} needs at least 2 {by}s; {dataset.name!r} has "
                           f"{len(values)}{' (' + str(values[0]) + ')' if values else ''}")
    for value in values:
        spec = f"{by}:{value}"
        train, val = split_dataset(dataset, spec)
        yield spec, train, val


def shared_files(train: Dataset, val: Dataset) -> list[Path]:
    """Files on both sides of a split (each would be trained on and scored), sorted."""
    return sorted({c.path for c in train.clips} & {c.path for c in val.clips})


def leaks(train: Dataset, val: Dataset) -> list[str]:
    """Why two sides of a split are not independent: shared files or shared groups.

    Returns an empty list for a clean split, so ``assert not leaks(train, val)`` reads well in a test.
    """
    problems = []
    shared = shared_files(train, val)
    if shared:
        problems.append(f"{len(shared)} clip(s) on both sides, e.g. {shared[0].name}")
    groups = sorted(set(train.groups) & set(val.groups))
    if groups:
        problems.append(f"{len(groups)} group(s) on both sides, e.g. {groups[0]!r}")
    return problems
