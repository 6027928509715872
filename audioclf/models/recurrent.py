"""Recurrent models on spectrograms: a plain LSTM and the CLDNN.

Both read the spectrogram as a sequence of frames (time-major) and can pool
the sequence with additive attention (``"rnn"``) or multi-head self-attention
(``"self"``), whose weights :func:`audioclf.models.readout` reads out.
"""

from __future__ import annotations

import keras
from keras import layers

from ._blocks import fit_pool, fraction, functional_model, positive_int, probs_layer, recurrent_head, to_time_major
from ._registry import register_model

__all__ = ["build_lstm", "build_cldnn"]


@register_model(
    name="lstm",
    family="recurrent",
    input_kind="spectrogram",
    default_input_shape=(128, 128, 1),
    attention=("rnn", "self"),
    description="""
        Reads the spectrogram one frame at a time, left to right, like listening:
        each step is the 128 frequency values of one moment, and an LSTM memory
        carries what it heard so far. Good for sounds defined by how they unfold
        (a door knock, speech rhythm). With attention it learns which moments
        matter most, and you can see them.""",
    source="""LSTM classifier on spectrogram frames (Hochreiter & Schmidhuber 1997);
        additive attention after Bahdanau et al. 2015, self-attention after Vaswani et al. 2017.""",
)
def build_lstm(
    input_shape: tuple[int, ...],
    num_classes: int,
    *,
    attention: str | None = None,
    units: int = 256,
    dense_units: int = 64,
    heads: int = 4,
) -> keras.Model:
    """Spectrogram frames (time-major) -> LSTM 256 -> Dense 64 -> softmax.

    Parameters
    ----------
    input_shape : tuple [shape=(freq, time, 1)]
        Default (128, 128, 1); each of the ``time`` steps has ``freq`` features.
    num_classes : int
    attention : {None, 'rnn', 'self'}
        ``'rnn'``: the LSTM returns every step, pooled by additive attention
        (``attn_rnn``, weights (batch, time)). ``'self'``: multi-head
        self-attention over the steps (``attn_self``, (batch, heads, time, time)).
    units, dense_units, heads : int

    Returns
    -------
    keras.Model
        Outputs ``{"probs": (batch, num_classes)}``.
    """
    positive_int("units", units)
    positive_int("dense_units", dense_units)
    positive_int("heads", heads)
    f, t, _ = input_shape
    inputs = keras.Input(shape=input_shape, name="spectrogram")  # (batch, freq, time, 1)
    x = layers.Reshape((f, t), name="drop_channel")(inputs)  # (batch, freq, time)
    x = layers.Permute((2, 1), name="to_time_major")(x)  # (batch, time, freq)
    x = recurrent_head(x, units=units, attention=attention, heads=heads)
    x = layers.Dense(dense_units, activation="relu", name="dense")(x)
    return functional_model(inputs, {"probs": probs_layer(num_classes)(x)}, "lstm")


@register_model(
    name="cldnn",
    family="recurrent",
    input_kind="spectrogram",
    default_input_shape=(128, 128, 1),
    attention=("rnn", "self"),
    description="""
        Convolutions first find small local patterns (a short rising tone, a click,
        a harmonic), pooling shrinks the frequency axis much more than the time
        axis, then two LSTMs read the resulting sequence of pattern vectors over
        time and fully connected layers decide. It combines what CNNs are good at
        (shape in the spectrogram) with what RNNs are good at (order in time).""",
    source="""T. N. Sainath, O. Vinyals, A. Senior, H. Sak, "Convolutional, Long
        Short-Term Memory, fully connected Deep Neural Networks", ICASSP 2015.""",
)
def build_cldnn(
    input_shape: tuple[int, ...],
    num_classes: int,
    *,
    attention: str | None = None,
    filters: tuple[int, ...] = (32, 32, 64),
    freq_pool: int = 4,
    time_pool: int = 2,
    units: int = 128,
    bidirectional: bool = True,
    dense_units: int = 64,
    heads: int = 4,
    dropout: float = 0.0,
) -> keras.Model:
    """Conv blocks ([3x1] then [1x3] kernels) -> time-major sequence -> 2 (Bi)LSTM 128 -> Dense 64 -> softmax.

    Each block: Conv [3x1] along frequency and Conv [1x3] along time (LeakyReLU
    0.01, BatchNorm after each), then a max-pool along frequency
    (``freq_pool x 1``) and one along time (``1 x time_pool``). With the
    defaults a 128 x 128 input becomes 2 x 16 x 64, i.e. a 16-step sequence of
    128 features. Pool sizes are clamped to what is left of an axis, so smaller
    inputs build too.

    Parameters
    ----------
    input_shape : tuple [shape=(freq, time, 1)]
    num_classes : int
    attention : {None, 'rnn', 'self'}
        Pooling of the second LSTM's steps (``attn_rnn`` / ``attn_self``).
    filters : tuple of int
        Filters per conv block.
    freq_pool, time_pool : int
        Pool sizes per block along frequency and time.
    units : int
        LSTM units (per direction).
    bidirectional : bool
        Use bidirectional LSTMs.
    dense_units, heads : int
    dropout : float
        Input dropout of the LSTMs.

    Returns
    -------
    keras.Model
        Outputs ``{"probs": (batch, num_classes)}``.
    """
    for name, value in (("freq_pool", freq_pool), ("time_pool", time_pool), ("units", units),
                        ("dense_units", dense_units), ("heads", heads)):
        positive_int(name, value)
    fraction("dropout", dropout)
    inputs = keras.Input(shape=input_shape, name="spectrogram")  # (batch, freq, time, 1)
    x = inputs
    for i, n in enumerate(filters):
        b = f"b{i + 1}"
        for kernel, axis in (((3, 1), "freq"), ((1, 3), "time")):
            x = layers.Conv2D(positive_int("filters", n), kernel, padding="same", name=f"{b}_conv_{axis}")(x)
            x = layers.LeakyReLU(negative_slope=0.01, name=f"{b}_lrelu_{axis}")(x)
            x = layers.BatchNormalization(name=f"{b}_bn_{axis}")(x)
        x = layers.MaxPooling2D(fit_pool((freq_pool, 1), x.shape[1:3]), name=f"{b}_pool_freq")(x)
        x = layers.MaxPooling2D(fit_pool((1, time_pool), x.shape[1:3]), name=f"{b}_pool_time")(x)
    seq = to_time_major(x)  # (batch, time', freq' * filters)
    x = recurrent_head(seq, units=units, n_layers=2, bidirectional=bidirectional,
                       attention=attention, heads=heads, dropout=dropout)
    x = layers.Dense(dense_units, activation="relu", name="dense")(x)
    return functional_model(inputs, {"probs": probs_layer(num_classes)(x)}, "cldnn")
