"""Explanation figures: overlays on the input's own coordinates, attention rows in the clip's seconds."""

from __future__ import annotations

import numpy as np
import pytest

from audioclf.engine.inference import Prediction
from audioclf.errors import ParameterError
from audioclf.explanations.gradcam import AttentionSpans, GradCam
from audioclf.features import FeatureConfig, compute_channels
from audioclf.models.readout import AttentionMap
from audioclf.ui import gate_overlay_figure, gradcam_figure, overlay_figure, timeline_figure

SR, HOP, F, T = 16000, 256, 16, 32


def _pred(x: np.ndarray, starts, attention=None) -> Prediction:
    n = len(x)
    starts = np.asarray(starts, float)
    return Prediction(file="c", classes=("a", "b"), probs=np.array([0.7, 0.3]),
                      window_probs=np.tile([0.7, 0.3], (n, 1)), starts=starts, ends=starts + T * HOP / SR,
                      padded=np.zeros(n, bool), attention=attention or {}, inputs=x, duration=2.0)


def test_gate_overlay_lies_on_the_spectrogram_frames():
    y = np.random.default_rng(0).normal(0, 0.1, 2 * SR).astype(np.float32)
    mel = compute_channels(y, SR, ["mel"], config=FeatureConfig(n_fft=1024, hop_length=HOP, n_mels=F, n_mfcc=F))["mel"]
    k0 = 40  # the window starts at frame 40 of the clip
    x = mel.model_input()[:, k0:k0 + T][None, ..., None]  # (1, F, T, 1)
    gate = np.arange(4 * 8, dtype=np.float32).reshape(1, 4, 8) / 32  # 4 x 4 cells of the input per gate cell
    att = AttentionMap(gate, "cnn", ("batch", "freq", "time"), "b2", "", {"freq": 4, "time": 4})
    fig = gate_overlay_figure(_pred(x, [k0 * HOP / SR], {"attn_cnn_b2": att}), "attn_cnn_b2", window=0,
                              window_seconds=T * HOP / SR)
    base, heat = fig.data
    np.testing.assert_allclose(heat.x, mel.times[k0:k0 + T])  # the columns are the spectrogram's frames
    np.testing.assert_allclose(base.x, heat.x)
    z = np.asarray(heat.z)
    assert z.shape == x.shape[1:3] == np.asarray(base.z).shape
    np.testing.assert_allclose(z[:4, :4], gate[0, 0, 0])  # each gate cell covers a 4 x 4 block
    np.testing.assert_allclose(z[12:, 28:], gate[0, 3, 7])


def test_timeline_attention_row_stays_within_each_window():
    x = np.zeros((2, F, T, 1), np.float32)
    pred = _pred(x, [0.0, 0.25])
    centres = np.array([0.05, 0.2, 0.35, 0.5, 0.6])
    spans = AttentionSpans(np.array([0, 0, 1, 1, 1]), centres - 0.05, centres + 0.05, np.array([1, 1, 0.5, 2, 0.5]))
    fig = timeline_figure(pred, attention=spans)
    titles = [a.text for a in fig.layout.annotations]
    assert titles == ["Attention over time", "Per-window class probabilities"]
    lines = [t for t in fig.data if t.type == "scatter" and (t.name or "").startswith("window")]
    assert [t.name for t in lines] == ["window 1", "window 2"]
    for w, t in enumerate(lines):
        assert np.all(np.asarray(t.x) >= pred.starts[w]) and np.all(np.asarray(t.x) <= pred.ends[w])
    np.testing.assert_allclose(lines[1].y, [0.5, 2, 0.5])


@pytest.mark.parametrize("hop_s", [0.5, 0.25])  # windows side by side, then overlapping by half
def test_timeline_draws_the_spectrogram_and_puts_each_window_over_its_seconds(hop_s):
    from audioclf.ui.plots import display_grid

    y = np.random.default_rng(2).normal(0, 0.1, 2 * SR).astype(np.float32)
    mel = compute_channels(y, SR, ["mel"], config=FeatureConfig(n_fft=1024, hop_length=HOP, n_mels=F, n_mfcc=F))["mel"]
    starts = np.arange(0.0, 1.5 + 1e-9, hop_s)
    probs = np.random.default_rng(3).dirichlet([1, 1], size=len(starts))
    pred = Prediction(file="c", classes=("a", "b"), probs=probs.mean(axis=0), window_probs=probs, starts=starts,
                      ends=starts + 0.5, padded=np.zeros(len(starts), bool), attention={}, inputs=None, duration=2.0)
    fig = timeline_figure(pred, mel)
    assert [a.text for a in fig.layout.annotations] == ["Spectrogram", "Per-window class probabilities"]
    spec, cells = fig.data[0], fig.data[1]
    # the spectrogram row: the clip's mel frames at their own seconds, above the cells on a linked time axis
    assert (spec.type, spec.xaxis, spec.yaxis) == ("heatmap", "x", "y")
    z, times, _, _ = display_grid(mel)
    np.testing.assert_allclose(np.asarray(spec.z), z)
    np.testing.assert_allclose(spec.x, mel.times)
    assert spec.x[0] < 0.05 and spec.x[-1] > 1.95  # the whole clip
    assert (cells.type, cells.xaxis) == ("heatmap", "x2") and fig.layout.xaxis.matches == "x2"
    # each window's cell: its probabilities, over seconds its window covers, around the window's centre
    edges = np.asarray(cells.x)
    assert len(edges) == len(starts) + 1
    np.testing.assert_allclose(np.asarray(cells.z), probs.T)
    for w, (start, end) in enumerate(zip(starts, starts + 0.5, strict=True)):
        lo, hi = edges[w], edges[w + 1]
        assert start - 1e-9 <= lo < (start + end) / 2 < hi <= end + 1e-9
        if hop_s == 0.5:  # side by side: the cell is exactly the window
            assert (lo, hi) == pytest.approx((start, end))
        under = mel.times[(mel.times >= lo) & (mel.times < hi)]  # the spectrogram frames drawn above the cell
        assert len(under) and np.all((under >= start) & (under < end))
    assert tuple(fig.layout.xaxis2.range) == (0, 2.0)


def test_gradcam_overlay_has_the_input_shape():
    x = np.random.default_rng(1).normal(size=(1, F, T, 1)).astype(np.float32)
    heat = np.zeros((F, T), np.float32)
    heat[3, 5] = 1.0
    cam = GradCam(heat=heat, grid=heat, layer="conv", class_index=1, prob=0.3)
    fig = gradcam_figure(cam, _pred(x, [0.5]), window=0, window_seconds=T * HOP / SR)
    assert "Grad-CAM for 'b' (30%) at layer conv" in fig.layout.title.text
    np.testing.assert_array_equal(np.asarray(fig.data[1].z), heat)
    assert fig.data[1].x[0] == pytest.approx(0.5) and fig.data[1].x[1] - fig.data[1].x[0] == pytest.approx(HOP / SR)


def test_overlay_refuses_a_map_of_another_shape():
    with pytest.raises(ParameterError, match=r"heat map \(2, 2\) must have the spectrogram's shape \(3, 3\)"):
        overlay_figure(np.zeros((3, 3)), np.zeros((2, 2)), x=np.arange(3))
