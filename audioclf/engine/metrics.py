"""How good is a model: clip and window accuracy, per-class scores, confusions.

A model predicts windows; a clip's prediction is the average of its windows'
probabilities (or, as an option, the majority vote of their top classes).
Everything here works on arrays of probabilities, so the same code scores a
training run's validation side, a saved bundle on new data, and the app's
tables. The per-class scores are scikit-learn's; what is ours is the clip
vote (windows to clips) and the JSON the CLI and the pages read.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import ParameterError

__all__ = ["Evaluation", "clip_probabilities", "per_class_scores", "score", "VOTES"]

VOTES = ("mean", "majority")


def clip_probabilities(probs: np.ndarray, clip_index: np.ndarray, n_clips: int, *,
                       vote: str = "mean") -> np.ndarray:
    """Combine window probabilities into one row per clip.

    Parameters
    ----------
    probs : np.ndarray [shape=(n_windows, n_classes)]
    clip_index : np.ndarray [shape=(n_windows,)], int
        Clip of each window, in ``0 .. n_clips - 1``.
    n_clips : int
    vote : {'mean', 'majority'}
        ``'mean'`` averages the probabilities; ``'majority'`` returns the share of
        windows whose top class is each class (ties go to the higher mean
        probability, which is added at 1e-6 weight).

    Returns
    -------
    np.ndarray [shape=(n_clips, n_classes)]
        A clip without windows gets a row of zeros.
    """
    if vote not in VOTES:
        raise ParameterError(f"vote={vote!r} must be one of {', '.join(VOTES)}")
    probs = np.asarray(probs, dtype=np.float64)
    clip_index = np.asarray(clip_index, dtype=np.int64)
    if probs.ndim != 2 or clip_index.shape != (len(probs),):
        raise ParameterError(f"probs (n, classes) and clip_index (n,) must match; got {probs.shape} "
                             f"and {clip_index.shape}")
    counts = np.bincount(clip_index, minlength=n_clips).astype(np.float64)[:, None]
    sums = np.zeros((n_clips, probs.shape[1]))
    np.add.at(sums, clip_index, probs)
    mean = np.divide(sums, counts, out=np.zeros_like(sums), where=counts > 0)
    if vote == "mean":
        return mean
    votes = np.zeros_like(sums)
    np.add.at(votes, (clip_index, probs.argmax(axis=1)), 1.0)
    share = np.divide(votes, counts, out=np.zeros_like(votes), where=counts > 0)
    return share + 1e-6 * mean


def per_class_scores(true: np.ndarray, pred: np.ndarray, n_classes: int) -> dict[str, np.ndarray]:
    """Confusion matrix, precision, recall, F1 and support per class, from scikit-learn.

    Parameters
    ----------
    true, pred : np.ndarray [shape=(n,)], int
        True and predicted class of each clip, in ``0 .. n_classes - 1``.
    n_classes : int
        Every class gets a row and a column, also one that never occurs.

    Returns
    -------
    dict
        ``confusion`` [shape=(n_classes, n_classes)] with rows = true class and columns =
        predicted class; ``precision``, ``recall``, ``f1`` [shape=(n_classes,)], 0 where
        undefined; ``support`` [shape=(n_classes,)], clips of each true class.
    """
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

    labels = np.arange(n_classes)
    precision, recall, f1, support = precision_recall_fscore_support(true, pred, labels=labels, zero_division=0)
    return {"confusion": confusion_matrix(true, pred, labels=labels), "precision": precision, "recall": recall,
            "f1": f1, "support": support.astype(np.int64)}


@dataclass(frozen=True)
class Evaluation:
    """Scores of a model on a set of clips.

    Attributes
    ----------
    accuracy : float
        Clip accuracy (window probabilities combined per clip).
    window_accuracy : float
        Accuracy of single windows.
    labels : tuple of str
        Class names; rows and columns of ``confusion`` follow this order.
    confusion : np.ndarray [shape=(n_classes, n_classes)]
        Clip counts, rows = true class, columns = predicted class.
    precision, recall, f1 : np.ndarray [shape=(n_classes,)]
    support : np.ndarray [shape=(n_classes,)]
        Clips of each true class.
    clip_probs : np.ndarray [shape=(n_clips, n_classes)]
    clip_true : np.ndarray [shape=(n_clips,)]
    clip_names : tuple of str
    vote : str
    """

    accuracy: float
    window_accuracy: float
    labels: tuple[str, ...]
    confusion: np.ndarray
    precision: np.ndarray
    recall: np.ndarray
    f1: np.ndarray
    support: np.ndarray
    clip_probs: np.ndarray
    clip_true: np.ndarray
    clip_names: tuple[str, ...]
    vote: str = "mean"

    @property
    def macro_f1(self) -> float:
        present = self.support > 0
        return float(self.f1[present].mean()) if present.any() else 0.0

    @property
    def n_clips(self) -> int:
        return len(self.clip_true)

    def misclassified(self, *, top_k: int = 3) -> list[dict[str, Any]]:
        """Clips whose top prediction is wrong, each with its true label and top-k predictions."""
        out = []
        pred = self.clip_probs.argmax(axis=1)
        for i in np.flatnonzero(pred != self.clip_true):
            order = np.argsort(-self.clip_probs[i])[:top_k]
            out.append({"clip": self.clip_names[i], "true": self.labels[self.clip_true[i]],
                        "top": [{"label": self.labels[j], "prob": round(float(self.clip_probs[i, j]), 4)}
                                for j in order]})
        return out

    def to_dict(self, *, top_k: int = 3) -> dict[str, Any]:
        """JSON-ready: accuracy, window_accuracy, per_class, confusion, labels, misclassified."""
        return {
            "accuracy": round(self.accuracy, 6),
            "window_accuracy": round(self.window_accuracy, 6),
            "macro_f1": round(self.macro_f1, 6),
            "n_clips": self.n_clips,
            "vote": self.vote,
            "labels": list(self.labels),
            "per_class": {
                label: {"precision": round(float(self.precision[k]), 4), "recall": round(float(self.recall[k]), 4),
                        "f1": round(float(self.f1[k]), 4), "support": int(self.support[k])}
                for k, label in enumerate(self.labels)
            },
            "confusion": self.confusion.tolist(),
            "misclassified": self.misclassified(top_k=top_k),
        }


def score(probs: np.ndarray, window_labels: np.ndarray, clip_index: np.ndarray, *, labels: Sequence[str],
          clip_names: Sequence[str] | None = None, vote: str = "mean") -> Evaluation:
    """Score window probabilities against the true labels.

    Parameters
    ----------
    probs : np.ndarray [shape=(n_windows, n_classes)]
    window_labels : np.ndarray [shape=(n_windows,)], int
        True class of each window (its clip's class).
    clip_index : np.ndarray [shape=(n_windows,)], int
        Clip of each window, ``0 .. n_clips - 1`` (every clip at least one window).
    labels : sequence of str
        Class names (``n_classes`` of them).
    clip_names : sequence of str, optional
        For the list of misclassified clips.
    vote : {'mean', 'majority'}

    Returns
    -------
    Evaluation

    Examples
    --------
    >>> ev = score(np.array([[.9, .1], [.4, .6], [.2, .8]]), np.array([0, 0, 1]), np.array([0, 0, 1]),
    ...            labels=("a", "b"))
    >>> ev.accuracy, round(ev.window_accuracy, 3)
    (1.0, 0.667)
    """
    probs = np.asarray(probs, dtype=np.float64)
    window_labels = np.asarray(window_labels, dtype=np.int64)
    clip_index = np.asarray(clip_index, dtype=np.int64)
    n_classes = len(labels)
    if probs.ndim != 2 or probs.shape[1] != n_classes:
        raise ParameterError(f"probs must be (n_windows, {n_classes}) for {n_classes} labels, got {probs.shape}")
    if len(probs) == 0:
        raise ParameterError("nothing to score: no windows")
    if window_labels.shape != (len(probs),) or clip_index.shape != (len(probs),):
        raise ParameterError("window_labels and clip_index need one entry per window")
    n_clips = int(clip_index.max()) + 1
    clip_true = np.full(n_clips, -1, np.int64)
    clip_true[clip_index] = window_labels
    if np.any(clip_true < 0):
        raise ParameterError("every clip index from 0 to the largest must have at least one window")
    cp = clip_probabilities(probs, clip_index, n_clips, vote=vote)
    pred = cp.argmax(axis=1)
    s = per_class_scores(clip_true, pred, n_classes)
    names = tuple(clip_names) if clip_names is not None else tuple(str(i) for i in range(n_clips))
    return Evaluation(
        accuracy=float(np.mean(pred == clip_true)),
        window_accuracy=float(np.mean(probs.argmax(axis=1) == window_labels)),
        labels=tuple(labels), confusion=s["confusion"], precision=s["precision"], recall=s["recall"], f1=s["f1"],
        support=s["support"], clip_probs=cp, clip_true=clip_true, clip_names=names, vote=vote,
    )
