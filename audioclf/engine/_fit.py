"""Keras plumbing of :mod:`audioclf.engine.train`: the batch generator and the monitor callback.

Private: the public face is :func:`audioclf.engine.train.train`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import keras
import numpy as np

from .._atomic import atomic_path
from ..audio.augment import AugmentConfig, augment_batch
from .inference import model_outputs
from .metrics import clip_probabilities


class TrainBatches(keras.utils.PyDataset):
    """Shuffled, augmented training batches with the targets every model output needs.

    Parameters
    ----------
    x : np.ndarray [shape=(n, *input_shape)]
        Standardised training windows.
    labels : np.ndarray [shape=(n,)], int
    n_classes : int
    batch_size : int
    output_names : tuple of str
        The model's outputs (``reconstruction`` gets the input as target,
        ``sub_probs`` the label, see :func:`audioclf.models.training_targets`).
    input_kind : str
    augment : AugmentConfig
    sample_weights : np.ndarray [shape=(n,)] or None
        Per-window weights (class balancing); blended by mixup like the labels.
    seed : int
    multiple : int
        Every batch's size is a multiple of this (the data-parallel replicas: JAX
        shards a batch only evenly, and TensorFlow averages the replicas' mean
        losses, which weighs an uneven split wrongly). A batch that does not split
        evenly is filled up with copies of its first windows at weight 0, and its
        real windows' weights are scaled by padded / real size: each loss (a sum
        over the batch divided by its size) is then the mean over the real windows,
        so N replicas train on the same windows with the same gradient as one
        device. With ``multiple > 1`` every batch carries sample weights.

    The dataset is endless (:attr:`num_batches` is None): batch ``i`` is batch
    ``i % len(self)`` of epoch ``i // len(self)``, each epoch in its own order
    (seeded by ``(seed, epoch)``). Fit it with ``steps_per_epoch=len(batches)``:
    Keras then keeps one data iterator for the whole run instead of building a
    new one every epoch, which cost TensorFlow about 40 ms an epoch -- most of
    a small head's training time.
    """

    def __init__(self, x: np.ndarray, labels: np.ndarray, *, n_classes: int, batch_size: int,
                 output_names: tuple[str, ...], input_kind: str, augment: AugmentConfig,
                 sample_weights: np.ndarray | None, seed: int, multiple: int = 1) -> None:
        super().__init__(workers=1, use_multiprocessing=False)
        self.x = x
        self.onehot = np.eye(n_classes, dtype=np.float32)[labels]
        self.batch_size = batch_size
        self.output_names = output_names
        self.input_kind = input_kind
        self.augment = augment
        self.sample_weights = sample_weights
        self.rng = np.random.default_rng(seed)  # augmentation
        self.seed = seed
        self.steps = math.ceil(len(x) / batch_size)
        self._last: tuple[int, np.ndarray] | None = None  # the epoch last asked for and its order
        self.multiple = multiple

    def __len__(self) -> int:
        return self.steps

    @property
    def num_batches(self) -> None:
        return None  # endless: see the class notes

    @property
    def order(self) -> np.ndarray:
        """The first epoch's order."""
        return self.epoch_order(0)

    def epoch_order(self, epoch: int) -> np.ndarray:
        """The order of the windows in ``epoch`` (a permutation seeded by ``(seed, epoch)``)."""
        if self._last is None or self._last[0] != epoch:
            self._last = (epoch, np.random.default_rng((self.seed, epoch)).permutation(len(self.x)))
        return self._last[1]

    def __getitem__(self, index: int):
        epoch, index = divmod(int(index), self.steps)
        order = self.epoch_order(epoch)
        idx = order[index * self.batch_size:(index + 1) * self.batch_size]
        x, y = self.x[idx], self.onehot[idx]
        w = None if self.sample_weights is None else self.sample_weights[idx]
        target = x
        if self.augment.active:
            if w is not None:
                # Carry the weight through mixup as an extra label column.
                y = np.concatenate([y, w[:, None]], axis=1)
            x, target, y = augment_batch(x, y, config=self.augment, input_kind=self.input_kind, rng=self.rng)
            if w is not None:
                y, w = y[:, :-1], y[:, -1]
        targets: dict[str, np.ndarray] = {"probs": y}
        if "reconstruction" in self.output_names:
            targets["reconstruction"] = target
        if "sub_probs" in self.output_names:
            targets["sub_probs"] = y
        if self.multiple > 1:
            return self._split_evenly(x, targets, w)
        return (x, targets) if w is None else (x, targets, w.astype(np.float32))

    def _split_evenly(self, x: np.ndarray, targets: dict[str, np.ndarray],
                      w: np.ndarray | None) -> tuple[np.ndarray, dict[str, np.ndarray], np.ndarray]:
        """Fill the batch up to a multiple of the replicas with weightless copies (see ``multiple``)."""
        n = len(x)
        size = -(-n // self.multiple) * self.multiple
        w = np.ones(n, np.float32) if w is None else np.asarray(w, np.float32)
        if size == n:
            return x, targets, w
        fill = np.arange(size - n) % n  # (size - n,) copies of the first windows

        def pad(a: np.ndarray) -> np.ndarray:
            return np.concatenate([a, a[fill]])

        weights = np.concatenate([w * np.float32(size / n), np.zeros(size - n, np.float32)])  # (size,)
        return pad(x), {k: pad(v) for k, v in targets.items()}, weights


def execution_steps(steps: int, *, most: int = 32, backend: str | None = None) -> int:
    """Steps to run per call of the compiled train function: the largest divisor of ``steps`` up to ``most``.

    1 on the PyTorch backend, whose Keras trainer accepts no other value (``backend``: the
    Keras backend's name, default the current one).

    For a small head on embeddings a step takes about a millisecond of work and as
    much again in TensorFlow's call overhead; running several steps per call (Keras'
    ``steps_per_execution``) removes most of that. A divisor of the epoch's steps,
    because the batches are endless (:class:`TrainBatches`): an execution that ran on
    past the epoch's end would take the next epoch's batches.
    """
    if (backend or keras.backend.backend()) == "torch" or steps < 1:
        return 1
    return max(d for d in range(1, min(most, steps) + 1) if steps % d == 0)


def _crossentropy(probs: np.ndarray, labels: np.ndarray) -> float:
    p = np.clip(probs[np.arange(len(labels)), labels].astype(np.float64), 1e-7, 1.0)
    return float(-np.mean(np.log(p)))


class Monitor(keras.callbacks.Callback):
    """Progress events, the stop request, validation, early stopping and the best weights.

    After every epoch the validation windows are scored (window loss and
    accuracy, and clip accuracy with the window probabilities averaged). The
    best epoch so far -- by ``monitor`` -- has its weights copied (and saved
    to ``checkpoint`` if given). A stop request or running out of patience
    ends training and restores those weights; otherwise ``keep`` decides
    between the best and the last weights.
    """

    def __init__(self, *, emit: Callable[..., None], stop: Any, val_x: np.ndarray, val_labels: np.ndarray,
                 val_clip_index: np.ndarray, epochs: int, steps: int, patience: int | None, monitor: str,
                 keep: str, checkpoint: Path | None, vote: str) -> None:
        super().__init__()
        self.emit = emit
        self.stop = stop
        self.val_x, self.val_labels, self.val_clip_index = val_x, val_labels, val_clip_index
        self.n_val_clips = int(val_clip_index.max()) + 1 if len(val_clip_index) else 0
        self.val_clip_labels = np.zeros(self.n_val_clips, np.int64)
        self.val_clip_labels[val_clip_index] = val_labels
        self.epochs, self.steps = epochs, steps
        self.patience, self.monitor, self.keep = patience, monitor, keep
        self.checkpoint = checkpoint
        self.vote = vote
        self.history: list[dict[str, float]] = []
        self.best_score: tuple[float, ...] | None = None
        self.best_epoch = 0
        self.best_weights: list[np.ndarray] | None = None
        self.stopped = False
        self.early_stopped = False
        self.wait = 0
        self._epoch = 0
        self._done_steps = 0
        self._t0 = time.perf_counter()

    def _eta(self) -> float:
        elapsed = time.perf_counter() - self._t0
        total = self.epochs * self.steps
        return elapsed / self._done_steps * (total - self._done_steps) if self._done_steps else float("nan")

    def on_train_begin(self, logs=None) -> None:
        self._t0 = time.perf_counter()

    def on_epoch_begin(self, epoch: int, logs=None) -> None:
        self._epoch = epoch

    def on_train_batch_end(self, batch: int, logs=None) -> None:
        logs = logs or {}
        # ``batch`` is the last step of the execution (several steps per call: see execution_steps)
        self._done_steps = self._epoch * self.steps + batch + 1
        self.emit("batch", epoch=self._epoch + 1, batch=batch + 1, loss=_f(logs.get("loss")),
                  accuracy=_accuracy(logs), elapsed=time.perf_counter() - self._t0, eta=self._eta())
        if self.stop is not None and self.stop.is_set():
            self.stopped = True
            self.model.stop_training = True

    def validate(self) -> dict[str, float]:
        """Window loss, window accuracy and clip accuracy of the current weights on the validation side."""
        probs = model_outputs(self.model, self.val_x)["probs"]
        cp = clip_probabilities(probs, self.val_clip_index, self.n_val_clips, vote=self.vote)
        return {"val_loss": _crossentropy(probs, self.val_labels),
                "val_accuracy": float(np.mean(probs.argmax(axis=1) == self.val_labels)),
                "val_clip_accuracy": float(np.mean(cp.argmax(axis=1) == self.val_clip_labels))}

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        logs = dict(logs or {})
        val = self.validate()
        row = {"epoch": epoch + 1, "loss": _f(logs.get("loss")), "accuracy": _accuracy(logs), **val}
        self.history.append(row)
        score = (val["val_clip_accuracy"], -val["val_loss"]) if self.monitor == "val_accuracy" \
            else (-val["val_loss"],)
        if self.best_score is None or score > self.best_score:
            self.best_score, self.best_epoch, self.wait = score, epoch + 1, 0
            self.best_weights = [np.array(w, copy=True) for w in self.model.get_weights()]
            if self.checkpoint is not None:
                # A kill during the save leaves the previous checkpoint, never a half-written one.
                with atomic_path(self.checkpoint) as tmp:
                    self.model.save(tmp)
        else:
            self.wait += 1
            if self.patience is not None and self.wait >= self.patience:
                self.early_stopped = True
                self.model.stop_training = True
        self.emit("epoch", epoch=epoch + 1, loss=row["loss"], accuracy=row["accuracy"], val_loss=val["val_loss"],
                  val_accuracy=val["val_accuracy"], val_clip_accuracy=val["val_clip_accuracy"],
                  elapsed=time.perf_counter() - self._t0, eta=self._eta(), best_epoch=self.best_epoch)

    def on_train_end(self, logs=None) -> None:
        restore = self.stopped or self.early_stopped or self.keep == "best"
        if restore and self.best_weights is not None:
            self.model.set_weights(self.best_weights)


#: Largest training set (bytes) that :func:`keras_input` copies into TensorFlow tensors instead of feeding
#: Keras the :class:`TrainBatches` (a PyDataset); larger sets keep the PyDataset, which copies nothing.
TF_DATA_BYTES = 512 * 2**20


def keras_input(batches: TrainBatches, epochs: int) -> Any:
    """The input to give ``fit``: ``batches``, or on TensorFlow the same batches as a ``tf.data`` pipeline.

    Keras reads a PyDataset on TensorFlow through ``tf.data.Dataset.from_generator``, which calls back
    into Python for every batch: about 4 ms a batch on this project's 2-core reference machine, three
    times the step itself of a head on embeddings (ESC-10's ``mlp`` head, 1 200 steps: 6.3 s -> 2.6 s).
    Where nothing is drawn per batch (no augmentation) and one device trains, the pipeline below
    gathers the same windows in the same order -- each epoch's permutation from
    :meth:`TrainBatches.epoch_order`, cut into the same batches, the last one short -- from tensors
    holding the training set, so the training is the one ``batches`` gives, without the Python calls.
    ``epochs`` epochs of ``len(batches)`` batches; fit it with ``steps_per_epoch=len(batches)``.
    """
    if (keras.backend.backend() != "tensorflow" or batches.augment.active or batches.multiple > 1
            or batches.x.nbytes + batches.onehot.nbytes > TF_DATA_BYTES or epochs < 1):
        return batches
    import tensorflow as tf

    orders = np.stack([batches.epoch_order(e) for e in range(epochs)]).astype(np.int32)  # (epochs, n)
    x, onehot = tf.constant(batches.x), tf.constant(batches.onehot)
    weights = None if batches.sample_weights is None else tf.constant(np.asarray(batches.sample_weights, np.float32))
    names, size = batches.output_names, batches.batch_size

    def gather(idx: Any) -> tuple:
        xb, yb = tf.gather(x, idx), tf.gather(onehot, idx)
        targets = {"probs": yb}
        if "reconstruction" in names:
            targets["reconstruction"] = xb
        if "sub_probs" in names:
            targets["sub_probs"] = yb
        return (xb, targets) if weights is None else (xb, targets, tf.gather(weights, idx))

    epochs_ds = tf.data.Dataset.from_tensor_slices(orders)
    return (epochs_ds.flat_map(lambda order: tf.data.Dataset.from_tensor_slices(order).batch(size))
            .map(gather).prefetch(2))


class StopOnRequest(keras.callbacks.Callback):
    """End a fit after the current batch once ``stop`` (a StopToken or threading.Event) is set."""

    def __init__(self, stop: Any) -> None:
        super().__init__()
        self.stop = stop

    def on_train_batch_end(self, batch: int, logs=None) -> None:
        if self.stop is not None and self.stop.is_set():
            self.model.stop_training = True


def _f(v: Any) -> float:
    return float(v) if v is not None else float("nan")


def _accuracy(logs: dict) -> float:
    for key in ("probs_accuracy", "accuracy"):
        if key in logs:
            return float(logs[key])
    return float("nan")
