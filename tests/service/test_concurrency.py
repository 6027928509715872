"""Two app sessions classify at the same moment while one of them is the first to load the model.

The model load is held open with an event until the second session has entered the server's work
queue, so the overlap is certain, not a matter of timing luck; both sessions must then finish, each
with the prediction of its own clip.
"""

from __future__ import annotations

import shutil
import threading

import numpy as np
import pytest
from streamlit import config as st_config
from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT

pytestmark = pytest.mark.slow
TIMEOUT = 300
BUNDLE = "fsdd_sfc_dcnn"
CLIPS = {"a": "syllables", "b": "chirp"}  # each session's built-in example (the wait below names "chirp")


def test_two_sessions_classify_while_the_model_loads(monkeypatch, tmp_path):
    import audioclf.engine.bundle
    from audioclf.audio import synth
    from audioclf.audio.io import to_wav_bytes
    from audioclf.engine.inference import predict
    from audioclf.service.workqueue import WorkQueue

    src = ROOT / "pretrained" / BUNDLE
    if not (src / "bundle.json").is_file():
        pytest.skip(f"pretrained/{BUNDLE} is not installed")
    # A copy in a new folder: no session on this test server has loaded it, so the first one loads it.
    shutil.copytree(src, tmp_path / BUNDLE)
    monkeypatch.setenv("AUDIOCLF_PRETRAINED", str(tmp_path))
    # AppTest patches streamlit's config while a run lasts; two overlapping runs may unwind out of order.
    monkeypatch.setattr(st_config, "get_option", st_config.get_option)

    real_load = audioclf.engine.bundle.load_bundle
    loading, go = threading.Event(), threading.Event()
    loads: list[str | None] = []
    entered: dict[int, str] = {}  # script thread -> the clip it classifies

    def held_load(path, *args, **kwargs):
        loads.append(entered.get(threading.get_ident()))
        loading.set()
        assert go.wait(TIMEOUT), "the test never released the model load"
        return real_load(path, *args, **kwargs)

    monkeypatch.setattr(audioclf.engine.bundle, "load_bundle", held_load)

    real_run = WorkQueue.run

    def counted_run(self, fn, /, *args, **kwargs):
        entered[threading.get_ident()] = kwargs["key"][-1]
        return real_run(self, fn, *args, **kwargs)

    monkeypatch.setattr(WorkQueue, "run", counted_run)

    sessions = {k: AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT).run() for k in CLIPS}
    failures: dict[str, BaseException] = {}

    def classify(k: str) -> None:
        try:
            sessions[k].session_state["cl_example"] = CLIPS[k]
            sessions[k].switch_page("pages/classify.py").run()
        except BaseException as exc:  # reported by the main thread
            failures[k] = exc

    threads = {k: threading.Thread(target=classify, args=(k,), name=f"session-{k}") for k in CLIPS}
    threads["a"].start()
    assert loading.wait(TIMEOUT), "session a never started loading the model"
    threads["b"].start()
    deadline = threading.Event()
    for _ in range(TIMEOUT * 20):  # until b has asked the queue for its turn (a is still loading the model)
        if "chirp.wav" in entered.values():
            break
        deadline.wait(0.05)
    assert "chirp.wav" in entered.values() and not go.is_set()
    go.set()
    for t in threads.values():
        t.join(TIMEOUT)
        assert not t.is_alive(), f"{t.name} is stuck"
    assert not failures, failures
    assert loads[0] == "syllables.wav"  # a was the first to load the model

    bundle = real_load(tmp_path / BUNDLE)
    for k, example in CLIPS.items():
        at = sessions[k]
        assert not at.exception and not at.error, (k, at.exception, at.error)
        expected = predict(bundle, to_wav_bytes(synth.example(example, 22050), 22050), name=f"{example}.wav")
        assert at.metric[0].value == expected.label
        caption = next(c.value for c in at.caption if c.value.startswith(f"{example}.wav:"))
        assert f"{len(expected.window_probs)} window(s)" in caption
        shown = next(c.proto.spec for c in at.get("plotly_chart") if "Per-window class probabilities" in c.proto.spec)
        assert shown
    # The two clips really are told apart: their window counts or probabilities differ.
    preds = {k: predict(bundle, to_wav_bytes(synth.example(e, 22050), 22050)) for k, e in CLIPS.items()}
    assert (len(preds["a"].window_probs) != len(preds["b"].window_probs)
            or not np.allclose(preds["a"].probs, preds["b"].probs))


def test_script_runs_leave_keras_and_the_collector_alone(monkeypatch):
    """Streamlit's per-run clean-up (a full garbage collection and TensorFlow's kernel cache emptied) is off."""
    import keras
    from streamlit.runtime.scriptrunner import script_runner

    import pages._common  # noqa: F401  (replaces the clean-up hook on import)

    calls = []
    monkeypatch.setattr(keras.backend, "clear_session", lambda *a, **k: calls.append(a))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT).run()
    at.switch_page("pages/compare.py").run()
    assert not at.exception
    assert script_runner._clean_problem_modules.__module__ == "pages._common"
    assert calls == []
    text = (ROOT / ".streamlit" / "config.toml").read_text()
    assert "postScriptGC = false" in text
