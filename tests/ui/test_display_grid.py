"""Heatmaps are drawn at most MAX_HEATMAP_ROWS x MAX_HEATMAP_COLUMNS cells; what is merged stays truthful."""

from __future__ import annotations

import numpy as np
import pytest

from audioclf.audio import synth
from audioclf.features import FeatureConfig, compute_channels
from audioclf.ui import channels_figure
from audioclf.ui.plots import MAX_HEATMAP_COLUMNS, MAX_HEATMAP_ROWS, display_grid

SR = 22050


@pytest.fixture(scope="module")
def chans():
    y = synth.tone(3000.0, 3.0, SR, amp=0.5) + synth.noise(3.0, SR, amp=0.001, rng=0)
    return compute_channels(y, SR, ["stft_mag", "stft_phase", "mel", "mfcc"], config=FeatureConfig())


def test_stft_rows_merged_by_peak_so_a_narrow_tone_survives(chans):
    ch = chans["stft_mag"]
    full = ch.model_input()
    assert full.shape[0] == 1025 > MAX_HEATMAP_ROWS
    z, times, row_step, col_step = display_grid(ch)
    assert row_step == 5 and col_step == 1 and z.shape == (205, full.shape[1])
    np.testing.assert_allclose(times, ch.times)
    peak_bin = int(np.argmax(full[:, full.shape[1] // 2]))
    assert int(np.argmax(z[:, full.shape[1] // 2])) == peak_bin // 5
    np.testing.assert_allclose(z[peak_bin // 5], full[peak_bin // 5 * 5:peak_bin // 5 * 5 + 5].max(axis=0), rtol=1e-6)
    assert z.max() == pytest.approx(full.max())


def test_phase_is_sampled_not_averaged_and_small_channels_are_untouched(chans):
    z, _, row_step, _ = display_grid(chans["stft_phase"])
    np.testing.assert_array_equal(z, chans["stft_phase"].model_input()[::row_step])
    for name in ("mel", "mfcc"):
        z, times, rs, cs = display_grid(chans[name])
        assert (rs, cs) == (1, 1)
        np.testing.assert_array_equal(z, chans[name].model_input())


def test_long_clip_columns_merged_with_mean_times():
    y = synth.noise(60.0, 8000, amp=0.1, rng=1)
    ch = compute_channels(y, 8000, ["mfcc"], config=FeatureConfig(hop_length=128, n_fft=256))["mfcc"]
    assert ch.shape[1] > MAX_HEATMAP_COLUMNS
    z, times, rs, cs = display_grid(ch)
    assert rs == 1 and cs == int(np.ceil(ch.shape[1] / MAX_HEATMAP_COLUMNS)) and z.shape[1] <= MAX_HEATMAP_COLUMNS
    np.testing.assert_allclose(times[1], ch.times[cs:2 * cs].mean())
    np.testing.assert_allclose(z[:, 0], ch.model_input()[:, :cs].mean(axis=1), rtol=1e-5, atol=1e-5)


def test_figure_says_what_was_merged_and_keeps_hz_on_the_rows(chans):
    fig = channels_figure(chans)
    titles = [a.text for a in fig.layout.annotations]
    assert "STFT magnitude (spectrogram) (drawn merging 5 bins per cell)" in titles
    assert not any("merging" in t for t in titles if t.startswith(("Mel", "MFCC")))
    stft = fig.data[0]
    assert np.shape(stft.z) == (205, chans["stft_mag"].shape[1])
    np.testing.assert_allclose(stft.y[1], chans["stft_mag"].bins[5:10].mean())
