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
  validation clips the model got right: about 95 % of the known sounds it
  gets right pass, and more of those it gets wrong fall to "unknown".
* **distance** (models on backbone embeddings) -- the cosine distance from the
  clip's mean embedding to the nearest class centroid of the training clips.
  The threshold is a high quantile (95th percentile) of the distances of the
  validation clips the model got right. A sound of no known class tends to land far from every centroid
  even when the softmax is sure of itself.
* **scaled distance** (optional, off for models trained here) -- the same, once
  every dimension of the embedding is centred and scaled by the training clips'
  mean and spread (:func:`calibrate`'s ``scaled_quantile``). Raw cosine distances
  are ruled by the few dimensions where every sound of the backbone's world is
  large; scaled, the dimensions that tell the training classes apart count as
  much. On ``embed``'s pooled vectors it refused far more foreign sounds, but on
  trained heads it did no better overall than the raw distance alone
  (``audioclf.engine.train.EMBEDDING_SCALED_QUANTILE``, docs/benchmarks.md).

A clip is *unknown* when its confidence is below its threshold or a distance
above its threshold.

* **both together** (models on backbone embeddings trained here since 2026-12-07) -- a clip a little
  unsure *and* a little far is as odd as one very unsure or very far. Each of the two numbers becomes a rank
  among the known clips the model got right (``confidence_rank``: the share at most as sure;
  ``distance_rank``: the share at least as far, both conformal p-values), and the clip is unknown when the
  product of the two ranks is below the product's own low quantile over those clips (default 5 %:
  ``joint_quantile``). One threshold on the pair, calibrated as one test, instead of two thresholds whose
  refusals add up: measured with ``bench/transfer.py --only unknown`` (docs/benchmarks.md) it refused fewer
  known clips and more foreign sounds than confidence 1 % + distance 5 %, taken over the sets there. The
  calibration then also keeps the sorted ranks' references and reports, as ``confidence`` and ``distance``,
  the confidence below which and the distance beyond which a clip is unknown on that count alone. The
  ranks are interpolated between neighbouring reference values (a hair's change in a number never flips a
  verdict by a whole rank), and beyond the least sure and the farthest reference clip a rank keeps falling
  (an exponential tail scaled by the references' spread): with a few dozen clips no rank among them is small
  enough alone, and a clip far beyond all of them must still be refused however sure the model is.

* **the course of the sound** (pipelines that trim each take to its sound, the ``speech`` backbone's) -- a third
  rank beside the two, multiplied into the product: the distance from the clip's K window embeddings, laid end to
  end, to the nearest class's mean sequence (:func:`sequence_distances`; the smallest over the clip's inputs). A
  trimmed word shorter than one input is centred in it, so the k-th window is the same moment of every take of a
  class, and a word like a class only on average drifts from it window by window. Calibrated out of
  fold like the centroid distance; ``sequence_distance`` is the edge it alone must cross. Measured with
  ``bench/transfer.py --only unknown`` (docs/benchmarks.md). Without the trim a word lies anywhere in a long take,
  and the comparison would refuse the take for where the word is, so other pipelines do not use it.

The thresholds are only defaults: the app has a slider.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import ParameterError

# one numpy implementation, shared with classify.py
from .export_runner import far_rank, joint_ranks, nearest_cosine, rank_spread, sequence_distances, unit_rows

__all__ = ["OpenSetCalibration", "calibrate", "joint_ranks", "joint_bounds", "MAX_REFERENCE", "centroid_distance",
           "far_rank", "sequence_distances", "sequence_centroids", "clip_sequence_distances",
           "out_of_fold_sequence_distances",
           "clip_embedding", "out_of_fold_distances", "embedding_scale", "scaled_centroids", "scaled_centroid_distance",
           "reasons", "unknown_message", "calibration_note", "SOURCE_WORDS"]

_QUANTILE = 0.05
#: The most reference values a calibration keeps per test (more: evenly spaced quantiles of them).
MAX_REFERENCE = 1000
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
    scaled_distance : float or None
        Clips farther than this (cosine distance, each dimension scaled by ``center`` and ``scale``) from every
        class centroid of the scaled training embeddings (``scaled_centroids``) are unknown; None: no such test
        (zoo models, bundles made before it existed).
    center, scale : np.ndarray or None [shape=(dim,)]
        Mean and spread of the training clips' mean embeddings.
    scaled_centroids : np.ndarray or None [shape=(n_classes, dim)]
    scaled_quantile : float or None
        The share of known clips the scaled distance lets fall to "unknown".
    source : str
        What they were: ``'validation'`` (held-out clips), ``'out-of-fold'`` (training clips, each
        scored by a model that did not train on it) or ``'training'`` (older bundles: the training
        clips themselves, optimistic).
    joint : float or None
        Clips whose ``confidence_rank * distance_rank`` (:func:`joint_ranks`) is below this are unknown;
        None: the two tests apart (zoo models, older bundles). ``confidence`` and ``distance`` are then what
        one of the two alone must cross (a clip at the nearest distance / the highest confidence).
    joint_quantile : float or None
        The share of the calibration's right clips whose product falls below ``joint``.
    reference_confidences, reference_distances : np.ndarray or None [shape=(n,)]
        Sorted top probabilities and centroid distances of the calibration clips the model got right
        (at most :data:`MAX_REFERENCE` each), the ranks' references.
    sequence_centroids : np.ndarray or None [shape=(n_classes, K * dim)]
        Unit-length mean sequences of each class's model inputs (K window embeddings end to end), for the joint
        test's third rank (:func:`sequence_distances`); None: no such rank.
    reference_sequences : np.ndarray or None [shape=(n,)]
        Sorted sequence distances of the calibration clips the model got right, the third rank's references.
    sequence_distance : float or None
        The sequence distance beyond which a clip is unknown on that count alone (the other ranks 1).
    """

    confidence: float
    distance: float | None = None
    centroids: np.ndarray | None = None
    quantile: float = _QUANTILE
    clips: int = 0
    source: str = "validation"
    confidence_quantile: float | None = None
    scaled_distance: float | None = None
    center: np.ndarray | None = None
    scale: np.ndarray | None = None
    scaled_centroids: np.ndarray | None = None
    scaled_quantile: float | None = None
    joint: float | None = None
    joint_quantile: float | None = None
    reference_confidences: np.ndarray | None = None
    reference_distances: np.ndarray | None = None
    sequence_centroids: np.ndarray | None = None
    reference_sequences: np.ndarray | None = None
    sequence_distance: float | None = None

    def joint_threshold(self, confidence: float | None = None) -> float:
        """The joint threshold, moved by a confidence the app's slider sets instead of :attr:`confidence`.

        The slider's value becomes the confidence below which a clip is unknown at any distance (the product's
        threshold is then that value's own confidence rank, :func:`joint_ranks`); the calibrated value
        (or None; to within half the slider's 0.001 step) gives :attr:`joint` itself, 0 refuses nothing.
        """
        if confidence is None or abs(float(confidence) - self.confidence) < 5e-4:
            return float(self.joint)
        if confidence <= 0.0:
            return 0.0
        return joint_ranks(self.reference_confidences, self.reference_distances, float(confidence), 0.0)[0]

    def judge(self, probs: np.ndarray, embedding: np.ndarray | None = None, *,
              confidence: float | None = None, inputs: np.ndarray | None = None) -> dict[str, Any]:
        """Is one clip "none of these"?

        Parameters
        ----------
        probs : np.ndarray [shape=(n_classes,)]
            The clip's probabilities.
        embedding : np.ndarray [shape=(dim,)], optional
            Its mean embedding (models on embeddings; default: the mean of ``inputs``).
        confidence : float, optional
            Override the calibrated confidence threshold (the app's slider).
        inputs : np.ndarray [shape=(n_inputs, K, dim)], optional
            The clip's model inputs (models on embeddings), for the sequence rank of a calibration that has one;
            without them such a calibration judges by the other two ranks alone.

        Returns
        -------
        dict
            ``unknown`` (bool), ``confidence`` (the clip's top probability),
            ``confidence_threshold``, and for embedding models ``distance`` and
            ``distance_threshold`` (with the sequence rank also ``sequence_distance``,
            ``sequence_distance_threshold`` and ``sequence_rank``).
        """
        if embedding is None and inputs is not None:
            embedding = clip_embedding(inputs)
        top = float(np.max(probs))
        limit = self.confidence if confidence is None else float(confidence)
        out: dict[str, Any] = {"confidence": top, "confidence_threshold": limit}
        unknown = top < limit
        if self.centroids is not None and self.distance is not None and embedding is not None:
            d = float(centroid_distance(np.asarray(embedding)[None], self.centroids)[0])
            if self.joint is None:
                out.update(distance=d, distance_threshold=self.distance)
                unknown = unknown or d > self.distance
            else:
                rc, rd = joint_ranks(self.reference_confidences, self.reference_distances, top, d)
                threshold = self.joint_threshold(confidence)
                floor, ceiling = joint_bounds(self.reference_confidences, self.reference_distances, threshold)
                product = rc * rd
                if self.sequence_centroids is not None and inputs is not None:
                    s = float(sequence_distances(inputs, self.sequence_centroids).min())
                    rs = far_rank(self.reference_sequences, s)
                    product *= rs
                    out.update(sequence_distance=s, sequence_rank=rs,
                               sequence_distance_threshold=far_bound(self.reference_sequences, threshold))
                # the single thresholds are the joint test's own edges (a clip beyond one is unknown whatever
                # the others), so the product decides alone
                out.update(confidence_threshold=floor if threshold == self.joint else limit, distance=d,
                           distance_threshold=ceiling, confidence_rank=rc, distance_rank=rd, joint=product,
                           joint_threshold=threshold)
                unknown = product < threshold
        if self.scaled_distance is not None and embedding is not None:
            d = float(scaled_centroid_distance(np.asarray(embedding)[None], self.center, self.scale,
                                               self.scaled_centroids)[0])
            out.update(scaled_distance=d, scaled_distance_threshold=self.scaled_distance)
            unknown = unknown or d > self.scaled_distance
        out["unknown"] = bool(unknown)
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"confidence": self.confidence, "distance": self.distance, "quantile": self.quantile,
                "confidence_quantile": self.confidence_quantile, "clips": self.clips, "source": self.source,
                "centroids": None if self.centroids is None else np.round(self.centroids, 6).tolist(),
                **({} if self.scaled_distance is None else {
                    "scaled_distance": self.scaled_distance, "scaled_quantile": self.scaled_quantile,
                    "center": np.round(self.center, 6).tolist(), "scale": np.round(self.scale, 6).tolist(),
                    "scaled_centroids": np.round(self.scaled_centroids, 6).tolist()}),
                **({} if self.joint is None else {
                    "joint": self.joint, "joint_quantile": self.joint_quantile,
                    # unrounded: a calibration clip judged again must meet its own value, not a rounded one
                    "reference_confidences": [float(v) for v in self.reference_confidences],
                    "reference_distances": [float(v) for v in self.reference_distances]}),
                **({} if self.sequence_centroids is None else {
                    "sequence_distance": self.sequence_distance,
                    "sequence_centroids": np.round(self.sequence_centroids, 6).tolist(),
                    "reference_sequences": [float(v) for v in self.reference_sequences]})}

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
        scaled: dict[str, Any] = {}
        if d.get("scaled_distance") is not None:
            sd = d["scaled_distance"]
            if isinstance(sd, bool) or not isinstance(sd, (int, float)) or sd < 0:
                raise ParameterError(f"open-set scaled distance threshold {sd!r} must be a non-negative number")
            try:
                center, scale, sc = (np.asarray(d[k], dtype=np.float32) for k in ("center", "scale", "scaled_centroids"))
            except (KeyError, TypeError, ValueError) as exc:
                raise ParameterError(f"open-set scaled distance needs center, scale and scaled_centroids: {exc}") from exc
            if (center.ndim != 1 or scale.shape != center.shape or sc.shape != (n_classes, len(center))
                    or not all(np.all(np.isfinite(a)) for a in (center, scale, sc)) or np.any(scale <= 0)):
                raise ParameterError(f"open-set center {center.shape}, scale {scale.shape} and scaled centroids "
                                     f"{sc.shape} must be finite, of one size, one centroid per class "
                                     f"({n_classes}), scales positive")
            scaled = {"scaled_distance": float(sd), "center": center, "scale": scale, "scaled_centroids": sc,
                      "scaled_quantile": None if d.get("scaled_quantile") is None else float(d["scaled_quantile"])}
        joint: dict[str, Any] = {}
        if d.get("joint") is not None:
            jt = d["joint"]
            if isinstance(jt, bool) or not isinstance(jt, (int, float)) or not 0.0 <= jt <= 1.0:
                raise ParameterError(f"open-set joint threshold {jt!r} must be a number in [0, 1]")
            try:
                rc, rd = (np.asarray(d[k], dtype=np.float64) for k in ("reference_confidences", "reference_distances"))
            except (KeyError, TypeError, ValueError) as exc:
                raise ParameterError(f"open-set joint threshold needs reference_confidences and "
                                     f"reference_distances: {exc}") from exc
            if (rc.ndim != 1 or rd.ndim != 1 or len(rc) == 0 or len(rd) == 0 or dist is None
                    or not (np.all(np.isfinite(rc)) and np.all(np.isfinite(rd)))
                    or np.any(np.diff(rc) < 0) or np.any(np.diff(rd) < 0)):
                raise ParameterError(f"open-set reference confidences {rc.shape} and distances {rd.shape} must be "
                                     "non-empty sorted finite lists, with a distance threshold")
            joint = {"joint": float(jt), "reference_confidences": rc, "reference_distances": rd,
                     "joint_quantile": None if d.get("joint_quantile") is None else float(d["joint_quantile"])}
            if d.get("sequence_centroids") is not None:
                try:
                    sc = np.asarray(d["sequence_centroids"], dtype=np.float32)
                    rs = np.asarray(d["reference_sequences"], dtype=np.float64)
                    edge = float(d["sequence_distance"])
                except (KeyError, TypeError, ValueError) as exc:
                    raise ParameterError(f"open-set sequence centroids need reference_sequences and "
                                         f"sequence_distance: {exc}") from exc
                if (sc.ndim != 2 or len(sc) != n_classes or not np.all(np.isfinite(sc)) or rs.ndim != 1
                        or len(rs) == 0 or not np.all(np.isfinite(rs)) or np.any(np.diff(rs) < 0)
                        or not 0.0 <= edge <= 2.0):
                    raise ParameterError(f"open-set sequence centroids {sc.shape} must be one finite row per class "
                                         f"({n_classes}), with non-empty sorted finite reference_sequences "
                                         f"{rs.shape} and a sequence distance in [0, 2]")
                joint.update(sequence_centroids=sc, reference_sequences=rs, sequence_distance=edge)
        return cls(**scaled, **joint, confidence=float(conf), distance=None if dist is None else float(dist), centroids=centroids,
                   quantile=float(d.get("quantile", _QUANTILE)), clips=int(d.get("clips", 0)), source=source,
                   confidence_quantile=None if d.get("confidence_quantile") is None
                   else float(d["confidence_quantile"]))


def joint_bounds(reference_confidences: np.ndarray, reference_distances: np.ndarray,
                 threshold: float) -> tuple[float, float]:
    """The confidence below which, and the distance beyond which, a clip's product of ranks is below
    ``threshold`` whatever the other number: where one rank alone (the other 1) equals it (:func:`joint_ranks`
    inverted; 0.0 / 2.0 when ``threshold`` is 0)."""
    rc = np.asarray(reference_confidences, dtype=np.float64)
    rd = np.asarray(reference_distances, dtype=np.float64)
    if threshold <= 0.0:
        return 0.0, 2.0
    n = len(rc)
    if threshold <= 2.0 / (n + 1):  # in the tail below the least sure reference clip
        floor = float(rc[0]) - rank_spread(rc) * float(np.log(2.0 / (threshold * (n + 1))))
    else:
        floor = float(np.interp(threshold * (n + 1) - 1.0, np.arange(1.0, n + 1), rc))
    return max(floor, 0.0), far_bound(rd, threshold)


def far_bound(reference: np.ndarray, threshold: float) -> float:
    """The distance beyond which a clip's rank among ``reference`` (:func:`far_rank`) is below ``threshold``
    (2.0 when ``threshold`` is 0): one distance's edge of the joint test, the other ranks 1."""
    rd = np.asarray(reference, dtype=np.float64)
    if threshold <= 0.0:
        return 2.0
    m = len(rd)
    if threshold <= 2.0 / (m + 1):  # in the tail beyond the farthest reference clip
        ceiling = float(rd[-1]) + rank_spread(rd) * float(np.log(2.0 / (threshold * (m + 1))))
    else:
        ceiling = float(np.interp(1.0 + m - threshold * (m + 1), np.arange(0.0, m), rd))
    return min(ceiling, 2.0)


def _reference(values: np.ndarray) -> np.ndarray:
    """Sorted ``values``, or :data:`MAX_REFERENCE` evenly spaced quantiles of them."""
    values = np.sort(np.asarray(values, dtype=np.float64))
    if len(values) > MAX_REFERENCE:
        values = np.quantile(values, np.linspace(0.0, 1.0, MAX_REFERENCE))
    return values


def clip_embedding(x: np.ndarray) -> np.ndarray:
    """A clip's mean embedding from its model inputs [shape=(n_windows, K, dim)] -> (dim,).

    Fine-tuned models read what the backbone's top block reads, ``(n_windows, K, *cells, channels)``:
    the mean is then over the cells too, one number per channel.
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim < 3:
        raise ParameterError(f"embedding inputs must be (windows, K, dim), got shape {x.shape}")
    return x.mean(axis=tuple(range(x.ndim - 1))).astype(np.float32)


def centroid_distance(embeddings: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """Cosine distance from each embedding to its nearest centroid [shape=(n,)], in [0, 2]
    (:func:`~audioclf.engine.export_runner.nearest_cosine`, which ``classify.py`` runs too)."""
    return nearest_cosine(embeddings, centroids)


def embedding_scale(embeddings: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and spread of clips' mean embeddings [shape=(n, dim)], each (dim,); the spread never below a
    thousandth of its median (a dimension constant over the training clips must not blow up)."""
    emb = np.asarray(embeddings, dtype=np.float64)
    std = emb.std(axis=0)
    floor = max(float(np.median(std)) * 1e-3, 1e-8)
    return emb.mean(axis=0), np.maximum(std, floor)


def scaled_centroids(embeddings: np.ndarray, labels: np.ndarray, center: np.ndarray, scale: np.ndarray,
                     n_classes: int | None = None) -> np.ndarray:
    """Unit-length class centroids of the scaled embeddings [shape=(n_classes, dim)] (classes 0..n-1;
    a class without clips gets a zero row, which no clip is near)."""
    z = (np.asarray(embeddings, dtype=np.float64) - center) / scale
    labels = np.asarray(labels)
    classes = range(int(labels.max()) + 1 if n_classes is None else n_classes)
    rows = [z[labels == k].mean(axis=0) if np.any(labels == k) else np.zeros(z.shape[1]) for k in classes]
    return unit_rows(np.stack(rows))


def scaled_centroid_distance(embeddings: np.ndarray, center: np.ndarray, scale: np.ndarray,
                             centroids: np.ndarray) -> np.ndarray:
    """Cosine distance from each embedding, centred and scaled, to its nearest scaled centroid [shape=(n,)]."""
    z = (np.asarray(embeddings, dtype=np.float64) - np.asarray(center, np.float64)) / np.asarray(scale, np.float64)
    return centroid_distance(z, centroids)


def calibrate(val_probs: np.ndarray, val_labels: np.ndarray, *, quantile: float = _QUANTILE,
              train_embeddings: np.ndarray | None = None, train_labels: np.ndarray | None = None,
              val_embeddings: np.ndarray | None = None, val_distances: np.ndarray | None = None,
              source: str = "validation", confidence_quantile: float | None = None,
              scaled_quantile: float | None = None,
              val_scaled_distances: np.ndarray | None = None,
              joint_quantile: float | None = None, sequence_centroids: np.ndarray | None = None,
              val_sequence_distances: np.ndarray | None = None) -> OpenSetCalibration:
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
    scaled_quantile : float, optional
        With embeddings: also calibrate the scaled distance, letting this share of known clips fall to
        "unknown" by it, in (0, 0.5).
    val_scaled_distances : np.ndarray [shape=(n_clips,)], optional
        The clips' scaled distances measured elsewhere (out of fold), as ``val_distances``.
    joint_quantile : float, optional
        With embeddings: one test on confidence and distance together instead of two apart (see the module's
        notes), letting this share of the right clips fall to "unknown", in (0, 0.5); ``quantile`` and
        ``confidence_quantile`` are then unused, and ``confidence`` and ``distance`` are the joint test's edges.
    sequence_centroids : np.ndarray [shape=(n_classes, K * dim)], optional
        With ``joint_quantile``: the classes' mean sequences (:func:`sequence_centroids`), for a third rank in the
        product, with ``val_sequence_distances`` (each clip's, :func:`clip_sequence_distances` or out of fold
        :func:`out_of_fold_sequence_distances`).
    val_sequence_distances : np.ndarray [shape=(n_clips,)], optional

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
    scaled: dict[str, Any] = {}
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
        centroids = unit_rows(np.stack(rows)).astype(np.float32)
        if val_distances is not None:
            d = np.asarray(val_distances, dtype=np.float64)
            if d.shape != (len(probs),):
                raise ParameterError(f"val_distances needs one distance per clip ({len(probs)}), got {d.shape}")
        else:
            d = centroid_distance(np.asarray(val_embeddings), centroids)
        distance = float(np.quantile(d[right] if right.any() else d, 1.0 - quantile))
        if scaled_quantile is not None:
            if isinstance(scaled_quantile, bool) or not isinstance(scaled_quantile, (int, float)) \
                    or not 0.0 < scaled_quantile < 0.5:
                raise ParameterError(f"scaled_quantile={scaled_quantile!r} must be a number in (0, 0.5)")
            center, scale = embedding_scale(emb)
            cents = scaled_centroids(emb, tl, center, scale, n_classes)
            if val_scaled_distances is not None:
                sd = np.asarray(val_scaled_distances, dtype=np.float64)
                if sd.shape != (len(probs),):
                    raise ParameterError(f"val_scaled_distances needs one distance per clip ({len(probs)}), "
                                         f"got {sd.shape}")
            elif val_embeddings is not None:
                sd = scaled_centroid_distance(np.asarray(val_embeddings), center, scale, cents)
            else:
                raise ParameterError("scaled_quantile needs val_embeddings or val_scaled_distances")
            scaled = {"scaled_distance": float(np.quantile(sd[right] if right.any() else sd, 1.0 - scaled_quantile)),
                      "center": center.astype(np.float32), "scale": scale.astype(np.float32),
                      "scaled_centroids": cents.astype(np.float32), "scaled_quantile": float(scaled_quantile)}
    if joint_quantile is not None and distance is not None:
        if isinstance(joint_quantile, bool) or not isinstance(joint_quantile, (int, float)) \
                or not 0.0 < joint_quantile < 0.5:
            raise ParameterError(f"joint_quantile={joint_quantile!r} must be a number in (0, 0.5)")
        keep = right if right.any() else np.ones(len(probs), dtype=bool)
        ref_c, ref_d = _reference(probs.max(axis=1)[keep]), _reference(d[keep])
        c_rank, d_rank = joint_ranks(ref_c, ref_d, probs.max(axis=1)[keep], d[keep])
        product = c_rank * d_rank
        if sequence_centroids is not None:
            cents = np.asarray(sequence_centroids, dtype=np.float32)
            sd = None if val_sequence_distances is None else np.asarray(val_sequence_distances, dtype=np.float64)
            if cents.ndim != 2 or len(cents) != probs.shape[1] or sd is None or sd.shape != (len(probs),):
                raise ParameterError(f"sequence_centroids needs one row per class ({probs.shape[1]}) and "
                                     f"val_sequence_distances one distance per clip ({len(probs)}), got "
                                     f"{cents.shape} and {None if sd is None else sd.shape}")
            ref_s = _reference(sd[keep])
            product = product * far_rank(ref_s, sd[keep])
        joint = float(np.quantile(product, joint_quantile))
        confidence, distance = joint_bounds(ref_c, ref_d, joint)
        scaled.update(joint=joint, joint_quantile=float(joint_quantile), reference_confidences=ref_c,
                      reference_distances=ref_d)
        if sequence_centroids is not None:
            scaled.update(sequence_centroids=cents, reference_sequences=ref_s,
                          sequence_distance=far_bound(ref_s, joint))
    return OpenSetCalibration(confidence=confidence, distance=distance, centroids=centroids,
                              quantile=float(quantile), clips=int(len(probs)), source=source,
                              confidence_quantile=None if confidence_quantile is None else float(confidence_quantile),
                              **scaled)


def out_of_fold_distances(embeddings: np.ndarray, labels: np.ndarray, folds: np.ndarray, *,
                          scaled: bool = False) -> np.ndarray:
    """Each clip's cosine distance to the nearest class centroid of the clips in the other folds.

    ``scaled``: the scaled distance instead, the other folds' clips giving the centre and spread too.

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
        if scaled:
            center, scale = embedding_scale(emb[rest])
            _, idx = np.unique(labels[rest], return_inverse=True)
            cents = scaled_centroids(emb[rest], idx, center, scale)
            out[folds == k] = scaled_centroid_distance(emb[folds == k], center, scale, cents)
            continue
        cents = np.stack([emb[rest & (labels == c)].mean(axis=0) for c in np.unique(labels[rest])])
        out[folds == k] = centroid_distance(emb[folds == k], cents)
    return out


def sequence_centroids(inputs: np.ndarray, labels: np.ndarray, n_classes: int) -> np.ndarray:
    """Unit-length mean sequence of each class [shape=(n_classes, K * dim)]: the mean of its model inputs
    [shape=(n_inputs, K, dim)], each input's K window embeddings laid end to end (``labels``: one class index per
    input; a class without inputs gets a zero row, which nothing is near)."""
    x = np.asarray(inputs, dtype=np.float64)
    x = x.reshape(len(x), -1)
    labels = np.asarray(labels)
    rows = [x[labels == k].mean(axis=0) if np.any(labels == k) else np.zeros(x.shape[1]) for k in range(n_classes)]
    return unit_rows(np.stack(rows)).astype(np.float32)


def clip_sequence_distances(inputs: np.ndarray, clip_index: np.ndarray, n_clips: int,
                            centroids: np.ndarray) -> np.ndarray:
    """Each clip's sequence distance [shape=(n_clips,)]: the smallest of its inputs' (:func:`sequence_distances`;
    ``clip_index``: the clip of each input)."""
    per_input = sequence_distances(inputs, centroids)
    out = np.full(n_clips, 2.0)
    np.minimum.at(out, np.asarray(clip_index), per_input)
    return out


def out_of_fold_sequence_distances(inputs: np.ndarray, clip_index: np.ndarray, labels: np.ndarray,
                                   folds: np.ndarray) -> np.ndarray:
    """Each clip's sequence distance to the mean sequences of the clips in the other folds [shape=(n_clips,)]
    (``labels`` and ``folds``: one per clip; ``clip_index``: the clip of each input), as
    :func:`out_of_fold_distances` does for the centroid distance."""
    x = np.asarray(inputs)
    clip_index = np.asarray(clip_index)
    labels = np.asarray(labels)
    folds = np.asarray(folds)
    n_classes = int(labels.max()) + 1
    out = np.full(len(labels), 2.0)
    for k in np.unique(folds):
        held = folds[clip_index] == k
        cents = sequence_centroids(x[~held], labels[clip_index[~held]], n_classes)
        cents = cents[np.isin(np.arange(n_classes), labels[folds != k])]  # classes the other folds hold
        # the held-out clips' own distances; the other clips keep 2.0 here, so the minimum leaves theirs
        out = np.minimum(out, clip_sequence_distances(x[held], clip_index[held], len(labels), cents))
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
    seq, slimit = verdict.get("sequence_distance"), verdict.get("sequence_distance_threshold")
    if seq is not None and slimit is not None and seq > slimit:
        a, b = _pair(seq, slimit, percent=False)
        out.append(f"its course over time (window by window) {a} from the nearest known class's, beyond this "
                   f"model's threshold of {b}")
    joint, jlimit = verdict.get("joint"), verdict.get("joint_threshold")
    if not out and joint is not None and jlimit is not None and joint < jlimit:
        a, b = _pair(joint, jlimit, percent=True)
        c_rank, d_rank = verdict["confidence_rank"], verdict["distance_rank"]
        parts = [f"confidence {verdict['confidence'] * 100:.1f} % ({c_rank * 100:.1f} % of the known clips it "
                 f"gets right were as unsure)", f"distance to the nearest known class {verdict['distance']:.2f} "
                 f"({d_rank * 100:.1f} % were as far)"]
        if verdict.get("sequence_rank") is not None:
            parts.append(f"its course over time {verdict['sequence_distance']:.2f} from the nearest class's "
                         f"({verdict['sequence_rank'] * 100:.1f} % were as far)")
        joined = " and ".join(parts) if len(parts) == 2 else f"{parts[0]}, {parts[1]} and {parts[2]}"
        out.append(f"{joined}: together {a}, below this model's threshold of {b}")
    dist, dlimit = verdict.get("scaled_distance"), verdict.get("scaled_distance_threshold")
    if dist is not None and dlimit is not None and dist > dlimit:
        a, b = _pair(dist, dlimit, percent=False)
        out.append(f"distance to the nearest known class on the training clips' scale {a}, beyond this model's "
                   f"threshold of {b}")
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
    if calibration.joint is not None:
        return (f"Calibrated on {calibration.clips} {SOURCE_WORDS.get(calibration.source, 'clips')}: a clip is "
                "'none of these' when its confidence and its distance to the nearest class in the backbone's space"
                f"{' (as a whole, and window by window over time)' if calibration.sequence_centroids is not None else ''}, "
                "each ranked among the clips the model got right, are together rarer than "
                f"{1 - (calibration.joint_quantile or calibration.quantile):.0%} of those clips. This slider is the "
                "confidence below which a clip is refused however near it is; moving it moves the joint test too.")
    share = calibration.confidence_quantile or calibration.quantile
    note = (f"Calibrated on {calibration.clips} {SOURCE_WORDS.get(calibration.source, 'clips')}: {1 - share:.0%} of "
            "the clips the model got right were at least this sure.")
    if calibration.distance is not None:
        note += (" This model (on a backbone) also answers 'none of these' when the clip lies far from every "
                 "class in the backbone's space.")
    return note
