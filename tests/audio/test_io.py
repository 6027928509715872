import io

import numpy as np
import pytest
import soundfile as sf

from audioclf import errors
from audioclf.audio import synth
from audioclf.audio.io import audio_info, load_audio, resample, to_wav_bytes, write_audio
from tests.corpus import bad_cases, encode, odd_cases


@pytest.mark.parametrize("subtype", ["PCM_U8", "PCM_16", "PCM_24", "PCM_32", "FLOAT", "DOUBLE"])
def test_wav_subtypes_roundtrip(subtype):
    y = synth.tone(440, 0.5, 22050)
    out, sr = load_audio(encode(y, 22050, "WAV", subtype), sr=None)
    assert sr == 22050 and out.dtype == np.float32 and out.shape == y.shape
    tol = 1e-2 if subtype == "PCM_U8" else 1e-4
    np.testing.assert_allclose(out, y, atol=tol)


@pytest.mark.parametrize("fmt,subtype", [("FLAC", None), ("OGG", "VORBIS"), ("MP3", "MPEG_LAYER_III")])
def test_compressed_formats_decode_to_the_same_tone(fmt, subtype):
    y = synth.tone(1000, 1.0, 22050)
    out, sr = load_audio(encode(y, 22050, fmt, subtype), sr=22050)
    spec = np.abs(np.fft.rfft(out))
    assert np.fft.rfftfreq(len(out), 1 / sr)[np.argmax(spec)] == pytest.approx(1000, abs=2)


def test_sources_path_bytes_filelike_agree(tmp_path):
    y = synth.chirp(200, 2000, 0.5, 16000)
    data = encode(y, 16000)
    p = tmp_path / "c.wav"
    p.write_bytes(data)
    a, _ = load_audio(p, sr=None)
    b, _ = load_audio(data, sr=None)
    fobj = io.BytesIO(data)
    fobj.read(10)  # an upload may have been read already: we rewind
    c, _ = load_audio(fobj, sr=None)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, c)


def test_mono_mixdown_and_keep_channels():
    left, right = synth.tone(440, 0.2, 8000), np.zeros(1600, np.float32)
    data = encode(np.stack([left, right], 1), 8000)
    mono, _ = load_audio(data, sr=None)
    np.testing.assert_allclose(mono, left / 2, atol=1e-4)
    stereo, _ = load_audio(data, sr=None, mono=False)
    assert stereo.shape == (1600, 2)


def test_resample_preserves_frequency_and_length():
    y = synth.tone(440, 1.0, 44100)
    out, sr = load_audio(encode(y, 44100, "WAV", "FLOAT"), sr=22050)
    assert sr == 22050 and abs(len(out) - 22050) <= 1
    assert np.fft.rfftfreq(len(out), 1 / sr)[np.argmax(np.abs(np.fft.rfft(out)))] == pytest.approx(440, abs=1.5)
    assert resample(np.array([0.5], np.float32), 8000, 22050).shape[0] >= 1


@pytest.mark.parametrize("case", list(bad_cases()))
def test_bad_input_raises_typed_error_naming_source(case):
    data, exc, msg = bad_cases()[case]
    with pytest.raises(exc, match=msg) as info:
        load_audio(data, name=f"{case}.wav")
    assert str(info.value).startswith(f"{case}.wav:")
    assert isinstance(info.value, errors.AudioError)


def test_max_duration_is_configurable():
    data = encode(synth.tone(440, 2.0, 8000), 8000)
    with pytest.raises(errors.AudioTooLongError, match="longer than the maximum of 1 s"):
        load_audio(data, max_duration=1.0)
    assert load_audio(data, max_duration=None)[0].shape[0] > 0


@pytest.mark.parametrize("case", list(odd_cases()))
def test_odd_but_valid_inputs_load_finite(case):
    data, _ = odd_cases()[case]
    y, sr = load_audio(data, sr=22050)
    assert sr == 22050 and y.ndim == 1 and len(y) >= 1
    assert np.all(np.isfinite(y)) and np.max(np.abs(y)) <= 1.0


def test_silence_is_valid_input():
    y, _ = load_audio(encode(synth.silence(0.5), 22050))
    assert np.all(y == 0)


def test_missing_path_and_bad_params(tmp_path):
    with pytest.raises(errors.AudioError, match="file not found"):
        load_audio(tmp_path / "nope.wav")
    with pytest.raises(errors.AudioError, match="is a folder"):
        load_audio(tmp_path)
    with pytest.raises(errors.ParameterError, match="sr=0 must be a positive integer"):
        load_audio(b"x", sr=0)
    with pytest.raises(errors.ParameterError, match="not a path, bytes"):
        load_audio(12345)


def test_info_and_writers(tmp_path):
    data = encode(synth.tone(440, 0.25, 16000), 16000, "FLAC")
    info = audio_info(data)
    assert (info.samplerate, info.channels, info.frames, info.format) == (16000, 1, 4000, "FLAC")
    (tmp_path / "h.flac").write_bytes(data)
    assert audio_info(tmp_path / "h.flac") == info.__class__("h.flac", 16000, 1, 4000, "FLAC", info.subtype)
    (tmp_path / "bad.wav").write_bytes(b"not audio at all")
    with pytest.raises(errors.UnsupportedFormatError, match="bad.wav: not a readable audio file"):
        audio_info(tmp_path / "bad.wav")
    wav = to_wav_bytes(synth.tone(440, 0.1, 8000), 8000)
    assert sf.info(io.BytesIO(wav)).frames == 800
    p = write_audio(tmp_path / "x.flac", synth.tone(440, 0.1, 8000), 8000)
    assert sf.info(str(p)).format == "FLAC"
    with pytest.raises(errors.ParameterError, match="extension"):
        write_audio(tmp_path / "x.txt", np.zeros(10), 8000)
