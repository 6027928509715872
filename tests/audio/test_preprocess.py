import numpy as np
import pytest

from audioclf import errors
from audioclf.audio import synth
from audioclf.audio.preprocess import (
    DenoiseConfig,
    PreprocessConfig,
    SplitConfig,
    TrimConfig,
    denoise,
    preprocess,
    require_sound,
    split_silence,
    trim_silence,
    trim_to_sound,
)

SR = 22050
EDGE_CLIPS = {
    "silent": synth.silence(1.0, SR),
    "one_sample": np.array([0.3], np.float32),
    "ten_samples": np.full(10, 0.2, np.float32),
    "50ms": synth.tone(440, 0.05, SR),
    "clipped": synth.square_wave(220, 1.0, SR),
    "very_loud": np.clip(synth.noise(1.0, SR, amp=5.0), -1, 1),
}


def _tone_to_noise(y, freq=1000, sr=SR):
    spec = np.abs(np.fft.rfft(y)) ** 2
    freqs = np.fft.rfftfreq(len(y), 1 / sr)
    band = np.abs(freqs - freq) < 20
    return spec[band].sum() / spec[~band].sum()


def _event_in_noise():
    # A sound event (1 s of tone) in 3 s of steady white noise.
    event = np.concatenate([synth.silence(1.0, SR), synth.tone(1000, 1.0, SR, amp=0.3), synth.silence(1.0, SR)])
    return event + synth.noise(3.0, SR, amp=0.1, rng=7)


@pytest.mark.parametrize("stationary,gain", [(None, 3.0), (False, 3.0), (True, 1.2)])
def test_denoise_whole_clip_profile_raises_tone_to_noise_ratio(stationary, gain):
    noisy = _event_in_noise()
    out = denoise(noisy, SR, config=DenoiseConfig(stationary=stationary))
    assert out.shape == noisy.shape and out.dtype == np.float32
    assert _tone_to_noise(out) > gain * _tone_to_noise(noisy)


def test_denoise_noise_profile_from_range_is_best_when_known():
    noisy = _event_in_noise()
    cfg = DenoiseConfig(noise_range=(0.0, 1.0))
    assert cfg.stationary is True
    assert _tone_to_noise(denoise(noisy, SR, config=cfg)) > 10 * _tone_to_noise(noisy)


def test_denoise_strength_and_noise_range():
    noisy = np.concatenate([synth.noise(1.0, SR, amp=0.1, rng=1),
                            synth.tone(1000, 2.0, SR, amp=0.3) + synth.noise(2.0, SR, amp=0.1, rng=2)])
    none = denoise(noisy, SR, config=DenoiseConfig(prop_decrease=0.0))
    np.testing.assert_allclose(none, noisy, atol=1e-3)
    ranged = denoise(noisy, SR, config=DenoiseConfig(noise_range=(0.0, 1.0)))
    assert _tone_to_noise(ranged[SR:]) > 3 * _tone_to_noise(noisy[SR:])
    assert DenoiseConfig.from_dict(DenoiseConfig(prop_decrease=0.5).to_dict()) == DenoiseConfig(prop_decrease=0.5)


def test_denoise_config_errors():
    with pytest.raises(errors.ParameterError, match=r"prop_decrease=1.5 must be in \[0, 1\]"):
        DenoiseConfig(prop_decrease=1.5)
    with pytest.raises(errors.ParameterError, match="needs stationary=True"):
        DenoiseConfig(stationary=False, noise_range=(0, 1))
    with pytest.raises(errors.ParameterError, match="noise_range"):
        DenoiseConfig(noise_range=(2.0, 1.0))
    with pytest.raises(errors.ParameterError, match="clip is only"):
        denoise(synth.tone(440, 0.5), SR, config=DenoiseConfig(noise_range=(3.0, 4.0)))
    with pytest.raises(errors.ParameterError, match="NaN"):
        denoise(np.array([0.1, np.nan], np.float32), SR)


@pytest.mark.parametrize("name", list(EDGE_CLIPS))
@pytest.mark.parametrize("stationary", [True, False])
def test_denoise_edge_clips_are_finite(name, stationary):
    y = EDGE_CLIPS[name]
    out = denoise(y, SR, config=DenoiseConfig(stationary=stationary))
    assert out.shape == y.shape and np.all(np.isfinite(out))


@pytest.mark.parametrize("name", list(EDGE_CLIPS))
def test_split_edge_clips(name):
    res = split_silence(EDGE_CLIPS[name], SR)
    assert res.intervals.shape[1] == 2 and np.all(np.isfinite(res.y))
    if name == "silent":
        assert res.is_silent and len(res.y) == 0


def test_split_finds_burst_within_one_hop():
    hop = 512
    y = synth.burst_in_silence(SR, before=0.5, burst=0.5, after=0.5)
    res = split_silence(y, SR, config=SplitConfig(top_db=30, hop_length=hop))
    assert res.intervals.shape == (1, 2)
    start, end = res.intervals[0]
    assert abs(start - 0.5 * SR) <= hop and abs(end - 1.0 * SR) <= hop
    np.testing.assert_allclose(res.intervals_s[0], [0.5, 1.0], atol=hop / SR)
    assert len(res.y) == end - start


def test_split_three_bursts_and_trim():
    y = synth.example("bursts", SR)
    res = split_silence(y, SR)
    np.testing.assert_allclose(res.intervals_s, [[0.4, 0.8], [1.4, 1.8], [2.4, 2.8]], atol=512 / SR)
    trimmed, (a, b) = trim_silence(y, SR)
    assert abs(a / SR - 0.4) < 0.03 and abs(b / SR - 2.8) < 0.03 and len(trimmed) == b - a
    assert trim_silence(synth.silence(0.5), SR)[1] == (0, 0)


def test_split_config_errors():
    with pytest.raises(errors.ParameterError, match="hop_length=0 must be a positive integer"):
        SplitConfig(hop_length=0)
    with pytest.raises(errors.ParameterError, match="top_db"):
        SplitConfig(top_db=-3)


def test_silent_clip_message_where_sound_is_needed():
    res = split_silence(synth.silence(1.0), SR)
    with pytest.raises(errors.AudioError, match="no sound found"):
        require_sound(res, name="quiet.wav")
    cfg = PreprocessConfig(split=SplitConfig())
    with pytest.raises(errors.AudioError, match="quiet.wav: no sound found"):
        preprocess(synth.silence(1.0), SR, config=cfg, name="quiet.wav")
    kept = preprocess(synth.silence(1.0), SR, config=cfg, allow_silent=True)
    assert len(kept.y) == SR and kept.intervals.shape == (0, 2)


def test_preprocess_config_roundtrip_and_pipeline():
    cfg = PreprocessConfig(denoise=DenoiseConfig(prop_decrease=0.8), split=SplitConfig(top_db=25))
    assert PreprocessConfig.from_dict(cfg.to_dict()) == cfg
    y = synth.burst_in_silence(SR) + synth.noise(1.5, SR, amp=0.002, rng=3)
    out = preprocess(y, SR, config=cfg)
    assert 0.4 < out.duration < 0.6 and out.intervals.shape == (1, 2)


def _word_in_noise(noise: float, *, before: float = 0.9, word: float = 0.4, after: float = 0.7, sr: int = 16000):
    """A 'word' (a vowel-like tone with a quiet fricative tail) in a take of steady room noise."""
    rng = np.random.default_rng(5)
    body = synth.tone(220, word, sr, amp=0.5) * np.hanning(int(word * sr)).astype(np.float32) ** 0.3
    tail = rng.normal(0, 0.02, int(0.1 * sr)).astype(np.float32)  # about 25 dB under the vowel: kept
    y = np.concatenate([np.zeros(int(before * sr)), body, tail, np.zeros(int(after * sr))]).astype(np.float32)
    return y + rng.normal(0, noise, len(y)).astype(np.float32), int(before * sr), int((before + word + 0.1) * sr)


@pytest.mark.parametrize("noise", [1e-4, 3e-3])
def test_trim_cuts_a_take_back_to_its_word_and_keeps_its_tail(noise):
    sr = 16000
    y, start, end = _word_in_noise(noise)
    cut, (a, b) = trim_to_sound(y, sr)
    pad, frame = int(TrimConfig().pad_s * sr), int(0.02 * sr)
    assert start - pad - frame <= a <= start - pad + frame  # the word's onset, less the 0.1-s pad
    assert end + pad - frame <= b <= end + pad + frame  # the fricative tail is sound, then the pad
    np.testing.assert_array_equal(cut, y[a:b])


def test_trim_keeps_a_tight_clip_and_silence_whole():
    sr = 16000
    tight = synth.tone(300, 0.5, sr) * np.linspace(0.05, 1, int(0.5 * sr)).astype(np.float32)  # 26 dB fade in
    assert trim_to_sound(tight, sr)[1] == (0, len(tight))  # every frame within 25 dB of the peak
    assert trim_to_sound(np.zeros(8000, np.float32), sr)[1] == (0, 8000)
    steady = synth.noise(1.0, sr, amp=0.1, rng=1)
    assert trim_to_sound(steady, sr)[1] == (0, len(steady))  # a constant level holds no quieter room to cut


def test_trim_config_checks_and_travels_only_when_on():
    with pytest.raises(errors.ParameterError, match="pad_s"):
        TrimConfig(pad_s=-1)
    with pytest.raises(errors.ParameterError, match="above_floor_db"):
        TrimConfig(above_floor_db=0)
    cfg = PreprocessConfig(trim=TrimConfig(pad_s=0.05))
    assert PreprocessConfig.from_dict(cfg.to_dict()) == cfg
    assert "trim" not in PreprocessConfig().to_dict()  # pipelines from before the trim keep their hashes


def test_preprocess_trims_before_splitting_and_says_where_it_kept():
    sr = 16000
    y, start, _ = _word_in_noise(1e-4)
    out = preprocess(y, sr, config=PreprocessConfig(trim=TrimConfig()))
    a, b = out.intervals[0]
    assert out.intervals.shape == (1, 2) and len(out.y) == b - a and abs(a - (start - int(0.2 * sr))) <= 320
    both = preprocess(y, sr, config=PreprocessConfig(trim=TrimConfig(), split=SplitConfig(top_db=30)))
    assert both.intervals[0, 0] >= a  # split intervals are times of the clip as given, not of the trimmed one
