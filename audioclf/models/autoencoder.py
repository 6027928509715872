"""The joint autoencoder + classifier (``jae``).

One encoder feeds two heads: a decoder that must redraw the input spectrogram
from a 64-number summary, and a classifier reading the same summary. Training
both at once (cross-entropy + lambda * reconstruction MSE, see
:func:`audioclf.models.compile_model`) keeps the summary faithful to the sound,
which regularises the classifier when labelled clips are few.
"""

from __future__ import annotations

import keras
from keras import layers

from ..errors import ModelError
from ._blocks import fraction, functional_model, positive_int, probs_layer
from ._registry import register_model

__all__ = ["build_jae"]


@register_model(
    name="jae",
    family="autoencoder",
    input_kind="spectrogram",
    default_input_shape=(128, 128, 1),
    description="""
        Squeezes the spectrogram through a bottleneck of 64 numbers and learns two
        things from them at once: to redraw the spectrogram (the reconstruction you
        can look at) and to name the class. Having to redraw the sound stops the
        64 numbers from latching onto accidental details, which helps when there
        are few labelled clips. A blurry reconstruction shows what it ignores.""",
    source="""Joint convolutional autoencoder-classifier: reconstruction as an
        auxiliary loss (cf. Ranzato & Szummer 2008; Le et al. 2018, "Supervised
        autoencoders").""",
    extra_outputs={"reconstruction": "decoder's redrawing of the input, same shape as the input"},
)
def build_jae(
    input_shape: tuple[int, ...],
    num_classes: int,
    *,
    filters: tuple[int, ...] = (16, 32, 64, 128),
    latent_dim: int = 64,
    classifier_units: tuple[int, int] = (128, 64),
    dropout: float = 0.3,
) -> keras.Model:
    """Encoder 4 x (Conv + MaxPool) -> Dense latent; mirrored decoder; 3-layer classifier.

    With the defaults a 128 x 128 x 1 input is encoded to 8 x 8 x 128, flattened
    to a 64-d latent; the decoder maps the latent back to 8 x 8 x 128 and runs
    4 x (UpSampling + Conv) to a linear 1-channel output of the input's shape.
    The classifier is Dense 128 -> Dense 64 -> softmax on the latent.

    Parameters
    ----------
    input_shape : tuple [shape=(freq, time, 1)]
        Both ``freq`` and ``time`` must be divisible by ``2 ** len(filters)``
        (16 by default) so the decoder lands exactly on the input shape.
    num_classes : int
    filters : tuple of int
        Encoder filters per level (the decoder uses them in reverse).
    latent_dim : int
    classifier_units : (int, int)
        The two hidden layers of the classifier.
    dropout : float
        Dropout in the classifier.

    Returns
    -------
    keras.Model
        Outputs ``{"probs": (batch, num_classes), "reconstruction": (batch, freq, time, 1)}``.

    Raises
    ------
    ModelError
        If the input's axes are not divisible by ``2 ** len(filters)``.
    """
    positive_int("latent_dim", latent_dim)
    fraction("dropout", dropout)
    f, t, c = input_shape
    factor = 2 ** len(filters)
    if f % factor or t % factor:
        raise ModelError(
            f"jae needs freq and time divisible by {factor} (2 ** {len(filters)} pools) so the "
            f"decoder returns the input's shape; got input_shape={tuple(input_shape)}; "
            f"pad or crop to e.g. ({f // factor * factor or factor}, {t // factor * factor or factor}, {c})"
        )
    inputs = keras.Input(shape=input_shape, name="spectrogram")  # (batch, freq, time, 1)
    x = inputs
    for i, n in enumerate(filters):
        x = layers.Conv2D(positive_int("filters", n), 3, padding="same", activation="relu",
                          name=f"enc_conv_{i + 1}")(x)
        x = layers.MaxPooling2D(2, name=f"enc_pool_{i + 1}")(x)
    code_shape = tuple(x.shape[1:])  # (freq/16, time/16, filters[-1])
    x = layers.Flatten(name="enc_flatten")(x)
    latent = layers.Dense(latent_dim, activation="relu", name="latent")(x)  # (batch, latent)

    y = layers.Dense(code_shape[0] * code_shape[1] * code_shape[2], activation="relu",
                     name="dec_dense")(latent)
    y = layers.Reshape(code_shape, name="dec_reshape")(y)
    for i, n in enumerate(reversed(filters)):
        y = layers.UpSampling2D(2, name=f"dec_up_{i + 1}")(y)
        y = layers.Conv2D(n, 3, padding="same", activation="relu", name=f"dec_conv_{i + 1}")(y)
    # Linear output: spectrogram inputs are standardised and may be negative.
    recon = layers.Conv2D(c, 3, padding="same", name="reconstruction", dtype="float32")(y)  # (batch, freq, time, c)

    h = latent
    for i, n in enumerate(classifier_units):
        h = layers.Dense(positive_int("classifier_units", n), activation="relu", name=f"cls_dense_{i + 1}")(h)
        h = layers.Dropout(dropout, name=f"cls_dropout_{i + 1}")(h)
    probs = probs_layer(num_classes)(h)
    return functional_model(inputs, {"probs": probs, "reconstruction": recon}, "jae")
