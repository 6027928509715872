"""AppTest checks of the Embeddings page: a map of a synthetic dataset, a chosen clip plays, errors stay plain.

AppTest cannot click a plotly point, so a click is simulated the way the page
records one: the page stores the clicked clip's path in ``st.session_state["emb_clip"]``
(the chart selection -> clip mapping itself, :func:`audioclf.explanations.embedding_map.selected_clip`,
is tested in ``tests/explanations/test_embedding_map.py``).
"""

from __future__ import annotations

import json

import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT

pytestmark = pytest.mark.slow
TIMEOUT = 300


@pytest.fixture
def page(monkeypatch, tmp_path) -> AppTest:
    monkeypatch.setenv("AUDIOCLF_CACHE", str(tmp_path / "cache"))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT).run()
    # the speech backbone and 6 clips per class keep the first map quick
    at.session_state["emb_backbone"] = "speech"
    at.session_state["emb_synth_n"] = 6
    at.switch_page("pages/embeddings.py").run()
    return at


def _points(chart) -> list[tuple[str, list[int]]]:
    spec = json.loads(chart.proto.spec)
    return [(t["name"], list(t["customdata"])) for t in spec["data"]]


def test_map_has_one_point_per_clip_and_a_click_plays_the_clip(page):
    at = page
    assert not at.exception and not at.error
    ds = at.session_state["emb_ds"]
    charts = at.get("plotly_chart")
    assert len(charts) == 1
    traces = _points(charts[0])
    assert sorted(i for _, idx in traces for i in idx) == list(range(len(ds.clips)))
    assert sorted(name for name, _ in traces) == sorted(ds.classes)
    assert not at.get("audio")
    # simulate a click on the first clip
    clip = ds.clips[0].path.relative_to(ds.root).as_posix()
    at.session_state["emb_clip"] = clip
    at.run()
    assert not at.exception and not at.error
    assert len(at.get("audio")) == 1
    assert len(at.get("plotly_chart")) == 2  # the map and the clip's waveform + mel spectrogram
    assert any(clip in m.value for m in at.markdown)
    # colour by fold: one trace per fold, the same points
    at.radio(key="emb_colour").set_value("fold").run()
    traces = _points(at.get("plotly_chart")[0])
    assert sorted(name for name, _ in traces) == sorted({f"fold {c.fold}" for c in ds.clips})
    assert sum(len(idx) for _, idx in traces) == len(ds.clips)


def test_bad_folder_is_a_clear_error(page, tmp_path):
    at = page
    at.radio(key="emb_source").set_value("Folder on this machine").run()
    at.text_input(key="emb_path").set_value(str(tmp_path / "nowhere")).run()
    assert not at.exception
    assert any("nowhere" in e.value for e in at.error)
