"""MobileNetV2 on a 1-channel spectrogram (Keras applications, no pretrained weights)."""

from __future__ import annotations

import keras
from keras import layers

from ..errors import ModelError
from ._blocks import fraction, functional_model, probs_layer
from ._registry import register_model

__all__ = ["build_mobilenet_v2"]


@register_model(
    name="mobilenet_v2",
    family="mobilenet",
    input_kind="spectrogram",
    default_input_shape=(128, 128, 1),
    description="""
        A compact image network built for phones, applied to the spectrogram as a
        one-colour picture. Its blocks first widen, filter each channel on its own,
        then squeeze back, which keeps it small and fast; global average pooling
        then asks "was this pattern anywhere in the clip?". A strong, cheap
        default when you care about speed.""",
    source="""M. Sandler, A. Howard, M. Zhu, A. Zhmoginov, L.-C. Chen, "MobileNetV2:
        Inverted Residuals and Linear Bottlenecks", CVPR 2018
        (keras.applications.MobileNetV2, weights=None).""",
)
def build_mobilenet_v2(
    input_shape: tuple[int, ...],
    num_classes: int,
    *,
    alpha: float = 1.0,
    dropout: float = 0.0,
) -> keras.Model:
    """``keras.applications.MobileNetV2(include_top=False, weights=None)`` -> global average pool -> softmax.

    Parameters
    ----------
    input_shape : tuple [shape=(freq, time, 1)]
        Default (128, 128, 1); both axes at least 32.
    num_classes : int
    alpha : float
        Width multiplier (0.35, 0.5, 0.75, 1.0, 1.3, 1.4 are the usual ones).
    dropout : float
        Dropout before the classifier.

    Returns
    -------
    keras.Model
        Outputs ``{"probs": (batch, num_classes)}``.
    """
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or alpha <= 0:
        raise ModelError(f"alpha={alpha!r} must be a positive number (e.g. 0.35, 1.0)")
    fraction("dropout", dropout)
    if min(input_shape[:2]) < 32:
        raise ModelError(f"mobilenet_v2 needs freq and time >= 32; got input_shape={input_shape}")
    inputs = keras.Input(shape=input_shape, name="spectrogram")  # (batch, freq, time, 1)
    backbone = keras.applications.MobileNetV2(
        input_shape=tuple(input_shape), alpha=float(alpha), include_top=False, weights=None,
        name="mobilenetv2",
    )
    x = backbone(inputs)  # (batch, freq/32, time/32, 1280)
    x = layers.GlobalAveragePooling2D(name="global_pool")(x)
    x = layers.Dropout(dropout, name="dropout")(x)
    return functional_model(inputs, {"probs": probs_layer(num_classes)(x)}, "mobilenet_v2")
