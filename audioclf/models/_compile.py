"""Losses, compilation and fit targets that match each model's outputs.

The training engine calls :func:`compile_model` once and
:func:`training_targets` per batch (after mixup), so it never needs to know
which model has a reconstruction or sub-band outputs.
"""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

from ..errors import ModelError
from ._registry import ModelSpec, get_model_spec

__all__ = ["SubbandCrossentropy", "compile_model", "training_targets", "output_names"]


@keras.saving.register_keras_serializable(package="audioclf")
class SubbandCrossentropy(keras.losses.Loss):
    """Cross-entropy of every band's classifier against the clip label, summed over bands.

    Parameters
    ----------
    epsilon : float
        Probabilities are clipped to ``[epsilon, 1 - epsilon]`` before the log.
    name, reduction, dtype
        As for any ``keras.losses.Loss``.

    Call arguments
    --------------
    y_true : tensor [shape=(batch, classes)]
        One-hot (or mixed) clip labels; a ``(batch, bands, classes)`` target also works.
    y_pred : tensor [shape=(batch, bands, classes)]
        Softmax of each band.

    Returns
    -------
    tensor [shape=(batch,)] before reduction
    """

    def __init__(self, epsilon: float = 1e-7, name: str = "subband_crossentropy",
                 reduction: str = "sum_over_batch_size", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        if not 0 < epsilon < 0.5:
            raise ValueError(f"epsilon={epsilon!r} must lie in (0, 0.5)")
        self.epsilon = float(epsilon)

    def call(self, y_true, y_pred):
        y_true = ops.cast(y_true, y_pred.dtype)
        if len(y_true.shape) == len(y_pred.shape) - 1:
            y_true = ops.expand_dims(y_true, 1)  # (batch, 1, classes): same label for every band
        p = ops.clip(y_pred, self.epsilon, 1.0 - self.epsilon)
        per_band = -ops.sum(y_true * ops.log(p), axis=-1)  # (batch, bands)
        return ops.sum(per_band, axis=-1)  # (batch,)

    def get_config(self):
        config = super().get_config()
        config.update({"epsilon": self.epsilon})
        return config


def output_names(model_or_spec: Any) -> tuple[str, ...]:
    """Output keys of a built model, or those a registry entry promises."""
    if isinstance(model_or_spec, keras.Model):
        return tuple(model_or_spec.output_names)
    spec = get_model_spec(model_or_spec)
    return ("probs", *spec.extra_outputs)


def compile_model(
    model: keras.Model,
    *,
    spec: ModelSpec | str | None = None,
    learning_rate: float = 1e-3,
    jae_lambda: float = 1.0,
    optimizer: keras.optimizers.Optimizer | None = None,
    label_smoothing: float = 0.0,
    jit_compile: bool | str = False,
) -> keras.Model:
    """Compile ``model`` with the losses its outputs need, and accuracy on ``probs``.

    - ``probs``: categorical cross-entropy (labels are one-hot floats, so mixed
      labels from mixup work).
    - ``reconstruction`` (jae): + ``jae_lambda`` x mean squared error against the input.
    - ``sub_probs`` (subspectralnet): + the sum over bands of each band's
      cross-entropy (:class:`SubbandCrossentropy`).

    Parameters
    ----------
    model : keras.Model
        A model from :func:`build_model` (or loaded from a ``.keras`` file).
    spec : ModelSpec or str, optional
        Registry entry; only checked against the model's outputs, which decide.
    learning_rate : float
        Adam learning rate (ignored when ``optimizer`` is given).
    jae_lambda : float
        Weight of the reconstruction loss of ``jae`` (>= 0).
    optimizer : keras.optimizers.Optimizer, optional
    label_smoothing : float
        Label smoothing of the ``probs`` cross-entropy, in [0, 1).
    jit_compile : bool or 'auto'
        Passed to ``model.compile``. False by default: XLA made training slower
        on the CPUs we measured (see ``bench/models.py``).

    Returns
    -------
    keras.Model
        The same model, compiled, its optimizer built (its slots exist before ``fit``).

    Raises
    ------
    ModelError
        If the model has no ``probs`` output, a weight is out of range, or the
        spec promises outputs the model lacks.

    Examples
    --------
    >>> model = compile_model(build_model("jae", input_shape=(32, 32, 1), num_classes=3), jae_lambda=0.5)
    """
    names = tuple(model.output_names)
    if "probs" not in names:
        raise ModelError(f"model {model.name!r} has no 'probs' output (outputs: {names}); "
                         "build it with audioclf.models.build_model")
    if spec is not None:
        missing = set(output_names(spec)) - set(names)
        if missing:
            raise ModelError(f"model {model.name!r} lacks the outputs {sorted(missing)} of "
                             f"{get_model_spec(spec).name!r}")
    if not isinstance(learning_rate, (int, float)) or learning_rate <= 0:
        raise ModelError(f"learning_rate={learning_rate!r} must be a positive number")
    if not isinstance(jae_lambda, (int, float)) or jae_lambda < 0:
        raise ModelError(f"jae_lambda={jae_lambda!r} must be a number >= 0")
    if not 0 <= label_smoothing < 1:
        raise ModelError(f"label_smoothing={label_smoothing!r} must lie in [0, 1)")

    loss: dict[str, Any] = {
        "probs": keras.losses.CategoricalCrossentropy(label_smoothing=label_smoothing, name="ce")
    }
    weights = {"probs": 1.0}
    if "reconstruction" in names:
        loss["reconstruction"] = keras.losses.MeanSquaredError(name="mse")
        weights["reconstruction"] = float(jae_lambda)
    if "sub_probs" in names:
        loss["sub_probs"] = SubbandCrossentropy()
        weights["sub_probs"] = 1.0
    unknown = set(names) - set(loss)
    if unknown:
        raise ModelError(f"model {model.name!r} has outputs {sorted(unknown)} with no known loss")
    model.compile(
        optimizer=optimizer or keras.optimizers.Adam(learning_rate=learning_rate),
        loss=loss,
        loss_weights=weights,
        metrics={"probs": [keras.metrics.CategoricalAccuracy(name="accuracy")]},
        jit_compile=jit_compile,
    )
    # The optimizer's slots now, not inside the first trace of the training step: with no distribution strategy,
    # Keras' TensorFlow trainer creates them there, and TensorFlow then traces the whole step a second time (a
    # tf.function that created variables is traced again without). One trace halves the set-up of a training run's
    # first epoch (sfc_dcnn on 32x32 inputs, this CPU: 10.5 s -> 4.4 s); the other backends and distributed runs
    # build it before their first step anyway, with the same variables.
    if model.built and not model.optimizer.built:
        model.optimizer.build(model.trainable_variables)
    return model


def training_targets(model_or_spec: Any, x: Any, y_onehot: Any) -> dict[str, Any]:
    """The target dict for ``model.fit`` / ``train_on_batch``.

    Parameters
    ----------
    model_or_spec : keras.Model, ModelSpec or str
    x : array or tensor [shape=(batch, *input_shape)]
        The inputs (the reconstruction target of ``jae``).
    y_onehot : array or tensor [shape=(batch, num_classes)]
        One-hot (or mixup-blended) float labels.

    Returns
    -------
    dict
        ``{"probs": y_onehot}``, plus ``"reconstruction": x`` (jae) and
        ``"sub_probs": y_onehot`` (subspectralnet: every band learns the clip label).

    Examples
    --------
    >>> sorted(training_targets("jae", x, y))
    ['probs', 'reconstruction']
    """
    targets: dict[str, Any] = {"probs": y_onehot}
    for name in output_names(model_or_spec):
        if name == "reconstruction":
            targets[name] = x
        elif name == "sub_probs":
            targets[name] = y_onehot
    return targets

