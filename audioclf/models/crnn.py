"""CRNN with a residual convolutional front end.

A ResNet-style front turns the spectrogram into a sequence of rich feature
vectors; a (Bi)LSTM reads them in time order.
"""

from __future__ import annotations

import keras
from keras import layers

from ..errors import ModelError
from ._blocks import fraction, functional_model, positive_int, probs_layer, recurrent_head, to_time_major
from ._registry import register_model

__all__ = ["build_crnn_resnet"]

# (filters, (freq stride, time stride)) of the compact front's residual blocks:
# frequency is halved more often than time, which the LSTM needs.
_COMPACT_BLOCKS = ((32, (1, 1)), (64, (2, 2)), (128, (2, 1)), (128, (2, 1)))


def _residual_block(x, filters: int, strides: tuple[int, int], name: str):
    """Two 3x3 convs with BatchNorm and an identity (or 1x1 projection) shortcut."""
    shortcut = x
    y = layers.Conv2D(filters, 3, strides=strides, padding="same", use_bias=False, name=f"{name}_conv_1")(x)
    y = layers.BatchNormalization(name=f"{name}_bn_1")(y)
    y = layers.ReLU(name=f"{name}_relu_1")(y)
    y = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_conv_2")(y)
    y = layers.BatchNormalization(name=f"{name}_bn_2")(y)
    if strides != (1, 1) or x.shape[-1] != filters:
        # The shapes differ, so the shortcut needs a learned 1x1 projection.
        shortcut = layers.Conv2D(filters, 1, strides=strides, use_bias=False, name=f"{name}_proj")(x)
        shortcut = layers.BatchNormalization(name=f"{name}_proj_bn")(shortcut)
    y = layers.Add(name=f"{name}_add")([y, shortcut])
    return layers.ReLU(name=f"{name}_out")(y)


@register_model(
    name="crnn_resnet",
    family="crnn",
    input_kind="spectrogram",
    default_input_shape=(128, 128, 1),
    attention=("rnn", "self"),
    description="""
        A residual CNN (each block adds its input back to its output, so deep
        stacks still train) turns the spectrogram into a sequence of feature
        vectors, one per short stretch of time; a bidirectional LSTM then reads
        that sequence forwards and backwards. The CNN finds what is sounding, the
        LSTM how it evolves. Attention shows which stretches decided.""",
    source="""K. He, X. Zhang, S. Ren, J. Sun, "Deep Residual Learning for Image
        Recognition", CVPR 2016, as the front of a CRNN (K. Choi, G. Fazekas, M.
        Sandler, K. Cho, "Convolutional Recurrent Neural Networks for Music
        Classification", ICASSP 2017).""",
)
def build_crnn_resnet(
    input_shape: tuple[int, ...],
    num_classes: int,
    *,
    attention: str | None = None,
    front: str = "compact",
    units: int = 128,
    bidirectional: bool = True,
    n_lstm: int = 1,
    dense_units: int = 64,
    heads: int = 4,
    dropout: float = 0.0,
) -> keras.Model:
    """Residual front -> time-major sequence -> (Bi)LSTM -> Dense -> softmax.

    ``front="compact"``: Conv 32 3x3 + BN + ReLU + 2x2 max-pool, then residual
    blocks of 32, 64 (stride 2x2), 128 (stride 2x1) and 128 (stride 2x1): a
    128 x 128 input becomes 8 x 32 x 128, a 32-step sequence of 1024 features.
    ``front="resnet50"``: ``keras.applications.ResNet50(weights=None,
    include_top=False)`` (nothing is downloaded): 128 x 128 -> 4 x 4 x 2048, a
    4-step sequence; needs at least 32 x 32.

    Parameters
    ----------
    input_shape : tuple [shape=(freq, time, 1)]
    num_classes : int
    attention : {None, 'rnn', 'self'}
        Pooling of the last LSTM's steps (``attn_rnn`` / ``attn_self``).
    front : {'compact', 'resnet50'}
    units : int
        LSTM units per direction.
    bidirectional : bool
    n_lstm : int
        Number of stacked LSTMs.
    dense_units, heads : int
    dropout : float
        Input dropout of the LSTMs.

    Returns
    -------
    keras.Model
        Outputs ``{"probs": (batch, num_classes)}``.
    """
    for name, value in (("units", units), ("n_lstm", n_lstm), ("dense_units", dense_units), ("heads", heads)):
        positive_int(name, value)
    fraction("dropout", dropout)
    inputs = keras.Input(shape=input_shape, name="spectrogram")  # (batch, freq, time, 1)
    if front == "compact":
        x = layers.Conv2D(32, 3, padding="same", use_bias=False, name="stem_conv")(inputs)
        x = layers.BatchNormalization(name="stem_bn")(x)
        x = layers.ReLU(name="stem_relu")(x)
        x = layers.MaxPooling2D(2, padding="same", name="stem_pool")(x)
        for i, (filters, strides) in enumerate(_COMPACT_BLOCKS):
            x = _residual_block(x, filters, strides, name=f"res{i + 1}")
    elif front == "resnet50":
        if min(input_shape[:2]) < 32:
            raise ModelError(f"front='resnet50' needs freq and time >= 32; got input_shape={input_shape}")
        backbone = keras.applications.ResNet50(
            include_top=False, weights=None, input_shape=tuple(input_shape), name="resnet50"
        )
        x = backbone(inputs)  # (batch, freq/32, time/32, 2048)
    else:
        raise ModelError(f"front={front!r} must be 'compact' or 'resnet50'")
    seq = to_time_major(x)  # (batch, time', freq' * channels)
    x = recurrent_head(seq, units=units, n_layers=n_lstm, bidirectional=bidirectional,
                       attention=attention, heads=heads, dropout=dropout)
    x = layers.Dense(dense_units, activation="relu", name="dense")(x)
    return functional_model(inputs, {"probs": probs_layer(num_classes)(x)}, "crnn_resnet")
