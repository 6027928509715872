"""The pipeline description, normalisation, augmentation and the scores (no model training).

The stages a clip goes through are tested in ``test_inputs.py``, the dataset extraction and its cache in
``test_extract.py``."""

from __future__ import annotations

import json

import numpy as np
import pytest

from audioclf.audio import synth
from audioclf.audio.augment import AUGMENT_PRESETS, AugmentConfig, augment_batch
from audioclf.audio.preprocess import PreprocessConfig, SplitConfig
from audioclf.audio.windowing import WindowConfig
from audioclf.engine.inputs import clip_inputs
from audioclf.engine.metrics import clip_probabilities, score
from audioclf.engine.pipeline import PipelineConfig
from audioclf.engine.recipes import default_pipeline
from audioclf.errors import ParameterError
from audioclf.features import FeatureConfig
from audioclf.features.normalization import NormStats, fit_stats
from tests.engine.conftest import SR, spec_config

# --- PipelineConfig ----------------------------------------------------------------------------


def test_config_round_trip_through_json():
    cfg = spec_config(preprocess=PreprocessConfig(split=SplitConfig(top_db=25)))
    again = PipelineConfig.from_dict(json.loads(json.dumps(cfg.to_dict())))
    assert again == cfg
    assert again.cache_key() == cfg.cache_key()


@pytest.mark.parametrize("changes, message", [
    ({"window": WindowConfig(length=20, hop=10)}, "window.length=20"),
    ({"channels": ("mel", "mfcc")}, "one channel"),
    ({"channels": ("nope",)}, "unknown channel"),
    ({"input_kind": "picture"}, "input_kind"),
    ({"input_shape": (32, 16)}, r"\(freq, time, channels\)"),
    ({"normalize": "minmax"}, "normalize"),
    ({"center": "freq"}, "center='freq' must be one of none, time"),
    ({"sr": 0}, "sr=0"),
])
def test_config_refuses_inconsistent_settings(changes, message):
    with pytest.raises(ParameterError, match=message):
        spec_config(**changes)


def test_from_dict_reports_missing_keys():
    d = spec_config().to_dict()
    del d["window"]
    with pytest.raises(ParameterError, match="lacks window"):
        PipelineConfig.from_dict(d)


def test_cache_key_changes_with_every_input_parameter_but_not_normalize():
    cfg = spec_config()
    assert spec_config(features=FeatureConfig(n_fft=512, hop_length=256, n_mels=32, n_mfcc=20, fmin=20.0)).cache_key() \
        != cfg.cache_key()
    assert spec_config(window=WindowConfig(length=16, hop=4)).cache_key() != cfg.cache_key()
    assert spec_config(normalize="none").cache_key() == cfg.cache_key()
    assert spec_config(center="time").cache_key() != cfg.cache_key()


def test_center_time_removes_each_bands_mean_and_keeps_changes(rng):
    y = np.concatenate([synth.tone(300.0, 0.5, SR), synth.tone(900.0, 0.5, SR)]) + synth.noise(1.0, SR, amp=0.01, rng=1)
    plain = clip_inputs(y.astype(np.float32), SR, config=spec_config())
    centred = clip_inputs(y.astype(np.float32), SR, config=spec_config(center="time"))
    np.testing.assert_allclose(centred.x.mean(axis=2), 0.0, atol=1e-3)  # every (window, band) averages to 0
    np.testing.assert_allclose(centred.x, plain.x - plain.x.mean(axis=2, keepdims=True), atol=1e-4)
    assert centred.x.std() > 1.0  # the change from 300 to 900 Hz is kept
    again = PipelineConfig.from_dict(json.loads(json.dumps(spec_config(center="time").to_dict())))
    assert again.center == "time"
    legacy = spec_config().to_dict()
    del legacy["center"]  # bundles saved before the option existed
    assert PipelineConfig.from_dict(legacy).center == "none"


def test_default_pipelines_fit_their_models():
    assert default_pipeline("subspectralnet").features.n_mels == 40
    mfc = default_pipeline("mfc_dcnn")
    assert mfc.channels == ("mfcc", "gfcc", "cqt", "chroma_stft") and mfc.input_shape == (128, 128, 4)
    wave = default_pipeline("soundnet_cnn", sr=8000)
    assert wave.input_shape == (30000, 1) and wave.window.length == 30000
    assert default_pipeline("feature_mlp").input_shape == (220,)
    small = default_pipeline("sfc_dcnn", input_shape=(64, 48, 1), overlap=0.0)
    assert small.features.n_mels == 64 and small.window == WindowConfig(length=48, hop=48)


def test_norm_stats_per_channel_and_validation():
    rng = np.random.default_rng(0)
    x = rng.normal([1.0, -5.0], [2.0, 0.5], size=(50, 4, 3, 2)).astype(np.float32)
    stats = fit_stats(x, input_kind="multichannel")
    z = stats.apply(x)
    np.testing.assert_allclose(z.mean(axis=(0, 1, 2)), 0.0, atol=1e-5)
    np.testing.assert_allclose(z.std(axis=(0, 1, 2)), 1.0, atol=1e-4)
    again = NormStats.from_dict(stats.to_dict(), input_shape=(4, 3, 2))
    np.testing.assert_allclose(again.mean, stats.mean)
    with pytest.raises(ParameterError, match="do not fit"):
        NormStats.from_dict(stats.to_dict(), input_shape=(4, 3, 3))
    with pytest.raises(ParameterError, match="positive std"):
        NormStats.from_dict({"mean": [0.0], "std": [0.0]}, input_shape=(4, 3, 1))


# --- augmentation --------------------------------------------------------------------------------


def test_augmentation_keeps_shapes_and_label_mass(rng):
    x = rng.normal(size=(8, 16, 20, 1)).astype(np.float32)
    y = np.eye(4, dtype=np.float32)[rng.integers(0, 4, 8)]
    seen, target, mixed = augment_batch(x, y, config=AUGMENT_PRESETS["strong"], input_kind="spectrogram", rng=rng)
    assert seen.shape == x.shape and target.shape == x.shape
    np.testing.assert_allclose(mixed.sum(axis=1), 1.0, rtol=1e-6)
    assert not np.array_equal(seen, target)  # noise and masks corrupt only what the model sees


def test_spec_augment_masks_whole_stripes(rng):
    x = np.ones((2, 10, 30, 1), np.float32)
    cfg = AugmentConfig(time_masks=1, time_mask_width=0.2)
    seen, _, _ = augment_batch(x, np.eye(2, dtype=np.float32), config=cfg, input_kind="spectrogram", rng=rng)
    masked_frames = np.all(seen == 0.0, axis=(1, 3))  # (batch, time): whole columns
    assert np.all(masked_frames.sum(axis=1) >= 1) and np.all(masked_frames.sum(axis=1) <= 6)


def test_freq_warp_moves_a_harmonic_by_the_factor_and_keeps_the_floor(rng):
    x = np.zeros((64, 40, 12, 1), np.float32)
    x[:, 10, :, 0] = 1.0  # one horizontal line at bin 10
    seen, target, _ = augment_batch(x, np.eye(64, dtype=np.float32)[:, :2], config=AugmentConfig(freq_warp=0.3),
                                    input_kind="spectrogram", rng=rng)
    np.testing.assert_array_equal(seen, target)  # a warp changes the sound itself, as the shift does
    centre = (seen[:, :, 0, 0] * np.arange(40)).sum(axis=1) / seen[:, :, 0, 0].sum(axis=1)
    assert centre.min() >= 10 * 0.7 - 1 and centre.max() <= 10 * 1.3 + 1
    assert centre.max() - centre.min() > 3  # the factors really vary
    np.testing.assert_array_equal(seen[:, :, :, 0], seen[:, :, :1, 0].repeat(12, axis=2))  # time untouched
    assert seen[:, 0].max() == 0.0 and seen[:, 25:].max() == 0.0


def test_time_stretch_keeps_periodic_structure_and_range(rng):
    t = np.arange(48)
    x = np.broadcast_to(np.sin(2 * np.pi * t / 12.0).astype(np.float32), (16, 4, 48))[..., None].copy()
    seen, _, _ = augment_batch(x, np.eye(16, dtype=np.float32)[:, :2], config=AugmentConfig(time_stretch=0.2),
                               input_kind="spectrogram", rng=rng)
    assert seen.min() >= -1.0 and seen.max() <= 1.0 and np.isfinite(seen).all()
    periods = []
    for row in seen[:, 0, :, 0]:
        up = np.flatnonzero((row[:-1] < 0) & (row[1:] >= 0))  # rising zero crossings
        periods.append(np.median(np.diff(up)))
    assert 12 * 0.8 - 1 <= min(periods) and max(periods) <= 12 * 1.2 + 1 and max(periods) > min(periods)
    same, _, _ = augment_batch(x[:, :1], np.eye(16, dtype=np.float32)[:, :2], config=AugmentConfig(freq_warp=0.2),
                               input_kind="waveform", rng=rng)
    np.testing.assert_array_equal(same, x[:, :1])  # warps apply to spectrogram inputs only


def test_filter_augment_adds_one_bounded_piecewise_linear_curve_per_window(rng):
    x = rng.normal(size=(32, 24, 10, 2)).astype(np.float32)
    seen, target, _ = augment_batch(x, np.eye(32, dtype=np.float32)[:, :2], config=AugmentConfig(filter_gain=0.7),
                                    input_kind="multichannel", rng=rng)
    np.testing.assert_array_equal(seen, target)  # an equaliser changes the sound itself, as a warp does
    curve = seen - x
    # the same gain at every frame and in every plane: a colouring, not noise
    np.testing.assert_allclose(curve, curve[:, :, :1, :1].repeat(10, axis=2).repeat(2, axis=3), atol=1e-5)
    c = curve[:, :, 0, 0]
    assert np.abs(c).max() <= 0.7 + 1e-5 and np.abs(c).max() > 0.3
    # piecewise linear through at most 6 knots: at most 4 bends inside
    bends = (np.abs(np.diff(c, n=2, axis=1)) > 1e-4).sum(axis=1)
    assert bends.max() <= 8 and np.ptp(c, axis=1).min() > 0  # (a knot between bins bends two steps)
    assert len({tuple(np.round(row, 3)) for row in c}) == 32  # every window its own curve
    same, _, _ = augment_batch(x[:, :, 0, :1], np.eye(32, dtype=np.float32)[:, :2],
                               config=AugmentConfig(filter_gain=0.7), input_kind="waveform", rng=rng)
    np.testing.assert_array_equal(same, x[:, :, 0, :1])  # waveforms have no frequency axis


def test_band_limit_cuts_the_edges_steeply_down_to_the_window_floor(rng):
    x = rng.normal(size=(400, 40, 8, 1)).astype(np.float32)
    seen, target, _ = augment_batch(x, np.eye(2, dtype=np.float32)[rng.integers(0, 2, 400)],
                                    config=AugmentConfig(band_limit=0.25), input_kind="spectrogram", rng=rng)
    np.testing.assert_array_equal(seen, target)  # a recording chain, like the equaliser: part of the sound
    drop = x - seen
    assert (drop >= -1e-6).all()  # only ever attenuates
    floor = x.min(axis=(1, 2), keepdims=True)
    assert (seen >= floor - 1e-6).all()  # never below the window's quietest value
    np.testing.assert_array_equal(seen[:, 11:29], x[:, 11:29])  # the middle half is untouched (edges reach 10 bins)
    low, high = (drop[:, :10] > 1e-6).any(axis=(1, 2, 3)), (drop[:, 30:] > 1e-6).any(axis=(1, 2, 3))
    # each edge is cut in about half the windows, independently of the other
    assert 0.35 < low.mean() < 0.65 and 0.35 < high.mean() < 0.65 and 0.1 < (low & high).mean() < 0.4
    # a cut deepens towards the edge: the outermost bin loses at least as much as its neighbour (before the floor)
    cut = np.flatnonzero(low)[0]
    assert drop[cut, 0].mean() >= drop[cut, 1].mean() - 1e-6 and drop[cut, 0].mean() > 0
    same, _, _ = augment_batch(x[:, :, 0], np.eye(2, dtype=np.float32)[np.zeros(400, int)],
                               config=AugmentConfig(band_limit=0.25), input_kind="waveform", rng=rng)
    np.testing.assert_array_equal(same, x[:, :, 0])  # waveforms have no frequency axis


def test_augment_config_validation():
    with pytest.raises(ParameterError, match="filter_gain"):
        AugmentConfig(filter_gain=-1.0)
    with pytest.raises(ParameterError, match="band_limit"):
        AugmentConfig(band_limit=0.6)
    with pytest.raises(ParameterError, match="freq_warp"):
        AugmentConfig(freq_warp=0.9)
    with pytest.raises(ParameterError, match="time_shift"):
        AugmentConfig(time_shift=2.0)
    with pytest.raises(ParameterError, match="unknown augmentation"):
        AugmentConfig.from_dict({"pitch": 1})


# --- scores --------------------------------------------------------------------------------------


def test_scores_match_scikit_learn(rng):
    metrics = pytest.importorskip("sklearn.metrics")
    n_clips, n_classes = 40, 4
    windows_per_clip = rng.integers(1, 5, n_clips)
    clip_index = np.repeat(np.arange(n_clips), windows_per_clip)
    truth = rng.integers(0, n_classes, n_clips)
    probs = rng.dirichlet(np.ones(n_classes), size=len(clip_index))
    probs[np.arange(len(clip_index)), truth[clip_index]] += rng.uniform(0, 0.6, len(clip_index))
    ev = score(probs, truth[clip_index], clip_index, labels=("a", "b", "c", "d"))
    pred = clip_probabilities(probs, clip_index, n_clips).argmax(axis=1)
    assert ev.accuracy == pytest.approx(metrics.accuracy_score(truth, pred))
    np.testing.assert_array_equal(ev.confusion, metrics.confusion_matrix(truth, pred, labels=range(4)))
    p, r, f, s = metrics.precision_recall_fscore_support(truth, pred, labels=range(4), zero_division=0)
    np.testing.assert_allclose(ev.precision, p)
    np.testing.assert_allclose(ev.recall, r)
    np.testing.assert_allclose(ev.f1, f)
    assert ev.window_accuracy == pytest.approx(np.mean(probs.argmax(1) == truth[clip_index]))
    d = ev.to_dict()
    assert set(d) >= {"accuracy", "per_class", "confusion", "labels", "misclassified"}
    assert len(d["misclassified"]) == int(np.sum(pred != truth))


def test_majority_vote_differs_from_mean_when_one_window_is_sure():
    probs = np.array([[0.99, 0.01], [0.4, 0.6], [0.4, 0.6]])
    clip_index = np.zeros(3, int)
    assert score(probs, np.zeros(3, int), clip_index, labels=("a", "b")).accuracy == 1.0
    assert score(probs, np.zeros(3, int), clip_index, labels=("a", "b"), vote="majority").accuracy == 0.0
