"""audioclf.service.serving: one load per model (a request during the warm start waits for it), batched == alone.

Threads are ordered with events and full batches (never with sleeps), so a busy machine cannot change the outcome.
"""

from __future__ import annotations

import json
import threading

import numpy as np
import pytest

from audioclf.audio import synth
from audioclf.errors import AudioError
from audioclf.service import serving
from audioclf.service.batching import Batcher
from audioclf.service.store import pretrained_dir
from audioclf.service.workqueue import WorkQueue

WAIT = 600  # s; only a deadlock (or a model load on a very busy machine) would reach it


def _until(predicate) -> None:
    ev = threading.Event()
    for _ in range(WAIT * 100):
        if predicate():
            return
        ev.wait(0.01)
    raise AssertionError("timed out")


def _gated_loader(gate: threading.Event, started: threading.Event):
    """A loader that loads the real bundle only once ``gate`` is set, and says when it began."""
    def load(path: str):
        started.set()
        assert gate.wait(WAIT)
        return serving._load_and_warm(path)
    return load


def _clips() -> list[np.ndarray]:
    """Four clips of different lengths (0.4 to 7 s): one window or several, a short one padded."""
    sr = 22050
    out = []
    for i, seconds in enumerate([0.4, 2.3, 5.1, 7.0]):
        y = synth.harmonic_stack(150.0 * (i + 1), seconds, sr) + synth.noise(seconds, sr, amp=0.05, rng=i)
        out.append(np.clip(y, -1, 1).astype(np.float32))
    return out


def test_warm_start_returns_at_once_and_a_request_during_it_waits_for_the_one_load():
    path = str(pretrained_dir() / "fsdd_sfc_dcnn")
    gate, started = threading.Event(), threading.Event()
    shared = serving.Models(_gated_loader(gate, started))
    state = serving.warm_in_background(path, shared=shared)
    assert state.path == path
    assert started.wait(WAIT)
    assert not state.done.is_set()  # returned while the load is held at the gate: the server is not blocked
    got: dict = {}

    def request() -> None:
        bundle = shared.get(path)
        got["bundle"] = bundle
        got["pred"] = serving.classify(bundle, _clips()[1], sr=22050, name="during-warm-up",
                                       batch=Batcher(enabled=False), queue=WorkQueue(slots=1))

    t = threading.Thread(target=request)
    t.start()
    gate.set()
    t.join(WAIT)
    assert state.wait(WAIT)
    assert state.error == ""
    assert shared.loads == 1  # the request waited for the warm start's load
    assert got["bundle"] is shared.get(path)
    assert got["pred"].file == "during-warm-up" and got["pred"].probs.shape == (len(got["bundle"].classes),)
    assert got["pred"].probs.sum() == pytest.approx(1.0, abs=1e-4)
    # both readings taken (their difference is the model's cost only in a fresh process: bench/serving.py)
    assert state.rss_before > 0 and state.rss_after > 0


def test_a_failed_load_is_not_kept_and_every_waiter_gets_its_error():
    calls: list[str] = []

    def broken(path: str):
        calls.append(path)
        raise OSError(f"{path}: no bundle.json")

    shared = serving.Models(broken)
    with pytest.raises(OSError, match="nowhere: no bundle.json"):
        shared.get("nowhere", 1.0)
    with pytest.raises(OSError, match="no bundle.json"):
        shared.get("nowhere", 1.0)
    assert calls == ["nowhere", "nowhere"] and shared.loads == 2


def test_warm_start_runs_once_per_process(monkeypatch):
    monkeypatch.setattr(serving, "_SHARED", {})
    monkeypatch.setenv("AUDIOCLF_WARM", "1")
    started: list = []

    def fake(path, *, shared=None):
        started.append(path)
        return serving.WarmStart(str(path))

    monkeypatch.setattr(serving, "warm_in_background", fake)
    monkeypatch.setattr(serving, "default_model_path", lambda: "pretrained/x")
    first = serving.warm_start()
    assert serving.warm_start() is first and started == ["pretrained/x"]


def test_warm_start_off(monkeypatch):
    monkeypatch.setattr(serving, "_SHARED", {})
    monkeypatch.setenv("AUDIOCLF_WARM", "0")
    state = serving.warm_start()
    assert state.path is None and state.done.is_set()


@pytest.mark.slow
@pytest.mark.parametrize("model", ["esc10_sounds", "fsdd_crnn_resnet_att", "fsdd_sfc_dcnn_att"])
def test_batched_answers_equal_the_answers_alone(model, tmp_path, monkeypatch):
    """A backbone model (its backbone and its head batched), and attention models whose per-window attention
    must come back per clip; clips of different lengths; every step of the queue (slot given up, batch logged)."""
    from audioclf.engine.inference import predict

    path = pretrained_dir() / model
    bundle = serving.Models().get(path)
    clips = _clips()
    monkeypatch.setenv("AUDIOCLF_CACHE", str(tmp_path / "alone"))  # each run computes its own embeddings
    alone = [predict(bundle, y, sr=22050, name=f"c{i}") for i, y in enumerate(clips)]

    monkeypatch.setenv("AUDIOCLF_CACHE", str(tmp_path / "batched"))
    log = tmp_path / "queue.jsonl"
    queue = WorkQueue(slots=1, log=log)  # one slot: the batch fills only because waiting jobs give it up
    # Runs when the last clip has joined. The backbone model's head batches are whatever arrived together,
    # so its window is short: a head left alone must not wait for company that is not coming.
    batch = Batcher(window=WAIT if model != "esc10_sounds" else 20, max_items=len(clips))
    got: list = [None] * len(clips)

    def job(i: int) -> None:
        got[i] = queue.run(serving.classify, bundle, clips[i], sr=22050, name=f"c{i}", batch=batch, queue=queue,
                           backbone=True, key=("classify", i))

    # Every request queued before the first runs (as when a class clicks at once): a batch waits for company
    # only while other requests are pending, and then fills.
    gate = threading.Event()
    holder = threading.Thread(target=queue.run, args=(gate.wait, WAIT))
    holder.start()
    _until(lambda: queue.pending() == 1)
    threads = [threading.Thread(target=job, args=(i,)) for i in range(len(clips))]
    for t in threads:
        t.start()
    _until(lambda: queue.pending() == 1 + len(clips))
    gate.set()
    for t in [holder, *threads]:
        t.join(WAIT)
    lines = [json.loads(line) for line in log.read_text().splitlines()][1:]  # after the gate's own line
    if model == "esc10_sounds":
        # the backbone's call fills (all four were queued); the head's batches are whatever arrived together
        sizes = [r["backbone_batch"] for r in lines]  # all four were queued: one call unless the machine stalled
        assert sum(1 / b for b in sizes) == pytest.approx(round(sum(1 / b for b in sizes)))
        assert sum(1 / r["batch"] for r in lines) == pytest.approx(round(sum(1 / r["batch"] for r in lines)))
    else:
        assert [r["batch"] for r in lines] == [len(clips)] * len(clips)
    assert len({len(p.window_probs) for p in alone}) > 1  # the clips have different numbers of windows
    for a, b in zip(alone, got, strict=True):
        assert b.file == a.file and b.window_probs.shape == a.window_probs.shape
        np.testing.assert_allclose(b.window_probs, a.window_probs, atol=1e-5, rtol=0)
        np.testing.assert_allclose(b.probs, a.probs, atol=1e-5, rtol=0)
        np.testing.assert_array_equal(b.starts, a.starts)
        assert set(b.attention) == set(a.attention) and set(b.extras) == set(a.extras)
        for k, att in a.attention.items():
            assert b.attention[k].values.shape == att.values.shape
            np.testing.assert_allclose(b.attention[k].values, att.values, atol=1e-5, rtol=0)
        assert b.unknown == a.unknown
        if a.embedding is not None:
            np.testing.assert_allclose(b.embedding, a.embedding, atol=1e-5, rtol=0)
    if model == "esc10_sounds":
        assert alone[0].embedding is not None and bundle.open_set is not None


@pytest.mark.slow
def test_a_clip_that_cannot_be_read_fails_alone(tmp_path, monkeypatch):
    monkeypatch.setenv("AUDIOCLF_CACHE", str(tmp_path))
    bundle = serving.Models().get(pretrained_dir() / "fsdd_sfc_dcnn")
    batch = Batcher(window=WAIT, max_items=2)  # the two readable clips make the batch
    sources = [_clips()[1], b"this is not audio", _clips()[2]]
    got: list = [None] * 3

    def call(i: int) -> None:
        try:
            got[i] = serving.classify(bundle, sources[i], sr=22050 if i != 1 else None, name=f"c{i}", batch=batch,
                                      queue=WorkQueue(slots=1))
        except AudioError as exc:
            got[i] = exc

    threads = [threading.Thread(target=call, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(WAIT)
    assert isinstance(got[1], AudioError) and "c1" in str(got[1])
    assert got[0].file == "c0" and got[2].file == "c2"
