import numpy as np
import pytest

from audioclf.audio.windowing import WindowConfig, frame_windows, sample_windows
from audioclf.errors import ParameterError


def test_frame_windows_cover_clip_with_stated_hop():
    x = np.arange(300, dtype=np.float32)[None, :].repeat(4, 0)  # (bins, frames), value = frame index
    w = frame_windows(x, sr=22050, hop_length=512, config=WindowConfig(length=128, hop=64))
    assert w.data.shape == (4, 4, 128)
    starts = w.data[:, 0, 0]
    np.testing.assert_array_equal(starts, [0, 64, 128, 192])  # stated hop
    covered = set()
    for win in w.data:
        covered |= set(win[0].astype(int).tolist())
    assert covered == set(range(300))  # every frame is in some window
    np.testing.assert_allclose(w.starts, np.array([0, 64, 128, 192]) * 512 / 22050)
    assert w.ends[-1] == pytest.approx(300 * 512 / 22050)
    assert list(w.padded) == [False, False, False, True]


def test_exact_fit_has_no_padding():
    w = frame_windows(np.zeros((2, 256)), sr=8000, hop_length=100, config=WindowConfig(length=128, hop=128))
    assert len(w) == 2 and not w.any_padded


@pytest.mark.parametrize("pad", ["repeat", "constant"])
def test_short_clip_is_padded_by_policy(pad):
    x = np.arange(1, 51, dtype=np.float32)[None, :]
    w = frame_windows(x, sr=8000, hop_length=80, config=WindowConfig(length=128, hop=64, pad=pad))
    assert w.data.shape == (1, 1, 128) and w.padded[0]
    tail = w.data[0, 0, 50:]
    if pad == "repeat":
        np.testing.assert_array_equal(w.data[0, 0, 50:100], x[0])
    else:
        assert np.all(tail == x.min())
    assert w.ends[0] == pytest.approx(50 * 80 / 8000)


def test_multichannel_frames_keep_channels_last():
    w = frame_windows(np.random.rand(16, 200, 3), sr=8000, hop_length=80)
    assert w.data.shape == (3, 16, 128, 3)


def test_sample_windows_default_30000_half_overlap():
    y = np.arange(70000, dtype=np.float32)
    w = sample_windows(y, 22050)
    assert w.data.shape == (4, 30000)
    np.testing.assert_array_equal(w.data[:, 0], [0, 15000, 30000, 45000])
    assert w.padded.tolist() == [False, False, False, True]
    short = sample_windows(np.ones(100, np.float32), 8000, config=WindowConfig.for_waveform(1000, pad="constant"))
    assert short.data.shape == (1, 1000) and short.data[0, 100:].sum() == 0


def test_window_errors():
    with pytest.raises(ParameterError, match="window hop=0 must be a positive integer"):
        WindowConfig(hop=0)
    with pytest.raises(ParameterError, match="pad='mirror'"):
        WindowConfig(pad="mirror")
    with pytest.raises(ParameterError, match="zero frames"):
        frame_windows(np.zeros((4, 0)), sr=8000, hop_length=80)
    assert WindowConfig.from_dict(WindowConfig(64, 32, "constant").to_dict()) == WindowConfig(64, 32, "constant")
