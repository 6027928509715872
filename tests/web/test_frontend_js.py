"""The browser's port of classify.py (web/component/src/frontend.js, onnxruntime-web) against export_runner.

Each model kind's export (frames, a waveform, a backbone's blocks) runs in node through the same JavaScript the
Listen view uses; its window probabilities, window times and embedding must be export_runner's.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from audioclf.datasets.examples import load_example
from audioclf.engine import export_runner
from audioclf.service.store import list_bundles
from tests.web.node import need_node, run_node

pytestmark = pytest.mark.slow
CLIPS = ("esc10_helicopter", "fsdd_three_george")  # 5 s (many windows, a tail) and 0.4 s (shorter than a window)


@pytest.fixture(scope="module", params=["fsdd_sfc_dcnn", "fsdd_soundnet", "fsdd_speech"])
def exported(request, tmp_path_factory):
    need_node()
    from audioclf.engine.export import export_bundle

    entry = next((e for e in list_bundles() if e.name == request.param), None)
    if entry is None:
        pytest.skip(f"pretrained model {request.param} is not installed")
    out = tmp_path_factory.mktemp("live") / request.param
    export_bundle(entry.path, out, fmt="onnx", check=False)
    return out


@pytest.mark.parametrize("clip", CLIPS)
def test_js_classifies_a_clip_as_classify_py(exported, clip, tmp_path):
    model, spec = export_runner.load(exported)
    y, _ = load_example(clip, sr=spec["sample_rate"])
    src = tmp_path / "y.f32"
    y.astype(np.float32).tofile(src)
    js = json.loads(run_node("classify_check.mjs", str(exported), str(src)))
    ref = export_runner.classify_samples(model, spec, y)
    assert np.asarray(js["probs"]).shape == ref["probs"].shape
    assert float(np.max(np.abs(np.asarray(js["probs"]) - ref["probs"]))) < 1e-4
    np.testing.assert_allclose(js["starts"], ref["starts"], atol=1e-9)
    np.testing.assert_allclose(js["ends"], ref["ends"], atol=1e-9)
    assert js["padded"] == [bool(p) for p in ref["padded"]]
    if ref["embedding"] is not None:
        assert float(np.max(np.abs(np.asarray(js["embedding"]) - ref["embedding"]))) < 1e-3
    else:
        assert js["embedding"] is None
