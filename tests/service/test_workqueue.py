"""WorkQueue: at most `slots` jobs at once, first come first served, waiting callers told how many are ahead.

Every test orders its threads with events (never with sleeps), so a busy machine cannot change the outcome.
"""

from __future__ import annotations

import threading

import pytest

from audioclf.errors import ParameterError
from audioclf.service.workqueue import WorkQueue, default_slots

WAIT = 60  # s; only a deadlock would reach it


def _until(predicate, what: str) -> None:
    ev = threading.Event()
    for _ in range(int(WAIT / 0.01)):
        if predicate():
            return
        ev.wait(0.01)
    raise AssertionError(f"timed out waiting for {what}")


def test_one_slot_runs_in_arrival_order_and_reports_the_queue():
    q = WorkQueue(slots=1)
    release = threading.Event()
    started = threading.Event()
    order: list[str] = []
    seen: dict[str, list[int]] = {"b": [], "c": []}

    def job(name: str) -> str:
        if name == "a":
            started.set()
            assert release.wait(WAIT)
        order.append(name)
        return name.upper()

    results: dict[str, str] = {}

    def call(name: str) -> None:
        results[name] = q.run(job, name, on_wait=seen[name].append if name in seen else None, poll=0.02)

    ta = threading.Thread(target=call, args=("a",))
    ta.start()
    assert started.wait(WAIT)
    tb = threading.Thread(target=call, args=("b",))
    tb.start()
    _until(lambda: seen["b"], "b to wait")
    tc = threading.Thread(target=call, args=("c",))
    tc.start()
    _until(lambda: seen["c"], "c to wait")
    assert q.pending() == 3
    release.set()
    for t in (ta, tb, tc):
        t.join(WAIT)
    assert order == ["a", "b", "c"]
    assert results == {"a": "A", "b": "B", "c": "C"}
    assert seen["b"][0] == 1  # a runs
    assert seen["c"][0] == 2  # a runs, b queued first
    assert q.pending() == 0


def test_two_slots_run_two_jobs_together():
    q = WorkQueue(slots=2)
    both = threading.Barrier(2, timeout=WAIT)  # only passes if both jobs run at the same time
    out = []
    threads = [threading.Thread(target=lambda i=i: out.append(q.run(lambda: both.wait() is not None and i)))
               for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(WAIT)
    assert sorted(out) == [0, 1]


def test_same_key_is_computed_once_and_kept():
    q = WorkQueue(slots=2)
    release = threading.Event()
    calls = []

    def slow(x: int) -> list[int]:
        calls.append(x)
        assert release.wait(WAIT)
        return [x, x]

    got = []
    t1 = threading.Thread(target=lambda: got.append(q.run(slow, 3, key="k")))
    t1.start()
    _until(lambda: calls, "the first call to start")
    waited = []
    t2 = threading.Thread(target=lambda: got.append(q.run(slow, 4, key="k", on_wait=waited.append, poll=0.02)))
    t2.start()
    _until(lambda: waited, "the second call to wait for the first")
    release.set()
    t1.join(WAIT)
    t2.join(WAIT)
    assert calls == [3]  # the second caller did not compute the key again
    assert got == [[3, 3], [3, 3]] and got[0] is got[1]
    assert q.run(slow, 5, key="k") == [3, 3]  # kept
    assert q.run(lambda: "other", key="k2") == "other"


def test_cache_keeps_only_the_newest():
    q = WorkQueue(slots=1, cache_size=2)
    for k in "abc":
        q.run(str.upper, k, key=k)
    assert q.run(lambda: "recomputed", key="a") == "recomputed"
    assert q.run(lambda: "x", key="c") == "C"


def test_a_failing_job_frees_its_slot_and_is_not_kept():
    q = WorkQueue(slots=1)

    def boom():
        raise ValueError("bad clip")

    with pytest.raises(ValueError, match="bad clip"):
        q.run(boom, key="k")
    assert q.pending() == 0
    assert q.run(lambda: "fine", key="k") == "fine"


def test_a_waiter_that_gives_up_leaves_the_queue():
    q = WorkQueue(slots=1)
    release = threading.Event()
    started = threading.Event()

    def hold():
        started.set()
        assert release.wait(WAIT)
        return "held"

    t = threading.Thread(target=q.run, args=(hold,))
    t.start()
    assert started.wait(WAIT)

    class PageRerun(Exception):
        pass

    def give_up(ahead: int) -> None:
        raise PageRerun(f"{ahead} ahead")

    with pytest.raises(PageRerun, match="1 ahead"):
        q.run(lambda: "never", key="k", on_wait=give_up)
    assert q.pending() == 1  # only the running job
    release.set()
    t.join(WAIT)
    assert q.run(lambda: "computed", key="k") == "computed"  # the withdrawn key was not left 'in progress'


@pytest.mark.parametrize(("kwargs", "match"), [({"slots": 0}, "slots=0 must be a positive integer"),
                                               ({"slots": True}, "slots=True"),
                                               ({"cache_size": -1}, "cache_size=-1 must be a non-negative")])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ParameterError, match=match):
        WorkQueue(**kwargs)


def test_default_slots_is_the_usable_cores():
    assert WorkQueue().slots == default_slots() >= 1


def test_log_has_one_line_per_job_that_ran_with_its_wait(tmp_path):
    """Kept results are not logged (nothing ran); a job behind a running one logs its wait."""
    import json
    import time

    log = tmp_path / "queue.jsonl"
    q = WorkQueue(slots=1, log=log)
    gate = threading.Event()
    first = threading.Thread(target=q.run, args=(gate.wait,), kwargs={"key": ("slow", 1)})
    first.start()
    _until(lambda: q.pending() == 1, "the first job to start")
    second = threading.Thread(target=q.run, args=(sum, [1, 2]), kwargs={"key": ("classify", "a")})
    second.start()
    _until(lambda: q.pending() == 2, "the second job to queue")
    queued = time.perf_counter()
    threading.Event().wait(0.05)  # not for ordering: so that the wait below is visibly above zero
    opened = time.perf_counter()
    gate.set()
    first.join()
    second.join()
    assert q.run(sum, [5], key=("classify", "a")) == 3  # kept: not run, not logged
    q.run(len, "abc")  # no key: the function's name
    lines = [json.loads(s) for s in log.read_text().splitlines()]
    assert [r["kind"] for r in lines] == ["slow", "classify", "len"]
    slow, classify, _ = lines
    assert classify["waited"] >= round(opened - queued, 4) > 0 and classify["ran"] >= 0
    assert all(set(r) == {"kind", "waited", "ran", "at"} for r in lines)


def test_an_unwritable_log_never_fails_a_job(tmp_path):
    q = WorkQueue(slots=1, log=tmp_path / "missing-folder" / "queue.jsonl")
    assert q.run(sum, [1, 2, 3]) == 6


def test_a_job_waiting_idle_lets_the_next_one_run_and_takes_its_slot_back(tmp_path):
    """One slot: job b can only run while job a waits inside ``idle()``; the log has a's note."""
    import json

    log = tmp_path / "queue.jsonl"
    q = WorkQueue(slots=1, log=log)
    b_ran = threading.Event()

    def a() -> str:
        with q.idle():
            assert b_ran.wait(WAIT)
        q.note(batch=2)
        return "a"

    def b() -> str:
        b_ran.set()
        return "b"

    out: list[str] = []
    ta = threading.Thread(target=lambda: out.append(q.run(a, key=("classify", "a"))))
    ta.start()
    out.append(q.run(b, key=("classify", "b")))
    ta.join(WAIT)
    assert sorted(out) == ["a", "b"] and q.pending() == 0
    lines = [json.loads(s) for s in log.read_text().splitlines()]
    assert [(r["kind"], r.get("batch")) for r in lines] == [("classify", None), ("classify", 2)]
    q.note(batch=5)  # outside a job: nothing to note, no error
    with q.idle():  # outside a job: changes nothing
        assert q.pending() == 0
    assert q.run(lambda: "still one slot") == "still one slot" and q.pending() == 0
