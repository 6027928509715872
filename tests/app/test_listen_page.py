"""AppTest of Classify's Listen mode: a model the browser can run is exported once and handed to the component;
one it cannot run is classified on the server, and the page says so."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import HANG, ROOT
from tests.service.test_listen import _bundle

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory):
    root = tmp_path_factory.mktemp("listen_models")
    _bundle(root, "mel")
    _bundle(root, "chroma_stft")
    return root


def _listen(monkeypatch, pretrained, name: str) -> AppTest:
    monkeypatch.setenv("AUDIOCLF_PRETRAINED", str(pretrained))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=HANG).run()
    at = at.switch_page("pages/classify.py").run()
    pick = at.selectbox(key="cl_pretrained")
    pick.select_index(next(i for i, o in enumerate(pick.options) if o.startswith(f"{name}:"))).run()
    at.radio(key="cl_mode").set_value("Listen (live)").run()
    assert not at.exception, at.exception
    return at


def test_an_exportable_model_runs_in_the_browser(monkeypatch, pretrained):
    from audioclf.service.listen import bundle_key, runtime_missing

    if runtime_missing():
        pytest.skip(runtime_missing())
    at = _listen(monkeypatch, pretrained, "mel")
    assert not at.error and not at.info
    assert any("Runs in this browser" in c.value for c in at.caption)
    from audioclf.service.listen import MODELS_DIR

    assert (MODELS_DIR / bundle_key(pretrained / "mel") / "model.onnx").is_file()


def test_a_model_that_cannot_be_exported_is_classified_on_the_server(monkeypatch, pretrained):
    at = _listen(monkeypatch, pretrained, "chroma_stft")
    assert not at.error
    assert any("cannot run in the browser" in i.value and "chroma_stft" in i.value for i in at.info)


def test_explore_live_spectrogram_opens_without_error(monkeypatch, pretrained):
    monkeypatch.setenv("AUDIOCLF_PRETRAINED", str(pretrained))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=HANG).run()
    at = at.switch_page("pages/explore.py").run()
    at.toggle(key="ex_live").set_value(True).run()
    assert not at.exception and not at.error
    at.selectbox(key="ex_sr").set_value("8000").run()
    at.selectbox(key="ex_nfft").set_value(4096).run()  # a frame longer than this rate's sensible range still works
    assert not at.exception
