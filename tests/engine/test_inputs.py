"""A clip's way to model inputs, stage by stage: prepare, backbone windows (embedding pipelines), model inputs."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from audioclf.audio import synth
from audioclf.audio.io import write_audio
from audioclf.audio.preprocess import DenoiseConfig, PreprocessConfig, SplitConfig
from audioclf.audio.windowing import WindowConfig
from audioclf.backbones.embeddings import EmbeddingCache
from audioclf.datasets import SyntheticConfig, make_synthetic_dataset
from audioclf.engine import inputs
from audioclf.engine.extract import extract_dataset
from audioclf.engine.inputs import (
    backbone_input,
    clip_embeddings,
    clip_inputs,
    dataset_group_inputs,
    model_inputs,
    prepare_clip,
)
from audioclf.engine.pipeline import PipelineConfig
from audioclf.engine.recipes import transfer_pipeline
from audioclf.errors import ParameterError
from audioclf.features import FeatureConfig
from tests.engine.conftest import SR, spec_config


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("AUDIOCLF_CACHE", str(tmp_path / "audioclf-cache"))


@pytest.fixture
def counted_preprocess(monkeypatch):
    """Every call of the preprocessing step, by the length of the clip it was given."""
    calls: list[int] = []
    real = inputs.preprocess
    monkeypatch.setattr(inputs, "preprocess", lambda y, sr, **kw: calls.append(len(y)) or real(y, sr, **kw))
    return calls


# --- clip_inputs ---------------------------------------------------------------------------------


def test_spectrogram_windows_have_times_in_the_clip():
    y = synth.chirp(200, 4000, 2.0, SR)
    out = clip_inputs(y, SR, config=spec_config())
    assert out.x.shape[1:] == (32, 16, 1) and out.x.dtype == np.float32
    step = 8 * 256 / SR
    np.testing.assert_allclose(out.starts[:3], [0.0, step, 2 * step])
    assert out.ends[-1] == pytest.approx(2.0)
    assert not out.notes


def test_multichannel_resizes_every_channel_to_the_input_bins():
    cfg = spec_config(channels=("mel", "mfcc", "stft_magphase"), input_kind="multichannel", input_shape=(24, 16, 4),
                      features=FeatureConfig(n_fft=512, hop_length=256, n_mels=32, n_mfcc=20))
    out = clip_inputs(synth.tone(440, 1.0, SR), SR, config=cfg)
    assert out.x.shape[1:] == (24, 16, 4)
    assert np.all(np.isfinite(out.x))


def test_waveform_and_summary_inputs():
    y = synth.noise(1.0, SR)
    wave = PipelineConfig(sr=SR, channels=(), window=WindowConfig(length=4000, hop=2000), input_kind="waveform",
                          input_shape=(4000, 1))
    assert clip_inputs(y, SR, config=wave).x.shape == (7, 4000, 1)
    matrix = PipelineConfig(sr=SR, channels=(), window=WindowConfig(length=32, hop=32), input_kind="summary",
                            input_shape=(40, 5, 1))
    assert clip_inputs(y, SR, config=matrix).x.shape[1:] == (40, 5, 1)


def test_short_clip_is_padded_and_flagged():
    out = clip_inputs(synth.tone(440, 0.1, SR), SR, config=spec_config())
    assert len(out) == 1 and out.padded[0]
    assert "shorter than one window" in out.notes[0]


def test_silent_clip_with_split_keeps_the_unsplit_clip():
    cfg = spec_config(preprocess=PreprocessConfig(split=SplitConfig()))
    out = clip_inputs(synth.silence(1.0, SR), SR, config=cfg)
    assert len(out) >= 1 and np.all(np.isfinite(out.x))
    assert any("no sound found" in n for n in out.notes)


def test_split_maps_window_times_back_to_the_original_clip():
    y = synth.burst_in_silence(SR, before=1.0, burst=0.5, after=1.0)
    cfg = spec_config(preprocess=PreprocessConfig(split=SplitConfig(top_db=30)))
    out = clip_inputs(y, SR, config=cfg)
    assert out.starts[0] == pytest.approx(1.0, abs=0.02)
    assert out.ends[-1] == pytest.approx(1.5, abs=0.02)


def test_wrong_sample_rate_is_refused():
    with pytest.raises(ParameterError, match="differs from the pipeline"):
        clip_inputs(synth.tone(440, 1.0, 8000), 8000, config=spec_config())


# --- the stages alone ----------------------------------------------------------------------------


def test_stages_called_one_by_one_give_what_clip_inputs_gives():
    pipe = transfer_pipeline("speech")
    y = synth.tone(440, 3.0, 16000) + synth.noise(3.0, 16000, amp=0.05, rng=2)
    clip = prepare_clip(y, 16000, config=pipe)
    assert clip.duration == pytest.approx(3.0) and np.abs(clip.signal).max() == pytest.approx(1.0)  # level: peak
    miss = backbone_input(clip, config=pipe)
    assert miss.embeddings is None and miss.frames.ndim == 3 and len(miss.starts) == len(miss.frames)
    (emb,) = clip_embeddings([miss], config=pipe)
    assert emb.shape == (len(miss.frames), 96)
    staged = model_inputs(clip, config=pipe, embeddings=emb)
    hit = backbone_input(clip, config=pipe)  # the rows went to the embedding cache
    assert hit.frames is None and hit.embeddings.tolist() == emb.tolist() and hit.digest == miss.digest
    alone = clip_inputs(y, 16000, config=pipe)
    np.testing.assert_array_equal(staged.x, alone.x)
    np.testing.assert_array_equal(staged.starts, alone.starts)
    assert staged.notes == alone.notes


def test_clip_embeddings_runs_the_network_once_for_all_misses_and_never_for_hits(tmp_path):
    pipe = transfer_pipeline("speech")
    cache = EmbeddingCache(tmp_path / "emb")
    clips = [prepare_clip(synth.tone(300.0 + 100 * k, 1.0 + k, 16000), 16000, config=pipe) for k in range(3)]
    calls: list[list[int]] = []

    def embed(frames):
        calls.append([len(f) for f in frames])
        return inputs.embed_frames(pipe, frames)

    first = clip_embeddings([backbone_input(c, config=pipe, cache=cache) for c in clips], config=pipe, cache=cache,
                            embed=embed)
    assert len(calls) == 1 and calls[0] == [len(e) for e in first] and len(set(calls[0])) > 1
    again = clip_embeddings([backbone_input(c, config=pipe, cache=cache) for c in clips], config=pipe, cache=cache,
                            embed=embed)
    assert len(calls) == 1  # all three from the cache
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a, b)


def test_model_inputs_takes_embeddings_exactly_when_the_pipeline_reads_them():
    y = synth.tone(440, 1.0, SR)
    with pytest.raises(ParameterError, match="needs the clip's backbone embeddings"):
        model_inputs(prepare_clip(y, 16000, config=transfer_pipeline("speech")), config=transfer_pipeline("speech"))
    with pytest.raises(ParameterError, match="takes no backbone embeddings"):
        model_inputs(prepare_clip(y, SR, config=spec_config()), config=spec_config(), embeddings=np.zeros((3, 96)))


def test_each_clip_is_preprocessed_once_on_the_embedding_path(counted_preprocess, tmp_path):
    """Denoise and silence removal run once per clip, also when the backbone misses its cache."""
    ds = make_synthetic_dataset(tmp_path / "ds", config=SyntheticConfig(clips_per_class=2, sr=16000,
                                                                        classes=("tone", "chirp"), max_duration=1.5))
    pipe = dataclasses.replace(transfer_pipeline("speech"),
                               preprocess=PreprocessConfig(denoise=DenoiseConfig(), split=SplitConfig(top_db=40)))
    out = extract_dataset(ds, config=pipe, cache=False)
    assert out.computed == len(ds.clips) and len(counted_preprocess) == len(ds.clips)
    counted_preprocess.clear()
    clip_inputs(synth.tone(440, 2.0, 16000), 16000, config=pipe)  # one clip, a cache miss
    assert len(counted_preprocess) == 1


def test_a_group_reports_its_unreadable_clip_and_computes_the_others(tmp_path):
    pipe = transfer_pipeline("speech")
    good = tmp_path / "good.wav"
    write_audio(good, synth.tone(440, 1.0, 16000), 16000)
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF....WAVEfmt nothing")
    out = dataset_group_inputs([str(bad), str(good)], pipe)
    assert out[0][0] == "error" and "bad.wav" in out[0][1]
    assert out[1][0] == "ok" and out[1][1].x.shape[1:] == pipe.input_shape
