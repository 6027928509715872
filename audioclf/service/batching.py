"""Requests for the same network that arrive close together, run as one call.

Twenty sessions that classify at once with the same model each run it on a
few windows; every call pays the network's fixed cost (its set-up, a small
batch's poor use of the cores) again. A :class:`Batcher` lets the first
request of a key wait a moment (``window`` seconds) for others of the same
key, then runs one call for all of them, and hands each caller its own share.
At most ``parallel`` calls of a key run at once; while they run, the next batch
collects everything that arrives, so the busier the server, the larger its
batches.

The function given to :meth:`Batcher.run` takes a list of items (one per
caller) and returns a list of answers in the same order: it concatenates and
splits the items itself. When a batched call fails, each item is run again
alone, so one bad item gets its own error and the others their answers.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

from .._validate import check_number, check_positive_int

__all__ = ["Batcher"]


@dataclass
class _Batch:
    fn: Callable[[list[Any]], list[Any]]
    items: list[Any] = field(default_factory=list)
    answers: list[Any] = field(default_factory=list)
    errors: list[BaseException | None] = field(default_factory=list)
    full: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)


class Batcher:
    """Run calls of the same key from many threads as one call over all their items.

    Parameters
    ----------
    window : float
        Seconds the first request of a batch waits for others (0: no waiting; a batch
        then holds the requests that arrived while the previous batch of the key ran).
    max_items : int
        The most items in one call; the next request starts a new batch.
    parallel : int
        The most calls of one key at the same time. A network whose cost per item does not fall with
        the batch size (a convolutional backbone on a CPU) is best run as many at once as there are
        cores; one at a time would leave a core idle.
    enabled : bool
        False: every request runs its own call at once, as without a batcher.

    Examples
    --------
    >>> b = Batcher(window=0.01)
    >>> b.run("double", lambda items: [2 * i for i in items], 21)
    (42, 1)
    """

    def __init__(self, *, window: float = 0.03, max_items: int = 32, parallel: int = 1, enabled: bool = True) -> None:
        check_number(window, "window", low=0)
        check_positive_int(max_items, "max_items")
        check_positive_int(parallel, "parallel")
        self.window = float(window)
        self.max_items = max_items
        self.parallel = parallel
        self.enabled = bool(enabled)
        self._lock = threading.Lock()
        self._open: dict[Hashable, _Batch] = {}
        self._running: dict[Hashable, threading.Semaphore] = {}

    def run(self, key: Hashable, fn: Callable[[list[Any]], list[Any]], item: Any, *,
            collect: bool = True) -> tuple[Any, int]:
        """``fn([item, ...])`` for this item and those of other threads with the same ``key``.

        Parameters
        ----------
        key : hashable
            What may be batched together (e.g. the model and its options); requests of one key
            must give functions that do the same thing.
        fn : callable
            ``list of items -> list of answers``, one per item, in order.
        item : any
        collect : bool
            If this request starts a batch, whether it waits ``window`` seconds for others (False when
            none are expected: a lone request then runs at once, unless the key's previous call still runs).

        Returns
        -------
        answer : any
            This item's answer.
        size : int
            How many items the call that computed it held.

        Raises
        ------
        Whatever ``fn`` raises for this item alone.
        """
        if not self.enabled:
            return self._alone(fn, item), 1
        with self._lock:
            batch = self._open.get(key)
            leader = batch is None
            if leader:
                batch = self._open[key] = _Batch(fn)
                gate = self._running.setdefault(key, threading.BoundedSemaphore(self.parallel))
            index = len(batch.items)
            batch.items.append(item)
            if len(batch.items) >= self.max_items:
                del self._open[key]  # full: the next request starts a new batch
                batch.full.set()
        if leader:
            self._lead(key, batch, gate, self.window if collect else 0.0)
        else:
            batch.done.wait()
        error = batch.errors[index]
        if error is not None:
            raise error
        return batch.answers[index], len(batch.items)

    def _lead(self, key: Hashable, batch: _Batch, gate: threading.Semaphore, window: float) -> None:
        """Collect for ``window`` seconds, wait for a free call of the key (still collecting), run, share out."""
        try:
            if window > 0:
                batch.full.wait(window)
            with gate:  # at most `parallel` calls of the key at a time; this batch stays open until it may run
                with self._lock:
                    if self._open.get(key) is batch:
                        del self._open[key]
                items = list(batch.items)
                answers, errors = self._call(batch.fn, items)
        except BaseException as exc:  # e.g. KeyboardInterrupt: no follower may wait for ever
            answers, errors = [None] * len(batch.items), [exc] * len(batch.items)
        batch.answers, batch.errors = answers, errors
        batch.done.set()

    @staticmethod
    def _alone(fn: Callable[[list[Any]], list[Any]], item: Any) -> Any:
        (answer,) = fn([item])
        return answer

    def _call(self, fn: Callable[[list[Any]], list[Any]],
              items: list[Any]) -> tuple[list[Any], list[BaseException | None]]:
        try:
            answers = list(fn(items))
            if len(answers) != len(items):
                raise RuntimeError(f"a batched call returned {len(answers)} answers for {len(items)} items")
            return answers, [None] * len(items)
        except Exception as exc:
            if len(items) == 1:
                return [None], [exc]
        # One item spoilt the call (or the call itself failed): each item alone, each its own answer or error.
        answers, errors = [], []
        for item in items:
            try:
                answers.append(self._alone(fn, item))
                errors.append(None)
            except Exception as exc:
                answers.append(None)
                errors.append(exc)
        return answers, errors
