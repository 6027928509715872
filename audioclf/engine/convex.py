"""A linear head fitted to convergence: multinomial logistic regression on pooled, standardised embeddings.

For a few clips per class, sixty epochs of Adam on a softmax layer stop wherever the
step budget runs out, with an L2 penalty whose strength depends on the number of
steps. The same model -- ``head_linear``: mean and max of the ``K`` window embeddings,
one softmax layer -- has a convex loss, so it can be fitted to its optimum instead:
scikit-learn's ``LogisticRegression`` (L-BFGS) on the pooled embeddings, each pooled
dimension standardised on the training windows, every clip weighing the same whatever
its number of windows (in the fit and in the standardisation). The result is written into the Keras head's softmax layer (the
standardisation folded into its weights), so the bundle, inference, Grad-CAM and the
explanations see the usual ``head_linear`` model.

This is the linear probe of the HEAR benchmark, computed on the head's own inputs. With
``pooling='mean_max_std'`` (what the recipes use), two such probes are fitted, one on the mean and max, one on
the mean, max and standard deviation of the windows, and their logits averaged: the normalised geometric mean
of their probabilities, which is again one softmax layer, on the mean, max and standard deviation.
:func:`out_of_fold_probs` scores every training clip with a head that did not see it
(k folds over the clips), which is what "none of these" is calibrated on when no
validation clips are held out.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..errors import ParameterError

__all__ = ["DEFAULT_C", "LinearFit", "pooled", "fit_linear", "set_head_weights", "out_of_fold_probs",
           "clip_folds"]

#: Inverse L2 strength of the fit (scikit-learn's ``C``) with every pooled dimension standardised and every
#: clip weighing 1: the HEAR linear probe's usual value. Chosen before any held-out score was seen;
#: cross-validating it inside the training clips (0.01-1) gained nothing on ESC-10 or FSDD.
DEFAULT_C = 0.1

_MAX_ITER = 2000
_SD_FLOOR = 1e-6


def pooled(x: np.ndarray, pooling: str = "mean_max") -> np.ndarray:
    """The head's pooling over the ``K`` windows [shape=(n, K, dim)]: mean and max -> (n, 2 dim), or with
    ``pooling='mean_max_std'`` also the standard deviation -> (n, 3 dim).

    Same order and values as ``head_linear``'s ``mean_max`` / ``mean_max_std`` layer (mean first; the
    spread as :class:`audioclf.models.layers.StdPooling1D` computes it).
    """
    from ..models.layers import STD_EPSILON
    from ..models.transfer import POOLINGS

    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 3:
        raise ParameterError(f"a linear head reads (n, windows, dim) inputs, got shape {x.shape}")
    if pooling not in POOLINGS:
        raise ParameterError(f"pooling={pooling!r} must be one of {', '.join(POOLINGS)}")
    parts = [x.mean(axis=1), x.max(axis=1)]
    if pooling == "mean_max_std":
        parts.append(np.sqrt(x.var(axis=1) + STD_EPSILON))
    return np.concatenate(parts, axis=1)


@dataclass(frozen=True)
class LinearFit:
    """A fitted linear head: ``softmax(pooled(x) @ kernel + bias)``.

    Attributes
    ----------
    kernel : np.ndarray [shape=(2 dim or 3 dim, n_classes)]
    bias : np.ndarray [shape=(n_classes,)]
    c : float
        Inverse L2 strength it was fitted with.
    iterations : int
        L-BFGS iterations to convergence (the larger of the two probes' with ``mean_max_std``).
    loss, accuracy : float
        Mean cross-entropy and accuracy on the training windows.
    """

    kernel: np.ndarray
    bias: np.ndarray
    c: float
    iterations: int
    loss: float = float("nan")
    accuracy: float = float("nan")
    pooling: str = "mean_max"

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Probabilities [shape=(n, n_classes)] of inputs [shape=(n, K, dim)]."""
        z = pooled(x, self.pooling) @ self.kernel + self.bias
        z -= z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)


def _clip_weights(clip_index: np.ndarray) -> np.ndarray:
    """Each window 1 / (windows of its clip): every clip weighs 1 whatever its length."""
    counts = np.bincount(clip_index)
    return 1.0 / counts[clip_index]


def _probe(feats: np.ndarray, labels: np.ndarray, weights: np.ndarray, present: np.ndarray, n_classes: int,
           c: float) -> tuple[np.ndarray, np.ndarray, int]:
    """One logistic regression on standardised ``feats``: (kernel, bias, iterations), the standardisation folded
    into the weights; a class without inputs gets a bias of -30."""
    from sklearn.linear_model import LogisticRegression
    from threadpoolctl import threadpool_limits

    # standardised with every clip weighing the same, as in the fit
    mu = np.average(feats, axis=0, weights=weights)
    sd = np.maximum(np.sqrt(np.average((feats - mu) ** 2, axis=0, weights=weights)), _SD_FLOOR)
    z = (feats - mu) / sd
    model = LogisticRegression(C=float(c), max_iter=_MAX_ITER, tol=1e-6)
    # One BLAS thread: the matrices are small, and OpenBLAS' threads spent 30x the work waiting for
    # each other when the cores were busy (10 clips: 0.3 s on one thread, 10 s on two).
    with threadpool_limits(limits=1, user_api="blas"):
        model.fit(z, labels, sample_weight=weights)
    coef, intercept = model.coef_, model.intercept_
    if len(present) == 2:  # one logit z for two classes: softmax([-z/2, z/2]) == sigmoid(z)
        coef = np.vstack([-coef[0] / 2, coef[0] / 2])
        intercept = np.array([-intercept[0] / 2, intercept[0] / 2])
    kernel = np.zeros((feats.shape[1], n_classes))
    bias = np.full(n_classes, -30.0)
    kernel[:, present] = (coef / sd).T  # the standardisation folded into the weights
    bias[present] = intercept - (coef / sd) @ mu
    return kernel, bias, int(np.max(model.n_iter_))


def fit_linear(x: np.ndarray, labels: np.ndarray, clip_index: np.ndarray, *, n_classes: int,
               c: float = DEFAULT_C, pooling: str = "mean_max") -> LinearFit:
    """Fit the linear head to convergence (L-BFGS, multinomial logistic regression).

    With ``pooling='mean_max'``, one probe on the mean and max of the windows. With ``'mean_max_std'``, two:
    one on the mean and max, one on the mean, max and standard deviation, each standardised and fitted with
    the same ``c``; the head's logits are the average of theirs, so its probabilities are the normalised
    geometric mean of the two probes' (a product of experts), and it is still one softmax layer on the mean,
    max and standard deviation. Measured on ESC-10 and FSDD with 1-8 clips per class (docs/benchmarks.md),
    the first probe alone is the better one with a single clip per class, the second with three; their
    product is at or above the first at every point.

    Parameters
    ----------
    x : np.ndarray [shape=(n, K, dim)]
        Training inputs (already standardised per embedding dimension, as the pipeline gives them).
    labels : np.ndarray [shape=(n,)], int
        Class index of each input.
    clip_index : np.ndarray [shape=(n,)], int
        The clip each input comes from (every clip weighs the same).
    n_classes : int
        Classes of the model; a class without training inputs gets a bias of -30 (never predicted).
    c : float
        Inverse L2 strength (scikit-learn's ``C``) on the standardised pooled embeddings.
    pooling : {'mean_max', 'mean_max_std'}
        The ``pooling`` of the ``head_linear`` the fit is for.

    Returns
    -------
    LinearFit

    Raises
    ------
    ParameterError
        Fewer than two classes, mismatched lengths, a non-positive ``c`` or an unknown ``pooling``.

    Example
    -------
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(6, 2, 4)) + np.repeat(np.eye(4)[[0, 0, 0, 1, 1, 1]], 2, 0).reshape(6, 2, 4) * 5
    >>> fit = fit_linear(x, np.array([0, 0, 0, 1, 1, 1]), np.arange(6), n_classes=2)
    >>> fit.predict(x).argmax(1).tolist()
    [0, 0, 0, 1, 1, 1]
    """
    feats = pooled(x, pooling)
    labels = np.asarray(labels, dtype=np.int64)
    clip_index = np.asarray(clip_index, dtype=np.int64)
    if len(labels) != len(feats) or len(clip_index) != len(feats):
        raise ParameterError(f"{len(feats)} inputs need as many labels ({len(labels)}) and clip indices "
                             f"({len(clip_index)})")
    if isinstance(c, bool) or not isinstance(c, (int, float)) or not c > 0:
        raise ParameterError(f"c={c!r} must be a positive number (inverse L2 strength, e.g. 0.1)")
    present = np.unique(labels)
    if len(present) < 2:
        raise ParameterError(f"a linear head needs clips of at least 2 classes, got {len(present)}")
    weights = _clip_weights(clip_index)
    weights *= len(np.unique(clip_index)) / weights.sum()  # sums to the number of clips: C as for one row a clip
    dim = x.shape[2]
    kernel, bias, iterations = _probe(feats[:, :2 * dim], labels, weights, present, n_classes, c)
    if pooling == "mean_max_std":
        k2, b2, it2 = _probe(feats, labels, weights, present, n_classes, c)
        kernel = (np.vstack([kernel, np.zeros((dim, n_classes))]) + k2) / 2
        bias, iterations = (bias + b2) / 2, max(iterations, it2)
    fit = LinearFit(kernel=kernel, bias=bias, c=float(c), iterations=iterations, pooling=pooling)
    probs = fit.predict(x)
    loss = float(-np.mean(np.log(np.clip(probs[np.arange(len(labels)), labels], 1e-12, 1.0))))
    return dataclasses.replace(fit, loss=loss, accuracy=float(np.mean(probs.argmax(axis=1) == labels)))


def set_head_weights(model, fit: LinearFit) -> None:
    """Write a :class:`LinearFit` into a ``head_linear`` Keras model's softmax layer (``probs``).

    Raises
    ------
    ParameterError
        If the model has no ``probs`` layer of the fit's shape.
    """
    layer = model.get_layer("probs")
    kernel, bias = layer.get_weights()
    if kernel.shape != fit.kernel.shape or bias.shape != fit.bias.shape:
        raise ParameterError(f"the head's softmax layer is {kernel.shape} + {bias.shape}, the fit "
                             f"{fit.kernel.shape} + {fit.bias.shape}: is it a head_linear on the same inputs, with the same pooling?")
    layer.set_weights([fit.kernel.astype(kernel.dtype), fit.bias.astype(bias.dtype)])


def clip_folds(clip_labels: np.ndarray, *, folds: int = 5, seed: int = 0,
               groups: np.ndarray | None = None) -> np.ndarray | None:
    """Assign every clip to one of ``k`` folds for out-of-fold scores (scikit-learn's stratified k-fold).

    Without groups, stratified by class (``StratifiedKFold``): ``k = min(folds, fewest clips of a class)``.
    With ``groups`` (a speaker, a recording session, a source recording: clips that belong together), every
    clip in one and every class in two at least, whole groups go to a fold, as evenly by class as the groups
    allow (``StratifiedGroupKFold``, ``k = min(folds, groups, fewest clips of a class)``): a clip is then scored by a model
    that heard none of its group, as a new speaker's clip will be -- calibrated by clip, a model trained
    on four voices refused 9-21 % of a fifth voice's digits; by speaker, 1-8 %.

    Returns
    -------
    np.ndarray [shape=(n_clips,)] of fold numbers, or None when no fold could be held out (without
    groups: some class has a single clip).
    """
    from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

    clip_labels = np.asarray(clip_labels)
    splitter, split_groups = None, None
    if groups is not None:
        groups = np.asarray([("" if g is None else str(g)) for g in groups])
        names = set(groups) - {""}
        spread = all(len(set(groups[clip_labels == c])) >= 2 for c in np.unique(clip_labels))
        if len(names) >= 2 and "" not in set(groups) and spread:  # every class heard in two groups at least
            # no more folds than the smallest class has clips (scikit-learn refuses more)
            k = int(min(folds, len(names), np.bincount(clip_labels)[np.unique(clip_labels)].min()))
            splitter = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
            split_groups = groups
    if splitter is None:
        counts = np.bincount(clip_labels)
        k = int(min(folds, counts[counts > 0].min()))
        if k < 2:
            return None
        splitter = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
    out = np.zeros(len(clip_labels), dtype=np.int64)
    with warnings.catch_warnings():  # a class in fewer groups than folds: sklearn warns, the folds still hold out
        warnings.filterwarnings("ignore", message="The least populated class", category=UserWarning)
        for fold, (_, held_out) in enumerate(splitter.split(np.zeros(len(clip_labels)), clip_labels, split_groups)):
            out[held_out] = fold
    return out


def out_of_fold_probs(fit_predict: Callable[[np.ndarray, np.ndarray], np.ndarray], clip_index: np.ndarray,
                      folds: np.ndarray) -> np.ndarray:
    """Probabilities of every input from a model trained without its clip (one model per fold).

    Parameters
    ----------
    fit_predict : callable ``(train_mask, test_mask) -> probs``
        Trains on the inputs of ``train_mask`` and returns the probabilities of those of ``test_mask``
        [shape=(test_mask.sum(), n_classes)].
    clip_index : np.ndarray [shape=(n,)]
        The clip of each input.
    folds : np.ndarray [shape=(n_clips,)]
        Each clip's fold (:func:`clip_folds`).

    Returns
    -------
    np.ndarray [shape=(n, n_classes)]
    """
    window_fold = np.asarray(folds)[np.asarray(clip_index)]
    out: np.ndarray | None = None
    for k in np.unique(window_fold):
        test = window_fold == k
        probs = np.asarray(fit_predict(~test, test))
        if out is None:
            out = np.zeros((len(window_fold), probs.shape[1]))
        out[test] = probs
    if out is None:
        raise ParameterError("out-of-fold scores need at least one input")
    return out
