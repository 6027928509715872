"""The gammatone filterbank against analytic properties and scipy's gammatone filter."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.signal

from audioclf.audio import synth
from audioclf.errors import ParameterError
from audioclf.features import FeatureConfig, compute_channels
from audioclf.features.gammatone import (
    erb_bandwidth,
    erb_rate_to_hz,
    gammatone_centres,
    gammatone_filterbank,
    gammatone_response,
    hz_to_erb_rate,
)

SR = 22050


def test_erb_known_values_glasberg_moore():
    # ERB(1 kHz) = 24.7 * (4.37 + 1) = 132.639 Hz; ERB-number(1 kHz) = 21.4 log10(5.37) = 15.62 Cams.
    assert erb_bandwidth(1000.0) == pytest.approx(132.639)
    assert hz_to_erb_rate(1000.0) == pytest.approx(15.62, abs=0.01)
    f = np.array([50.0, 440.0, 5000.0, 11025.0])
    np.testing.assert_allclose(erb_rate_to_hz(hz_to_erb_rate(f)), f)


def test_centres_are_erb_spaced_from_fmin_to_fmax():
    c = gammatone_centres(64, 50.0, 11025.0)
    assert c.shape == (64,)
    assert c[0] == pytest.approx(50.0) and c[-1] == pytest.approx(11025.0)
    steps = np.diff(hz_to_erb_rate(c))
    np.testing.assert_allclose(steps, steps[0], rtol=1e-9)
    assert np.all(np.diff(c) > 0)


def test_response_unit_gain_at_centre_and_bandwidth():
    fc = np.array([500.0, 2000.0, 6000.0])
    np.testing.assert_allclose(gammatone_response(fc, fc).diagonal(), 1.0)
    assert gammatone_response(fc, 2000.0).shape == (3,)
    # A 4th-order gammatone's -3 dB bandwidth is 2 b sqrt(2^(1/4) - 1) = 0.887 ERB with b = 1.019 ERB.
    f = np.linspace(1000.0, 3000.0, 200001)
    passband = f[gammatone_response(f, 2000.0) ** 2 >= 0.5]
    width = passband[-1] - passband[0]
    assert width / erb_bandwidth(2000.0) == pytest.approx(2 * 1.019 * np.sqrt(2 ** 0.25 - 1), rel=0.01)


def test_response_matches_scipy_gammatone_fir():
    fs, fc = 16000, 1000.0
    b, a = scipy.signal.gammatone(fc, "fir", fs=fs, numtaps=int(0.1 * fs))  # 100 ms: the tail has decayed
    erb = erb_bandwidth(fc)
    f = np.linspace(fc - 3 * erb, fc + 3 * erb, 301)
    _, h = scipy.signal.freqz(b, a, worN=f, fs=fs)
    _, h_fc = scipy.signal.freqz(b, a, worN=[fc], fs=fs)
    ref_db = 20 * np.log10(np.abs(h) / np.abs(h_fc[0]))
    ours_db = 20 * np.log10(gammatone_response(f, fc))
    np.testing.assert_allclose(ours_db, ref_db, atol=0.2)


def test_filterbank_shape_dtype_and_cache_is_read_only():
    w, c = gammatone_filterbank(sr=16000, n_fft=512, n_filters=32)
    assert w.shape == (32, 257) and w.dtype == np.float32 and c.shape == (32,)
    assert not w.flags.writeable and not c.flags.writeable
    # Each row peaks at the FFT bin nearest its centre.
    bins = np.arange(257) * 16000 / 512
    np.testing.assert_array_less(np.abs(bins[w.argmax(axis=1)] - c), 16000 / 512 / 2 + 1e-9)


def test_filterbank_errors():
    with pytest.raises(ParameterError, match="exceeds the Nyquist"):
        gammatone_filterbank(sr=8000, n_fft=512, fmax=5000.0)
    with pytest.raises(ParameterError, match="n_filters=0 must be a positive integer"):
        gammatone_centres(0, 50.0, 4000.0)
    with pytest.raises(ParameterError, match="0 < fmin < fmax"):
        gammatone_centres(8, 4000.0, 100.0)


def test_440_hz_tone_lights_nearest_filter():
    chan = compute_channels(synth.tone(440.0, 1.0, SR), SR, ["gammatonegram"])["gammatonegram"]
    nearest = np.argmin(np.abs(hz_to_erb_rate(chan.bins) - hz_to_erb_rate(440.0)))
    assert chan.values.mean(axis=1).argmax() == nearest
    assert chan.bin_kind == "hz" and chan.scale == "db"


@pytest.mark.parametrize("k", [3, 20, 35, 50, 60])
@pytest.mark.parametrize("offset", [-0.3, 0.0, 0.3])
def test_tones_near_a_centre_light_that_filter(k, offset):
    c = gammatone_centres(64, 50.0, SR / 2)
    step = hz_to_erb_rate(c[1]) - hz_to_erb_rate(c[0])
    freq = float(erb_rate_to_hz(hz_to_erb_rate(c[k]) + offset * step))
    chan = compute_channels(synth.tone(freq, 0.5, SR), SR, ["gammatonegram"])["gammatonegram"]
    assert chan.values.mean(axis=1).argmax() == k


def test_gfcc_is_dct_of_log_gammatonegram():
    import librosa

    y = synth.noise_band(500.0, 3000.0, 1.0, SR)
    cfg = FeatureConfig(n_gammatone=48, n_gfcc=20)
    ch = compute_channels(y, SR, ["gammatonegram", "gfcc"], config=cfg)
    # librosa's MFCC applies the same DCT-II (ortho) to whatever log spectrum it is given.
    ref = librosa.feature.mfcc(S=librosa.power_to_db(ch["gammatonegram"].values), n_mfcc=20)
    np.testing.assert_allclose(ch["gfcc"].values, ref, rtol=1e-4, atol=1e-3)
    assert ch["gfcc"].values.shape == (20, 1 + len(y) // 512)
