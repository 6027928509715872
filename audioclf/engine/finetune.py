"""Fine-tuning a backbone's top block together with the head (``PipelineConfig.fine_tune``).

The pipeline stops below the top block (:func:`audioclf.backbones.get_top_block`) and
caches what it reads, so the frozen lower part runs once per clip. The trained model
is then ``top block (per window) -> standardisation -> head``:

* the top block is a copy of the pretrained one (layers named ``ft_*``), its batch
  norm kept in inference mode, and it learns at :data:`TOP_LR_SCALE` times the
  head's rate, so the pretrained features are adjusted, not overwritten;
* the standardisation is fixed at the statistics of the pretrained block's
  embeddings of the training windows -- at the start the head sees exactly what a
  head on frozen embeddings sees;
* the head is the registered head, its layers inlined (so ``explain`` finds ``attn_rnn``)
  and the model keeps the head's name, so a bundle loads like any other.

The bundle's ``model.keras`` holds the trained block: prediction needs nothing else
than the frozen lower part of the backbone, which the pipeline runs.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np

from ..errors import ModelError

__all__ = ["TOP_LR_SCALE", "TOP_PREFIX", "fine_tune_model", "without_optimizer", "TopScaledAdam"]

#: The top block's learning rate, as a fraction of the head's.
TOP_LR_SCALE = 0.1
#: Name prefix of the top block's layers (and of their weights' paths) in a fine-tuned model.
TOP_PREFIX = "ft_"


def fine_tune_model(head: keras.Model, *, backbone: str, x_train: np.ndarray, batch_size: int = 64) -> keras.Model:
    """Put a pretrained top block, applied to each window, in front of a head.

    Parameters
    ----------
    head : keras.Model
        A built head (:mod:`audioclf.models.transfer`) reading ``(batch, K, embedding_dim)``.
    backbone : str
        The backbone whose top block is copied (:meth:`audioclf.backbones.Backbone.top_block`).
    x_train : np.ndarray [shape=(n, K, *TopBlock.input_shape)]
        Training inputs; the pretrained block's embeddings of them set the standardisation.
    batch_size : int
        Windows per forward pass while measuring those statistics.

    Returns
    -------
    keras.Model
        ``(batch, K, *TopBlock.input_shape)`` -> the head's outputs, named like the head.

    Raises
    ------
    ModelError
        ``head`` does not read this backbone's embeddings.
    BackboneError
        The backbone has no top block.
    """
    from ..backbones import get_backbone

    bb = get_backbone(backbone)
    top = bb.top_block()
    k = int(x_train.shape[1])
    expected = (k, bb.spec.embedding_dim)
    if tuple(head.inputs[0].shape[1:]) != expected:
        raise ModelError(f"a fine-tuned {backbone} head reads {expected} embeddings, got a head reading "
                         f"{tuple(head.inputs[0].shape[1:])}")
    flat = x_train.reshape((-1, *x_train.shape[2:]))  # (n K, *top_input_shape)
    emb = np.concatenate([np.asarray(top.predict_on_batch(flat[i:i + batch_size]))
                          for i in range(0, len(flat), batch_size)])  # (n K, dim)
    mean = emb.mean(axis=0, dtype=np.float64)
    var = np.maximum(emb.var(axis=0, dtype=np.float64), 1e-6)  # a dead unit stays finite

    inputs = keras.Input(tuple(x_train.shape[1:]), name="top_inputs")  # (batch, K, *top_input_shape)
    x = keras.layers.TimeDistributed(top, name=f"{TOP_PREFIX}top_block")(inputs)  # (batch, K, dim)
    x = keras.layers.Normalization(mean=mean.tolist(), variance=var.tolist(), name=f"{TOP_PREFIX}standardise")(x)
    # Inline the head's graph (not one nested layer): its attention layers stay visible by name.
    # Keras has no public way to replay a model's graph on an intermediate tensor: clone_model with
    # input_tensors=x rebuilds the head on a fresh Input (Functional re-roots non-Input inputs), so its
    # outputs are not connected to `inputs` (Keras 3.15). tests/engine/test_finetune.py guards the name.
    outputs = head._run_through_graph(x, operation_fn=lambda op: op)
    return keras.Model(inputs, outputs, name=head.name)


def without_optimizer(model: keras.Model) -> keras.Model:
    """An uncompiled copy of ``model`` with the same weights (see :func:`audioclf.engine.bundle.model_without_optimizer`,
    which every bundle is saved through)."""
    from .bundle import model_without_optimizer

    return model_without_optimizer(model)


@keras.saving.register_keras_serializable(package="audioclf")
class TopScaledAdam(keras.optimizers.Adam):
    """Adam (with optional decoupled weight decay) whose top-block weights learn more slowly.

    Parameters
    ----------
    scale : float
        Learning-rate factor of the weights whose path starts with ``prefix``, in (0, 1].
    prefix : str
        The top block's name prefix (:data:`TOP_PREFIX`).
    **kwargs
        Adam's (``learning_rate``, ``weight_decay`` ...).
    """

    def __init__(self, *, scale: float = TOP_LR_SCALE, prefix: str = TOP_PREFIX, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not 0 < scale <= 1:
            raise ModelError(f"scale={scale} must be in (0, 1]")
        self.scale = float(scale)
        self.prefix = str(prefix)
        self._scaled: set[int] = set()

    def build(self, variables: list) -> None:
        super().build(variables)
        self._scaled = {self._get_variable_index(v) for v in variables if v.path.startswith(self.prefix)}

    def update_step(self, gradient, variable, learning_rate):
        if self._get_variable_index(variable) in self._scaled:
            learning_rate = keras.ops.multiply(learning_rate, self.scale)
        return super().update_step(gradient, variable, learning_rate)

    def get_config(self) -> dict:
        return {**super().get_config(), "scale": self.scale, "prefix": self.prefix}
