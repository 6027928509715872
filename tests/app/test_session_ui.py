import gc

import numpy as np
import pytest

from audioclf.audio import synth
from audioclf.errors import ParameterError
from audioclf.service.session import SessionStore
from audioclf.ui import channels_figure, confusion_figure, envelope, waveform_figure


def test_session_paths_stay_inside_and_folder_is_removed(tmp_path):
    store = SessionStore(tmp_path)
    root = store.path
    p = store.path_for("uploads", "../../etc/passwd", suffix=".wav")
    assert root in p.parents and p.name.endswith("-passwd.wav") and ".." not in p.name
    q = store.path_for("uploads", "/abs/evil name!.wav")
    assert root in q.parents and "/" not in q.name
    with pytest.raises(ParameterError):
        store.path_for("../x")
    p.write_bytes(b"x")
    del store
    gc.collect()
    assert not root.exists()


def test_two_sessions_do_not_share_folders(tmp_path):
    a, b = SessionStore(tmp_path), SessionStore(tmp_path)
    assert a.path != b.path
    a.cleanup()
    assert not a.path.exists() and b.path.exists()


def test_envelope_keeps_peaks_with_few_points():
    y = np.zeros(1_000_000, np.float32)
    y[123_456] = 0.9
    t, lo, hi = envelope(y, 22050, max_points=1000)
    assert len(t) <= 1001 and hi.max() == pytest.approx(0.9)


def test_figures_build():
    from audioclf.features import compute_channels

    y = synth.example("bursts", 22050)
    fig = waveform_figure(y, 22050, intervals_s=[[0.4, 0.8]], processed=y[:100])
    assert len(fig.layout.shapes) == 1
    chans = compute_channels(y, 22050, ["waveform", "rms", "mel", "chroma_stft"])
    fig = channels_figure(chans)
    kinds = [tr.type for tr in fig.data]
    assert kinds.count("heatmap") == 2
    # all rows share one x axis: plotly links shared axes through "matches"
    assert all(getattr(fig.layout, f"xaxis{i}").matches == "x4" for i in (1, 2, 3))
    cm = confusion_figure([[3, 1], [0, 4]], ["a", "b"])
    assert cm.data[0].z.tolist() == [[3, 1], [0, 4]]
