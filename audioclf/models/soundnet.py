"""SoundNet-style 1-D CNNs on the raw waveform, with a dense or recurrent back end.

No spectrogram at all: the first convolution's 64-sample filters learn their
own filterbank from the samples, and the following layers stack them into
longer and longer patterns.
"""

from __future__ import annotations

import keras
from keras import layers

from ..errors import ModelError
from ._blocks import functional_model, positive_int, probs_layer, recurrent_head
from ._registry import register_model

__all__ = ["build_soundnet_cnn", "build_soundnet_rnn"]

# (filters, kernel, stride) of each conv, or ("pool", size, stride).
_FRONT = (
    (16, 64, 8),
    ("pool", 8, 2),
    (32, 32, 8),
    ("pool", 8, 2),
    (64, 16, 2),
    (128, 8, 2),
    (256, 4, 2),
    ("pool", 4, 2),
    (512, 4, 1),
    (1024, 4, 1),
)

def _front(x, plan, *, min_steps: int = 1):
    """Run the conv/pool plan on (batch, samples, 1); BatchNorm + ReLU after each conv."""
    for i, (a, k, s) in enumerate(plan):
        if x.shape[1] is not None and x.shape[1] < (k if a == "pool" else 1):
            raise ModelError(
                f"the waveform is too short: layer {i + 1} of the SoundNet front needs at least "
                f"{k} steps but gets {x.shape[1]}; use longer clips (the default is 30000 samples)"
            )
        if a == "pool":
            x = layers.MaxPooling1D(k, strides=s, name=f"pool_{i + 1}")(x)
        else:
            x = layers.Conv1D(a, k, strides=s, padding="same", name=f"conv_{i + 1}")(x)
            x = layers.BatchNormalization(name=f"bn_{i + 1}")(x)
            x = layers.ReLU(name=f"relu_{i + 1}")(x)
    if x.shape[1] is not None and x.shape[1] < min_steps:
        raise ModelError(f"the waveform is too short: the front leaves {x.shape[1]} steps")
    return x


def _head(x, num_classes, dense_units):
    for i, n in enumerate(dense_units):
        x = layers.Dense(positive_int("dense_units", n), activation="relu", name=f"dense_{i + 1}")(x)
    return probs_layer(num_classes)(x)


@register_model(
    name="soundnet_cnn",
    family="soundnet",
    input_kind="waveform",
    default_input_shape=(30000, 1),
    description="""
        Learns straight from the samples, with no spectrogram in between: the first
        layer's filters become its own frequency detectors, and each later layer
        looks at a longer stretch of sound. It can find cues a mel spectrogram
        throws away (fine timing, phase), but needs more data to learn what a
        spectrogram gives for free.""",
    source="""Y. Aytar, C. Vondrick, A. Torralba, "SoundNet: Learning Sound
        Representations from Unlabeled Video", NeurIPS 2016 (8-layer 1-D CNN).""",
)
def build_soundnet_cnn(
    input_shape: tuple[int, ...],
    num_classes: int,
    *,
    dense_units: tuple[int, ...] = (512, 128),
) -> keras.Model:
    """Conv1D 16 k64 s8 -> pool 8 s2 -> 32 k32 s8 -> pool -> 64 k16 s2 -> 128 k8 s2
    -> 256 k4 s2 -> pool 4 s2 -> 512 k4 -> 1024 k4 -> Flatten -> Dense 512 -> 128 -> softmax.

    BatchNorm + ReLU follow every convolution.

    Adaptation: the convolutions use ``padding="same"`` and the max-pools
    ``padding="valid"``. With valid convolutions a 30 000-sample clip reaches the
    k4 stride-1 convolutions with 3 steps and the stack fails; with this choice
    every layer runs and ``soundnet_rnn`` gets a 13-step sequence.

    Parameters
    ----------
    input_shape : tuple [shape=(n_samples, 1)]
        Default (30000, 1); roughly 8000 samples is the shortest that runs.
    num_classes : int
    dense_units : tuple of int

    Returns
    -------
    keras.Model
        Outputs ``{"probs": (batch, num_classes)}``.
    """
    inputs = keras.Input(shape=input_shape, name="waveform")  # (batch, samples, 1)
    x = _front(inputs, _FRONT)  # (batch, 6, 1024) for 30000 samples
    x = layers.Flatten(name="flatten")(x)
    return functional_model(inputs, {"probs": _head(x, num_classes, dense_units)}, "soundnet_cnn")


@register_model(
    name="soundnet_rnn",
    family="soundnet",
    input_kind="waveform",
    default_input_shape=(30000, 1),
    attention=("rnn", "self"),
    description="""
        The SoundNet front end turns the raw samples into a short sequence (about
        13 steps for 1.4 s of audio) of learned pattern vectors; two LSTMs then
        read it in order. With attention you see which part of the clip the
        decision rests on.""",
    source="""SoundNet front (Aytar et al., NeurIPS 2016) with a recurrent back end
        (conv2 at stride 4, last conv dropped).""",
)
def build_soundnet_rnn(
    input_shape: tuple[int, ...],
    num_classes: int,
    *,
    attention: str | None = None,
    units: int = 256,
    dense_units: tuple[int, ...] = (512, 128),
    heads: int = 4,
) -> keras.Model:
    """SoundNet front (conv2 stride 4, no 1024 conv) -> LSTM 256 -> LSTM 256 -> Dense 512 -> 128 -> softmax.

    Adaptation: the padding of :func:`build_soundnet_cnn` (same-padded
    convolutions, valid pools), which gives a 13-step sequence.

    Parameters
    ----------
    input_shape : tuple [shape=(n_samples, 1)]
        Default (30000, 1) -> a 13-step sequence of 512 features.
    num_classes : int
    attention : {None, 'rnn', 'self'}
        Pooling of the second LSTM's steps (``attn_rnn`` / ``attn_self``).
    units, heads : int
    dense_units : tuple of int

    Returns
    -------
    keras.Model
        Outputs ``{"probs": (batch, num_classes)}``.
    """
    positive_int("units", units)
    plan = list(_FRONT[:-1])
    plan[2] = (32, 32, 4)
    inputs = keras.Input(shape=input_shape, name="waveform")  # (batch, samples, 1)
    seq = _front(inputs, plan)  # (batch, 13, 512) for 30000 samples
    x = recurrent_head(seq, units=units, n_layers=2, attention=attention, heads=heads)
    return functional_model(inputs, {"probs": _head(x, num_classes, dense_units)}, "soundnet_rnn")
