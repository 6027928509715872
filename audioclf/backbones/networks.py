"""The backbones' networks as Keras 3 models (``keras.layers`` / ``keras.ops`` only).

Both run on every Keras backend and load with ``safe_mode=True``. The functions
``*_weights_from_*`` map the originals' arrays onto these models; the conversion
script and the tests use them.
"""

from __future__ import annotations

from collections.abc import Mapping

import keras
import numpy as np

from ..errors import BackboneError

__all__ = ["ClampedLeakyReLU", "build_sounds_network", "build_speech_network", "set_sounds_weights",
           "set_speech_weights", "SPEECH_LAYERS"]


@keras.saving.register_keras_serializable(package="audioclf")
class ClampedLeakyReLU(keras.layers.Layer):
    """``max(leaky_relu(x, negative_slope), floor)``: speech_embedding's activation.

    Parameters
    ----------
    negative_slope : float
        Slope below zero (0.2 in speech_embedding).
    floor : float
        Lower bound of the output (-0.4 in speech_embedding).
    """

    def __init__(self, negative_slope: float = 0.2, floor: float = -0.4, **kwargs) -> None:
        super().__init__(**kwargs)
        if not negative_slope >= 0:
            raise BackboneError(f"negative_slope={negative_slope} must be >= 0")
        self.negative_slope = float(negative_slope)
        self.floor = float(floor)

    def call(self, x):
        return keras.ops.maximum(keras.ops.leaky_relu(x, negative_slope=self.negative_slope), self.floor)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self) -> dict:
        return {**super().get_config(), "negative_slope": self.negative_slope, "floor": self.floor}


# --- sounds: aiSFX EmbeddingNet('max', 3, 1, 64) -------------------------------------------------------

def build_sounds_network() -> keras.Model:
    """aiSFX's ``EmbeddingNet('max', 3, 1, 64)``: ``(batch, 100, 96)`` log-mel blocks -> ``(batch, 512)``."""
    inputs = keras.Input((100, 96), name="logmel")
    x = keras.layers.Reshape((100, 96, 1), name="channel")(inputs)  # (batch, time, mel, 1)
    for block, channels in enumerate((64, 128, 256, 512), start=1):
        for conv in (1, 2):
            x = keras.layers.Conv2D(channels, 3, padding="same", use_bias=False, name=f"block{block}_conv{conv}")(x)
            x = keras.layers.BatchNormalization(epsilon=1e-5, name=f"block{block}_bn{conv}")(x)
            x = keras.layers.ReLU(name=f"block{block}_relu{conv}")(x)
        if block < 4:
            x = keras.layers.MaxPooling2D(2, name=f"block{block}_pool")(x)
    # (batch, 12, 12, 512): mean over frequency, then max over time
    x = keras.layers.AveragePooling2D(pool_size=(1, x.shape[2]), name="freq_mean")(x)
    x = keras.layers.Reshape((x.shape[1], 512), name="squeeze")(x)
    outputs = keras.layers.GlobalMaxPooling1D(name="time_max")(x)
    return keras.Model(inputs, outputs, name="aisfx_embedding")


def set_sounds_weights(model: keras.Model, state: Mapping[str, np.ndarray]) -> None:
    """Copy an aiSFX state dict (``embedding_net.*`` tensors, torch layout) into :func:`build_sounds_network`."""
    for block in range(1, 5):
        for conv in (1, 2):
            torch_prefix = f"embedding_net.conv_block{block}."
            w = np.asarray(state[f"{torch_prefix}conv{conv}.weight"], dtype=np.float32)  # (out, in, kh, kw)
            model.get_layer(f"block{block}_conv{conv}").set_weights([w.transpose(2, 3, 1, 0)])
            bn = f"{torch_prefix}bn{conv}."
            model.get_layer(f"block{block}_bn{conv}").set_weights(
                [np.asarray(state[bn + k], dtype=np.float32) for k in ("weight", "bias", "running_mean", "running_var")])


# --- speech: Google speech_embedding -------------------------------------------------------------------

#: (kernel, pad frequency, channels) of speech_embedding's 20 convolutions, and a 2-D max pool after some.
SPEECH_LAYERS: tuple[tuple[tuple[int, int], bool, int, tuple[int, int] | None], ...] = (
    ((3, 3), True, 24, None), ((1, 3), True, 24, None), ((3, 1), False, 24, (2, 2)),
    ((1, 3), True, 48, None), ((3, 1), False, 48, None), ((1, 3), True, 48, None), ((3, 1), False, 48, (1, 2)),
    ((1, 3), True, 72, None), ((3, 1), False, 72, None), ((1, 3), True, 72, None), ((3, 1), False, 72, (2, 2)),
    ((1, 3), True, 96, None), ((3, 1), False, 96, None), ((1, 3), True, 96, None), ((3, 1), False, 96, (1, 2)),
    ((1, 3), True, 96, None), ((3, 1), False, 96, None), ((1, 3), True, 96, None), ((3, 1), False, 96, (2, 2)),
    ((3, 1), False, 96, None),
)


def build_speech_network() -> keras.Model:
    """speech_embedding: ``(batch, 76, 32)`` log-mel windows -> ``(batch, 96)``.

    Convolutions alternate along time (3x1, no padding: time shrinks) and along
    frequency (1x3, zero-padded: frequency kept); batch norm is folded into each
    convolution's bias, as in the ONNX export; each is followed by a leaky ReLU
    floored at -0.4, except the last, which has no bias and no activation.
    """
    inputs = keras.Input((76, 32), name="logmel")
    x = keras.layers.Reshape((76, 32, 1), name="channel")(inputs)  # (batch, time, mel, 1)
    last = len(SPEECH_LAYERS) - 1
    for i, (kernel, pad_freq, channels, pool) in enumerate(SPEECH_LAYERS):
        if pad_freq:
            x = keras.layers.ZeroPadding2D(((0, 0), (1, 1)), name=f"pad{i}")(x)
        x = keras.layers.Conv2D(channels, kernel, padding="valid", use_bias=i != last, name=f"conv{i}")(x)
        if i != last:
            x = ClampedLeakyReLU(0.2, -0.4, name=f"act{i}")(x)
        if pool is not None:
            x = keras.layers.MaxPooling2D(pool, name=f"pool{i}")(x)
    outputs = keras.layers.Flatten(name="embedding")(x)  # (batch, 1, 1, 96) -> (batch, 96)
    return keras.Model(inputs, outputs, name="speech_embedding")


def set_speech_weights(model: keras.Model, convs: list[tuple[np.ndarray, np.ndarray | None]]) -> None:
    """Copy the 20 ONNX convolutions (``(out, in, kh, kw)`` kernel, fused bias or None) into the model."""
    if len(convs) != len(SPEECH_LAYERS):
        raise BackboneError(f"speech_embedding has {len(SPEECH_LAYERS)} convolutions; got {len(convs)}")
    for i, (w, b) in enumerate(convs):
        weights = [np.asarray(w, dtype=np.float32).transpose(2, 3, 1, 0)]
        if b is not None:
            weights.append(np.asarray(b, dtype=np.float32))
        model.get_layer(f"conv{i}").set_weights(weights)
