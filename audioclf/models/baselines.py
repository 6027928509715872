"""Baselines on summary features: a dense MLP and a small 2-D CNN.

They never see a spectrogram, only per-clip averages of hand-crafted features,
which makes them fast and a fair yardstick for the bigger models.
"""

from __future__ import annotations

import keras
from keras import layers

from ._blocks import fraction, functional_model, probs_layer
from ._registry import register_model

__all__ = ["build_feature_mlp", "build_feature_cnn2d"]


@register_model(
    name="feature_mlp",
    family="baseline",
    input_kind="summary",
    default_input_shape=(217,),
    description="""
        A stack of fully connected layers on one summary vector per clip (averages
        and spreads of MFCCs, spectral shape and chroma). It cannot see when
        anything happens in the clip, only its overall colour; that is often
        enough to tell a siren from a dog bark, and it trains in seconds.""",
    source="""Fully connected baseline on summary features, the common recipe of
        UrbanSound8K / ESC-50 tutorials.""",
)
def build_feature_mlp(
    input_shape: tuple[int, ...],
    num_classes: int,
    *,
    units: tuple[int, ...] = (256, 256, 128, 128, 64, 32),
    dropout: float = 0.5,
    l2: float = 0.01,
) -> keras.Model:
    """Dense 256-256-128-128-64-32 (ReLU) -> Dropout -> softmax with L2 on the last layer.

    Parameters
    ----------
    input_shape : tuple [shape=(n,)]
        Length of the summary vector; any ``n`` works (default 217).
    num_classes : int
    units : tuple of int
        Widths of the hidden layers.
    dropout : float
        Dropout rate before the classifier.
    l2 : float
        L2 weight penalty of the softmax layer.

    Returns
    -------
    keras.Model
        Outputs ``{"probs": (batch, num_classes)}``.
    """
    fraction("dropout", dropout)
    inputs = keras.Input(shape=input_shape, name="features")  # (batch, n)
    x = inputs
    for i, width in enumerate(units):
        x = layers.Dense(int(width), activation="relu", name=f"dense_{i + 1}")(x)
    x = layers.Dropout(dropout, name="dropout")(x)
    probs = probs_layer(num_classes, kernel_regularizer=keras.regularizers.L2(l2))(x)
    return functional_model(inputs, {"probs": probs}, "feature_mlp")


@register_model(
    name="feature_cnn2d",
    family="baseline",
    input_kind="summary",
    default_input_shape=(40, 5, 1),
    description="""
        A small 2-D CNN on a 40 x 5 table: 40 rows of per-clip mean MFCC, mel,
        chroma_stft, chroma_cqt and chroma_cens side by side. The convolutions look
        at neighbouring coefficients across the five feature kinds at once, so it
        can pick up patterns that one feature kind alone does not show.""",
    source="""2-D CNN on stacked mean features (MFCC, mel, chroma), a common
        UrbanSound8K tutorial recipe.""",
)
def build_feature_cnn2d(
    input_shape: tuple[int, ...],
    num_classes: int,
    *,
    filters: tuple[int, int] = (64, 128),
    dense_units: tuple[int, int] = (256, 512),
    dropout: float = 0.3,
) -> keras.Model:
    """Conv 64 k5 -> MaxPool -> Conv 128 k5 -> MaxPool -> Dropout -> Dense 256 -> Dense 512 -> softmax.

    Adaptation: the table is only 5 columns wide, so the convolutions and the
    2 x 2 pools use ``padding="same"`` (40 x 5 -> 20 x 3 -> 10 x 2) instead of
    shrinking the narrow axis away.

    Parameters
    ----------
    input_shape : tuple [shape=(rows, columns, 1)]
        Default (40, 5, 1).
    num_classes : int
    filters : (int, int)
    dense_units : (int, int)
    dropout : float

    Returns
    -------
    keras.Model
        Outputs ``{"probs": (batch, num_classes)}``.
    """
    fraction("dropout", dropout)
    inputs = keras.Input(shape=input_shape, name="features")  # (batch, 40, 5, 1)
    x = inputs
    for i, n in enumerate(filters):
        x = layers.Conv2D(int(n), 5, padding="same", activation="relu", name=f"conv_{i + 1}")(x)
        x = layers.MaxPooling2D(2, padding="same", name=f"pool_{i + 1}")(x)
    x = layers.Dropout(dropout, name="dropout_conv")(x)
    x = layers.Flatten(name="flatten")(x)
    for i, n in enumerate(dense_units):
        x = layers.Dense(int(n), activation="relu", name=f"dense_{i + 1}")(x)
        x = layers.Dropout(dropout, name=f"dropout_{i + 1}")(x)
    probs = probs_layer(num_classes)(x)
    return functional_model(inputs, {"probs": probs}, "feature_cnn2d")
