"""Feature channels: known answers, equality with librosa, sharing, stacking, summaries."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import librosa
import numpy as np
import pytest
import scipy.ndimage

from audioclf.audio import synth
from audioclf.errors import ParameterError
from audioclf.features import (
    FeatureConfig,
    _cqt,
    _cqt_basis,
    channel_names,
    compute_channel,
    compute_channels,
    get_channel,
    list_channels,
    mean_stft,
    normalize_channels,
    resize_2d,
    stack_channels,
    stack_computed,
    stft_pair,
    summary_labels,
    summary_matrix,
    summary_vector,
)
from audioclf.features._registry import compute_shared
from audioclf.features.stats import chroma_to_bins
from tests.conftest import HANG

SR = 22050
REPO = Path(__file__).resolve().parents[2]
REQUIRED = [
    "waveform", "zcr", "rms", "spectral_centroid", "spectral_bandwidth", "spectral_rolloff", "stft_mag",
    "stft_phase", "stft_real", "stft_imag", "mel", "mfcc", "gfcc", "gammatonegram", "cqt", "chroma_stft",
    "chroma_cqt", "chroma_cens",
]


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture(scope="module")
def mixture():
    """Two seconds of a sweep, a steady tone and a little noise."""
    y = synth.chirp(200.0, 4000.0, 2.0, SR, amp=0.3) + synth.tone(440.0, 2.0, SR, amp=0.2)
    return (y + synth.noise(2.0, SR, amp=0.02, rng=7)).astype(np.float32)


# --- registry -----------------------------------------------------------------------------------------------

def test_registry_lists_every_required_channel_with_metadata():
    assert channel_names() == REQUIRED
    for info in list_channels():
        assert len(info.description) > 150 and info.title and info.units
        assert info.scale in ("db", "linear") and info.bin_kind in ("hz", "index", "pitch", "none")
        assert (info.quantity is not None) == (info.scale == "db")
        assert set(info.as_dict()) == {"name", "title", "description", "units", "scale", "bin_kind"}


def test_unknown_channel_lists_valid_names():
    with pytest.raises(ParameterError, match=r"unknown channel 'melspec'; valid channels: waveform, zcr"):
        get_channel("melspec")
    with pytest.raises(ParameterError, match="unknown channel 'nope'"):
        compute_channels(np.zeros(100, np.float32), SR, ["mel", "nope"])
    with pytest.raises(ParameterError, match="names is empty"):
        compute_channels(np.zeros(100, np.float32), SR, [])


# --- known answers ------------------------------------------------------------------------------------------

def test_440_hz_tone_peaks_in_the_right_stft_and_mel_bins():
    ch = compute_channels(synth.tone(440.0, 1.0, SR), SR, ["stft_mag", "mel", "chroma_stft", "chroma_cqt"])
    stft = ch["stft_mag"]
    assert stft.values.mean(axis=1).argmax() == round(440.0 * 2048 / SR)
    assert stft.bins[stft.values.mean(axis=1).argmax()] == pytest.approx(440.0, abs=SR / 2048 / 2)
    mel = ch["mel"]
    assert mel.values.mean(axis=1).argmax() == np.argmin(np.abs(mel.bins - 440.0))
    for name in ("chroma_stft", "chroma_cqt"):
        assert ch[name].bin_labels[ch[name].values.mean(axis=1).argmax()] == "A"


def test_rising_chirp_gives_rising_cqt_ridge():
    y = synth.chirp(100.0, 3200.0, 2.0, SR, method="logarithmic")
    cqt = compute_channel("cqt", y, SR)
    ridge = cqt.values[:, 4:-4].argmax(axis=0)  # skip frames that overlap the clip edges
    assert np.all(np.diff(ridge) >= 0)
    assert ridge[-1] - ridge[0] >= 50  # five octaves = 60 semitone bins
    assert cqt.bins[ridge[0]] == pytest.approx(100 * 2 ** (4 * 512 / SR / 2 * 5), rel=0.1)


def test_waveform_zcr_rms_known_values():
    y = np.ones(4096, np.float32) * 0.5
    y[::2] = -0.5  # alternating: crosses zero at every sample
    ch = compute_channels(y, SR, ["waveform", "zcr", "rms"])
    mid = slice(2, -2)  # frames fully inside the clip
    np.testing.assert_allclose(ch["waveform"].values[:, mid], [[-0.5] * 5, [0.5] * 5])
    np.testing.assert_allclose(ch["rms"].values[0, mid], 0.5)
    assert ch["zcr"].values[0, mid].min() > 0.99
    assert ch["waveform"].bin_labels == ["min", "max"]


# --- equal to librosa -----------------------------------------------------------------------------------------

CONFIGS = {
    "default": FeatureConfig(),
    "custom": FeatureConfig(n_fft=1024, hop_length=256, n_mels=64, n_mfcc=20, fmin=50.0, fmax=8000.0,
                            cqt_n_bins=72, cqt_bins_per_octave=24, cqt_fmin=65.0, rolloff_percent=0.9),
}


def _librosa_reference(name: str, y: np.ndarray, sr: int, cfg: FeatureConfig) -> np.ndarray:
    kw = {"n_fft": cfg.n_fft, "hop_length": cfg.hop_length}
    mel_kw = {"n_mels": cfg.n_mels, "fmin": cfg.fmin, "fmax": cfg.fmax}
    chroma_kw = {"hop_length": cfg.hop_length, "fmin": cfg.cqt_fmin,
                 "n_octaves": _cqt.chroma_octaves(sr, cfg.cqt_fmin)}
    refs = {
        "zcr": lambda: librosa.feature.zero_crossing_rate(y, frame_length=cfg.n_fft, hop_length=cfg.hop_length),
        "rms": lambda: librosa.feature.rms(y=y, frame_length=cfg.n_fft, hop_length=cfg.hop_length),
        "spectral_centroid": lambda: librosa.feature.spectral_centroid(y=y, sr=sr, **kw),
        "spectral_bandwidth": lambda: librosa.feature.spectral_bandwidth(y=y, sr=sr, **kw),
        "spectral_rolloff": lambda: librosa.feature.spectral_rolloff(y=y, sr=sr, roll_percent=cfg.rolloff_percent,
                                                                     **kw),
        "stft_mag": lambda: np.abs(librosa.stft(y, **kw)),
        "stft_phase": lambda: np.angle(librosa.stft(y, **kw)),
        "stft_real": lambda: librosa.stft(y, **kw).real,
        "stft_imag": lambda: librosa.stft(y, **kw).imag,
        "mel": lambda: librosa.feature.melspectrogram(y=y, sr=sr, **kw, **mel_kw),
        "mfcc": lambda: librosa.feature.mfcc(y=y, sr=sr, n_mfcc=cfg.n_mfcc, **kw, **mel_kw),
        "cqt": lambda: np.abs(librosa.cqt(y, sr=sr, hop_length=cfg.hop_length, fmin=cfg.cqt_fmin,
                                          n_bins=_cqt.fit_cqt_bins(sr, cfg.cqt_fmin, cfg.cqt_bins_per_octave,
                                                                   cfg.cqt_n_bins),
                                          bins_per_octave=cfg.cqt_bins_per_octave)),
        "chroma_stft": lambda: librosa.feature.chroma_stft(y=y, sr=sr, **kw),
        "chroma_cqt": lambda: librosa.feature.chroma_cqt(y=y, sr=sr, **chroma_kw),
        "chroma_cens": lambda: librosa.feature.chroma_cens(y=y, sr=sr, **chroma_kw),
    }
    return refs[name]()


LIBROSA_CHANNELS = ["zcr", "rms", "spectral_centroid", "spectral_bandwidth", "spectral_rolloff", "stft_mag",
                    "stft_phase", "stft_real", "stft_imag", "mel", "mfcc", "cqt", "chroma_stft", "chroma_cqt",
                    "chroma_cens"]


@pytest.fixture(scope="module")
def computed(mixture):
    return {key: compute_channels(mixture, SR, config=cfg) for key, cfg in CONFIGS.items()}


@pytest.mark.filterwarnings("ignore:n_fft=.*is too large:UserWarning")  # librosa's own per-octave notice
@pytest.mark.parametrize("config_key", list(CONFIGS))
@pytest.mark.parametrize("name", LIBROSA_CHANNELS)
def test_channel_equals_librosa(name, config_key, mixture, computed):
    ours = computed[config_key][name].values
    ref = _librosa_reference(name, mixture, SR, CONFIGS[config_key])
    assert ours.shape == ref.shape
    np.testing.assert_allclose(ours, ref, rtol=1e-5, atol=1e-6)


@pytest.mark.filterwarnings("ignore:n_fft=.*is too large:UserWarning")
@pytest.mark.parametrize("name", ["cqt", "chroma_cqt", "chroma_cens", "mel", "spectral_rolloff"])
def test_channel_equals_librosa_at_8_khz(name, rng):
    y = (0.1 * rng.standard_normal(12000)).astype(np.float32)
    ours = compute_channel(name, y, 8000).values
    np.testing.assert_allclose(ours, _librosa_reference(name, y, 8000, FeatureConfig()), rtol=1e-5, atol=1e-6)


@pytest.mark.filterwarnings("ignore:n_fft=.*is too large:UserWarning")
@pytest.mark.parametrize("sr,n,hop,n_bins,bpo,tuning,fmin", [
    (22050, 30000, 512, 84, 12, 0.0, 32.70319566257483),
    (22050, 30000, 512, 252, 36, 0.17, 32.70319566257483),
    (8000, 5000, 512, 83, 12, 0.0, 32.70319566257483),
    (16000, 1, 512, 84, 12, 0.0, 32.70319566257483),
    (44100, 20000, 500, 60, 12, -0.3, 55.0),
    (22050, 3000, 1024, 1, 12, 0.0, 440.0),
])
def test_cached_cqt_is_identical_to_librosa(sr, n, hop, n_bins, bpo, tuning, fmin, rng):
    y = (0.1 * rng.standard_normal(n)).astype(np.float32)
    for _ in range(2):  # second call uses the cached filter bases
        ours = _cqt_basis.cqt(y, sr=sr, hop_length=hop, fmin=fmin, n_bins=n_bins, bins_per_octave=bpo,
                              tuning=tuning)
        ref = librosa.cqt(y, sr=sr, hop_length=hop, fmin=fmin, n_bins=n_bins, bins_per_octave=bpo, tuning=tuning)
        assert ours.dtype == ref.dtype
        np.testing.assert_array_equal(ours, ref)


def test_cqt_bins_fit_below_nyquist():
    assert _cqt.fit_cqt_bins(22050, 32.70319566257483, 12, 84) == 84
    assert _cqt.fit_cqt_bins(8000, 32.70319566257483, 12, 84) == 83
    assert _cqt.chroma_octaves(8000, 32.70319566257483) == 6
    assert _cqt.chroma_octaves(22050, 32.70319566257483) == 7
    with pytest.raises(ParameterError, match="lower cqt_fmin"):
        _cqt.fit_cqt_bins(8000, 3990.0, 12, 84)
    ch = compute_channel("cqt", np.zeros(8000, np.float32), 8000)
    assert ch.values.shape[0] == 83 and ch.bins[-1] < 4000 and ch.bin_labels[0] == "C1"


# --- metadata ---------------------------------------------------------------------------------------------

def test_times_bins_and_model_input(computed):
    ch = computed["default"]
    n_frames = 1 + 2 * SR // 512
    for data in ch.values():
        assert data.values.dtype == np.float32 and data.values.shape[1] == n_frames
        np.testing.assert_allclose(data.times, np.arange(n_frames) * 512 / SR)
        assert len(data.bins) == data.values.shape[0]
        assert data.bin_labels is None or len(data.bin_labels) == data.values.shape[0]
    np.testing.assert_allclose(ch["stft_mag"].bins, librosa.fft_frequencies(sr=SR, n_fft=2048))
    np.testing.assert_allclose(ch["cqt"].bins, librosa.cqt_frequencies(n_bins=84, fmin=librosa.note_to_hz("C1")))
    np.testing.assert_allclose(ch["mel"].bins, librosa.mel_frequencies(n_mels=130, fmax=SR / 2)[1:-1])
    assert ch["chroma_cens"].bin_labels[9] == "A"
    db = ch["stft_mag"].model_input()
    np.testing.assert_allclose(db, librosa.amplitude_to_db(ch["stft_mag"].values, ref=1.0, top_db=80.0))
    assert db.max() - db.min() <= 80.0 + 1e-3
    mel_db = ch["mel"].model_input()
    np.testing.assert_allclose(mel_db, librosa.power_to_db(ch["mel"].values, ref=1.0, top_db=80.0), atol=1e-4)
    assert ch["mfcc"].model_input() is ch["mfcc"].values  # linear channels pass through


# --- short, silent, odd inputs --------------------------------------------------------------------------------

@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("sr", [22050, 8000, 48000])
@pytest.mark.parametrize("kind", ["one_sample", "50ms", "silence", "50ms_silence"])
def test_every_channel_finite_on_short_and_silent_clips(kind, sr):
    n = {"one_sample": 1, "50ms": int(0.05 * sr), "silence": sr, "50ms_silence": int(0.05 * sr)}[kind]
    y = np.zeros(n, np.float32) if "silence" in kind else synth.noise(n / sr, sr, amp=0.3, rng=0)
    if kind == "one_sample":
        y = np.array([0.25], np.float32)
    chans = compute_channels(y, sr)
    assert list(chans) == REQUIRED
    for name, data in chans.items():
        assert data.values.shape[1] == 1 + n // 512 == len(data.times), name
        assert np.all(np.isfinite(data.values)), name
        assert np.all(np.isfinite(data.model_input())), name
    assert stack_channels(y, sr, REQUIRED, normalize="standard").shape == (128, 128, 18)


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("n", [1, 3, 7])
def test_cqt_of_a_few_samples_at_high_sample_rates(n):
    # librosa.cqt raises "too short" here (early decimation by 8); we zero-pad instead.
    y = np.full(n, 0.1, np.float32)
    for name in ("cqt", "chroma_cqt"):
        data = compute_channel(name, y, 96000)
        assert data.values.shape[1] == 1 and np.all(np.isfinite(data.values))


@pytest.mark.parametrize("y,sr,match", [
    (np.zeros((2, 100), np.float32), SR, r"mono with shape \(n,\), got shape \(2, 100\)"),
    (np.zeros(0, np.float32), SR, "y is empty"),
    (np.array([0.0, np.nan], np.float32), SR, "NaN or infinite"),
    (np.array(["a", "b"]), SR, "real numbers"),
    (np.zeros(100, np.float32), 0, "sr=0 must be a positive integer"),
    (np.zeros(100, np.float32), 22050.5, "sr=22050.5 must be a positive integer"),
])
def test_bad_signal_raises(y, sr, match):
    with pytest.raises(ParameterError, match=match):
        compute_channels(y, sr, ["rms"])


def test_integer_and_float64_input_accepted():
    ints = np.array([0, 1000, -1000] * 100, dtype=np.int16)
    assert compute_channel("rms", ints, SR).values.dtype == np.float32
    f64 = synth.tone(440.0, 0.2, SR).astype(np.float64)
    np.testing.assert_array_equal(compute_channel("mel", f64, SR).values,
                                  compute_channel("mel", f64.astype(np.float32), SR).values)


# --- config ---------------------------------------------------------------------------------------------

def test_config_defaults_and_json_round_trip():
    cfg = FeatureConfig()
    assert (cfg.n_fft, cfg.hop_length, cfg.n_mels, cfg.n_mfcc, cfg.fmin, cfg.fmax) == (2048, 512, 128, 40, 0.0, None)
    assert (cfg.n_gammatone, cfg.n_gfcc) == (64, 40)
    assert cfg.cqt_fmin == pytest.approx(32.70, abs=0.01)
    custom = FeatureConfig(n_mels=64, fmax=8000.0, top_db=None)
    assert FeatureConfig.from_dict(json.loads(json.dumps(custom.to_dict()))) == custom
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.n_fft = 1024  # type: ignore[misc]


@pytest.mark.parametrize("kwargs,match", [
    ({"hop_length": 0}, "hop_length=0 must be a positive integer"),
    ({"n_fft": 1023}, "n_fft=1023 must be even"),
    ({"n_fft": 2048.0}, "n_fft=2048.0 must be an integer >= 2"),
    ({"n_mels": True}, "n_mels=True must be a positive integer"),
    ({"n_mfcc": 200}, r"n_mfcc=200 must be <= n_mels=128"),
    ({"n_gfcc": 65}, r"n_gfcc=65 must be <= n_gammatone=64"),
    ({"fmin": -1.0}, "fmin=-1.0 must be a number >= 0"),
    ({"fmin": 500.0, "fmax": 400.0}, "fmax=400.0 must be greater than fmin=500.0"),
    ({"rolloff_percent": 1.5}, r"rolloff_percent=1.5 must be in \(0, 1\)"),
    ({"top_db": 0}, "top_db=0 must be a positive number or None"),
    ({"cqt_fmin": float("nan")}, "cqt_fmin=nan must be a positive number"),
])
def test_config_validation(kwargs, match):
    with pytest.raises(ParameterError, match=match):
        FeatureConfig(**kwargs)


def test_config_errors_that_depend_on_sr():
    with pytest.raises(ParameterError, match=r"fmax=10000.0 exceeds the Nyquist frequency sr/2=4000"):
        compute_channels(np.zeros(100, np.float32), 8000, ["mel"], config=FeatureConfig(fmax=10000.0))
    with pytest.raises(ParameterError, match=r"unknown FeatureConfig field\(s\) \['n_fft_'\]"):
        FeatureConfig.from_dict({"n_fft_": 1024})
    with pytest.raises(ParameterError, match="config must be a FeatureConfig, got dict"):
        compute_channels(np.zeros(100, np.float32), SR, config={"n_fft": 1024})  # type: ignore[arg-type]


# --- sharing ------------------------------------------------------------------------------------------------

def test_shared_stft_and_cqt_are_computed_once(monkeypatch, mixture):
    calls = {"stft": 0, "cqt": 0}
    real_stft, real_cqt = librosa.stft, _cqt.cqt

    def counting_stft(*args, **kwargs):
        if kwargs.get("window", "hann") != "ones":  # the CQT's per-octave transforms use window='ones'
            calls["stft"] += 1
        return real_stft(*args, **kwargs)

    def counting_cqt(*args, **kwargs):
        calls["cqt"] += 1
        return real_cqt(*args, **kwargs)

    monkeypatch.setattr(librosa, "stft", counting_stft)
    monkeypatch.setattr(_cqt, "cqt", counting_cqt)
    chans, shared = compute_shared(mixture, SR)
    assert len(chans) == 18
    assert calls == {"stft": 1, "cqt": 2}  # one STFT; the 12-bin CQT and the 36-bin chroma CQT
    assert shared.counts and set(shared.counts.values()) == {1}

    calls.update(stft=0, cqt=0)
    compute_channels(mixture, SR, ["chroma_cqt", "chroma_cens"])
    assert calls["cqt"] == 1


# --- stacking -------------------------------------------------------------------------------------------------

def test_resize_matches_scipy_zoom_linear(rng):
    x = rng.standard_normal((37, 90)).astype(np.float32)
    ref = scipy.ndimage.zoom(x, (128 / 37, 128 / 90), order=1, mode="nearest", grid_mode=False)
    np.testing.assert_allclose(resize_2d(x, (128, 128)), ref, atol=1e-5)
    assert resize_2d(np.array([[0.0, 2.0]]), (1, 3)).tolist() == [[0.0, 1.0, 2.0]]
    assert np.all(resize_2d(np.array([[3.0]]), (4, 5)) == 3.0)
    with pytest.raises(ParameterError, match=r"shape=\(128, 0\) must be two positive integers"):
        resize_2d(x, (128, 0))


def test_stack_shapes_and_model_form(mixture):
    names = ["mel", "mfcc", "gammatonegram", "chroma_cqt"]
    x = stack_channels(mixture, SR, names)
    assert x.shape == (128, 128, 4) and x.dtype == np.float32
    chans = compute_channels(mixture, SR, names)
    np.testing.assert_allclose(x[..., 0], resize_2d(chans["mel"].model_input(), (128, 128)))  # dB form
    np.testing.assert_array_equal(stack_computed(chans), x)
    assert stack_channels(mixture, SR, "zcr", shape=(64, 32)).shape == (64, 32, 1)


def test_stack_normalisation(mixture):
    names = ["stft_mag", "stft_phase", "spectral_centroid", "cqt"]
    mm = stack_channels(mixture, SR, names, normalize="minmax")
    np.testing.assert_allclose(mm.min(axis=(0, 1)), 0.0, atol=1e-6)
    np.testing.assert_allclose(mm.max(axis=(0, 1)), 1.0, atol=1e-6)
    st = stack_channels(mixture, SR, names, normalize="standard")
    np.testing.assert_allclose(st.mean(axis=(0, 1)), 0.0, atol=1e-5)
    np.testing.assert_allclose(st.std(axis=(0, 1)), 1.0, atol=1e-4)
    const = normalize_channels(np.ones((4, 4, 2), np.float32), "standard")
    assert np.all(const == 0)
    with pytest.raises(ParameterError, match="normalize='zscore' is not an option; choose one of none, minmax"):
        stack_channels(mixture, SR, names, normalize="zscore")


def test_stft_pairs(mixture):
    mp = stft_pair(mixture, SR, kind="magphase")
    ri = stft_pair(mixture, SR, kind="realimag", shape=(64, 100))
    assert mp.shape == (128, 128, 2) and ri.shape == (64, 100, 2)
    assert mp[..., 1].min() >= -np.pi - 1e-6 and mp[..., 1].max() <= np.pi + 1e-6
    with pytest.raises(ParameterError, match="kind='polar' is not an STFT pair; choose one of magphase, realimag"):
        stft_pair(mixture, SR, kind="polar")


# --- summaries ---------------------------------------------------------------------------------------------------

def test_summary_matrix_columns_against_librosa(mixture):
    m = summary_matrix(mixture, SR)
    assert m.shape == (40, 5) and m.dtype == np.float32
    np.testing.assert_allclose(m[:, 0], librosa.feature.mfcc(y=mixture, sr=SR, n_mfcc=40).mean(axis=1), rtol=1e-4,
                               atol=1e-3)
    mel40 = librosa.power_to_db(librosa.feature.melspectrogram(y=mixture, sr=SR, n_mels=40))
    np.testing.assert_allclose(m[:, 1], mel40.mean(axis=1), rtol=1e-4, atol=1e-3)
    chroma = librosa.feature.chroma_stft(y=mixture, sr=SR).mean(axis=1)
    np.testing.assert_allclose(m[::10, 2], chroma[::3], rtol=1e-5)  # bins 0, 10, 20, 30 are C, D#, F#, A


def test_summary_vector_layout_and_stats():
    y = synth.tone(440.0, 1.0, SR, amp=0.5)
    vec, labels = summary_vector(y, SR), summary_labels()
    assert vec.shape == (220,) and len(labels) == 220 and vec.dtype == np.float32
    np.testing.assert_array_equal(vec[:200].reshape(5, 40).T, summary_matrix(y, SR))
    assert labels[0] == "mfcc[0]" and labels[200] == "zcr.mean" and labels[-1] == "spectral_rolloff.max"
    rms_max = vec[labels.index("rms.max")]
    assert rms_max == pytest.approx(0.5 / np.sqrt(2), rel=5e-3)  # a sine's RMS is amp / sqrt(2)
    assert vec[labels.index("chroma_cqt[30]")] == pytest.approx(1.0, abs=0.05)  # bin 30 of 40 is A


def test_chroma_to_bins_and_summary_errors():
    v = chroma_to_bins(np.arange(12.0))
    assert v.shape == (40,) and v[0] == 0.0 and v[10] == 3.0
    assert v[-1] == pytest.approx(11 + 0.7 * (0 - 11))  # wraps from B back to C
    with pytest.raises(ParameterError, match=r"chroma must have shape \(12,\)"):
        chroma_to_bins(np.zeros(13))
    with pytest.raises(ParameterError, match="n_mels=32 is too small"):
        summary_matrix(np.zeros(100, np.float32), SR, config=FeatureConfig(n_mels=32, n_mfcc=20))


def test_mean_stft_peak_and_reference():
    y = synth.tone(1000.0, 1.0, 16000)
    spec = mean_stft(y, 16000)
    assert spec.shape == (257,) and spec.argmax() == 32  # 1000 Hz * 512 / 16000
    np.testing.assert_allclose(spec, np.abs(librosa.stft(y, n_fft=512)).mean(axis=1), rtol=1e-5)
    assert mean_stft(np.zeros(1, np.float32), 16000).shape == (257,)
    with pytest.raises(ParameterError, match="n_fft=511 must be even"):
        mean_stft(y, 16000, n_fft=511)


# --- CLI ---------------------------------------------------------------------------------------------------

def test_cli_channels_json_lists_every_channel():
    out = subprocess.run([sys.executable, "-m", "audioclf", "channels", "--json"], cwd=REPO, capture_output=True,
                         text=True, timeout=HANG, check=True)
    rows = json.loads(out.stdout.strip().splitlines()[-1])
    assert [r["name"] for r in rows] == REQUIRED
    assert all(r["description"] and r["title"] and r["units"] and r["scale"] in ("db", "linear") for r in rows)
    table = subprocess.run([sys.executable, "-m", "audioclf", "channels"], cwd=REPO, capture_output=True,
                           text=True, timeout=HANG, check=True)
    assert "gammatonegram" in table.stdout and "Mel spectrogram" in table.stdout
