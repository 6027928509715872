"""Fine-tuning a backbone's top block with the head: configs, the copied block, the optimizer, bundles."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import keras
import numpy as np
import pytest

from audioclf.audio import synth
from audioclf.backbones import get_backbone, get_top_block
from audioclf.backbones import registry as backbone_registry
from audioclf.cli import main
from audioclf.datasets import SyntheticConfig, make_synthetic_dataset
from audioclf.engine.finetune import TopScaledAdam
from audioclf.engine.inputs import clip_inputs
from audioclf.engine.pipeline import PipelineConfig
from audioclf.engine.recipes import FINE_TUNE_EPOCHS, default_pipeline, make_recipe, transfer_pipeline, transfer_recipe
from audioclf.errors import BackboneError, ParameterError

from ..conftest import run_cli

PRETRAINED = Path(__file__).resolve().parents[2] / "pretrained"


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("AUDIOCLF_CACHE", str(tmp_path_factory.getbasetemp() / "audioclf-cache"))


@pytest.fixture
def no_speech_top(monkeypatch):
    """A registry where ``speech`` has no top block, as a future backbone might not."""
    monkeypatch.setattr(backbone_registry, "TOP_BLOCKS", {"sounds": backbone_registry.TOP_BLOCKS["sounds"]})


def test_fine_tune_pipeline_round_trip_and_checks(no_speech_top):
    pipe = transfer_pipeline("sounds", fine_tune=True)
    assert pipe.fine_tune and pipe.normalize == "none" and pipe.input_shape == (3, 12, 12, 256)
    d = pipe.to_dict()
    assert d["fine_tune"] is True and PipelineConfig.from_dict(json.loads(json.dumps(d))) == pipe
    frozen = transfer_pipeline("sounds")
    assert "fine_tune" not in frozen.to_dict()  # older descriptions and cache keys stay as they were
    assert pipe.cache_key() != frozen.cache_key()
    old = frozen.to_dict()
    assert PipelineConfig.from_dict(old).fine_tune is False  # a description without the field
    with pytest.raises(ParameterError, match="use normalize='none'"):
        dataclasses.replace(pipe, normalize="channel")
    with pytest.raises(ParameterError, match=r"fine-tuned sounds input_shape is \(windows, 12, 12, 256\)"):
        dataclasses.replace(pipe, input_shape=(3, 512))
    with pytest.raises(ParameterError, match="needs embedding inputs, not spectrogram"):
        dataclasses.replace(default_pipeline("sfc_dcnn"), fine_tune=True)
    with pytest.raises(BackboneError, match="'speech' has no top block to fine-tune"):
        transfer_pipeline("speech", fine_tune=True)


def test_make_recipe_fine_tune():
    config, pipe = make_recipe(backbone="speech", head="mlp", fine_tune=True)
    assert pipe.fine_tune and config.epochs == FINE_TUNE_EPOCHS and config.model == "head_mlp"
    assert transfer_recipe("speech", fine_tune=True)[1] == make_recipe(backbone="speech", fine_tune=True)[1]
    with pytest.raises(ParameterError, match="choose a backbone"):
        make_recipe(fine_tune=True)
    with pytest.raises(ParameterError, match="must be True or False"):
        make_recipe(backbone="speech", fine_tune="yes")


@pytest.mark.parametrize("name", ["speech", "sounds"])
def test_top_block_continues_the_backbone_where_the_cut_stops(name):
    bb = get_backbone(name)
    windows, _ = bb.frontend(synth.tone(440, 3.0, bb.spec.sample_rate), bb.spec.sample_rate)
    below = bb.top_inputs(windows)
    assert below.shape == (len(windows), *get_top_block(name).input_shape)
    top = bb.top_block()
    np.testing.assert_allclose(np.asarray(top.predict_on_batch(below)), bb.embed_windows(windows),
                               rtol=1e-4, atol=1e-4)
    # A copy: training it cannot touch the shared backbone.
    shared = {id(w) for w in bb.model.weights}
    assert top.weights and not any(id(w) in shared for w in top.weights)
    assert all(w.path.startswith("ft_") for w in top.weights)
    assert not any(layer.trainable for layer in top.layers if isinstance(layer, keras.layers.BatchNormalization))


def test_clip_inputs_of_a_fine_tune_pipeline_are_the_top_blocks_inputs():
    pipe = transfer_pipeline("speech", fine_tune=True)
    bb = get_backbone("speech")
    y = synth.tone(440, 3.0, 16000)
    inp = clip_inputs(y, 16000, config=pipe)
    assert inp.x.shape[1:] == pipe.input_shape
    windows, _ = bb.frontend(y / np.abs(y).max(), 16000)
    np.testing.assert_allclose(inp.x[0], bb.top_inputs(windows)[:pipe.window.length], rtol=1e-4, atol=1e-4)
    again = clip_inputs(y, 16000, config=pipe)  # from the cache this time
    np.testing.assert_array_equal(again.x, inp.x)


def test_top_scaled_adam_slows_the_top_block_only():
    inputs = keras.Input((3,))
    top = keras.layers.Dense(1, use_bias=False, kernel_initializer="ones", name="ft_dense")
    head = keras.layers.Dense(1, use_bias=False, kernel_initializer="ones", name="head")
    model = keras.Model(inputs, [top(inputs), head(inputs)])
    opt = TopScaledAdam(learning_rate=0.01, scale=0.1)
    grads = [keras.ops.ones((3, 1)), keras.ops.ones((3, 1))]
    opt.apply_gradients(zip(grads, [top.kernel, head.kernel], strict=True))
    moved_top = 1 - keras.ops.convert_to_numpy(top.kernel)
    moved_head = 1 - keras.ops.convert_to_numpy(head.kernel)
    np.testing.assert_allclose(moved_head, 0.01, rtol=1e-3)  # Adam's first step: the learning rate
    np.testing.assert_allclose(moved_top, 0.001, rtol=1e-3)
    assert len(model.weights) == 2
    again = TopScaledAdam.from_config(opt.get_config())
    assert (again.scale, again.prefix) == (0.1, "ft_")
    with pytest.raises(Exception, match=r"scale=0 must be in \(0, 1\]"):
        TopScaledAdam(scale=0)


def test_cli_fine_tune_refusals(tmp_path, capsys, no_speech_top):
    for args, message in ((["--fine-tune"], "choose a backbone"),
                          (["--fine-tune", "--backbone", "speech"], "'speech' has no top block to fine-tune"),
                          (["--fine-tune", "--model", "sfc_dcnn"], "choose a backbone")):
        code = main(["train", "--data", str(tmp_path), "--out", str(tmp_path / "x"), *args, "--quiet"])
        err = capsys.readouterr().err
        assert code == 2 and err.count("error: ") == 1 and message in err, err


def test_shipped_transfer_bundle_without_the_field_still_loads():
    from audioclf.engine.bundle import load_bundle

    if not (PRETRAINED / "fsdd_speech" / "bundle.json").is_file():
        pytest.skip("the shipped fsdd_speech bundle is not in this checkout")
    d = json.loads((PRETRAINED / "fsdd_speech" / "bundle.json").read_text())
    assert "fine_tune" not in d["pipeline"]
    assert load_bundle(PRETRAINED / "fsdd_speech").pipeline.fine_tune is False


def firm_verdict(calibration, pred, tol: float = 1e-3) -> bool:
    """Whether ``pred``'s "none of these" verdict stays the same when its top probability and its distance move
    by about ``tol`` either way (what an exported copy of the model may differ by): a calibration clip can sit
    exactly on a threshold, and there the two runtimes may legitimately part."""
    if calibration is None or pred.embedding is None:
        return True
    verdicts = set()
    for dp in (-tol, 0.0, tol):
        probs = pred.probs.copy()
        probs[int(np.argmax(probs))] += dp
        for scale in (1.0 - tol, 1.0, 1.0 + tol):  # the distance, moved along the way to the nearest centroid
            emb = pred.embedding + (scale - 1.0) * (pred.embedding - calibration.centroids[int(np.argmax(probs))])
            verdicts.add(calibration.judge(probs, emb)["unknown"])
    return len(verdicts) == 1


@pytest.mark.slow
def test_fine_tuned_bundle_trains_saves_reloads_and_predicts(tmp_path, capsys):
    from audioclf.audio.io import load_audio
    from audioclf.engine.bundle import load_bundle
    from audioclf.engine.inference import predict
    from audioclf.engine.train import train

    ds = make_synthetic_dataset(tmp_path / "data", config=SyntheticConfig(
        clips_per_class=4, classes=("tone", "clicks", "noise_band"), sr=16000, max_duration=1.5))
    bb = get_backbone("speech")
    before = [w.copy() for w in bb.model.get_weights()]
    config, pipe = transfer_recipe("speech", head="attention", epochs=2, fine_tune=True)
    result = train(ds, config=dataclasses.replace(config, split="fold:2"), pipeline=pipe, out=tmp_path / "b",
                   cache=tmp_path / "features")
    # The shared backbone (the frozen lower part among it) is untouched; the copied top block has learned.
    for a, b in zip(before, bb.model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    block = result.model.get_layer("ft_top_block").layer
    for i in range(15, 20):
        trained = block.get_layer(f"ft_conv{i}").get_weights()[0]
        assert not np.array_equal(trained, bb.model.get_layer(f"conv{i}").get_weights()[0])

    bundle = load_bundle(tmp_path / "b")  # safe_mode=True
    assert bundle.pipeline.fine_tune and bundle.pipeline == pipe
    np.testing.assert_array_equal(bundle.model.get_layer("ft_top_block").layer.get_layer("ft_conv19").get_weights()[0],
                                  block.get_layer("ft_conv19").get_weights()[0])
    clip = ds.clips[0].path
    pred = predict(bundle, clip)
    y, _ = load_audio(clip, sr=pipe.sr)
    x = clip_inputs(y, pipe.sr, config=pipe).x
    direct = np.asarray(result.model.predict_on_batch(x)["probs"]).mean(axis=0)
    np.testing.assert_allclose(pred.probs, direct, rtol=1e-4, atol=1e-5)
    assert "attn_rnn" in pred.attention

    code = main(["predict", str(tmp_path / "b"), str(clip), "--json"])
    listed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert code == 0 and listed[0]["label"] == bundle.classes[int(np.argmax(pred.probs))]
    np.testing.assert_allclose(listed[0]["top"][0]["prob"], pred.probs.max(), atol=1e-3)

    # It exports as one graph (the backbone's front end and frozen lower part, the trained block, its fixed
    # standardisation, the head): ONNX and TFLite, through classify.py's code, within 1e-3 of predict on the
    # shipped example recordings and the training clips. ONNX by the CLI in a fresh process: loading the bundle
    # there registers the block's own layers (ClampedLeakyReLU).
    from audioclf.datasets.examples import list_examples
    from audioclf.engine import export_runner
    from audioclf.engine.export import export_bundle

    r = run_cli("export", str(tmp_path / "b"), "--format", "onnx", "--out", str(tmp_path / "onnx"), "--json")
    assert r.returncode == 0, r.stderr
    cli = json.loads(r.stdout.strip().splitlines()[-1])
    assert cli["max_abs_diff"] < 1e-3 and cli["agreement"] == 1.0, cli
    lite = export_bundle(tmp_path / "b", tmp_path / "tflite", fmt="tflite")
    assert lite.max_abs_diff < 1e-3 and lite.agreement == 1.0, lite
    clips = [str(e.path) for e in list_examples()] + [str(c.path) for c in ds.clips]
    refs = {c: predict(bundle, c, explain=False) for c in clips}
    firm = {c for c, ref in refs.items() if firm_verdict(bundle.open_set, ref)}
    assert len(firm) >= len(refs) // 2, (len(firm), len(refs))  # the verdicts compared below are most of them
    for fmt in ("onnx", "tflite"):
        model, spec = export_runner.load(tmp_path / fmt)
        for clip, ref in refs.items():
            got = export_runner.classify_samples(model, spec, export_runner.load_audio(clip, pipe.sr))
            assert np.max(np.abs(got["probs"] - ref.window_probs)) < 1e-3, (fmt, clip)
            if clip in firm:  # a clip on the edge may fall either way within 1e-3
                assert export_runner.result(clip, spec, got)["unknown"] == ref.to_dict()["unknown"], (fmt, clip)


def test_keras_private_graph_replay_still_exists():
    # fine_tune_model inlines the head with Model._run_through_graph (no public equivalent in Keras 3.15).
    inputs = keras.Input((3, 4))
    head = keras.Model(h_in := keras.Input((3, 4)), {"probs": keras.layers.Dense(2, name="probs")(h_in)})
    assert hasattr(head, "_run_through_graph"), (
        f"keras {keras.__version__} changed: Functional._run_through_graph is gone; engine/finetune.py "
        "fine_tune_model inlines the head's graph with it (see its comment)")
    out = head._run_through_graph(keras.layers.Dense(4)(inputs), operation_fn=lambda op: op)
    assert keras.Model(inputs, out).get_layer("probs") is head.get_layer("probs")
