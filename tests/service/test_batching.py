"""Batcher: requests of one key that arrive together make one call; each caller gets its own answer or error.

Batches are made to fill (``max_items``) rather than to time out, so a busy machine cannot change the outcome.
"""

from __future__ import annotations

import threading

import pytest

from audioclf.errors import ParameterError
from audioclf.service.batching import Batcher

WAIT = 60  # s; only a deadlock would reach it


def _together(batcher: Batcher, key, fn, items) -> tuple[list, list]:
    """Run one request per item, each from its own thread; (answers or exceptions, batch sizes)."""
    answers: list = [None] * len(items)
    sizes: list = [None] * len(items)

    def call(i: int) -> None:
        try:
            answers[i], sizes[i] = batcher.run(key, fn, items[i])
        except Exception as exc:  # the test inspects it
            answers[i] = exc

    threads = [threading.Thread(target=call, args=(i,)) for i in range(len(items))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(WAIT)
    assert not any(t.is_alive() for t in threads), "a request never got its answer"
    return answers, sizes


def test_requests_of_one_key_make_one_call_and_each_gets_its_own_answer():
    calls: list[list[int]] = []

    def double(items: list[int]) -> list[int]:
        calls.append(list(items))
        return [2 * i for i in items]

    b = Batcher(window=WAIT, max_items=4)  # the batch runs when the fourth request arrives
    answers, sizes = _together(b, "m", double, [1, 2, 3, 4])
    assert answers == [2, 4, 6, 8]
    assert sizes == [4, 4, 4, 4]
    assert len(calls) == 1 and sorted(calls[0]) == [1, 2, 3, 4]


def test_one_bad_item_gets_its_own_error_and_the_others_their_answers():
    calls: list[list[str]] = []

    def upper(items: list[str]) -> list[str]:
        calls.append(list(items))
        if "bad" in items:
            raise ValueError("cannot read 'bad'")
        return [s.upper() for s in items]

    b = Batcher(window=WAIT, max_items=3)
    answers, _ = _together(b, "m", upper, ["a", "bad", "c"])
    assert answers[0] == "A" and answers[2] == "C"
    assert isinstance(answers[1], ValueError) and str(answers[1]) == "cannot read 'bad'"
    assert len(calls[0]) == 3 and sorted(map(len, calls[1:])) == [1, 1, 1]  # the batch, then each alone


def test_a_call_returning_the_wrong_number_of_answers_is_retried_item_by_item():
    def short(items: list[int]) -> list[int]:
        return [0] if len(items) > 1 else [items[0] + 1]

    answers, sizes = _together(Batcher(window=WAIT, max_items=2), "m", short, [1, 2])
    assert answers == [2, 3] and sizes == [2, 2]


def test_keys_are_batched_apart():
    seen: list[tuple[str, ...]] = []

    def tag(items: list[str]) -> list[str]:
        seen.append(tuple(sorted(items)))
        return [s + "!" for s in items]

    b = Batcher(window=WAIT, max_items=2)
    out: dict[str, str] = {}
    threads = [threading.Thread(target=lambda k=k, s=s: out.__setitem__(s, b.run(k, tag, s)[0]))
               for k, s in [("x", "x1"), ("y", "y1"), ("x", "x2"), ("y", "y2")]]
    for t in threads:
        t.start()
    for t in threads:
        t.join(WAIT)
    assert out == {"x1": "x1!", "x2": "x2!", "y1": "y1!", "y2": "y2!"}
    assert sorted(seen) == [("x1", "x2"), ("y1", "y2")]


def test_a_lone_request_that_expects_no_company_runs_at_once():
    b = Batcher(window=WAIT, max_items=8)  # a request that waited for company would wait a minute
    assert b.run("m", lambda items: [len(items)], "solo", collect=False) == (1, 1)


def test_disabled_runs_each_request_alone():
    calls: list[int] = []
    b = Batcher(enabled=False)
    answers, sizes = _together(b, "m", lambda items: calls.append(len(items)) or list(items), [1, 2, 3])
    assert answers == [1, 2, 3] and sizes == [1, 1, 1] and calls == [1, 1, 1]
    with pytest.raises(KeyError, match="gone"):
        b.run("m", lambda items: (_ for _ in ()).throw(KeyError("gone")), 1)


@pytest.mark.parametrize(("kwargs", "match"), [({"window": -1}, "window=-1"),
                                               ({"max_items": 0}, "max_items=0 must be a positive integer")])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ParameterError, match=match):
        Batcher(**kwargs)
