"""Building blocks shared by the family modules (private).

Naming contract relied on by :mod:`audioclf.models.readout`: every layer whose
output is an attention tensor is named ``attn_<kind>[_<block>]`` with kind in
``cnn``, ``rnn``, ``self``; the output layers are named like their output key
(``probs``, ``reconstruction``, ``sub_probs``).
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
from keras import layers

from .._validate import check_number, check_positive_int
from ..errors import ModelError
from .layers import AdditiveTimeAttention

__all__ = [
    "positive_int",
    "fraction",
    "fit_pool", "to_time_major", "recurrent_head", "probs_layer", "functional_model"]


def positive_int(name: str, value) -> int:
    """Validate a builder option that must be a positive integer."""
    return check_positive_int(value, name, error=ModelError)


def fraction(name: str, value) -> float:
    """Validate a builder option that must lie in [0, 1) (a dropout rate)."""
    return check_number(value, name, low=0, high=1, high_open=True, error=ModelError)


def fit_pool(pool: Sequence[int], spatial: Sequence[int | None]) -> tuple[int, ...]:
    """Clamp a pool size to the axis lengths left, so deep pooling stacks still
    build when an axis is already short (a 1-frame axis is pooled by 1)."""
    return tuple(min(p, s) if s else p for p, s in zip(pool, spatial, strict=True))


def to_time_major(x):
    """(batch, freq, time, channels) -> (batch, time, freq * channels).

    Each time step becomes one vector holding every frequency row of every
    feature map at that moment, which is what the recurrent layers read.
    """
    _, f, t, c = x.shape
    x = layers.Permute((2, 1, 3), name="to_time_major")(x)  # (batch, time, freq, ch)
    return layers.Reshape((t, f * c), name="time_steps")(x)  # (batch, time, freq*ch)


def recurrent_head(
    seq,
    *,
    units: int,
    n_layers: int = 1,
    bidirectional: bool = False,
    attention: str | None = None,
    heads: int = 4,
    dropout: float = 0.0,
):
    """Stacked LSTMs on a (batch, time, features) sequence -> (batch, features).

    Without attention the last LSTM returns its final state. With ``"rnn"`` it
    returns every step and :class:`AdditiveTimeAttention` (``attn_rnn``) pools
    them; with ``"self"`` a multi-head self-attention (``attn_self``) mixes the
    steps, a residual + layer norm follows, and the steps are averaged.
    """
    if seq.shape[1] is not None and seq.shape[1] < 1:
        raise ModelError(f"the sequence for the recurrent layers is empty: {seq.shape}")
    for i in range(n_layers):
        keep_steps = i < n_layers - 1 or attention is not None
        lstm = layers.LSTM(units, return_sequences=keep_steps, dropout=dropout, name=f"lstm_{i + 1}")
        if bidirectional:
            lstm = layers.Bidirectional(lstm, name=f"bilstm_{i + 1}")
        seq = lstm(seq)
    if attention is None:
        return seq  # (batch, units)
    if attention == "rnn":
        context, _ = AdditiveTimeAttention(name="attn_rnn")(seq, return_attention_scores=True)
        return context  # (batch, units)
    if attention == "self":
        dim = seq.shape[-1]
        mha = layers.MultiHeadAttention(
            num_heads=heads, key_dim=max(dim // heads, 8), name="attn_self"
        )
        mixed, _ = mha(seq, seq, return_attention_scores=True)  # (batch, time, dim)
        seq = layers.LayerNormalization(name="self_norm")(layers.Add(name="self_residual")([seq, mixed]))
        return layers.GlobalAveragePooling1D(name="self_pool")(seq)  # (batch, dim)
    raise ModelError(f"attention={attention!r} is not a sequence attention kind ('rnn', 'self')")


def probs_layer(num_classes: int, *, kernel_regularizer=None, name: str = "probs"):
    """The softmax classifier every model ends with."""
    # float32 even under a mixed-precision policy: a float16 softmax under- and
    # overflows, and the losses expect float32 probabilities.
    return layers.Dense(
        num_classes, activation="softmax", kernel_regularizer=kernel_regularizer, name=name, dtype="float32"
    )


def functional_model(inputs, outputs: dict, name: str) -> keras.Model:
    """A functional model with dict outputs, named after its registry entry."""
    return keras.Model(inputs=inputs, outputs=outputs, name=name)
