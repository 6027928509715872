"""What a training run is told and what it reports: :class:`TrainConfig`, :class:`ProgressEvent`,
:class:`StopToken`, :class:`TrainResult` and the class weights.

Plain data, no Keras: the CLI, the app and :func:`audioclf.engine.train.train`
share these. Progress reaches the caller as :class:`ProgressEvent` objects (per
batch, per epoch, per phase); a :class:`StopToken` set from another thread ends
training after the current batch and keeps the best weights so far.
"""

from __future__ import annotations

import dataclasses
import math
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._validate import check_choice, check_int, check_keys, check_number, check_positive_int
from ..audio.augment import AUGMENT_PRESETS, AugmentConfig
from ..errors import ParameterError
from ..features.normalization import NormStats
from .backend import PRECISIONS
from .metrics import VOTES
from .pipeline import PipelineConfig

__all__ = ["TrainConfig", "ProgressEvent", "StopToken", "TrainResult", "class_weights", "EAGER_STEPS", "SOLVERS"]
_SCHEDULES = ("cosine", "constant")
_MONITORS = ("val_loss", "val_accuracy")
_KEEP = ("last", "best")
#: ``solver`` choices: Keras' Adam for any model, or L-BFGS to convergence for ``head_linear``
#: (:mod:`audioclf.engine.convex`).
SOLVERS = ("adam", "lbfgs")
#: Runs with at most this many training steps in all are run eagerly when ``run_eagerly`` is None.
EAGER_STEPS = 24


@dataclass(frozen=True)
class TrainConfig:
    """How to train: model, optimisation, augmentation, split and seed.

    Parameters
    ----------
    model : str
        Registry name of the architecture.
    model_options : dict
        Builder options (see ``get_model_spec(model).options()``).
    attention : {None, 'cnn', 'rnn', 'self'}
    epochs, batch_size : int
    learning_rate : float
        Adam's (peak) learning rate.
    schedule : {'cosine', 'constant'}
        Cosine decay to 1 % of the rate over all steps, or constant.
    warmup_epochs : float
        Ramp the learning rate up linearly over this many epochs first.
    weight_decay : float
        Decoupled weight decay (AdamW) when > 0.
    label_smoothing : float
    patience : int or None
        Early stopping: stop after this many epochs without improvement of
        ``monitor`` and restore the best weights. None trains all epochs.
    monitor : {'val_loss', 'val_accuracy'}
        What "best" means (``val_accuracy`` is clip accuracy, ties broken by loss).
    keep : {'last', 'best'}
        Weights kept when training runs to the end (a stop request or early
        stopping always restores the best). ``'last'`` keeps the validation
        score an honest estimate; ``'best'`` picks the epoch on it.
    class_weight : {None, 'balanced'}
        ``'balanced'`` weighs each window by ``n / (n_classes * count(class))``.
    augment : AugmentConfig
        Applied to training batches only.
    split : str
        ``fold:K``, ``group:NAME``, ``split:test`` or ``ratio:R`` (see
        :func:`audioclf.datasets.split_dataset`).
    seed : int
        Seeds the split, the weights, the shuffling and the augmentation.
    vote : {'mean', 'majority'}
        How window predictions combine into a clip prediction.
    precision : {'auto', 'float32', 'mixed'}
        Dtype policy: ``'auto'`` (default) trains in ``mixed_float16`` where the
        backend can use a GPU and in float32 on a CPU; ``'mixed'`` on a CPU warns
        and trains in float32 (see :mod:`audioclf.engine.backend`).
    devices : int
        Data-parallel replicas on this machine (TensorFlow ``MirroredStrategy``,
        JAX ``keras.distribution.DataParallel``); each batch is split across them.
    mixed_precision : bool
        Older spelling of ``precision='mixed'`` (kept so saved configs load).
    jae_lambda : float
        Weight of the reconstruction loss of ``jae``.
    solver : {'adam', 'lbfgs'}
        ``'lbfgs'`` fits ``head_linear`` to convergence as a logistic regression on its pooled,
        standardised inputs (:mod:`audioclf.engine.convex`); ``epochs``, ``batch_size``, the
        learning rate and augmentation then do not apply. ``'adam'`` trains any model by epochs.
    c : float
        With ``solver='lbfgs'``: the inverse L2 strength (default :data:`audioclf.engine.convex.DEFAULT_C`).
    run_eagerly : bool or None
        Run training steps eagerly. None (default) decides by size: tracing a
        training graph costs several seconds, so runs of at most
        :data:`EAGER_STEPS` steps in all (the app's and tests' tiny runs) go eagerly.
    """

    model: str = "sfc_dcnn"
    model_options: dict = field(default_factory=dict)
    attention: str | None = None
    epochs: int = 30
    batch_size: int = 32
    learning_rate: float = 1e-3
    schedule: str = "cosine"
    warmup_epochs: float = 0.0
    weight_decay: float = 0.0
    label_smoothing: float = 0.0
    patience: int | None = None
    monitor: str = "val_loss"
    keep: str = "last"
    class_weight: str | None = None
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    split: str = "ratio:0.2"
    seed: int = 0
    vote: str = "mean"
    precision: str = "auto"
    devices: int = 1
    mixed_precision: bool = False
    jae_lambda: float = 1.0
    run_eagerly: bool | None = None
    solver: str = "adam"
    c: float = 0.1

    def __post_init__(self) -> None:
        check_positive_int(self.epochs, "epochs")
        check_positive_int(self.batch_size, "batch_size")
        check_positive_int(self.patience, "patience", allow_none=True)
        check_number(self.learning_rate, "learning_rate", low=0, high=1, low_open=True, high_open=True,
                     hint=", e.g. 1e-3")
        check_number(self.warmup_epochs, "warmup_epochs", low=0, high=self.epochs, hint=" (at most epochs)")
        check_number(self.weight_decay, "weight_decay", low=0, high=1, high_open=True)
        check_number(self.label_smoothing, "label_smoothing", low=0, high=1, high_open=True)
        for name, allowed in (("schedule", _SCHEDULES), ("monitor", _MONITORS), ("keep", _KEEP), ("vote", VOTES),
                              ("class_weight", (None, "balanced")), ("solver", SOLVERS)):
            check_choice(getattr(self, name), name, allowed)
        check_int(self.seed, "seed", low=0)
        check_number(self.c, "c", low=0, low_open=True, hint=" (inverse L2 strength, e.g. 0.1)")
        if not isinstance(self.augment, AugmentConfig):
            raise ParameterError(f"augment must be an AugmentConfig, got {type(self.augment).__name__}; "
                                 f"presets: {', '.join(AUGMENT_PRESETS)}")
        if self.precision not in PRECISIONS:
            raise ParameterError(f"precision={self.precision!r} must be one of {', '.join(PRECISIONS)}")
        if self.mixed_precision and self.precision == "auto":
            object.__setattr__(self, "precision", "mixed")
        if isinstance(self.devices, bool) or not isinstance(self.devices, int) or self.devices < 1:
            raise ParameterError(f"devices={self.devices!r} must be a positive integer")
        if not isinstance(self.model_options, dict):
            raise ParameterError(f"model_options must be a dict, got {type(self.model_options).__name__}")

    def check_model(self) -> Any:
        """Check that the model exists and takes this attention kind and these options; return its spec.

        Raises
        ------
        ModelError
            An unknown model, an attention kind it lacks, or an unknown option.
        """
        from ..errors import ModelError
        from ..models import get_model_spec

        spec = get_model_spec(self.model)
        if self.solver == "lbfgs" and (spec.name != "head_linear" or self.attention is not None):
            raise ModelError(f"solver='lbfgs' fits the linear head (head_linear) to convergence; {spec.name} "
                             "trains with solver='adam'")
        if self.attention is not None and self.attention not in spec.attention:
            supported = ", ".join(spec.attention) or "none"
            raise ModelError(f"{spec.name} does not support attention={self.attention!r}; supported: {supported}")
        unknown = sorted(set(self.model_options) - set(spec.options()))
        if unknown:
            raise ModelError(f"unknown option(s) {unknown} for {spec.name}; valid options: "
                             f"{', '.join(spec.options()) or 'none'}")
        return spec

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["augment"] = self.augment.to_dict()
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        d = check_keys(d, cls)
        if "augment" in d:
            d["augment"] = AugmentConfig.from_dict(d["augment"])
        return cls(**d)


@dataclass(frozen=True)
class ProgressEvent:
    """One progress report for a UI.

    ``kind`` is ``'phase'`` (a step starts or advances: ``phase`` in
    ``split``, ``features``, ``model``, ``train``, ``evaluate``, ``save``,
    ``done``; ``done``/``total`` count clips during ``features``), ``'batch'``
    (after each training batch) or ``'epoch'`` (after each epoch, with
    validation scores). Missing numbers are NaN; times are seconds.
    """

    kind: str
    phase: str = "train"
    epoch: int = 0
    epochs: int = 0
    batch: int = 0
    batches: int = 0
    loss: float = math.nan
    accuracy: float = math.nan
    val_loss: float = math.nan
    val_accuracy: float = math.nan
    val_clip_accuracy: float = math.nan
    elapsed: float = 0.0
    eta: float = math.nan
    done: int = 0
    total: int = 0
    best_epoch: int = 0
    message: str = ""


class StopToken:
    """Ask a running :func:`train` to stop after the current batch (thread-safe).

    Examples
    --------
    >>> token = StopToken()
    >>> token.request()          # e.g. from the app's Stop button
    >>> token.is_set()
    True
    """

    def __init__(self) -> None:
        self._event = threading.Event()

    def request(self) -> None:
        self._event.set()

    def is_set(self) -> bool:
        return self._event.is_set()


@dataclass(frozen=True)
class TrainResult:
    """What :func:`train` produced.

    Attributes
    ----------
    model : keras.Model
        With the kept weights.
    bundle_path : Path or None
        Where the bundle was saved (None when ``out`` was not given).
    evaluation : Evaluation
        Scores on the validation side.
    history : list of dict
        One row per epoch: loss, accuracy, val_loss, val_accuracy, val_clip_accuracy.
    epochs_run : int
    best_epoch : int
    stopped, early_stopped : bool
        A stop request / patience ended training.
    seconds : float
        Wall time of everything (features included).
    timings : dict[str, float]
        Seconds per phase (``features``, ``train``, ``evaluate``, ``save``).
    pipeline : PipelineConfig
    stats : NormStats or None
    classes : tuple of str
    config : TrainConfig
    summary : dict
        Dataset, split and sizes, as saved in the bundle.
    device : dict
        The device, dtype policy and replicas it trained with (:meth:`audioclf.engine.device.DeviceInfo.to_dict`).
    """

    model: Any = field(repr=False)
    bundle_path: Path | None
    evaluation: Any = field(repr=False)
    history: list = field(repr=False)
    epochs_run: int
    best_epoch: int
    stopped: bool
    early_stopped: bool
    seconds: float
    timings: dict
    pipeline: PipelineConfig = field(repr=False)
    stats: NormStats | None = field(repr=False)
    classes: tuple[str, ...] = ()
    config: TrainConfig | None = field(default=None, repr=False)
    summary: dict = field(default_factory=dict, repr=False)
    device: dict = field(default_factory=dict, repr=False)

    @property
    def accuracy(self) -> float:
        """Validation clip accuracy."""
        return self.evaluation.accuracy


def class_weights(labels: np.ndarray, n_classes: int) -> np.ndarray:
    """Balanced class weights ``n / (n_classes * count)`` (0 for an absent class) [shape=(n_classes,)]."""
    counts = np.bincount(labels, minlength=n_classes).astype(np.float64)
    return np.divide(len(labels), n_classes * counts, out=np.zeros(n_classes), where=counts > 0)
