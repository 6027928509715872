"""Read out predictions, attention maps and extra outputs for a batch of inputs.

Attention tensors are found by layer name (``attn_cnn_<block>``, ``attn_rnn``,
``attn_self``, see :mod:`audioclf.models._blocks`), and read through a second
``keras.Model`` over the same layers, so this works on a freshly built model
and on one loaded from a ``.keras`` file alike.
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import keras
import numpy as np

from .._validate import check_positive_int
from ..errors import ModelError

__all__ = ["AttentionMap", "Explanation", "explain", "attention_layer_names"]

_PREFIX = "attn_"
_AXES = {
    "cnn": ("batch", "freq", "time"),
    "rnn": ("batch", "time"),
    "self": ("batch", "head", "query_time", "key_time"),
}
_EXPLAINERS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


@dataclass(frozen=True)
class AttentionMap:
    """One attention tensor and how to read it.

    Attributes
    ----------
    values : np.ndarray
        Batch first; shape given by ``axes``: ``cnn`` (batch, freq, time) -- the
        gate averaged over the block's filters; ``rnn`` (batch, time), summing
        to 1 over time; ``self`` (batch, head, query_time, key_time), each row
        summing to 1 over ``key_time``.
    kind : {'cnn', 'rnn', 'self'}
    axes : tuple of str
        Name of every axis of ``values``.
    block : str
        Where in the network it sits (``"b3"`` = third conv block, ``"sequence"``
        = the last recurrent layer's steps).
    meaning : str
        One plain sentence for the page.
    stride : Mapping[str, float]
        Input bins covered by one cell along each named axis (frames or samples
        for ``time``, rows for ``freq``), to stretch the map over the input.
    """

    values: np.ndarray
    kind: str
    axes: tuple[str, ...]
    block: str
    meaning: str
    stride: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Explanation:
    """Predictions of a batch with everything that can be drawn about them.

    Attributes
    ----------
    probs : np.ndarray [shape=(batch, num_classes)]
    attention : dict[str, AttentionMap]
        Keyed by layer name, in network order; empty for a model without attention.
    extras : dict[str, np.ndarray]
        The other outputs: ``reconstruction`` (jae, input's shape), ``sub_probs``
        (subspectralnet, (batch, n_bands, num_classes)).
    """

    probs: np.ndarray
    attention: dict[str, AttentionMap]
    extras: dict[str, np.ndarray]


def attention_layer_names(model: keras.Model) -> list[str]:
    """Names of the layers whose outputs are attention tensors, in network order."""
    return [layer.name for layer in model.layers if layer.name.startswith(_PREFIX)]


def _explainer(model: keras.Model) -> keras.Model:
    try:
        return _EXPLAINERS[model]
    except (KeyError, TypeError):
        pass
    outputs = dict(zip(model.output_names, model.outputs, strict=True))
    for name in attention_layer_names(model):
        out = model.get_layer(name).output
        # Attention layers called with return_attention_scores=True output
        # (result, scores); a cnn gate outputs the gate itself.
        outputs[name] = out[1] if isinstance(out, (list, tuple)) else out
    # A single input stays a bare tensor, so callers pass arrays, not 1-lists.
    inputs = model.inputs[0] if len(model.inputs) == 1 else model.inputs
    explainer = keras.Model(inputs, outputs, name=f"{model.name}_explainer")
    try:
        _EXPLAINERS[model] = explainer
    except TypeError:
        pass
    return explainer


def _input_axes(model: keras.Model) -> tuple[int | None, int | None, str]:
    """(freq length, time length, time unit) of the model's input."""
    shape = tuple(model.inputs[0].shape[1:])
    if len(shape) == 3:
        return shape[0], shape[1], "frames"
    if len(shape) == 2:
        return None, shape[0], "samples"
    return None, None, "steps"


def _describe(name: str, raw: np.ndarray, model: keras.Model) -> AttentionMap:
    kind = name[len(_PREFIX):].split("_", 1)[0]
    if kind not in _AXES:
        raise ModelError(f"layer {name!r} has an unknown attention kind {kind!r}")
    n_freq, n_time, unit = _input_axes(model)
    if kind == "cnn":
        block = name[len("attn_cnn_"):] or "conv"
        values = raw.mean(axis=-1)  # (batch, freq', time'): mean over the block's filters
        f, t = values.shape[1:]
        stride = {"freq": (n_freq or f) / f, "time": (n_time or t) / t}
        meaning = (
            f"Attention gate of conv block {block}: how strongly each cell of the block's "
            f"{f} x {t} (frequency x time) output is let through, averaged over its "
            f"{raw.shape[-1]} filters; one cell covers about {stride['freq']:.3g} input rows "
            f"x {stride['time']:.3g} {unit}. Brighter = listened to more."
        )
        return AttentionMap(values, kind, _AXES[kind], block, meaning, stride)
    steps = raw.shape[-1]
    span = (n_time or steps) / steps
    if kind == "rnn":
        meaning = (
            f"Additive attention over the {steps} steps of the last recurrent layer: how much "
            f"each step counts in the clip's summary (the weights sum to 1). One step covers "
            f"about {span:.3g} input {unit}."
        )
        return AttentionMap(raw, kind, _AXES[kind], "sequence", meaning, {"time": span})
    meaning = (
        f"Self-attention over the {steps} steps of the last recurrent layer, one map per head "
        f"({raw.shape[1]}): row q shows which steps step q draws on (each row sums to 1). "
        f"One step covers about {span:.3g} input {unit}."
    )
    return AttentionMap(raw, kind, _AXES[kind], "sequence", meaning,
                        {"query_time": span, "key_time": span})


def explain(model: keras.Model, x: Any, *, batch_size: int = 32) -> Explanation:
    """Predict ``x`` and return the attention maps and extra outputs with their meaning.

    Parameters
    ----------
    model : keras.Model
        Built by :func:`audioclf.models.build_model` or loaded by
        :func:`audioclf.models.load_model_file`.
    x : np.ndarray [shape=(batch, *input_shape)]
    batch_size : int
        Inputs are run through the model this many at a time.

    Returns
    -------
    Explanation

    Raises
    ------
    ModelError
        If ``x`` does not match the model's input shape, or the model has no
        ``probs`` output.

    Examples
    --------
    >>> model = build_model("lstm", input_shape=(32, 32, 1), num_classes=3, attention="rnn")
    >>> ex = explain(model, np.zeros((2, 32, 32, 1), "float32"))
    >>> ex.attention["attn_rnn"].values.shape
    (2, 32)
    """
    if "probs" not in model.output_names:
        raise ModelError(f"model {model.name!r} has no 'probs' output; build it with build_model")
    x = np.asarray(x, dtype="float32")
    expected = tuple(model.inputs[0].shape[1:])
    if x.shape[1:] != expected:
        raise ModelError(f"x has shape {x.shape}; {model.name} expects (batch, {', '.join(map(str, expected))})")
    check_positive_int(batch_size, "batch_size", error=ModelError)
    if len(x) == 0:
        raise ModelError("x holds no examples; pass a batch of at least one input")
    explainer = _explainer(model)
    chunks = [explainer.predict_on_batch(x[i:i + batch_size]) for i in range(0, len(x), batch_size)]
    # float32 whatever the precision policy: bfloat16 arrays do not plot.
    raw = {k: np.concatenate([np.asarray(c[k], dtype=np.float32) for c in chunks]) for k in chunks[0]}
    attention = {name: _describe(name, raw[name], model) for name in attention_layer_names(model)}
    extras = {k: v for k, v in raw.items() if k != "probs" and k not in attention}
    return Explanation(probs=raw["probs"], attention=attention, extras=extras)
