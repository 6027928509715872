"""Shared by the engine's tests: a small spectrogram pipeline and a tiny dataset written as WAV."""

from __future__ import annotations

import pytest

from audioclf.audio import synth
from audioclf.audio.io import write_audio
from audioclf.audio.windowing import WindowConfig
from audioclf.datasets import Clip, Dataset
from audioclf.engine.pipeline import PipelineConfig
from audioclf.features import FeatureConfig

SR = 16000


def spec_config(**changes) -> PipelineConfig:
    base = dict(sr=SR, features=FeatureConfig(n_fft=512, hop_length=256, n_mels=32, n_mfcc=20), channels=("mel",),
                window=WindowConfig(length=16, hop=8), input_kind="spectrogram", input_shape=(32, 16, 1))
    base.update(changes)
    return PipelineConfig(**base)


@pytest.fixture
def tiny_dataset(tmp_path) -> Dataset:
    """Six short clips of two classes, two folds, written as WAV."""
    clips = []
    for k in range(6):
        label = "tone" if k % 2 else "noise"
        y = synth.tone(300.0 + 50 * k, 0.6, SR) if label == "tone" else synth.noise(0.6, SR, rng=k)
        path = tmp_path / "audio" / f"{label}_{k}.wav"
        path.parent.mkdir(exist_ok=True)
        write_audio(path, y, SR)
        clips.append(Clip(path=path, label=label, fold=1 + k % 3, group=f"g{k // 2}"))
    return Dataset.from_clips(clips, name="tiny", root=tmp_path / "audio", kind="folders")
