"""Custom Keras layers of the model zoo, written like Keras writes its own.

Every layer checks its arguments in ``__init__``, creates weights in
``build``, uses only ``keras.ops`` in ``call`` (so it runs on the TensorFlow,
JAX and PyTorch backends), returns every constructor argument from
``get_config`` and is registered under the ``"audioclf"`` package, so a model
using it saves to ``.keras`` and loads again with ``safe_mode=True``. They
replace what would otherwise be ``Lambda`` layers, which safe mode refuses.
"""

from __future__ import annotations

import keras
from keras import ops

__all__ = ["AdditiveTimeAttention", "FrequencyBand", "StdPooling1D", "STD_EPSILON"]

#: Added to the variance before its square root, so that the spread of identical windows has a finite gradient.
STD_EPSILON = 1e-12


def _positive_int(name: str, value, *, allow_zero: bool = False) -> int:
    low = 0 if allow_zero else 1
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        kind = "non-negative" if allow_zero else "positive"
        raise ValueError(f"{name}={value!r} must be a {kind} integer")
    return value


@keras.saving.register_keras_serializable(package="audioclf")
class AdditiveTimeAttention(keras.layers.Layer):
    """Additive attention pooling over the time axis of a sequence.

    For each step ``x_t`` a score ``e_t = tanh(x_t W + b)`` is computed (or, with
    ``units``, ``e_t = tanh(x_t W + b) v``); the weights ``a = softmax_t(e)``
    sum to 1 over time and the output is the weighted sum ``sum_t a_t x_t``.
    The weights say which moments of the clip the classifier listens to.

    Parameters
    ----------
    units : int or None
        ``None`` scores each step with one linear unit (the plain form above);
        an integer adds a hidden tanh layer of that width and a learned
        context vector ``v`` (Bahdanau-style), which can sharpen the weights.
    use_bias : bool
        Whether the score has a bias ``b``.
    **kwargs
        Standard layer arguments (``name``, ``dtype``, ...).

    Call arguments
    --------------
    inputs : tensor [shape=(batch, time, features)]
    mask : optional bool tensor [shape=(batch, time)]
        Steps where it is False get zero weight.
    return_attention_scores : bool
        Also return the weights, shape ``(batch, time)``.

    Returns
    -------
    context : tensor [shape=(batch, features)]
    weights : tensor [shape=(batch, time)], only with ``return_attention_scores=True``

    Examples
    --------
    >>> layer = AdditiveTimeAttention()
    >>> ctx, w = layer(keras.ops.ones((2, 5, 3)), return_attention_scores=True)
    >>> tuple(ctx.shape), tuple(w.shape)
    ((2, 3), (2, 5))
    """

    def __init__(self, units: int | None = None, use_bias: bool = True, **kwargs):
        super().__init__(**kwargs)
        if units is not None:
            _positive_int("units", units)
        if not isinstance(use_bias, bool):
            raise ValueError(f"use_bias={use_bias!r} must be True or False")
        self.units = units
        self.use_bias = use_bias
        self.supports_masking = True

    def build(self, input_shape):
        if len(input_shape) != 3 or input_shape[-1] is None:
            raise ValueError(
                "AdditiveTimeAttention expects inputs of shape (batch, time, features) "
                f"with a known feature size; got {input_shape}"
            )
        dim = input_shape[-1]
        width = 1 if self.units is None else self.units
        self.kernel = self.add_weight(
            name="kernel", shape=(dim, width), initializer="glorot_uniform"
        )
        self.bias = (
            self.add_weight(name="bias", shape=(width,), initializer="zeros")
            if self.use_bias
            else None
        )
        self.context = (
            None
            if self.units is None
            else self.add_weight(name="context", shape=(width, 1), initializer="glorot_uniform")
        )

    def call(self, inputs, mask=None, return_attention_scores=False):
        hidden = ops.matmul(inputs, self.kernel)  # (batch, time, width)
        if self.bias is not None:
            hidden = hidden + self.bias
        scores = ops.tanh(hidden)
        if self.context is not None:
            scores = ops.matmul(scores, self.context)  # (batch, time, 1)
        scores = ops.squeeze(scores, axis=-1)  # (batch, time)
        if mask is not None:
            # A large negative score (not -inf) keeps the softmax finite even
            # when a whole row is masked.
            scores = ops.where(ops.cast(mask, "bool"), scores, ops.full_like(scores, -1e9))
        weights = ops.softmax(scores, axis=-1)  # (batch, time)
        context = ops.sum(inputs * ops.expand_dims(weights, -1), axis=1)  # (batch, features)
        if return_attention_scores:
            return context, weights
        return context

    def compute_mask(self, inputs, mask=None):
        # The time axis is summed away, so no mask travels further.
        return None

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[-1])

    def compute_output_spec(self, inputs, mask=None, return_attention_scores=False):
        batch, time, dim = inputs.shape
        context = keras.KerasTensor((batch, dim), dtype=self.compute_dtype)
        if return_attention_scores:
            return context, keras.KerasTensor((batch, time), dtype=self.compute_dtype)
        return context

    def get_config(self):
        config = super().get_config()
        config.update({"units": self.units, "use_bias": self.use_bias})
        return config


@keras.saving.register_keras_serializable(package="audioclf")
class FrequencyBand(keras.layers.Layer):
    """Cut one band ``[start, start + size)`` out of one axis of the input.

    SubSpectralNet gives each band of the mel axis its own CNN; this layer
    takes the band (the job a slicing ``Lambda`` would do, but safe to load).

    Parameters
    ----------
    start : int
        First bin of the band (>= 0).
    size : int
        Number of bins (>= 1).
    axis : int
        Axis to cut along, counting the batch axis (default 1 = frequency of a
        ``(batch, freq, time, channels)`` input); must not be 0.

    Call arguments
    --------------
    inputs : tensor [shape=(batch, freq, time, channels)] (or any rank >= 2)

    Returns
    -------
    tensor [shape=(batch, size, time, channels)] for ``axis=1``

    Examples
    --------
    >>> FrequencyBand(start=10, size=20)(keras.ops.ones((2, 40, 8, 1))).shape
    (2, 20, 8, 1)
    """

    def __init__(self, start: int, size: int, axis: int = 1, **kwargs):
        super().__init__(**kwargs)
        self.start = _positive_int("start", start, allow_zero=True)
        self.size = _positive_int("size", size)
        if isinstance(axis, bool) or not isinstance(axis, int) or axis == 0:
            raise ValueError(f"axis={axis!r} must be a non-zero integer (0 is the batch axis)")
        self.axis = axis

    def build(self, input_shape):
        length = input_shape[self.axis]
        if length is not None and self.start + self.size > length:
            raise ValueError(
                f"band [{self.start}, {self.start + self.size}) does not fit in axis "
                f"{self.axis} of length {length}; lower start or size"
            )

    def call(self, inputs):
        indices = ops.arange(self.start, self.start + self.size, dtype="int32")
        return ops.take(inputs, indices, axis=self.axis)

    def compute_output_shape(self, input_shape):
        shape = list(input_shape)
        shape[self.axis] = self.size
        return tuple(shape)

    def get_config(self):
        config = super().get_config()
        config.update({"start": self.start, "size": self.size, "axis": self.axis})
        return config


@keras.saving.register_keras_serializable(package="audioclf")
class StdPooling1D(keras.layers.Layer):
    """The spread of a sequence over its time axis: ``sqrt(var + STD_EPSILON)`` per feature.

    Next to the mean and the peak, how much a sound changes from window to window (a dog's two barks against
    the steady hum of an engine). The population variance (divided by ``K``), as ``numpy.std``.

    Call arguments
    --------------
    inputs : tensor [shape=(batch, K, dim)]

    Returns
    -------
    tensor [shape=(batch, dim)]

    Examples
    --------
    >>> StdPooling1D()(keras.ops.convert_to_tensor([[[0.0, 1.0], [2.0, 1.0]]])).shape
    (1, 2)
    """

    def call(self, inputs):
        mean = ops.mean(inputs, axis=1, keepdims=True)
        return ops.sqrt(ops.mean(ops.square(inputs - mean), axis=1) + STD_EPSILON)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], *input_shape[2:])
