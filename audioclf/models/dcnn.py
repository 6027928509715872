"""Deep CNNs with spatially separable convolutions (Sharma, Granmo & Goodwin).

Kernels work on the frequency (feature) axis and the time axis separately, and
pools shrink one axis at a time. Optional ``"cnn"`` attention puts beside each
block a cheap branch that looks at the block's input and gates its output.

Axis convention: inputs are ``(freq, time, channels)``, so the paper's
``[1x3]`` feature kernel (written time x feature there) is ``(3, 1)`` here,
its ``[7x1]`` time kernel is ``(1, 7)`` and a ``4x1`` time pool is ``(1, 4)``.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
from keras import layers

from ..errors import ModelError
from ._blocks import fit_pool, fraction, functional_model, positive_int, probs_layer
from ._registry import register_model

__all__ = ["build_sfc_dcnn", "build_mfc_dcnn", "MFC_DCNN_CHANNELS"]

#: Feature channels stacked as the default mfc_dcnn input (one per channel).
MFC_DCNN_CHANNELS = ("mfcc", "gfcc", "cqt", "chroma_stft")


GATES = ("relu", "sigmoid")


def _block(x, *, index: int, filters: int, kernels: Sequence[tuple[int, int]],
           pool: tuple[int, int], attention: bool, leaky: bool = True, gate: str = "relu"):
    """Convs (each + activation + BatchNorm) then a max-pool; optional attention gate.

    The attention branch of Sharma et al. (2019) reads the block's *input*:
    max-pool (the block's pool, so it lands on the output's grid) -> depthwise
    conv (the block's first kernel) -> pointwise conv (the block's filters) ->
    BatchNorm -> gate (layer ``attn_cnn_b<index>``), and multiplies the block's
    output element-wise.

    The paper's gate is a ReLU (``gate="relu"``, the default). Stacked over six
    blocks of unbounded ReLU gates, the product blew the first logits up in the
    quick recipe's compact model (FSDD: first-epoch loss 5.8 against 2.3 at
    chance) and it underfit (68.8 % on FSDD's test split after 20 epochs). The
    ``"sigmoid"`` gate, which the quick recipe uses, is bounded to (0, 1), so a
    gated block can only pass or damp its own output (98.4 % there), and the map
    reads directly as "how much of this cell was let through".
    """
    b = f"b{index}"
    block_input = x
    pool = fit_pool(pool, x.shape[1:3])
    for j, kernel in enumerate(kernels):
        x = layers.Conv2D(filters, kernel, padding="same", name=f"{b}_conv_{j + 1}")(x)
        x = (layers.LeakyReLU(negative_slope=0.01, name=f"{b}_act_{j + 1}") if leaky
             else layers.ReLU(name=f"{b}_act_{j + 1}"))(x)
        x = layers.BatchNormalization(name=f"{b}_bn_{j + 1}")(x)
    x = layers.MaxPooling2D(pool, name=f"{b}_pool")(x)  # (batch, freq', time', filters)
    if not attention:
        return x
    a = layers.MaxPooling2D(pool, name=f"{b}_att_pool")(block_input)
    a = layers.DepthwiseConv2D(kernels[0], padding="same", name=f"{b}_att_depthwise")(a)
    a = layers.Conv2D(filters, 1, name=f"{b}_att_pointwise")(a)
    # beta starts at 1 so the gates start mostly open (ReLU: about 84 % of cells > 0;
    # sigmoid: about 0.73 on average); with beta 0 half the ReLU gates start shut.
    a = layers.BatchNormalization(beta_initializer="ones", name=f"{b}_att_bn")(a)
    # (batch, freq', time', filters)
    a = (layers.ReLU(name=f"attn_cnn_{b}") if gate == "relu"
         else layers.Activation("sigmoid", name=f"attn_cnn_{b}"))(a)
    return layers.Multiply(name=f"{b}_att_gate")([x, a])


def _stack(x, plan, filters, *, attention: str | None, gate: str):
    """One :func:`_block` per ``(kernels, pool)`` entry of ``plan``, ``filters`` wide."""
    if gate not in GATES:
        raise ModelError(f"gate={gate!r} must be one of {', '.join(GATES)}")
    if len(filters) != len(plan):
        raise ModelError(f"filters={filters!r} must list {len(plan)} block widths")
    for i, ((kernels, pool), n) in enumerate(zip(plan, filters, strict=True)):
        x = _block(x, index=i + 1, filters=positive_int("filters", n), kernels=kernels,
                   pool=pool, attention=attention == "cnn", gate=gate)
    return x


def _dense_head(x, num_classes, units, dropout):
    x = layers.Flatten(name="flatten")(x)
    for i, n in enumerate(units):
        x = layers.Dense(positive_int("dense_units", n), activation="relu", name=f"dense_{i + 1}")(x)
        x = layers.Dropout(dropout, name=f"dropout_{i + 1}")(x)
    return probs_layer(num_classes)(x)


@register_model(
    name="sfc_dcnn",
    family="dcnn",
    input_kind="spectrogram",
    default_input_shape=(128, 128, 1),
    attention=("cnn",),
    description="""
        A deep CNN on one spectrogram whose filters look along one axis at a time:
        first across frequency (which pitches sound together), then across time (how
        that changes), with pooling that shrinks one axis per block. Splitting the
        directions needs fewer weights than square filters and fits how sounds are
        built. With attention, each block gets a small side branch that decides
        which frequency-time cells to let through: its map shows where it looks.""",
    source="""Single-feature-channel variant of the DCNN of J. Sharma, O.-C. Granmo,
        M. Goodwin, "Environment Sound Classification using Multiple Feature Channels
        and Attention based Deep Convolutional Neural Network", Interspeech 2020
        (arXiv:1908.11219).""",
)
def build_sfc_dcnn(
    input_shape: tuple[int, ...],
    num_classes: int,
    *,
    attention: str | None = None,
    filters: tuple[int, ...] = (32, 32, 64, 64, 128, 256),
    dense_units: tuple[int, ...] = (512,),
    dropout: float = 0.5,
    gate: str = "relu",
) -> keras.Model:
    """Separable blocks (feature, time, feature, time) of 32, 32, 64, 64 then 3x3 blocks of 128, 256.

    Feature blocks: Conv (3,1), (3,1), (1,1) and a (2,1) pool; time blocks: Conv
    (1,3), (1,3), (1,1) and a (1,2) pool; square blocks: Conv (3,3), (3,3),
    (1,1) and a (2,2) pool. Every conv: LeakyReLU 0.01, BatchNorm. Then
    Flatten -> Dense 512 -> Dropout 0.5 -> softmax. A 128 x 128 input ends at
    8 x 8 x 256. Pools are clamped to what is left of an axis, so small inputs
    build too.

    Parameters
    ----------
    input_shape : tuple [shape=(freq, time, 1)]
    num_classes : int
    attention : {None, 'cnn'}
        Gate every block with an attention branch (``attn_cnn_b1`` ... ``attn_cnn_b6``).
    filters : tuple of 6 int
    dense_units : tuple of int
    dropout : float
    gate : {'relu', 'sigmoid'}
        The attention gate's activation: the paper's ``relu`` (default) or a
        bounded ``sigmoid`` (see ``_block``).

    Returns
    -------
    keras.Model
        Outputs ``{"probs": (batch, num_classes)}``.
    """
    fraction("dropout", dropout)
    plan = (
        ([(3, 1), (3, 1), (1, 1)], (2, 1)),  # along frequency
        ([(1, 3), (1, 3), (1, 1)], (1, 2)),  # along time
    ) * 2 + (([(3, 3), (3, 3), (1, 1)], (2, 2)),) * 2
    inputs = keras.Input(shape=input_shape, name="spectrogram")  # (batch, freq, time, 1)
    x = _stack(inputs, plan, filters, attention=attention, gate=gate)
    probs = _dense_head(x, num_classes, dense_units, dropout)
    return functional_model(inputs, {"probs": probs}, "sfc_dcnn")


@register_model(
    name="mfc_dcnn",
    family="dcnn",
    input_kind="multichannel",
    default_input_shape=(128, 128, 4),
    attention=("cnn",),
    description="""
        The same idea as sfc_dcnn, but the input is a stack of different views of
        the sound, one per channel (by default MFCC, GFCC, CQT and chroma), like
        the red, green and blue of a photo. The first filters combine them, so the
        network can use whichever view separates the classes best. It also takes
        a 2-channel STFT (magnitude + phase, or real + imaginary).""",
    source="""J. Sharma, O.-C. Granmo, M. Goodwin, "Environment Sound Classification
        using Multiple Feature Channels and Attention based Deep Convolutional Neural
        Network", arXiv:1908.11219 (2019), Interspeech 2020; Table I.""",
)
def build_mfc_dcnn(
    input_shape: tuple[int, ...],
    num_classes: int,
    *,
    attention: str | None = None,
    filters: tuple[int, ...] = (32, 32, 64, 64, 128, 128, 256, 512),
    dense_units: tuple[int, ...] = (1024, 1024),
    dropout: float = 0.5,
    gate: str = "relu",
) -> keras.Model:
    """Table I: [1x3]/[7x1] conv pairs of 32, 32, 64, 64, 128, 128; [7x3] blocks of 256, 512; Dense 1024-1024.

    Feature pairs: two Conv (3,1) and a (2,1) pool (the paper's [1x3] and
    1x2); time pairs: two Conv (1,7) and a (1,4) pool (its [7x1] and 4x1);
    then two blocks of two Conv (3,7) and a (2,4) pool (its [7x3] and 4x2).
    Each conv: LeakyReLU 0.01 and BatchNorm. Then Flatten -> Dense 1024 ->
    Dropout -> Dense 1024 -> Dropout -> softmax.

    Adaptation: the five 4x time pools would shrink 128 frames to 1/8 of a
    frame; pools are clamped to what is left of an axis (128 -> 32 -> 8 -> 2 ->
    1 -> 1), so the default input ends at 4 x 1 x 512. Dropout between the
    dense layers (0.5) is our choice.

    Parameters
    ----------
    input_shape : tuple [shape=(freq, time, channels)]
        Default (128, 128, 4) = :data:`MFC_DCNN_CHANNELS`; (128, 128, 2) for
        STFT magnitude + phase or real + imaginary; any channel count builds.
    num_classes : int
    attention : {None, 'cnn'}
        Gate every block with an attention branch (``attn_cnn_b1`` ... ``attn_cnn_b8``).
    filters : tuple of 8 int
    dense_units : tuple of int
    dropout : float
    gate : {'relu', 'sigmoid'}
        The attention gate's activation (see :func:`build_sfc_dcnn`).

    Returns
    -------
    keras.Model
        Outputs ``{"probs": (batch, num_classes)}``.
    """
    fraction("dropout", dropout)
    plan = (
        ([(3, 1)] * 2, (2, 1)),  # feature axis
        ([(1, 7)] * 2, (1, 4)),  # time axis
    ) * 3 + (([(3, 7)] * 2, (2, 4)),) * 2
    inputs = keras.Input(shape=input_shape, name="features")  # (batch, freq, time, channels)
    x = _stack(inputs, plan, filters, attention=attention, gate=gate)
    probs = _dense_head(x, num_classes, dense_units, dropout)
    return functional_model(inputs, {"probs": probs}, "mfc_dcnn")
