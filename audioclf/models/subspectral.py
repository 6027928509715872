"""SubSpectralNet: one small CNN per overlapping band of the mel axis.

Low and high frequencies carry different cues (a hum, a hiss), so each band
gets its own filters and its own opinion (a sub-classifier); a global
classifier reads all bands' summaries together.
"""

from __future__ import annotations

import keras
from keras import layers

from ..errors import ModelError
from ._blocks import fit_pool, fraction, functional_model, positive_int, probs_layer
from ._registry import register_model
from .layers import FrequencyBand

__all__ = ["build_subspectralnet", "band_starts"]


def band_starts(n_bins: int, band_size: int, band_hop: int) -> list[int]:
    """First bin of every band: ``0, hop, 2 hop, ...``, plus one flush with the top
    when the hops do not land there, so every bin is covered.

    Examples
    --------
    >>> band_starts(40, 20, 10)
    [0, 10, 20]
    >>> band_starts(128, 64, 48)
    [0, 48, 64]
    """
    if band_size > n_bins:
        raise ModelError(
            f"band_size={band_size} is larger than the {n_bins} frequency bins of the input"
        )
    starts = list(range(0, n_bins - band_size + 1, band_hop))
    if starts[-1] + band_size < n_bins:
        starts.append(n_bins - band_size)
    return starts


@register_model(
    name="subspectralnet",
    family="subspectral",
    input_kind="spectrogram",
    default_input_shape=(40, 128, 1),
    description="""
        Cuts the mel spectrogram into overlapping horizontal strips (low, middle and
        high frequencies) and gives each strip its own small CNN and its own vote.
        A final classifier combines what all strips found. Sounds often differ in
        one region only (a rumble, a chirp), and a strip's CNN can specialise in
        it; the per-strip votes show which region recognised the sound.""",
    source="""S. S. R. Phaye, E. Benetos, Y. Wang, "SubSpectralNets - Using
        Sub-Spectrogram based Convolutional Neural Networks for Acoustic Scene
        Classification", ICASSP 2019.""",
    extra_outputs={"sub_probs": "softmax of each band's own classifier, (batch, n_bands, num_classes), "
                                "bands ordered from low to high frequency"},
)
def build_subspectralnet(
    input_shape: tuple[int, ...],
    num_classes: int,
    *,
    band_size: int | None = None,
    band_hop: int | None = None,
    filters: tuple[int, int] = (32, 64),
    kernel: int = 7,
    fc_units: int = 32,
    global_units: int = 100,
    dropout: float = 0.3,
) -> keras.Model:
    """Per band: Conv 32 7x7 -> BN -> ReLU -> pool 5x5 -> Conv 64 7x7 -> BN -> ReLU -> pool -> FC 32 -> softmax;
    global: concatenated FCs -> Dense 100 -> softmax.

    The paper's 40 mel bins in bands of 20 with hop 10 give 3 bands (the
    default for a 40-bin input); the reference collection's 128-bin bands with
    hop 64 on a 512-bin STFT are ``band_size=128, band_hop=64``.

    Adaptation: the paper's second pool (4 x 100) spans all remaining frames of
    its 500-frame input; here it spans all remaining frames of whatever input it
    gets, and pool sizes are clamped to what is left of an axis.

    Parameters
    ----------
    input_shape : tuple [shape=(mel, time, 1)]
        Default (40, 128, 1); (128, 128, 1) builds with the automatic bands.
    num_classes : int
    band_size : int, optional
        Bins per band; default half the bins (20 of 40, 64 of 128).
    band_hop : int, optional
        Bins between band starts; default half the band. A last band flush with
        the top is added when the hops do not reach it.
    filters : (int, int)
    kernel : int
        Square conv kernel size.
    fc_units : int
        Width of each band's FC layer (what the global classifier reads).
    global_units : int
        Hidden width of the global classifier.
    dropout : float

    Returns
    -------
    keras.Model
        Outputs ``{"probs": (batch, num_classes), "sub_probs": (batch, n_bands, num_classes)}``.
        Trained with cross-entropy on ``probs`` plus the sum over bands of the
        bands' cross-entropies (:func:`audioclf.models.compile_model`).
    """
    fraction("dropout", dropout)
    for name, value in (("kernel", kernel), ("fc_units", fc_units), ("global_units", global_units)):
        positive_int(name, value)
    n_bins, _, _ = input_shape
    size = max(1, n_bins // 2) if band_size is None else positive_int("band_size", band_size)
    hop = max(1, size // 2) if band_hop is None else positive_int("band_hop", band_hop)
    starts = band_starts(n_bins, size, hop)

    inputs = keras.Input(shape=input_shape, name="spectrogram")  # (batch, mel, time, 1)
    features, votes = [], []
    for i, start in enumerate(starts):
        b = f"band{i + 1}"
        x = FrequencyBand(start=start, size=size, name=f"{b}_slice")(inputs)  # (batch, size, time, 1)
        for j, n in enumerate(filters):
            x = layers.Conv2D(positive_int("filters", n), kernel, padding="same", name=f"{b}_conv_{j + 1}")(x)
            x = layers.BatchNormalization(name=f"{b}_bn_{j + 1}")(x)
            x = layers.ReLU(name=f"{b}_relu_{j + 1}")(x)
            pool = (5, 5) if j == 0 else (4, x.shape[2])  # the last pool spans all frames left
            x = layers.MaxPooling2D(fit_pool(pool, x.shape[1:3]), name=f"{b}_pool_{j + 1}")(x)
            x = layers.Dropout(dropout, name=f"{b}_dropout_{j + 1}")(x)
        x = layers.Flatten(name=f"{b}_flatten")(x)
        x = layers.Dense(fc_units, activation="relu", name=f"{b}_fc")(x)  # (batch, fc_units)
        x = layers.Dropout(dropout, name=f"{b}_fc_dropout")(x)
        features.append(x)
        vote = probs_layer(num_classes, name=f"{b}_probs")(x)
        votes.append(layers.Reshape((1, num_classes), name=f"{b}_probs_row")(vote))
    if len(starts) == 1:
        sub_probs = layers.Identity(name="sub_probs")(votes[0])
        joined = features[0]
    else:
        sub_probs = layers.Concatenate(axis=1, name="sub_probs")(votes)  # (batch, bands, classes)
        joined = layers.Concatenate(name="bands_concat")(features)  # (batch, bands * fc_units)
    g = layers.Dense(global_units, activation="relu", name="global_dense")(joined)
    g = layers.Dropout(dropout, name="global_dropout")(g)
    probs = probs_layer(num_classes)(g)
    return functional_model(inputs, {"probs": probs, "sub_probs": sub_probs}, "subspectralnet")
