"""Tests of the custom layers and loss of audioclf.models: known answers,
argument checks, config round trips and save/load with safe_mode=True."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from audioclf.models import AdditiveTimeAttention, FrequencyBand, SubbandCrossentropy, load_model_file


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def _np(t):
    return keras.ops.convert_to_numpy(t)


def _softmax(z, axis=-1):
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


# ------------------------------------------------------- AdditiveTimeAttention


@pytest.mark.parametrize("units", [None, 5])
def test_additive_attention_matches_numpy(rng, units):
    x = rng.normal(size=(3, 7, 4)).astype("float32")
    layer = AdditiveTimeAttention(units=units)
    context, weights = layer(x, return_attention_scores=True)
    kernel, bias = _np(layer.kernel), _np(layer.bias)
    scores = np.tanh(x @ kernel + bias)
    if units is not None:
        scores = scores @ _np(layer.context)
    expected_w = _softmax(scores[..., 0], axis=1)  # (batch, time)
    np.testing.assert_allclose(_np(weights), expected_w, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(_np(context), np.einsum("bt,btd->bd", expected_w, x), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(_np(weights).sum(-1), 1.0, rtol=1e-6)


def test_additive_attention_equal_steps_give_uniform_weights():
    x = np.tile(np.arange(3, dtype="float32"), (2, 5, 1))  # every step identical
    context, weights = AdditiveTimeAttention()(x, return_attention_scores=True)
    np.testing.assert_allclose(_np(weights), 0.2, rtol=1e-6)
    np.testing.assert_allclose(_np(context), x[:, 0], rtol=1e-6)


def test_additive_attention_mask_zeroes_weights(rng):
    x = rng.normal(size=(2, 4, 3)).astype("float32")
    mask = np.array([[True, True, False, False], [True, True, True, True]])
    _, weights = AdditiveTimeAttention()(x, mask=mask, return_attention_scores=True)
    w = _np(weights)
    assert np.all(w[0, 2:] < 1e-6)
    np.testing.assert_allclose(w.sum(-1), 1.0, rtol=1e-6)


def test_additive_attention_returns_only_context_by_default(rng):
    out = AdditiveTimeAttention()(rng.normal(size=(2, 4, 3)).astype("float32"))
    assert tuple(out.shape) == (2, 3)
    sym = AdditiveTimeAttention()(keras.Input((9, 6)), return_attention_scores=True)
    assert [tuple(t.shape) for t in sym] == [(None, 6), (None, 9)]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"units": 0}, "units=0 must be a positive integer"), ({"units": 2.5}, "units=2.5"),
     ({"use_bias": "yes"}, "use_bias='yes'")],
)
def test_additive_attention_checks_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        AdditiveTimeAttention(**kwargs)


def test_additive_attention_rejects_wrong_rank():
    with pytest.raises(ValueError, match=r"\(batch, time, features\)"):
        AdditiveTimeAttention()(keras.Input((4,)))


# ---------------------------------------------------------------- FrequencyBand


def test_frequency_band_slices_exactly(rng):
    x = rng.normal(size=(2, 40, 6, 1)).astype("float32")
    np.testing.assert_array_equal(_np(FrequencyBand(start=10, size=20)(x)), x[:, 10:30])
    np.testing.assert_array_equal(_np(FrequencyBand(start=2, size=3, axis=2)(x)), x[:, :, 2:5])
    np.testing.assert_array_equal(_np(FrequencyBand(start=0, size=1, axis=-1)(x)), x[..., 0:1])


def test_frequency_band_symbolic_shape():
    assert tuple(FrequencyBand(start=4, size=8)(keras.Input((40, 128, 1))).shape) == (None, 8, 128, 1)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"start": -1, "size": 2}, "start=-1 must be a non-negative integer"),
     ({"start": 0, "size": 0}, "size=0 must be a positive integer"),
     ({"start": 0, "size": 2, "axis": 0}, "axis=0 must be a non-zero integer")],
)
def test_frequency_band_checks_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        FrequencyBand(**kwargs)


def test_frequency_band_must_fit():
    with pytest.raises(ValueError, match=r"band \[30, 50\) does not fit in axis 1 of length 40"):
        FrequencyBand(start=30, size=20)(keras.Input((40, 8, 1)))


# ----------------------------------------------------------- SubbandCrossentropy


def test_subband_crossentropy_sums_bands(rng):
    y = np.eye(4, dtype="float32")[[0, 3]]  # (2, 4)
    p = _softmax(rng.normal(size=(2, 3, 4))).astype("float32")  # (2, bands, classes)
    expected = np.mean(-np.log(p[np.arange(2)[:, None], np.arange(3)[None], [[0], [3]]]).sum(-1))
    assert float(SubbandCrossentropy()(y, p)) == pytest.approx(expected, rel=1e-5)
    # A per-band target gives the same value.
    assert float(SubbandCrossentropy()(np.repeat(y[:, None], 3, 1), p)) == pytest.approx(expected, rel=1e-5)


def test_subband_crossentropy_checks_epsilon():
    with pytest.raises(ValueError, match="epsilon=0"):
        SubbandCrossentropy(epsilon=0)


# ------------------------------------------------------------- serialization


@pytest.mark.parametrize(
    "layer",
    [AdditiveTimeAttention(), AdditiveTimeAttention(units=8, use_bias=False, name="att"),
     FrequencyBand(start=3, size=5, axis=2, name="band")],
    ids=["attention", "attention-units", "band"],
)
def test_layer_config_round_trip(layer):
    config = layer.get_config()
    clone = type(layer).from_config(config)
    assert clone.get_config() == config
    # Every constructor argument is in the config.
    assert set(type(layer).__init__.__code__.co_varnames[1:type(layer).__init__.__code__.co_argcount]) <= set(config)
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert type(restored) is type(layer) and restored.get_config() == config


def test_loss_config_round_trip():
    loss = SubbandCrossentropy(epsilon=1e-5, name="sub")
    clone = SubbandCrossentropy.from_config(loss.get_config())
    assert clone.get_config() == loss.get_config()


def test_layers_save_and_load_with_safe_mode(tmp_path, rng):
    inp = keras.Input((40, 10, 1))
    band = FrequencyBand(start=5, size=20, name="band")(inp)  # (batch, 20, 10, 1)
    seq = keras.layers.Reshape((20, 10))(band)
    context, weights = AdditiveTimeAttention(units=4, name="attn_rnn")(seq, return_attention_scores=True)
    model = keras.Model(inp, {"probs": keras.layers.Dense(3, activation="softmax", name="probs")(context)})
    x = rng.normal(size=(2, 40, 10, 1)).astype("float32")
    path = tmp_path / "layers.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_allclose(loaded.predict_on_batch(x)["probs"], model.predict_on_batch(x)["probs"], rtol=1e-6)
    again = load_model_file(path)
    assert again.get_layer("attn_rnn").get_config() == model.get_layer("attn_rnn").get_config()
