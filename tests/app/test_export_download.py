"""Classify offers the model as ONNX / TFLite: prepared on request, then a zip to download."""

from __future__ import annotations

import io
import zipfile

import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import HANG, ROOT

pytestmark = pytest.mark.slow


def test_classify_prepares_an_onnx_export_and_offers_the_zip(monkeypatch):
    monkeypatch.setenv("AUDIOCLF_PRETRAINED", str(ROOT / "pretrained"))
    from audioclf.service.store import list_bundles

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=HANG).run()
    at.switch_page("pages/classify.py").run()
    at.selectbox(key="cl_pretrained").set_value(next(e for e in list_bundles() if e.name == "fsdd_sfc_dcnn")).run()
    assert not at.exception and not at.error
    assert any(s.value == "Take the model away" for s in at.subheader)
    assert at.radio(key="cl_export_fmt").value == "onnx"
    at.button(key="cl_export_go").click().run()
    assert not at.exception and not at.error
    done = at.session_state["cl_export_zip"]
    _, data, result = done
    names = zipfile.ZipFile(io.BytesIO(data)).namelist()
    assert sorted(names) == ["fsdd_sfc_dcnn_onnx/README.md", "fsdd_sfc_dcnn_onnx/classify.py",
                             "fsdd_sfc_dcnn_onnx/labels.json", "fsdd_sfc_dcnn_onnx/model.onnx"]
    assert result.max_abs_diff < 1e-3
    assert any("largest probability difference" in c.value for c in at.caption)


def test_train_offers_the_model_it_trained_as_an_onnx_zip(monkeypatch):
    """A head on the speech backbone trained on Train's synthetic set, exported from the after-training section."""
    import json
    import time

    from audioclf.engine.bundle import load_bundle

    monkeypatch.setenv("AUDIOCLF_PRETRAINED", str(ROOT / "pretrained"))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=HANG).run()
    at.switch_page("pages/train.py").run()
    at.slider(key="tr_synth_n").set_value(6).run()
    assert next(r for r in at.radio if r.key.startswith("tr_start_")).value == "Start from a pretrained backbone"
    next(s for s in at.selectbox if s.key.startswith("tr_backbone_")).set_value("speech").run()
    next(s for s in at.selectbox if s.key.startswith("tr_head_")).set_value("linear").run()
    at.button(key="tr_start").click().run()
    deadline = time.monotonic() + HANG
    while at.session_state["train_job"].snapshot().active and time.monotonic() < deadline:
        time.sleep(0.5)
    at.run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    trained = at.session_state["train_job"].snapshot().result
    classes = list(load_bundle(trained.bundle_path).classes)
    assert len(classes) >= 2

    assert at.radio(key="tr_export_fmt").value == "onnx"
    at.button(key="tr_export_go").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    _, data, result = at.session_state["tr_export_zip"]
    folder = result.folder.name
    z = zipfile.ZipFile(io.BytesIO(data))
    assert sorted(z.namelist()) == [f"{folder}/{n}" for n in ("README.md", "classify.py", "labels.json",
                                                              "model.onnx")]
    assert json.loads(z.read(f"{folder}/labels.json"))["classes"] == classes
    assert result.max_abs_diff < 1e-3
    button = at.get("download_button")
    assert any(b.proto.label.startswith(f"Download {folder}.zip") for b in button)
