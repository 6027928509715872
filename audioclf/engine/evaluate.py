"""Score a saved model bundle on a dataset, with the bundle's own preprocessing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..datasets import clip_id
from ..errors import DatasetError
from .bundle import Bundle, load_bundle
from .extract import extract_dataset
from .inference import predict_windows
from .metrics import Evaluation, score

__all__ = ["evaluate_bundle"]


def evaluate_bundle(bundle: Any, dataset: Any, *, vote: str = "mean", cache: Any = True, workers: int | None = None,
                    progress: Callable[[int, int], None] | None = None, batch_size: int = 64) -> Evaluation:
    """Score a saved model bundle on a dataset, with the bundle's own preprocessing.

    Parameters
    ----------
    bundle : Bundle or path
        A bundle folder or a loaded :class:`audioclf.engine.bundle.Bundle`.
    dataset : Dataset
        Its class names must all be known to the bundle.
    vote : {'mean', 'majority'}
    cache, workers, progress
        As for :func:`audioclf.engine.extract.extract_dataset`.
    batch_size : int

    Returns
    -------
    Evaluation
        Labels are the bundle's classes.

    Raises
    ------
    DatasetError
        If the dataset has a class the model does not know.
    """
    b = bundle if isinstance(bundle, Bundle) else load_bundle(bundle)
    present = sorted({c.label for c in dataset.clips} - set(b.classes))
    if present:
        raise DatasetError(f"the dataset has classes the model was not trained on: {present[:5]}; "
                           f"the model knows {list(b.classes)}")
    ex = extract_dataset(dataset, config=b.pipeline, cache=cache, workers=workers, progress=progress)
    probs = predict_windows(b, ex.x, batch_size=batch_size)
    index = {c: i for i, c in enumerate(b.classes)}
    window_labels = np.array([index[ex.clips[k].label] for k in ex.clip_index], dtype=np.int64)
    names = [clip_id(c, dataset.root) for c in ex.clips]
    return score(probs, window_labels, ex.clip_index, labels=b.classes, clip_names=names, vote=vote)
