"""Heavy work from many app sessions, a few at a time, in arrival order.

One app server serves a whole class from one Python process. When twenty
sessions classify at once, running all twenty at the same time makes each of
them as slow as the slowest (the cores are shared twenty ways and the threads
fight over the GIL); running at most one job per core, first come first
served, finishes the first ones quickly and the last one no later. A session
that waits is told how many requests are ahead of it.

A :class:`WorkQueue` also keeps the newest results by key, and a request for a
key that another session is computing waits for that result instead of
computing it again. A job that waits for something other than the CPU (a
batch of other sessions' work, :mod:`audioclf.service.batching`) gives its slot to the
next request meanwhile (:meth:`WorkQueue.idle`).
"""

from __future__ import annotations

import itertools
import json
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from .._validate import check_int, check_positive_int

__all__ = ["WorkQueue", "default_slots"]

T = TypeVar("T")


def default_slots() -> int:
    """The number of CPU cores this process may use (at least 1)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


class WorkQueue:
    """Run callables from many threads, at most ``slots`` at once, first come first served.

    Parameters
    ----------
    slots : int, optional
        How many jobs run at the same time (default: :func:`default_slots`).
    cache_size : int
        How many results (of calls with a ``key``) are kept, newest first; 0 keeps none.
    log : path, optional
        A file to which every job that ran appends one JSON line: ``kind`` (the key's first item, or the
        function's name), ``waited`` (seconds in the queue) and ``ran`` (seconds of work), ``at`` (Unix time
        it finished), and whatever the job added with :meth:`note` (e.g. ``batch``: how many requests shared
        its model call). The app sets it from ``$AUDIOCLF_QUEUE_LOG``; ``bench/load.py`` reads it to tell the
        server's share of a latency from the browser's.

    Examples
    --------
    >>> q = WorkQueue(slots=1)
    >>> q.run(sum, [1, 2, 3], key=("sum", 1, 2, 3))
    6
    >>> q.run(sum, [9], key=("sum", 1, 2, 3))  # the kept result for this key
    6
    """

    def __init__(self, slots: int | None = None, *, cache_size: int = 32, log: str | os.PathLike | None = None) -> None:
        self.slots = check_positive_int(default_slots() if slots is None else slots, "slots")
        self._cache_size = check_int(cache_size, "cache_size", low=0)
        self._cond = threading.Condition()
        self._tickets = itertools.count()
        self._waiting: list[int] = []  # tickets in arrival order
        self._running = 0
        self._cache: OrderedDict[Hashable, Any] = OrderedDict()
        self._computing: set[Hashable] = set()
        self._log = None if log is None else os.fspath(log)
        self._log_lock = threading.Lock()
        self._notes: dict[int, dict[str, Any]] = {}  # thread id -> fields for its job's log line

    def pending(self) -> int:
        """Jobs running or waiting now."""
        with self._cond:
            return self._running + len(self._waiting)

    def run(self, fn: Callable[..., T], /, *args: Any, key: Hashable | None = None,
            on_wait: Callable[[int], None] | None = None, poll: float = 0.5, **kwargs: Any) -> T:
        """Call ``fn(*args, **kwargs)`` when a slot is free; return its result.

        Parameters
        ----------
        fn : callable
        key : hashable, optional
            Names the result: a kept result for ``key`` is returned at once, without
            queueing, and while another thread computes ``key`` this one waits for it.
        on_wait : callable, optional
            Called in the calling thread with the number of requests ahead of it
            (running or queued earlier), when it has to wait and then about every
            ``poll`` seconds until its turn; an exception it raises (e.g. a page
            that is being re-run) withdraws the request.
        poll : float
            Seconds between ``on_wait`` calls.

        Raises
        ------
        Whatever ``fn`` raises (the slot is released and nothing is kept).
        """
        if key is not None:
            found, value = self._wait_for_key(key, on_wait, poll)
            if found:
                return value
        try:
            asked = time.perf_counter()
            self._acquire(on_wait, poll)
            started = time.perf_counter()
            me = threading.get_ident()
            self._notes[me] = {}
            try:
                result = fn(*args, **kwargs)
            finally:
                self._release()
                notes = self._notes.pop(me, {})
                if self._log is not None:
                    kind = key[0] if isinstance(key, tuple) and key else getattr(fn, "__name__", "job")
                    self._write_log(str(kind), started - asked, time.perf_counter() - started, notes)
            if key is not None:
                self._keep(key, result)
            return result
        finally:
            if key is not None:
                with self._cond:
                    self._computing.discard(key)
                    self._cond.notify_all()

    def _wait_for_key(self, key: Hashable, on_wait: Callable[[int], None] | None,
                      poll: float) -> tuple[bool, Any]:
        """Return (True, result) if ``key`` is kept (waiting while another thread computes it);
        otherwise mark ``key`` as computed by this thread and return (False, None)."""
        while True:
            with self._cond:
                if key in self._cache:
                    self._cache.move_to_end(key)
                    return True, self._cache[key]
                if key not in self._computing:
                    self._computing.add(key)
                    return False, None
                self._cond.wait(poll)
                ahead = self._running + len(self._waiting)
            if on_wait is not None:
                on_wait(max(ahead, 1))

    def _acquire(self, on_wait: Callable[[int], None] | None, poll: float) -> None:
        with self._cond:
            ticket = next(self._tickets)
            self._waiting.append(ticket)
        try:
            while True:
                with self._cond:
                    if self._running < self.slots and self._waiting[0] == ticket:
                        self._waiting.pop(0)
                        self._running += 1
                        self._cond.notify_all()  # the next ticket may fit in another free slot
                        return
                    ahead = self._waiting.index(ticket) + self._running
                if on_wait is not None:
                    on_wait(ahead)
                with self._cond:
                    if not (self._running < self.slots and self._waiting[0] == ticket):
                        self._cond.wait(poll)
        except BaseException:
            with self._cond:
                if ticket in self._waiting:
                    self._waiting.remove(ticket)
                self._cond.notify_all()
            raise

    def note(self, **fields: Any) -> None:
        """Add JSON-ready ``fields`` to the log line of the job this thread runs (nothing outside a job)."""
        found = self._notes.get(threading.get_ident())
        if found is not None:
            found.update(fields)

    @contextmanager
    def idle(self) -> Iterator[None]:
        """Inside the block, the job this thread runs gives its slot to the next request.

        For a job that waits for other threads' work (a batch it joined): the cores are not its
        to use meanwhile. It takes its slot back at the end of the block without queueing again, so
        for a moment one more job than ``slots`` may run. Outside a job, the block changes nothing.
        """
        if threading.get_ident() not in self._notes:
            yield
            return
        self._release()
        try:
            yield
        finally:
            with self._cond:
                self._running += 1

    def _write_log(self, kind: str, waited: float, ran: float, notes: dict[str, Any] | None = None) -> None:
        line = json.dumps({"kind": kind, "waited": round(waited, 4), "ran": round(ran, 4),
                           "at": round(time.time(), 3), **(notes or {})}) + "\n"
        try:
            with self._log_lock, open(self._log, "a", encoding="utf-8") as f:
                f.write(line)
        except OSError:
            pass  # a log that cannot be written never fails a user's request

    def _release(self) -> None:
        with self._cond:
            self._running -= 1
            self._cond.notify_all()

    def _keep(self, key: Hashable, value: Any) -> None:
        if not self._cache_size:
            return
        with self._cond:
            self._cache[key] = value
            self._cache.move_to_end(key)
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
