"""TrainingJob: turn-taking on a shared queue, Stop while queued, live curves from the events, Stop mid-training.

Synchronisation is by events (a job that pauses inside its progress hook, ``wait_for`` on the job's
state), never by sleeping; the timeouts only bound a hang.
"""

from __future__ import annotations

import math
import threading

import numpy as np
import pytest

from audioclf.datasets import SyntheticConfig, make_synthetic_dataset
from audioclf.engine.config import TrainConfig
from audioclf.errors import ParameterError
from audioclf.service.jobs import POLL_SECONDS, JobSnapshot, TrainingJob, training_slots
from audioclf.service.workqueue import WorkQueue
from tests.conftest import HANG


class GatedJob(TrainingJob):
    """Pauses in its first progress event until ``gate`` is set; records every event."""

    def __init__(self, *args, pause_at=lambda ev: True, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.pause_at, self.paused, self.gate, self.events = pause_at, threading.Event(), threading.Event(), []

    def on_event(self, event) -> None:
        self.events.append(event)
        if not self.paused.is_set() and self.pause_at(event):
            self.paused.set()
            assert self.gate.wait(HANG)


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    return make_synthetic_dataset(tmp_path_factory.mktemp("jobs") / "synth",
                                  config=SyntheticConfig(clips_per_class=6))


def test_jobs_take_turns_and_a_queued_job_can_be_withdrawn(synthetic):
    queue = WorkQueue(slots=1, cache_size=0)
    bad = TrainConfig(model="feature_mlp", epochs=1, split="fold:9")  # fails right after its first event: cheap
    first = GatedJob(synthetic, config=bad, queue=queue).start()
    assert first.paused.wait(HANG)  # holds the only slot, paused in its 'split' event
    assert first.snapshot().state == "running"
    second = TrainingJob(synthetic, config=bad, queue=queue).start()
    third = TrainingJob(synthetic, config=bad, queue=queue).start()
    assert second.wait_for(lambda s: s.state == "queued" and s.ahead == 1, HANG).poll_interval == POLL_SECONDS
    assert third.wait_for(lambda s: s.state == "queued" and s.ahead == 2, HANG).active
    third.stop()
    snap = third.wait_for(lambda s: not s.active, HANG)
    assert (snap.state, snap.error) == ("withdrawn", "stopped while waiting for its turn; nothing was trained")
    assert snap.poll_interval is None and second.snapshot().state == "queued"
    first.gate.set()
    for job in (first, second):
        snap = job.wait_for(lambda s: not s.active, HANG)
        assert snap.state == "failed" and "fold 9" in snap.error and snap.poll_interval is None
    assert queue.pending() == 0


def test_training_slots_follow_the_environment(monkeypatch):
    monkeypatch.setenv("AUDIOCLF_TRAINING_JOBS", "3")
    assert training_slots() == 3
    monkeypatch.setenv("AUDIOCLF_TRAINING_JOBS", "0")
    with pytest.raises(ParameterError, match="AUDIOCLF_TRAINING_JOBS='0' must be a positive integer"):
        training_slots()
    monkeypatch.delenv("AUDIOCLF_TRAINING_JOBS")
    assert training_slots() >= 1


def test_snapshot_states():
    assert JobSnapshot("queued").active and JobSnapshot("running").poll_interval == POLL_SECONDS
    assert not JobSnapshot("done").active and JobSnapshot("failed").poll_interval is None


def _trace(fig, name):
    return next(t for t in fig.data if t.name == name)


@pytest.mark.slow
def test_stop_mid_training_keeps_the_best_weights_and_curves_follow_the_events(synthetic, tmp_path):
    from audioclf.engine.bundle import load_bundle
    from audioclf.engine.inference import predict
    from audioclf.ui import live_figure

    cfg = TrainConfig(model="feature_mlp", epochs=30, batch_size=8, split="fold:3")
    job = GatedJob(synthetic, config=cfg, out=tmp_path / "bundle", cache=False,
                   queue=WorkQueue(slots=1, cache_size=0), pause_at=lambda ev: ev.kind == "epoch" and ev.epoch == 2)
    job.start()
    assert job.paused.wait(HANG)  # after epoch 2's scores, before epoch 3's first batch
    job.stop()
    job.gate.set()
    snap = job.wait_for(lambda s: not s.active, HANG)
    assert snap.state == "done", snap.error
    res = snap.result
    after = job.events[next(i for i, e in enumerate(job.events) if e.kind == "epoch" and e.epoch == 2) + 1:]
    assert [(e.epoch, e.batch) for e in after if e.kind == "batch"] == [(3, 1)]  # one more batch, then the end
    assert res.stopped and res.epochs_run <= 3
    # the best epoch's weights are what was saved: the bundle scores what that epoch scored
    val = [e.val_clip_accuracy for e in job.events if e.kind == "epoch"]
    assert res.best_epoch >= 1 and res.evaluation.accuracy == pytest.approx(val[res.best_epoch - 1])
    bundle = load_bundle(res.bundle_path)
    p = predict(bundle, synthetic.clips[0].path)
    assert p.label in bundle.classes and math.isclose(float(np.sum(p.probs)), 1.0, rel_tol=1e-4)
    # the live curves are the events' numbers
    fig = live_figure(snap)
    epochs = [e for e in job.events if e.kind == "epoch"]
    assert list(_trace(fig, "loss").y) == [e.loss for e in epochs]
    assert list(_trace(fig, "val clip accuracy").y) == [e.val_clip_accuracy for e in epochs]
    assert list(_trace(fig, "val clip accuracy").x) == [e.epoch for e in epochs]
    batches = [e for e in job.events if e.kind == "batch"]
    assert list(_trace(fig, "batch loss").y) == [e.loss for e in batches]
    assert list(_trace(fig, "batch loss").x) == pytest.approx([e.epoch - 1 + e.batch / e.batches for e in batches])
