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
