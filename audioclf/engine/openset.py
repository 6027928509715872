""""None of these": when a clip is far from every class the model knows.

A classifier always names one of its classes, even for a sound it has never
heard of. Two signals say a clip may be none of them, both calibrated at training
time on clips the model did not train on, and saved in the bundle: the validation
clips when a split holds some out, otherwise out-of-fold scores of the training
clips (each scored by a model trained on the other folds; see
:func:`audioclf.engine.convex.out_of_fold_probs`). Thresholds measured on the
training clips themselves would be far too strict: a model is surer of the clips
it learned from than of any new take of the same class.

* **confidence** -- the clip's top probability. The threshold is a low
  quantile (default the 5th percentile) of the top probability of the
  validation clips the model got right, so about 95 % of known sounds pass.
* **distance** (models on backbone embeddings) -- the cosine distance from the
  clip's mean embedding to the nearest class centroid of the training clips.
  The threshold is a high quantile (95th percentile) of the validation clips'
  distances. A sound of no known class tends to land far from every centroid
  even when the softmax is sure of itself.

A clip is *unknown* when its confidence is below its threshold or its distance
above its threshold. Both thresholds are only defaults: the app has a slider.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import ParameterError

__all__ = ["OpenSetCalibration", "calibrate", "centroid_distance", "clip_embedding", "out_of_fold_distances",
           "reasons", "unknown_message", "calibration_note", "SOURCE_WORDS"]

_QUANTILE = 0.05
_SOURCES = ("validation", "out-of-fold", "training")
#: What the clips of each calibration ``source`` were, in plain words (:func:`calibration_note`).
SOURCE_WORDS = {"validation": "held-out validation clips",
                "out-of-fold": "training clips scored out of fold (each by a model trained without it)",
                "training": "training clips themselves (an older model: too strict)"}


@dataclass(frozen=True)
class OpenSetCalibration:
    """Thresholds for "none of these", measured on validation clips.

    Attributes
    ----------
    confidence : float
        Clips whose top probability is below this are unknown.
    distance : float or None
        Clips whose mean embedding is farther than this (cosine distance) from
        every class centroid are unknown; None for models that do not read embeddings.
    centroids : np.ndarray or None [shape=(n_classes, dim)]
        Unit-length class centroids of the training clips' mean embeddings.
    quantile : float
        The share of known clips the distance threshold (and, unless ``confidence_quantile`` says
        otherwise, the confidence threshold) lets fall to "unknown".
    confidence_quantile : float or None
        The confidence threshold's own share, where it differs (models on embeddings: 1 %; the distance is
        their main test, the confidence a safety net); None: ``quantile``.
    clips : int
        Clips it was measured on.
    source : str
        What they were: ``'validation'`` (held-out clips), ``'out-of-fold'`` (training clips, each
        scored by a model that did not train on it) or ``'training'`` (older bundles: the training
        clips themselves, optimistic).
    """

    confidence: float
    distance: float | None = None
    centroids: np.ndarray | None = None
    quantile: float = _QUANTILE
    clips: int = 0
    source: str = "validation"
    confidence_quantile: float | None = None

    def judge(self, probs: np.ndarray, embedding: np.ndarray | None = None, *,
              confidence: float | None = None) -> dict[str, Any]:
        """Is one clip "none of these"?

        Parameters
        ----------
        probs : np.ndarray [shape=(n_classes,)]
            The clip's probabilities.
        embedding : np.ndarray [shape=(dim,)], optional
            Its mean embedding (models on embeddings).
        confidence : float, optional
            Override the calibrated confidence threshold (the app's slider).

        Returns
        -------
        dict
            ``unknown`` (bool), ``confidence`` (the clip's top probability),
            ``confidence_threshold``, and for embedding models ``distance`` and
            ``distance_threshold``.
        """
        top = float(np.max(probs))
        limit = self.confidence if confidence is None else float(confidence)
        out: dict[str, Any] = {"confidence": top, "confidence_threshold": limit}
        unknown = top < limit
        if self.centroids is not None and self.distance is not None and embedding is not None:
            d = float(centroid_distance(np.asarray(embedding)[None], self.centroids)[0])
            out.update(distance=d, distance_threshold=self.distance)
            unknown = unknown or d > self.distance
        out["unknown"] = bool(unknown)
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"confidence": self.confidence, "distance": self.distance, "quantile": self.quantile,
                "confidence_quantile": self.confidence_quantile, "clips": self.clips, "source": self.source,
                "centroids": None if self.centroids is None else np.round(self.centroids, 6).tolist()}

    @classmethod
    def from_dict(cls, d: dict[str, Any], *, n_classes: int) -> OpenSetCalibration:
        """Rebuild from :meth:`to_dict` output (a bundle's ``unknown`` entry).

        Raises
        ------
        ParameterError
            If a threshold is not a number in range, or the centroids do not have one row per class.
        """
        if not isinstance(d, dict):
            raise ParameterError(f"an open-set calibration must be a dict, got {type(d).__name__}")
        conf = d.get("confidence")
        if isinstance(conf, bool) or not isinstance(conf, (int, float)) or not 0.0 <= conf <= 1.0:
            raise ParameterError(f"open-set confidence threshold {conf!r} must be a number in [0, 1]")
        dist = d.get("distance")
        cents = d.get("centroids")
        centroids = None
        if cents is not None:
            centroids = np.asarray(cents, dtype=np.float32)
            if centroids.ndim != 2 or len(centroids) != n_classes or not np.all(np.isfinite(centroids)):
                raise ParameterError(f"open-set centroids must be one finite row per class ({n_classes}), "
                                     f"got shape {centroids.shape}")
        if dist is not None and (isinstance(dist, bool) or not isinstance(dist, (int, float)) or dist < 0):
            raise ParameterError(f"open-set distance threshold {dist!r} must be a non-negative number")
        source = d.get("source", "validation")
        if source not in _SOURCES:
            raise ParameterError(f"open-set source {source!r} must be one of {', '.join(_SOURCES)}")
        return cls(confidence=float(conf), distance=None if dist is None else float(dist), centroids=centroids,
                   quantile=float(d.get("quantile", _QUANTILE)), clips=int(d.get("clips", 0)), source=source,
                   confidence_quantile=None if d.get("confidence_quantile") is None
                   else float(d["confidence_quantile"]))


def clip_embedding(x: np.ndarray) -> np.ndarray:
    """A clip's mean embedding from its model inputs [shape=(n_windows, K, dim)] -> (dim,).

    Fine-tuned models read what the backbone's top block reads, ``(n_windows, K, *cells, channels)``:
    the mean is then over the cells too, one number per channel.
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim < 3:
        raise ParameterError(f"embedding inputs must be (windows, K, dim), got shape {x.shape}")
    return x.mean(axis=tuple(range(x.ndim - 1))).astype(np.float32)


def _unit(x: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(x, axis=-1, keepdims=True)
    return x / np.maximum(norm, 1e-12)


def centroid_distance(embeddings: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """Cosine distance from each embedding to its nearest centroid [shape=(n,)], in [0, 2]."""
    e = _unit(np.asarray(embeddings, dtype=np.float64))
    c = _unit(np.asarray(centroids, dtype=np.float64))
    return np.clip(1.0 - (e @ c.T).max(axis=1), 0.0, 2.0)


def calibrate(val_probs: np.ndarray, val_labels: np.ndarray, *, quantile: float = _QUANTILE,
              train_embeddings: np.ndarray | None = None, train_labels: np.ndarray | None = None,
              val_embeddings: np.ndarray | None = None, val_distances: np.ndarray | None = None,
              source: str = "validation", confidence_quantile: float | None = None) -> OpenSetCalibration:
    """Measure the "none of these" thresholds on validation clips.

    Parameters
    ----------
    val_probs : np.ndarray [shape=(n_clips, n_classes)]
        Clip probabilities of the validation clips.
    val_labels : np.ndarray [shape=(n_clips,)]
        Their true class indices.
    quantile : float
        Share of known clips allowed to fall to "unknown" by each threshold, in (0, 0.5).
    train_embeddings, train_labels, val_embeddings : np.ndarray, optional
        Mean embeddings (n, dim) of the training and validation clips, for the
        centroid distance (models on backbone embeddings).
    val_distances : np.ndarray [shape=(n_clips,)], optional
        The clips' distances measured elsewhere, instead of to the centroids of ``train_embeddings``
        (out of fold: each clip's distance to centroids of the other folds); ``val_embeddings`` is then unused.
    source : {'validation', 'out-of-fold', 'training'}
        What the clips were (see :class:`OpenSetCalibration`).
    confidence_quantile : float, optional
        The confidence threshold's own share, in (0, 0.5) (default ``quantile``).

    Returns
    -------
    OpenSetCalibration

    Raises
    ------
    ParameterError
        On empty or mismatched inputs.

    Examples
    --------
    >>> probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]])
    >>> calibrate(probs, np.array([0, 1, 0]), quantile=0.1).confidence  # doctest: +ELLIPSIS
    0.6...
    """
    probs = np.asarray(val_probs, dtype=np.float64)
    labels = np.asarray(val_labels)
    if probs.ndim != 2 or len(probs) == 0 or len(labels) != len(probs):
        raise ParameterError(f"calibration needs (n_clips, n_classes) probabilities and one label per clip, "
                             f"got {probs.shape} and {labels.shape}")
    if isinstance(quantile, bool) or not isinstance(quantile, (int, float)) or not 0.0 < quantile < 0.5:
        raise ParameterError(f"quantile={quantile!r} must be a number in (0, 0.5)")
    if confidence_quantile is not None and (isinstance(confidence_quantile, bool) or not isinstance(
            confidence_quantile, (int, float)) or not 0.0 < confidence_quantile < 0.5):
        raise ParameterError(f"confidence_quantile={confidence_quantile!r} must be a number in (0, 0.5)")
    right = probs.argmax(axis=1) == labels
    tops = probs.max(axis=1)[right] if right.any() else probs.max(axis=1)
    confidence = float(np.quantile(tops, quantile if confidence_quantile is None else confidence_quantile))
    distance, centroids = None, None
    if source not in _SOURCES:
        raise ParameterError(f"source={source!r} must be one of {', '.join(_SOURCES)}")
    if train_embeddings is not None and train_labels is not None and (val_embeddings is not None
                                                                      or val_distances is not None):
        emb = np.asarray(train_embeddings, dtype=np.float64)
        tl = np.asarray(train_labels)
        n_classes = probs.shape[1]
        if emb.ndim != 2 or len(emb) != len(tl):
            raise ParameterError(f"train embeddings {emb.shape} need one label each ({tl.shape})")
        rows = [emb[tl == k].mean(axis=0) if np.any(tl == k) else np.zeros(emb.shape[1]) for k in range(n_classes)]
        centroids = _unit(np.stack(rows)).astype(np.float32)
        if val_distances is not None:
            d = np.asarray(val_distances, dtype=np.float64)
            if d.shape != (len(probs),):
                raise ParameterError(f"val_distances needs one distance per clip ({len(probs)}), got {d.shape}")
        else:
            d = centroid_distance(np.asarray(val_embeddings), centroids)
        distance = float(np.quantile(d[right] if right.any() else d, 1.0 - quantile))
    return OpenSetCalibration(confidence=confidence, distance=distance, centroids=centroids,
                              quantile=float(quantile), clips=int(len(probs)), source=source,
                              confidence_quantile=None if confidence_quantile is None else float(confidence_quantile))


def out_of_fold_distances(embeddings: np.ndarray, labels: np.ndarray, folds: np.ndarray) -> np.ndarray:
    """Each clip's cosine distance to the nearest class centroid of the clips in the other folds.

    Parameters
    ----------
    embeddings : np.ndarray [shape=(n_clips, dim)]
    labels : np.ndarray [shape=(n_clips,)]
    folds : np.ndarray [shape=(n_clips,)]
        Fold of each clip (every class has clips in every fold but one at most).

    Returns
    -------
    np.ndarray [shape=(n_clips,)]
    """
    emb = np.asarray(embeddings, dtype=np.float64)
    labels = np.asarray(labels)
    folds = np.asarray(folds)
    out = np.zeros(len(emb))
    for k in np.unique(folds):
        rest = folds != k
        cents = np.stack([emb[rest & (labels == c)].mean(axis=0) for c in np.unique(labels[rest])])
        out[folds == k] = centroid_distance(emb[folds == k], cents)
    return out


def _pair(value: float, limit: float, *, percent: bool) -> tuple[str, str]:
    """``value`` and ``limit`` with as few decimals as tell them apart (at most 4 after the point)."""
    scale, unit = (100.0, " %") if percent else (1.0, "")
    for decimals in range(1 if percent else 2, 7):
        a, b = f"{value * scale:.{decimals}f}", f"{limit * scale:.{decimals}f}"
        if a != b:
            break
    return a + unit, b + unit


def reasons(verdict: dict[str, Any]) -> list[str]:
    """Why a clip was judged "none of these", in plain words, one line per threshold it crossed.

    ``verdict`` is :meth:`OpenSetCalibration.judge`'s answer. Numbers carry as many decimals as it
    takes to tell the clip's value from the threshold (never "100 % below 100 %").

    Example
    -------
    >>> reasons({"unknown": True, "confidence": 0.997, "confidence_threshold": 0.998})
    ["confidence 99.7 %, below this model's threshold of 99.8 %"]
    """
    out = []
    conf, limit = verdict.get("confidence"), verdict.get("confidence_threshold")
    if conf is not None and limit is not None and conf < limit:
        a, b = _pair(conf, limit, percent=True)
        out.append(f"confidence {a}, below this model's threshold of {b}")
    dist, dlimit = verdict.get("distance"), verdict.get("distance_threshold")
    if dist is not None and dlimit is not None and dist > dlimit:
        a, b = _pair(dist, dlimit, percent=False)
        out.append(f"distance to the nearest known class {a}, beyond this model's threshold of {b}")
    return out


def unknown_message(label: str, verdict: dict[str, Any]) -> str:
    """The sentence a person reads when a clip is judged "none of these": the closest class and why.

    Parameters
    ----------
    label : str
        The class the model would have named (the closest).
    verdict : dict
        :meth:`OpenSetCalibration.judge`'s answer (``Prediction.open_set``).

    Example
    -------
    >>> unknown_message("dog", {"unknown": True, "confidence": 0.4, "confidence_threshold": 0.6})
    "This clip seems to be none of the classes this model knows (closest: dog; confidence 40.0 %, below this model's threshold of 60.0 %)."
    """
    why = "; ".join(reasons(verdict))
    return f"This clip seems to be none of the classes this model knows (closest: {label}{'; ' + why if why else ''})."


def calibration_note(calibration: OpenSetCalibration) -> str:
    """Where a model's "none of these" threshold comes from, in plain words (the Classify page's slider help).

    Example
    -------
    >>> calibration_note(OpenSetCalibration(confidence=0.7, clips=40))
    'Calibrated on 40 held-out validation clips: 95% of the clips the model got right were at least this sure.'
    """
    share = calibration.confidence_quantile or calibration.quantile
    note = (f"Calibrated on {calibration.clips} {SOURCE_WORDS.get(calibration.source, 'clips')}: {1 - share:.0%} of "
            "the clips the model got right were at least this sure.")
    if calibration.distance is not None:
        note += (" This model (on a backbone) also answers 'none of these' when the clip lies far from every "
                 "class in the backbone's space.")
    return note
