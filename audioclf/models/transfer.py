"""Light heads on a pretrained backbone's window embeddings (transfer learning).

A backbone (:mod:`audioclf.backbones`) turns a clip into one embedding per
backbone window; the pipeline groups ``K`` consecutive embeddings into one
model input of shape ``(K, dim)``. These heads are the only part that is
trained, which is why a handful of clips per class is enough.

* ``head_linear``: the mean and the maximum of the ``K`` embeddings (and, with
  ``pooling='mean_max_std'``, their spread), then one softmax layer: logistic
  regression on pooled embeddings, the classic linear probe.
* ``head_mlp``: one hidden ReLU layer per window, then mean and max over the
  windows -- or, with ``rnn`` attention (the ``attention`` head), learned
  weights over the ``K`` windows (``attn_rnn``), so the head itself says which
  moments it listened to.
"""

from __future__ import annotations

import keras
from keras import layers

from ._blocks import fraction, functional_model, positive_int, probs_layer
from ._registry import register_model
from .layers import AdditiveTimeAttention, StdPooling1D

__all__ = ["HEADS", "POOLINGS", "build_head_linear", "build_head_mlp"]

#: ``head_linear``'s poolings over the ``K`` windows: mean and max, or mean, max and standard deviation.
POOLINGS = ("mean_max", "mean_max_std")

#: Each head by its CLI name -> (registry name of its architecture, attention kind).
HEADS = {"linear": ("head_linear", None), "mlp": ("head_mlp", None), "attention": ("head_mlp", "rnn")}

_SOURCE = """A linear probe / small head on frozen pretrained embeddings, the transfer-learning
    recipe of Teachable Machine, Edge Impulse and the PANNs / YAMNet papers."""


def _check_shape(input_shape: tuple[int, ...]) -> tuple[int, int]:
    from ..errors import ModelError

    if len(input_shape) != 2 or any(isinstance(v, bool) or not isinstance(v, int) or v < 1 for v in input_shape):
        raise ModelError(f"a head reads (windows, embedding_dim) inputs, got input_shape={tuple(input_shape)}")
    return int(input_shape[0]), int(input_shape[1])


def _pooled(x, dropout: float, pooling: str = "mean_max"):
    mean = layers.GlobalAveragePooling1D(name="mean_pool")(x)  # (batch, dim)
    peak = layers.GlobalMaxPooling1D(name="max_pool")(x)  # (batch, dim)
    if pooling == "mean_max_std":
        spread = StdPooling1D(name="std_pool")(x)  # (batch, dim)
        pooled = layers.Concatenate(name="mean_max_std")([mean, peak, spread])  # (batch, 3 dim)
    else:
        pooled = layers.Concatenate(name="mean_max")([mean, peak])  # (batch, 2 dim)
    return layers.Dropout(dropout, name="dropout")(pooled) if dropout > 0 else pooled


@register_model(
    name="head_linear",
    family="transfer",
    input_kind="embedding",
    default_input_shape=(4, 512),
    description="""
        One softmax layer on the average, the peak and the spread (how much the sound
        changes) of a pretrained network's embeddings over a few seconds of sound. The backbone already learned, on
        thousands of hours of audio, what makes sounds different; this head only
        draws straight borders between your classes in that space, so it needs
        few examples and trains in seconds.""",
    source=_SOURCE,
)
def build_head_linear(input_shape: tuple[int, ...], num_classes: int, *, dropout: float = 0.2,
                      l2: float = 1e-3, pooling: str = "mean_max") -> keras.Model:
    """Mean and max (and standard deviation) over the windows -> Dropout -> softmax (L2 on the weights).

    Parameters
    ----------
    input_shape : tuple [shape=(K, dim)]
        ``K`` backbone windows of ``dim``-d embeddings.
    num_classes : int
    dropout : float
        Dropout on the pooled embedding.
    l2 : float
        L2 penalty of the softmax weights.
    pooling : {'mean_max', 'mean_max_std'}
        What the softmax reads of the ``K`` windows: their mean and max (``2 dim`` values), or also their
        standard deviation (``3 dim``; what the convex fit of small sets uses, see
        :func:`audioclf.engine.convex.fit_linear`).

    Returns
    -------
    keras.Model
        Outputs ``{"probs": (batch, num_classes)}``.
    """
    from ..errors import ModelError

    _check_shape(input_shape)
    fraction("dropout", dropout)
    if pooling not in POOLINGS:
        raise ModelError(f"head_linear pools with one of {', '.join(POOLINGS)}, got pooling={pooling!r}")
    inputs = keras.Input(shape=tuple(input_shape), name="embeddings")  # (batch, K, dim)
    x = _pooled(inputs, dropout, pooling)
    probs = probs_layer(num_classes, kernel_regularizer=keras.regularizers.L2(float(l2)) if l2 else None)(x)
    return functional_model(inputs, {"probs": probs}, "head_linear")


@register_model(
    name="head_mlp",
    family="transfer",
    input_kind="embedding",
    default_input_shape=(4, 512),
    attention=("rnn",),
    description="""
        The embeddings of each moment go through a hidden layer before the softmax,
        so the borders between classes may bend: a little more capacity than the
        linear head. With attention, a small network scores every moment, the
        scores become weights that sum to 1, and the clip is the weighted average
        of its moments -- the weights show which moments the classifier listened
        to (a dog's bark rather than the silence around it).""",
    source=_SOURCE + " Attention pooling as in Kong et al. (2019), 'Weakly labelled AudioSet tagging "
    "with attention neural networks'.",
)
def build_head_mlp(input_shape: tuple[int, ...], num_classes: int, *, attention: str | None = None,
                   units: int = 256, dropout: float = 0.3, l2: float = 1e-4) -> keras.Model:
    """Dense(units, ReLU) per window, pooled over the windows (mean and max, or ``rnn`` attention) -> softmax.

    Parameters
    ----------
    input_shape : tuple [shape=(K, dim)]
    num_classes : int
    attention : {None, 'rnn'}
        ``'rnn'``: additive attention over the ``K`` windows (``attn_rnn``), next to their maximum.
    units : int
        Width of the hidden layer.
    dropout : float
        Dropout on the embeddings and after the pooling.
    l2 : float
        L2 penalty of the dense layers.

    Returns
    -------
    keras.Model
        Outputs ``{"probs": (batch, num_classes)}``; with attention :func:`audioclf.models.readout`
        reads the window weights from ``attn_rnn`` (batch, K).
    """
    from ..errors import ModelError

    if attention not in (None, "rnn"):
        raise ModelError(f"head_mlp pools with 'rnn' attention or none, got attention={attention!r}")
    _check_shape(input_shape)
    positive_int("units", units)
    fraction("dropout", dropout)
    reg = keras.regularizers.L2(float(l2)) if l2 else None
    inputs = keras.Input(shape=tuple(input_shape), name="embeddings")  # (batch, K, dim)
    x = layers.Dropout(dropout, name="input_dropout")(inputs) if dropout > 0 else inputs
    x = layers.Dense(units, activation="relu", kernel_regularizer=reg, name="window_proj")(x)  # (batch, K, units)
    peak = layers.GlobalMaxPooling1D(name="max_pool")(x)  # (batch, units)
    if attention == "rnn":
        pooled, _ = AdditiveTimeAttention(units=units, name="attn_rnn")(x, return_attention_scores=True)
    else:
        pooled = layers.GlobalAveragePooling1D(name="mean_pool")(x)
    x = layers.Concatenate(name="pooled")([pooled, peak])  # (batch, 2 units)
    x = layers.Dropout(dropout, name="dropout")(x) if dropout > 0 else x
    probs = probs_layer(num_classes, kernel_regularizer=reg)(x)
    return functional_model(inputs, {"probs": probs}, "head_mlp")
