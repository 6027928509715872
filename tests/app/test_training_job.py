"""AppTest of the Train page's live view while a job waits for its turn: the message, Cancel, and the end."""

from __future__ import annotations

import threading

import pytest
from streamlit.testing.v1 import AppTest

from audioclf.datasets import SyntheticConfig, make_synthetic_dataset
from audioclf.engine.config import TrainConfig
from tests.conftest import HANG, ROOT


@pytest.mark.slow
def test_a_queued_job_says_how_many_are_ahead_and_can_be_cancelled(monkeypatch, tmp_path):
    import audioclf.service.jobs
    from audioclf.service.workqueue import WorkQueue

    queue = WorkQueue(slots=1, cache_size=0)
    monkeypatch.setattr(audioclf.service.jobs, "TRAINING_QUEUE", queue)
    paused, gate = threading.Event(), threading.Event()

    class Busy(audioclf.service.jobs.TrainingJob):
        def on_event(self, event) -> None:
            paused.set()
            assert gate.wait(HANG)

    ds = make_synthetic_dataset(tmp_path / "synth", config=SyntheticConfig(clips_per_class=6))
    busy = Busy(ds, config=TrainConfig(model="feature_mlp", epochs=1, split="fold:9")).start()
    try:
        assert paused.wait(HANG)  # another session's job holds the server's only training slot
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=HANG).run()
        at.switch_page("pages/train.py").run()
        at.slider(key="tr_synth_n").set_value(6).run()
        at.button(key="tr_start").click().run()
        job = at.session_state["train_job"]
        job.wait_for(lambda s: s.state == "queued" and s.ahead == 1, HANG)
        at.run()
        assert not at.exception and at.session_state["tr_live"]
        assert any("Waiting for 1 other training job to finish first (this server trains 1 at a time)" in i.value
                   for i in at.info)
        assert at.button(key="tr_start").disabled and at.button(key="tr_stop").label == "Cancel"
        at.button(key="tr_stop").click().run()
        snap = job.wait_for(lambda s: not s.active, HANG)
        assert snap.state == "withdrawn" and snap.result is None
        at.run()
        assert not at.exception and at.session_state["tr_live"] is False
        assert any("Training stopped while waiting for its turn; nothing was trained." in i.value for i in at.info)
        assert not at.button(key="tr_start").disabled and queue.pending() == 1  # only the busy job
    finally:
        gate.set()
        busy.join(HANG)
    assert busy.snapshot().state == "failed" and queue.pending() == 0
