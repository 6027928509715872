"""audioclf.service.listen: the live hop, the one export per model the browser loads, and the server fallback."""

from __future__ import annotations

import json

import numpy as np
import pytest

from audioclf import synth
from audioclf.audio.io import to_wav_bytes
from audioclf.audio.windowing import WindowConfig
from audioclf.engine.bundle import load_bundle, save_bundle
from audioclf.engine.pipeline import PipelineConfig
from audioclf.errors import ExportError
from audioclf.features import FeatureConfig
from audioclf.features.normalization import NormStats
from audioclf.service.listen import bundle_key, classify_chunk, display_params, live_hop, prepare

SR = 16000
CLASSES = ("a", "b", "c")


def _spec(kind: str, **fe) -> dict:
    return {"sample_rate": 22050, "hop_samples": 4000, "frontend": {"kind": kind, **fe}}


@pytest.mark.parametrize(("spec", "hop", "seconds"), [
    (_spec("frames", hop=256, window_hop=32), 32, 32 * 256 / 22050),       # fsdd: predict's hop, 0.37 s
    (_spec("frames", hop=512, window_hop=64), 16, 16 * 512 / 22050),       # esc10: 1.49 s / 4
    (_spec("blocks", hop_samples=11025, window_hop=2), 1, 0.5),            # sounds: the backbone's hop
    ({"sample_rate": 8000, "hop_samples": 4000, "frontend": {"kind": "waveform"}}, 4000, 0.5),
    (_spec("frames", hop=512, window_hop=31), 1, 512 / 22050),             # 0.72 s, a prime: its finest step
])
def test_live_hop_divides_predicts_hop_to_at_least_two_updates_a_second(spec, hop, seconds):
    got, s = live_hop(spec)
    assert got == hop
    assert s == pytest.approx(seconds)
    assert s <= 0.5 or got == 1


def test_display_params_follow_a_feature_config_or_the_rate():
    p = display_params(22050)
    assert p["n_fft"] == 1024 and p["hop"] == 256 and p["n_mels"] == 64
    assert display_params(8000)["n_mels"] == 40
    cfg = FeatureConfig(n_fft=512, hop_length=128, n_mels=32, n_mfcc=20, fmin=50.0, fmax=4000.0)
    assert display_params(16000, cfg) == {"n_fft": 512, "hop": 128, "n_mels": 32, "fmin": 50.0, "fmax": 4000.0,
                                          "top_db": 80.0}


def _bundle(folder, channel: str):
    from audioclf.models import build_model

    bins = 40 if channel == "mel" else 12
    cfg = PipelineConfig(sr=SR, features=FeatureConfig(n_fft=512, hop_length=256, n_mels=40), channels=(channel,),
                         input_kind="spectrogram", input_shape=(bins, 16, 1), window=WindowConfig(length=16, hop=8))
    model = build_model("sfc_dcnn", input_shape=(bins, 16, 1), num_classes=3, filters=(4,) * 6, dense_units=())
    stats = NormStats(np.full((1,), -30.0, np.float32), np.full((1,), 20.0, np.float32))
    return save_bundle(folder / channel, model=model, pipeline=cfg, classes=CLASSES, stats=stats,
                       architecture="sfc_dcnn", options={"filters": (4,) * 6, "dense_units": ()})


@pytest.mark.slow
def test_prepare_exports_once_and_reuses_the_export(tmp_path):
    path = _bundle(tmp_path, "mel")
    models = tmp_path / "models"
    first = prepare(load_bundle(path), path, models_dir=models)
    assert first.key == bundle_key(path) and first.seconds > 0
    assert (first.folder / "model.onnx").stat().st_size == first.bytes
    assert first.spec["classes"] == list(CLASSES)
    assert json.loads((first.folder / "labels.json").read_text())["frontend"]["kind"] == "frames"
    again = prepare(load_bundle(path), path, models_dir=models)
    assert again.folder == first.folder and again.seconds == 0.0
    assert [p.name for p in models.iterdir()] == [first.key]


def test_a_model_the_browser_cannot_run_is_refused_and_classified_on_the_server(tmp_path):
    path = _bundle(tmp_path, "chroma_stft")
    bundle = load_bundle(path)
    with pytest.raises(ExportError, match="chroma_stft"):
        prepare(bundle, path, models_dir=tmp_path / "models")
    assert not (tmp_path / "models").exists()
    wav = to_wav_bytes(synth.tone(440.0, 2.0, SR), SR)
    res = classify_chunk(bundle, wav, start=4.0, seq=2)
    assert res["seq"] == 2 and res["start"] == 4.0
    assert len(res["probs"]) == 3 and sum(res["probs"]) == pytest.approx(1.0, abs=1e-3)
    assert res["probs"][res["top"]] == max(res["probs"])
    assert isinstance(res["unknown"], bool)
    bad = classify_chunk(bundle, b"not audio", start=6.0, seq=3)
    assert bad["seq"] == 3 and "could not be classified" in bad["error"]
