"""Transfer learning through the engine: heads on backbone embeddings, transfer bundles, 'none of these'."""

from __future__ import annotations

import dataclasses
import json
import shutil

import numpy as np
import pytest

from audioclf.audio import synth
from audioclf.backbones import get_backbone
from audioclf.cli import main
from audioclf.datasets import SyntheticConfig, make_synthetic_dataset
from audioclf.engine.inputs import clip_inputs
from audioclf.engine.pipeline import PipelineConfig
from audioclf.engine.recipes import TRANSFER_WINDOWS, default_pipeline, make_recipe, transfer_pipeline, transfer_recipe
from audioclf.errors import BackboneError, BundleError, ParameterError


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("AUDIOCLF_CACHE", str(tmp_path_factory.getbasetemp() / "audioclf-cache"))


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    root = tmp_path_factory.mktemp("synthetic")
    config = SyntheticConfig(clips_per_class=6, classes=("tone", "clicks", "noise_band"), sr=16000, max_duration=1.5)
    return make_synthetic_dataset(root, config=config)


def test_transfer_pipeline_describes_the_backbone():
    pipe = transfer_pipeline("speech")
    k, pad = TRANSFER_WINDOWS["speech"]
    assert pipe.input_kind == "embedding" and pipe.backbone == "speech" and pipe.sr == 16000
    assert pipe.input_shape == (k, 96) and pipe.window.length == k and pipe.window.pad == pad
    assert PipelineConfig.from_dict(pipe.to_dict()) == pipe
    assert pipe.to_dict()["backbone"] == "speech"
    assert "backbone" not in default_pipeline("sfc_dcnn").to_dict()  # older descriptions and cache keys unchanged
    assert pipe.cache_key() != transfer_pipeline("speech", windows=k + 1).cache_key()
    with pytest.raises(BackboneError, match="unknown backbone 'nope'"):
        transfer_pipeline("nope")
    with pytest.raises(ParameterError, match="sr=22050 must be 16000"):
        dataclasses.replace(pipe, sr=22050)
    with pytest.raises(ParameterError, match="embedding inputs need a backbone"):
        dataclasses.replace(pipe, backbone=None)


def test_clip_inputs_groups_backbone_windows_with_their_times():
    pipe = transfer_pipeline("speech")
    k = pipe.window.length
    spec = get_backbone("speech").spec
    y = synth.tone(440, 6.0, 16000)
    inp = clip_inputs(y, 16000, config=pipe)
    assert inp.x.shape[1:] == (k, 96) and len(inp) > 2
    np.testing.assert_allclose(np.diff(inp.starts), pipe.window.hop * spec.hop_s, rtol=1e-6)
    assert inp.ends[0] == pytest.approx((k - 1) * spec.hop_s + spec.window_s)
    direct = get_backbone("speech").embed(y / np.abs(y).max(), 16000)  # its own windows of the peak-scaled clip
    np.testing.assert_allclose(inp.x[0], direct[:k], rtol=1e-4, atol=1e-4)
    short = clip_inputs(y[:4000], 16000, config=pipe)  # 0.25 s: centred in silence, one padded input
    assert len(short) == 1 and short.padded.all() and short.ends[0] == pytest.approx(0.25)
    assert any("shorter than one window" in n for n in short.notes)


def test_make_recipe_refuses_front_end_choices_with_a_backbone():
    config, pipe = make_recipe(backbone="speech", head="attention", training={"epochs": 3})
    assert (config.model, config.attention, config.epochs) == ("head_mlp", "rnn", 3)
    with pytest.raises(ParameterError, match="channels.*do\\(es\\) not apply with backbone='speech'"):
        make_recipe(backbone="speech", channels=("mel",))
    with pytest.raises(ParameterError, match="head needs a backbone"):
        make_recipe(head="linear")
    with pytest.raises(ParameterError, match="model='sfc_dcnn' does not fit a backbone"):
        make_recipe(backbone="speech", model="sfc_dcnn")


@pytest.mark.slow
def test_transfer_bundle_trains_predicts_and_knows_unknown(synthetic, tmp_path, capsys):
    from audioclf.engine.bundle import load_bundle
    from audioclf.engine.inference import predict
    from audioclf.engine.train import train

    config, pipe = transfer_recipe("speech", head="attention", epochs=25)
    result = train(synthetic, config=dataclasses.replace(config, split="fold:3"), pipeline=pipe,
                   out=tmp_path / "b", cache=tmp_path / "features")
    assert result.evaluation.accuracy >= 0.5  # three very different synthetic sounds
    d = json.loads((tmp_path / "b" / "bundle.json").read_text())
    assert d["backbone"] == {"name": "speech", "weights_sha256": get_backbone("speech").spec.weights_sha256}
    assert 0 < d["open_set"]["confidence"] < 1 and d["open_set"]["distance"] > 0
    bundle = load_bundle(tmp_path / "b")
    pred = predict(bundle, synthetic.clips[0].path)
    assert "attn_rnn" in pred.attention and pred.attention["attn_rnn"].values.shape[1] == pipe.window.length
    out = pred.to_dict()
    assert isinstance(out["unknown"], bool) and out["unknown_score"] == pytest.approx(pred.probs.max(), abs=1e-3)
    assert out["open_set"]["confidence_threshold"] == pytest.approx(bundle.open_set.confidence, abs=1e-3)
    # A threshold above every possible confidence makes any clip unknown; below, none.
    assert pred.judged(1.01, bundle.open_set).unknown and not pred.judged(0.0, bundle.open_set).open_set["distance"] > 2

    code = main(["predict", str(tmp_path / "b"), str(synthetic.clips[0].path), "--json"])
    listed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert code == 0 and {"unknown", "unknown_score", "top"} <= set(listed[0])

    # The weights a bundle names must be the installed ones; a missing file says how to restore it.
    d["backbone"]["weights_sha256"] = "0" * 64
    altered = tmp_path / "altered"
    shutil.copytree(tmp_path / "b", altered)
    (altered / "bundle.json").write_text(json.dumps(d))
    with pytest.raises(BundleError, match="trained on speech backbone weights 000000000000"):
        load_bundle(altered)


def test_a_head_runs_several_steps_per_call_and_still_reports_and_stops(synthetic, tmp_path):
    import threading

    from audioclf.engine.train import train

    config, pipe = transfer_recipe("speech", head="mlp", epochs=4)  # a head trained by Adam
    config = dataclasses.replace(config, split="fold:3", batch_size=4, augment=dataclasses.replace(
        config.augment, mixup=0.0))
    events = []
    result = train(synthetic, config=config, pipeline=pipe, cache=tmp_path / "features", progress=events.append)
    steps = -(-result.summary["train"]["windows"] // 4)
    assert result.model.steps_per_execution == steps and steps > 1  # one call of the train function per epoch
    batches = [e for e in events if e.kind == "batch"]
    assert [(e.epoch, e.batch) for e in batches] == [(k, steps) for k in (1, 2, 3, 4)]  # the call's last step
    assert [e.epoch for e in events if e.kind == "epoch"] == [1, 2, 3, 4] and result.epochs_run == 4
    # A stop request during the first call ends training after it, with that epoch's weights.
    stop = threading.Event()
    result = train(synthetic, config=dataclasses.replace(config, epochs=50), pipeline=pipe,
                   cache=tmp_path / "features", progress=lambda e: e.kind == "batch" and stop.set(), stop=stop)
    assert result.stopped and result.epochs_run == 1 and result.best_epoch == 1


@pytest.mark.slow
def test_cli_train_with_a_backbone(synthetic, tmp_path, capsys, monkeypatch):
    code = main(["train", "--data", str(synthetic.root), "--out", str(tmp_path / "cli"), "--backbone", "speech",
                 "--head", "linear", "--epochs", "5", "--split", "fold:3", "--quiet", "--json"])
    res = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert code == 0 and res["model"] == "head_linear" and {"accuracy", "epochs", "seconds"} <= set(res)
    for args, message in ((["--backbone", "nope"], "unknown backbone 'nope'"),
                          (["--head", "mlp"], "head needs a backbone"),
                          (["--backbone", "speech", "--channels", "mel"], "do(es) not apply")):
        code = main(["train", "--data", str(synthetic.root), "--out", str(tmp_path / "x"), *args, "--quiet"])
        err = capsys.readouterr().err
        assert code == 2 and "error: " in err and message in err, err
    # A missing weight file: one error line with the way back.
    monkeypatch.setenv("AUDIOCLF_BACKBONES", str(tmp_path / "empty"))
    code = main(["predict", str(tmp_path / "cli"), str(synthetic.clips[0].path), "--json"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("error: ") == 1 and "convert_backbones" in err


def test_extraction_batches_the_backbone_over_clips_with_the_same_inputs(synthetic, tmp_path, monkeypatch):
    """extract_dataset runs the network once for many clips' windows; each clip's inputs are what
    clip_inputs gives it alone, and the embeddings land in the cache (a second pass computes nothing)."""
    from audioclf.audio.io import load_audio
    from audioclf.backbones.core import Backbone
    from audioclf.engine import inputs
    from audioclf.engine.extract import extract_dataset

    monkeypatch.setenv("AUDIOCLF_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(inputs, "_EMBED_GROUP", 7)
    calls = []
    real = Backbone.embed_windows
    monkeypatch.setattr(Backbone, "embed_windows", lambda self, w, **k: calls.append(len(w)) or real(self, w, **k))
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF....WAVEfmt nothing")
    ds = dataclasses.replace(synthetic, clips=synthetic.clips + (dataclasses.replace(synthetic.clips[0],
                                                                                      path=broken),))
    pipe = transfer_pipeline("speech")
    out = extract_dataset(ds, config=pipe, cache=False)
    n = len(synthetic.clips)
    assert len(calls) == int(np.ceil((n + 1) / 7)) and sum(calls) > n  # one call per group, not per clip
    assert len(out.failed) == 1 and "broken.wav" in out.failed[0][0] and len(out.clips) == n
    for k, clip in enumerate(synthetic.clips):
        y, sr = load_audio(clip.path, sr=pipe.sr)
        alone = clip_inputs(y, sr, config=pipe)  # from the embedding cache the batch filled
        np.testing.assert_array_equal(out.x[out.clip_index == k], alone.x)
        np.testing.assert_array_equal(out.starts[out.clip_index == k], alone.starts)
    calls.clear()
    again = extract_dataset(ds, config=pipe, cache=False)
    assert calls == [] and np.array_equal(again.x, out.x)
    # and the same numbers as the network run clip by clip, up to float rounding of other batch shapes
    monkeypatch.setenv("AUDIOCLF_CACHE", str(tmp_path / "cache2"))
    y, sr = load_audio(synthetic.clips[3].path, sr=pipe.sr)
    np.testing.assert_allclose(out.x[out.clip_index == 3], clip_inputs(y, sr, config=pipe).x, rtol=1e-4, atol=1e-5)
