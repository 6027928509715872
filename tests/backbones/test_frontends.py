"""Each front end matches its original: aiSFX's own librosa/numpy code, openWakeWord's melspectrogram.onnx."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from audioclf.backbones.frontends import (
    SOUNDS_SCALE,
    block_frames,
    sounds_frontend,
    sounds_melspectrogram,
    speech_frontend,
    speech_melspectrogram,
)

from .conftest import ort_session

# librosa.load (in the original aiSFX code) imports audioread, which imports modules Python 3.13 drops.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:audioread")


def _exec_module(path) -> dict:
    """Run one of the wheel's pure numpy/librosa modules (no torch) and return its namespace."""
    namespace: dict = {"__name__": "original"}
    exec(compile(path.read_text(), str(path), "exec"), namespace)  # noqa: S102 -- the pinned original wheel
    return namespace


@pytest.fixture(scope="module")
def aisfx(wheel_member):
    ns = _exec_module(wheel_member("aisfx", "aisfx/spectrogram/spectrogram_librosa.py"))
    ns.update(_exec_module(wheel_member("aisfx", "aisfx/preprocessing.py")))
    return ns


def _signal(rng, seconds, sr):
    t = np.arange(int(seconds * sr)) / sr
    return (0.3 * np.sin(2 * np.pi * 440 * t) * np.exp(-t) + 0.05 * rng.standard_normal(t.size)).astype(np.float32)


@pytest.mark.parametrize("seconds", [0.4, 3.0, 5.0])
def test_sounds_spectrogram_matches_aisfx_librosa_code(aisfx, rng, tmp_path, seconds):
    y = _signal(rng, seconds, 44100)
    path = tmp_path / "clip.wav"
    sf.write(path, y, 44100, subtype="FLOAT")
    theirs = aisfx["compute_spectrogram"](str(path), sr=44100.0, block_size=2048, hop_size=1024, n_mels=96,
                                          f_min=0.0, f_max=22050.0)  # (96, frames)
    theirs = aisfx["spectrogram_normalize"](theirs, spec_norm="original")
    ours = sounds_melspectrogram(y)
    assert ours.shape == theirs.T.shape
    np.testing.assert_allclose(ours, theirs.T, rtol=1e-4, atol=1e-6)
    assert SOUNDS_SCALE == 9.457798957824707


@pytest.mark.parametrize("n_frames", [30, 99, 100, 120, 150, 199, 216, 400])
def test_sounds_blocks_match_aisfx_blocking(aisfx, rng, n_frames):
    spec = rng.random((n_frames, 96)).astype(np.float32)
    theirs = aisfx["blocking"](spec, block_size=100, hop_size=50, drop_partial_block=True)
    ours, starts = block_frames(spec, 100, 50)
    np.testing.assert_array_equal(ours, theirs)
    assert starts.tolist() == [50 * i for i in range(len(theirs))]


def test_sounds_frontend_shapes_and_peak_normalisation(rng):
    y = _signal(rng, 5.0, 44100)
    blocks, starts = sounds_frontend(y)
    assert blocks.shape == (3, 100, 96) and blocks.dtype == np.float32
    np.testing.assert_allclose(starts, [0, 50 * 1024 / 44100, 100 * 1024 / 44100])
    np.testing.assert_allclose(sounds_frontend(y * 0.01)[0], blocks, rtol=1e-4, atol=1e-6)  # scale-free
    silent, _ = sounds_frontend(np.zeros(44100, np.float32))
    assert silent.shape == (1, 100, 96) and not silent.any()


@pytest.fixture(scope="module")
def melspec_onnx(wheel_member):
    return ort_session(wheel_member("openwakeword", "openwakeword/resources/models/melspectrogram.onnx"))


@pytest.mark.parametrize("n", [512, 16000, 12512, 40000])
def test_speech_melspectrogram_matches_onnx(melspec_onnx, rng, n):
    x = np.round(_signal(rng, n / 16000, 16000)[:n] * 20000).astype(np.int16).astype(np.float32)
    theirs = np.squeeze(melspec_onnx.run(None, {"input": x[None]})[0]) / 10 + 2  # openWakeWord's transform
    ours = speech_melspectrogram(x)
    theirs = theirs.reshape(ours.shape)
    assert ours.shape == (1 + (n - 512) // 160, 32)
    np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-4)


def _oww_windows(spec, window_size=76):
    """openWakeWord's ``_get_embeddings`` window loop, as written there."""
    windows = []
    for i in range(0, spec.shape[0], 8):
        window = spec[i:i + window_size]
        if window.shape[0] == window_size:
            windows.append(window)
    return np.array(windows)


@pytest.mark.parametrize("seconds", [0.8, 1.0, 2.37, 5.0])
def test_speech_windows_match_openwakeword(rng, seconds):
    y = _signal(rng, seconds, 16000)
    blocks, starts = speech_frontend(y)
    spec = speech_melspectrogram(np.clip(y.astype(np.float64) * 32768, -32768, 32767))
    np.testing.assert_array_equal(blocks, _oww_windows(spec))
    np.testing.assert_allclose(starts, np.arange(len(blocks)) * 0.08)


def test_speech_short_clip_is_centred_in_one_window(rng):
    y = _signal(rng, 0.3, 16000)
    blocks, starts = speech_frontend(y)
    assert blocks.shape == (1, 76, 32)
    pad = (12512 - y.size) // 2
    np.testing.assert_allclose(starts, [-pad / 16000])
    x = np.pad(np.clip(y.astype(np.float64) * 32768, -32768, 32767), (pad, 12512 - y.size - pad))
    np.testing.assert_array_equal(blocks[0], speech_melspectrogram(x))
