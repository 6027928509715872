"""The embedding explorer: every clip of a dataset as one point in 2-D.

Clips that sound alike to a network land close together, so a map shows at a
glance which classes a backbone (or a trained model) already separates, which
ones it mixes up, and which clips are odd ones out (a mislabelled file, a quiet
speaker). Each clip becomes one vector, either

* the mean of a pretrained backbone's window embeddings (:func:`backbone_vectors`), or
* the mean over its windows of a trained model's penultimate layer, the input of
  its ``probs`` layer (:func:`bundle_vectors`), with the model's own prediction,

and the vectors are projected to 2-D by PCA (default) or t-SNE (:func:`project`).
:func:`embedding_map` does all three steps.

>>> from audioclf.explanations.embedding_map import embedding_map                          # doctest: +SKIP
>>> m = embedding_map(dataset, backbone="speech")                         # doctest: +SKIP
>>> m.points.shape, m.labels[:2], m.paths[:2]                             # doctest: +SKIP
((120, 2), ('chirp', 'chirp'), ('chirp/chirp_000.wav', 'chirp/chirp_001.wav'))
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..datasets import Clip, Dataset
from ..errors import DatasetError, ModelError, ParameterError

__all__ = ["METHODS", "COLOUR_FIELDS", "EmbeddingMap", "backbone_vectors", "bundle_vectors", "project",
           "embedding_map", "selected_clip", "data_datasets"]

#: Projections to 2-D.
METHODS = ("pca", "tsne")
#: What points can be coloured by (:meth:`EmbeddingMap.colour_values`).
COLOUR_FIELDS = ("class", "fold", "group", "predicted")

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class EmbeddingMap:
    """A dataset's clips as 2-D points.

    Attributes
    ----------
    points : np.ndarray [shape=(n_clips, 2), float64]
    labels : tuple of str
        Each clip's class.
    paths : tuple of str
        Each clip's file, relative to :attr:`root` (POSIX separators).
    folds : tuple of (int or None)
    groups : tuple of (str or None)
        Speaker or source recording, where the dataset has one.
    predicted : tuple of str or None
        The model's clip prediction (mean of its window probabilities); None for a backbone.
    root : Path
        The dataset's folder.
    source : str
        ``"backbone:NAME"`` or ``"model:BUNDLE"``.
    method : {'pca', 'tsne'}
    explained : tuple of float
        PCA's explained variance ratio of the two axes (empty for t-SNE).
    dim : int
        Length of the vectors that were projected.
    failed : tuple of (str, str)
        ``(path, message)`` of clips that could not be read (left out).
    """

    points: np.ndarray
    labels: tuple[str, ...]
    paths: tuple[str, ...]
    folds: tuple[int | None, ...]
    groups: tuple[str | None, ...]
    predicted: tuple[str, ...] | None
    root: Path
    source: str
    method: str
    explained: tuple[float, ...] = ()
    dim: int = 0
    failed: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root))

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def misclassified(self) -> np.ndarray:
        """True where the model's prediction differs from the label [shape=(n_clips,), bool]; all False without one."""
        if self.predicted is None:
            return np.zeros(len(self), dtype=bool)
        return np.array([p != t for p, t in zip(self.predicted, self.labels, strict=True)], dtype=bool)

    def colour_values(self, by: str) -> list[str]:
        """One category name per clip to colour by: ``class``, ``fold``, ``group`` or ``predicted``.

        Clips without a fold or group get ``"none"``.

        Raises
        ------
        ParameterError
            Unknown field, or ``predicted`` on a map without predictions.
        """
        if by == "class":
            return list(self.labels)
        if by == "fold":
            return ["none" if f is None else f"fold {f}" for f in self.folds]
        if by == "group":
            return ["none" if g is None else str(g) for g in self.groups]
        if by == "predicted":
            if self.predicted is None:
                raise ParameterError("colour by 'predicted' needs a map made from a trained model (bundle=...)")
            return list(self.predicted)
        raise ParameterError(f"colour by {by!r}: expected one of {', '.join(COLOUR_FIELDS)}")

    def path(self, i: int) -> Path:
        """Absolute path of clip ``i``."""
        return self.root / self.paths[i]


def _relative(clip: Clip, root: Path) -> str:
    try:
        return clip.path.relative_to(root).as_posix()
    except ValueError:
        return Path(os.path.relpath(clip.path, root)).as_posix()


def _check_dataset(dataset: Any) -> Dataset:
    if not isinstance(dataset, Dataset):
        raise ParameterError(f"dataset must be an audioclf Dataset (see load_dataset); got {type(dataset).__name__}")
    if len(dataset) < 3:
        raise DatasetError(f"{dataset.name!r} has {len(dataset)} clip(s); a map needs at least 3")
    return dataset


def backbone_vectors(dataset: Dataset, backbone: Any, *, cache: bool | str | os.PathLike = True,
                     progress: Progress | None = None) -> tuple[np.ndarray, tuple[Clip, ...], tuple]:
    """One vector per clip: the mean of its backbone window embeddings.

    Parameters
    ----------
    dataset : Dataset
    backbone : str or Backbone
        A name (``"sounds"``, ``"speech"``) or a loaded backbone.
    cache : bool or path
        As for :func:`audioclf.backbones.embed_dataset` (embeddings are cached per file).
    progress : callable ``(done, total)``, optional

    Returns
    -------
    vectors : np.ndarray [shape=(n_clips, embedding_dim), float32]
    clips : tuple of Clip
        The clips embedded (unreadable ones left out).
    failed : tuple of (str, str)

    Raises
    ------
    BackboneError
        Unknown backbone name.
    DatasetError
        No clip could be read.
    """
    from ..backbones import embed_dataset, get_backbone

    bb = get_backbone(backbone) if isinstance(backbone, str) else backbone
    emb = embed_dataset(dataset, bb, cache=cache, progress=progress)
    return emb.pooled("mean"), emb.clips, emb.failed


def bundle_vectors(dataset: Dataset, bundle: Any, *, cache: Any = True, progress: Progress | None = None,
                   batch_size: int = 64) -> tuple[np.ndarray, tuple[Clip, ...], tuple, tuple[str, ...]]:
    """One vector per clip from a trained model: its penultimate layer, averaged over the clip's windows.

    The penultimate layer is the input of the model's ``probs`` Dense layer, what
    the last layer separates linearly. Windows are made and standardised exactly as
    in training (the bundle's pipeline and statistics).

    Parameters
    ----------
    dataset : Dataset
    bundle : Bundle or path
    cache, progress
        As for :func:`audioclf.engine.extract.extract_dataset`.
    batch_size : int

    Returns
    -------
    vectors : np.ndarray [shape=(n_clips, dim), float32]
    clips : tuple of Clip
    failed : tuple of (str, str)
    predicted : tuple of str
        The model's class for each clip (mean of its window probabilities).

    Raises
    ------
    BundleError
        The bundle cannot be loaded.
    ModelError
        The model has no ``probs`` layer.
    DatasetError
        No clip could be read.
    """
    import keras

    from ..engine.bundle import Bundle, load_bundle
    from ..engine.extract import extract_dataset

    b = bundle if isinstance(bundle, Bundle) else load_bundle(bundle)
    try:
        probs_layer = b.model.get_layer("probs")
    except ValueError:
        raise ModelError(f"model {b.name!r} has no layer named 'probs'; the explorer reads the input of the "
                         "model's output layer") from None
    features = keras.Model(b.model.input, [probs_layer.input, probs_layer.output])  # one input, as called
    ex = extract_dataset(dataset, config=b.pipeline, cache=cache, progress=progress)
    x = b.stats.apply(ex.x) if b.stats is not None else np.asarray(ex.x, dtype=np.float32)  # as in training
    parts = [features(x[i:i + batch_size], training=False) for i in range(0, len(x), batch_size)]
    hidden = np.concatenate([np.asarray(p[0], dtype=np.float32) for p in parts])  # (windows, dim)
    probs = np.concatenate([np.asarray(p[1], dtype=np.float32) for p in parts])  # (windows, classes)
    hidden = hidden.reshape(len(hidden), -1)
    n = len(ex.clips)
    counts = np.bincount(ex.clip_index, minlength=n).astype(np.float64)[:, None]
    vectors = np.zeros((n, hidden.shape[1]))
    np.add.at(vectors, ex.clip_index, hidden)
    clip_probs = np.zeros((n, probs.shape[1]))
    np.add.at(clip_probs, ex.clip_index, probs)
    vectors, clip_probs = vectors / counts, clip_probs / counts
    predicted = tuple(b.classes[k] for k in clip_probs.argmax(axis=1))
    return vectors.astype(np.float32), ex.clips, ex.failed, predicted


def project(vectors: np.ndarray, *, method: str = "pca", seed: int = 0, perplexity: float | None = None
            ) -> tuple[np.ndarray, tuple[float, ...]]:
    """Project vectors to 2-D.

    Parameters
    ----------
    vectors : np.ndarray [shape=(n, dim)]
        At least 3 rows, finite.
    method : {'pca', 'tsne'}
        PCA (exact SVD; each axis' sign fixed so its largest loading is positive) or
        t-SNE (PCA initialisation, ``random_state=seed``).
    seed : int
    perplexity : float, optional
        t-SNE only; default ``min(30, (n - 1) / 3)``; must be below ``n``.

    Returns
    -------
    points : np.ndarray [shape=(n, 2), float64]
    explained : tuple of float
        PCA's explained variance ratio per axis; empty for t-SNE.

    Raises
    ------
    ParameterError
        Unknown method, too few rows, non-finite values, a bad perplexity.
    """
    if method not in METHODS:
        raise ParameterError(f"method={method!r} must be one of {', '.join(METHODS)}")
    v = np.asarray(vectors, dtype=np.float64)
    if v.ndim != 2 or len(v) < 3:
        raise ParameterError(f"vectors must be (n, dim) with n >= 3; got shape {v.shape}")
    if not np.all(np.isfinite(v)):
        raise ParameterError("vectors hold NaN or infinite values")
    if v.shape[1] < 2:
        v = np.pad(v, ((0, 0), (0, 2 - v.shape[1])))
    if method == "pca":
        from sklearn.decomposition import PCA

        pca = PCA(n_components=2, svd_solver="full", random_state=seed)
        points = pca.fit_transform(v)
        signs = np.sign(pca.components_[np.arange(2), np.abs(pca.components_).argmax(axis=1)])
        signs[signs == 0] = 1.0
        ratio = np.nan_to_num(pca.explained_variance_ratio_)
        return points * signs, tuple(float(r) for r in ratio)
    from sklearn.manifold import TSNE

    n = len(v)
    p = min(30.0, (n - 1) / 3.0) if perplexity is None else float(perplexity)
    if not 0 < p < n:
        raise ParameterError(f"perplexity={perplexity} must be between 0 and the number of clips ({n})")
    tsne = TSNE(n_components=2, perplexity=p, init="pca", random_state=seed, max_iter=1000)
    return tsne.fit_transform(v).astype(np.float64), ()


def embedding_map(dataset: Dataset, *, backbone: Any = None, bundle: Any = None, method: str = "pca",
                  seed: int = 0, perplexity: float | None = None, cache: Any = True,
                  progress: Progress | None = None) -> EmbeddingMap:
    """Map every clip of ``dataset`` to 2-D from a backbone's or a trained model's view of it.

    Parameters
    ----------
    dataset : Dataset
    backbone : str or Backbone, optional
        Use this backbone's mean window embedding per clip.
    bundle : Bundle or path, optional
        Use this trained model's penultimate layer (and mark what it gets wrong).
        Give exactly one of ``backbone`` and ``bundle``.
    method : {'pca', 'tsne'}
    seed : int
        Fixes the projection: the same input gives the same map.
    perplexity : float, optional
        t-SNE only.
    cache : bool or path
        Embedding / feature cache (see :func:`backbone_vectors`, :func:`bundle_vectors`).
    progress : callable ``(done, total)``, optional

    Returns
    -------
    EmbeddingMap

    Raises
    ------
    ParameterError
        Neither or both of ``backbone`` / ``bundle``, an unknown method.
    DatasetError
        Fewer than 3 clips, or fewer than 3 readable ones.
    BackboneError, BundleError, ModelError
        From loading the source.

    Examples
    --------
    >>> m = embedding_map(ds, bundle="pretrained/esc10_sfc_dcnn", method="tsne")   # doctest: +SKIP
    >>> m.misclassified.sum()                                                       # doctest: +SKIP
    3
    """
    if (backbone is None) == (bundle is None):
        raise ParameterError("give exactly one of backbone=NAME (a pretrained backbone) or bundle=PATH "
                             "(a trained model)")
    if method not in METHODS:
        raise ParameterError(f"method={method!r} must be one of {', '.join(METHODS)}")
    dataset = _check_dataset(dataset)
    predicted = None
    if backbone is not None:
        vectors, clips, failed = backbone_vectors(dataset, backbone, cache=cache, progress=progress)
        source = f"backbone:{backbone if isinstance(backbone, str) else backbone.name}"
    else:
        vectors, clips, failed, predicted = bundle_vectors(dataset, bundle, cache=cache, progress=progress)
        source = f"model:{Path(str(getattr(bundle, 'path', bundle))).name}"
    if len(clips) < 3:
        raise DatasetError(f"only {len(clips)} clip(s) of {dataset.name!r} could be read; a map needs at least 3")
    points, explained = project(vectors, method=method, seed=seed, perplexity=perplexity)
    root = Path(dataset.root)
    return EmbeddingMap(points=points, labels=tuple(c.label for c in clips),
                        paths=tuple(_relative(c, root) for c in clips), folds=tuple(c.fold for c in clips),
                        groups=tuple(c.group for c in clips), predicted=predicted, root=root, source=source,
                        method=method, explained=explained, dim=int(vectors.shape[1]), failed=tuple(failed))


def selected_clip(customdata: Sequence[Sequence[int] | None], points: Sequence[Mapping[str, Any]]) -> int | None:
    """The clip index of the first selected point of a chart, or None.

    Parameters
    ----------
    customdata : sequence, one entry per trace
        Each trace's clip indices (the figure's ``trace.customdata``, as made by
        :func:`audioclf.ui.embedding_figure`).
    points : sequence of dict
        A chart selection's points (plotly / Streamlit: ``curve_number`` and
        ``point_index`` or ``point_number``).
    """
    for p in points:
        curve = p.get("curve_number")
        index = p.get("point_index", p.get("point_number"))
        if curve is None or index is None or not 0 <= curve < len(customdata):
            continue
        data = customdata[curve]
        if data is not None and 0 <= index < len(data):
            value = data[index]
            return int(value[0] if np.ndim(value) else value)
    return None


def data_datasets(root: str | os.PathLike | None = None) -> dict[str, Path]:
    """The datasets in ``$AUDIOCLF_DATA`` (or ``root``) by folder name: those :func:`load_dataset` recognises."""
    from ..datasets.load import detect_kind

    folder = Path(root) if root is not None else (Path(os.environ["AUDIOCLF_DATA"])
                                                  if os.environ.get("AUDIOCLF_DATA") else None)
    if folder is None or not folder.is_dir():
        return {}
    found = {}
    for sub in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")):
        try:
            kind = detect_kind(sub)
        except DatasetError:
            continue
        if kind != "folders" or any(p.is_dir() for p in sub.iterdir()):  # a plain folder needs class folders
            found[sub.name] = sub
    return found
