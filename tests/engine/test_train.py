"""Training on the synthetic dataset: every architecture round-trips, stop requests, progress, devices."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from audioclf.audio.augment import AUGMENT_PRESETS
from audioclf.datasets import SyntheticConfig, make_synthetic_dataset
from audioclf.engine.bundle import load_bundle
from audioclf.engine.config import ProgressEvent, StopToken, TrainConfig, class_weights
from audioclf.engine.evaluate import evaluate_bundle
from audioclf.engine.inference import predict
from audioclf.engine.recipes import default_pipeline
from audioclf.engine.train import train
from audioclf.errors import DatasetError, ModelError, ParameterError
from audioclf.models import list_models

SR = 16000
#: Small builder options so that one epoch of each architecture takes a second or two.
TINY = {
    "feature_mlp": {"units": (16,)},
    "feature_cnn2d": {"filters": (4, 4), "dense_units": (8, 8)},
    "lstm": {"units": 8, "dense_units": 8},
    "cldnn": {"filters": (4,), "units": 8, "dense_units": 8},
    "jae": {"filters": (4, 4), "latent_dim": 8, "classifier_units": (8, 8)},
    "soundnet_cnn": {"dense_units": (8,)},
    "soundnet_rnn": {"units": 8, "dense_units": (8,)},
    "sfc_dcnn": {"filters": (4,) * 6, "dense_units": (8,)},
    "mfc_dcnn": {"filters": (4,) * 8, "dense_units": (8,)},
    "subspectralnet": {"filters": (4, 4), "fc_units": 8, "global_units": 8},
    "crnn_resnet": {"units": 8, "dense_units": 8},
    "mobilenet_v2": {"alpha": 0.35},
    "head_linear": {},
    "head_mlp": {"units": 8},
}
SHAPES = {"spectrogram": (32, 32, 1), "multichannel": (32, 32, 4), "waveform": (8000, 1), "summary": None}


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    root = tmp_path_factory.mktemp("synthetic")
    config = SyntheticConfig(clips_per_class=4, classes=("tone", "clicks", "chirp"), sr=SR, max_duration=1.2)
    return make_synthetic_dataset(root, config=config)


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("features")


def _pipeline(name: str):
    kind = next(s.input_kind for s in list_models() if s.name == name)
    if kind == "embedding":
        return default_pipeline(name, backbone="speech")  # the small backbone
    shape = (40, 32, 1) if name == "subspectralnet" else SHAPES[kind]
    return default_pipeline(name, sr=SR, input_shape=shape)


def _saved_groups(bundle_dir) -> list[str]:
    """The top-level groups of a bundle's Keras weights file (``optimizer`` among them if it was saved)."""
    import io
    import zipfile

    import h5py

    with zipfile.ZipFile(bundle_dir / "model.keras") as zf, \
            h5py.File(io.BytesIO(zf.read("model.weights.h5")), "r") as h5:
        return sorted(h5.keys())


def test_every_architecture_has_tiny_options():
    assert set(TINY) == {s.name for s in list_models()}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(TINY))
def test_train_evaluate_predict_round_trip(name, synthetic, cache, tmp_path):
    spec = next(s for s in list_models() if s.name == name)
    attention = spec.attention[0] if spec.attention else None
    config = TrainConfig(model=name, model_options=TINY[name], attention=attention, epochs=1, batch_size=8,
                         split="fold:2", augment=AUGMENT_PRESETS["standard"])
    result = train(synthetic, config=config, pipeline=_pipeline(name), out=tmp_path / name, cache=cache,
                   workers=1)
    assert result.epochs_run == 1 and 0.0 <= result.accuracy <= 1.0
    bundle = load_bundle(tmp_path / name)
    assert bundle.architecture == name and bundle.attention == attention
    assert bundle.description["training"]["split"] == "fold:2"
    assert _saved_groups(tmp_path / name) == ["layers", "vars"]  # the weights without the optimizer's state
    clip = synthetic.clips[0].path
    pred = predict(bundle, clip)
    assert pred.window_probs.shape[1] == 3 and np.all(np.isfinite(pred.window_probs))
    if attention:
        assert pred.attention and all(len(a.values) == len(pred.window_probs) for a in pred.attention.values())
    if name == "jae":
        assert pred.extras["reconstruction"].shape == pred.inputs.shape
    if name == "subspectralnet":
        assert pred.extras["sub_probs"].shape[0] == len(pred.window_probs)
    val = synthetic.filter(folds=[2])
    ev = evaluate_bundle(bundle, val, cache=cache, workers=1)
    # The bundle alone reproduces the validation score of training.
    assert ev.accuracy == pytest.approx(result.accuracy)
    assert ev.confusion.sum() == len(val)


@pytest.mark.slow
def test_progress_events_and_stop_request_keep_a_loadable_bundle(synthetic, cache, tmp_path):
    token = StopToken()
    events: list[ProgressEvent] = []

    def on_progress(ev: ProgressEvent) -> None:
        events.append(ev)
        if ev.kind == "batch" and ev.epoch == 2 and ev.batch == 1:
            token.request()  # as the app's Stop button would, mid-epoch

    config = TrainConfig(model="sfc_dcnn", model_options=TINY["sfc_dcnn"], epochs=20, batch_size=8, split="fold:2")
    result = train(synthetic, config=config, pipeline=_pipeline("sfc_dcnn"), out=tmp_path / "stopped",
                   cache=cache, workers=1, progress=on_progress, stop=token)
    assert result.stopped and result.epochs_run == 2
    batches_in_epoch_2 = [e for e in events if e.kind == "batch" and e.epoch == 2]
    assert len(batches_in_epoch_2) == 1  # honoured between batches
    phases = [e.phase for e in events if e.kind == "phase"]
    assert phases[0] == "split" and "features" in phases and phases[-1] == "done"
    epoch_events = [e for e in events if e.kind == "epoch"]
    assert all(np.isfinite(e.val_loss) and 0 <= e.val_clip_accuracy <= 1 for e in epoch_events)
    assert all(e.eta >= 0 for e in events if e.kind == "batch" and e.batch > 1)
    bundle = load_bundle(tmp_path / "stopped")
    assert bundle.description["training"]["stopped"] is True
    # the kept weights are those of the best epoch so far
    assert result.best_epoch in (1, 2)


@pytest.mark.slow
def test_stop_before_training_still_saves(synthetic, cache, tmp_path):
    token = StopToken()
    token.request()
    config = TrainConfig(model="feature_mlp", model_options=TINY["feature_mlp"], epochs=3, split="fold:2")
    result = train(synthetic, config=config, pipeline=_pipeline("feature_mlp"), out=tmp_path / "early",
                   cache=cache, workers=1, stop=token)
    assert result.stopped and result.epochs_run == 0
    assert load_bundle(tmp_path / "early").classes == synthetic.classes


@pytest.mark.slow
def test_same_seed_same_result_and_options_reach_the_bundle(synthetic, cache, tmp_path):
    config = TrainConfig(model="feature_mlp", model_options=TINY["feature_mlp"], epochs=3, batch_size=8,
                         split="ratio:0.25", seed=7, class_weight="balanced", augment=AUGMENT_PRESETS["light"],
                         patience=5, keep="best", warmup_epochs=1)
    a = train(synthetic, config=config, pipeline=_pipeline("feature_mlp"), cache=cache, workers=1)
    b = train(synthetic, config=config, pipeline=_pipeline("feature_mlp"), out=tmp_path / "b", cache=cache,
              workers=1, checkpoint=tmp_path / "best.keras")
    assert [h["loss"] for h in a.history] == pytest.approx([h["loss"] for h in b.history], rel=1e-5)
    saved = load_bundle(tmp_path / "b").description["training"]
    assert saved["config"]["class_weight"] == "balanced" and saved["config"]["seed"] == 7
    assert saved["train"]["clips"] + saved["val"]["clips"] == len(synthetic)
    from audioclf.models import load_model_file

    assert load_model_file(tmp_path / "best.keras").name == "feature_mlp"  # the best-epoch checkpoint


def test_training_input_errors(synthetic, cache):
    with pytest.raises(ModelError, match="unknown model"):
        train(synthetic, config=TrainConfig(model="nope"), cache=cache)
    with pytest.raises(ModelError, match="reads summary inputs"):
        train(synthetic, config=TrainConfig(model="feature_mlp"), pipeline=_pipeline("sfc_dcnn"), cache=cache)
    with pytest.raises(DatasetError, match="no fold 9"):
        train(synthetic, config=TrainConfig(model="feature_mlp", split="fold:9"), pipeline=_pipeline("feature_mlp"),
              cache=cache)
    with pytest.raises(ParameterError, match="epochs"):
        TrainConfig(epochs=0)
    with pytest.raises(ParameterError, match="class_weight"):
        TrainConfig(class_weight="inverse")


def test_train_config_round_trip():
    cfg = TrainConfig(model="cldnn", attention="rnn", augment=AUGMENT_PRESETS["strong"], patience=3)
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg


def test_balanced_class_weights():
    w = class_weights(np.array([0, 0, 0, 1]), 3)
    np.testing.assert_allclose(w, [4 / 9, 4 / 3, 0.0])


def test_device_report_and_mixed_precision_on_cpu():
    import keras

    from audioclf.engine.backend import precision_policy
    from audioclf.engine.device import device_info

    info = device_info()
    assert info.backend == keras.backend.backend() and info.kind in ("cpu", "gpu")
    if info.kind == "cpu":
        with pytest.warns(UserWarning, match="needs a GPU"), precision_policy("mixed") as dev:
            assert dev.policy == "float32"
    else:  # pragma: no cover - CI has no GPU
        with warnings.catch_warnings(), precision_policy("mixed") as dev:
            assert dev.policy == "mixed_float16"
    assert keras.mixed_precision.global_policy().name == "float32"


@pytest.mark.realdata
@pytest.mark.slow
def test_tiny_fsdd_model_beats_chance(real_data, tmp_path):
    from audioclf.datasets import load_dataset
    from audioclf.features import FeatureConfig

    fsdd = real_data / "fsdd"
    if not fsdd.is_dir():
        pytest.skip(f"FSDD not found in {real_data}")
    ds = load_dataset(fsdd).filter(groups=["george", "jackson"])
    pipeline = default_pipeline("lstm", sr=8000, input_shape=(32, 32, 1),
                                features=FeatureConfig(n_fft=512, hop_length=128, n_mels=32, n_mfcc=20))
    config = TrainConfig(model="lstm", model_options={"units": 32, "dense_units": 32}, epochs=3, batch_size=32,
                         learning_rate=3e-3, split="split:test")
    result = train(ds, config=config, pipeline=pipeline, cache=tmp_path / "cache")
    assert result.summary["val"]["clips"] == 100
    assert result.accuracy > 0.3  # chance is 0.1


def test_early_stopping_restores_the_best_weights():
    import keras

    from audioclf.engine._fit import Monitor
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    losses = iter([1.0, 0.5, 0.7, 0.8, 0.3])
    mon = Monitor(emit=lambda *a, **k: None, stop=None, val_x=np.zeros((2, 2)), val_labels=np.zeros(2, int),
                  val_clip_index=np.zeros(2, int), epochs=5, steps=1, patience=2, monitor="val_loss", keep="last",
                  checkpoint=None, vote="mean")
    mon.validate = lambda: {"val_loss": next(losses), "val_accuracy": 0.5, "val_clip_accuracy": 0.5}
    mon.set_model(model)
    for epoch in range(4):
        model.set_weights([np.full((2, 1), float(epoch)), np.zeros(1)])  # "training" moves the weights
        mon.on_epoch_end(epoch)
        if getattr(model, "stop_training", False):
            break
    assert mon.early_stopped and epoch == 3 and mon.best_epoch == 2
    mon.on_train_end()
    np.testing.assert_array_equal(model.get_weights()[0], np.full((2, 1), 1.0))  # epoch 2's weights


@pytest.mark.slow
def test_recorded_clips_are_named_by_their_dataset_path_so_each_plays_its_own_audio(tmp_path):
    """Recorded datasets name every class's files 000.wav, 001.wav ...: evaluation names (which the Train page
    looks up to play a misclassified clip) must tell them apart and lead back to the clip's own recording."""
    from audioclf.audio import synth
    from audioclf.audio.io import load_audio, to_wav_bytes
    from audioclf.datasets import clip_id, dataset_from_recordings

    recordings = {"low": [to_wav_bytes(synth.tone(220.0 * (i + 1), 1.0, SR), SR) for i in range(3)],
                  "high": [to_wav_bytes(synth.noise(1.0, SR, rng=i), SR) for i in range(3)]}
    ds = dataset_from_recordings(tmp_path / "rec", recordings, sr=SR)
    assert sorted(c.path.name for c in ds.clips).count("000.wav") == 2  # the trap: one name per class
    config = TrainConfig(model="feature_mlp", model_options=TINY["feature_mlp"], epochs=1, split="none")
    result = train(ds, config=config, pipeline=_pipeline("feature_mlp"), cache=False, workers=1)
    names = result.evaluation.clip_names
    assert sorted(names) == sorted(f"{label}/{i:03d}.wav" for label in recordings for i in range(3))
    paths = {clip_id(c, ds.root): c.path for c in ds.clips}  # what the Train page plays
    for k, name in enumerate(names):
        label, index = name.split("/")[0], int(name.split("/")[1][:3])
        played, _ = load_audio(paths[name], sr=SR)
        own, _ = load_audio(recordings[label][index], sr=SR)
        np.testing.assert_allclose(played, own, atol=1e-4)
        assert result.evaluation.labels[result.evaluation.clip_true[k]] == label
