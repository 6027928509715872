"""Classify with shipped attention models: attention on the input's own axes and a Grad-CAM section."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import HANG, ROOT

pytestmark = pytest.mark.slow


def _classify(monkeypatch, bundle: str, *, grad_cam: bool = True) -> AppTest:
    monkeypatch.setenv("AUDIOCLF_PRETRAINED", str(ROOT / "pretrained"))
    from audioclf.service.store import list_bundles

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=HANG).run()
    at.switch_page("pages/classify.py").run()
    at.selectbox(key="cl_pretrained").set_value(next(e for e in list_bundles() if e.name == bundle)).run()
    assert not at.exception and not at.error
    if grad_cam:
        at.toggle(key="cl_cam_on").set_value(True).run()
        assert not at.exception and not at.error
    return at


def _specs(at: AppTest) -> list[str]:
    return [c.proto.spec for c in at.get("plotly_chart")]


def _lessons(at: AppTest) -> list[str]:
    return [e.label for e in at.expander if e.label.startswith("What am I looking at?")]


def test_cnn_gates_overlaid_and_grad_cam_for_a_picked_class(monkeypatch):
    at = _classify(monkeypatch, "fsdd_sfc_dcnn_att")
    assert sum("Attention: cnn" in s.value for s in at.subheader) == 6
    specs = _specs(at)
    assert sum("Attention gate b" in s for s in specs) == 6
    assert any(s.value == "Grad-CAM" for s in at.subheader)
    picker = at.selectbox(key="cl_cam_class")
    assert picker.value == at.metric[0].value  # the prediction by default
    assert any(f"Grad-CAM for '{picker.value}'" in s for s in specs)
    other = next(c for c in picker.options if c != picker.value)
    picker.set_value(other).run()
    assert not at.exception and not at.error
    assert any(f"Grad-CAM for '{other}'" in s for s in _specs(at))
    assert {"What am I looking at? Grad-CAM", "What am I looking at? Attention",
            "What am I looking at? The per-window timeline"} <= set(_lessons(at))


def test_rnn_attention_on_the_timeline_and_grad_cam(monkeypatch):
    at = _classify(monkeypatch, "fsdd_crnn_resnet_att")
    timeline = next(s for s in _specs(at) if "Per-window class probabilities" in s)
    assert "Attention over time" in timeline  # a row of the timeline, sharing its time axis
    assert any("Attention: rnn" in s.value for s in at.subheader)
    assert any("Grad-CAM for" in s and "res4_out" in s for s in _specs(at))


def test_grad_cam_of_a_model_on_a_backbone(monkeypatch):
    at = _classify(monkeypatch, "fsdd_speech")
    assert any("at backbone layer" in s for s in _specs(at))
    assert "What am I looking at? Embeddings and the \"none of these\" answer" in _lessons(at)


def test_grad_cam_waits_until_asked_for(monkeypatch):
    """Grad-CAM is a backward pass: a plain classification neither computes nor queues it."""
    from audioclf.service.workqueue import WorkQueue

    asked = []
    real = WorkQueue.run
    monkeypatch.setattr(WorkQueue, "run", lambda self, fn, *a, key=None, **k: asked.append(key[0] if key else None)
                        or real(self, fn, *a, key=key, **k))
    at = _classify(monkeypatch, "fsdd_sfc_dcnn_att", grad_cam=False)
    assert any(s.value == "Grad-CAM" for s in at.subheader)
    assert "classify" in asked and "gradcam" not in asked
    assert not any("Grad-CAM for" in s for s in _specs(at))
    at.toggle(key="cl_cam_on").set_value(True).run()
    assert not at.exception and not at.error
    assert asked.count("gradcam") == 1 and any("Grad-CAM for" in s for s in _specs(at))
