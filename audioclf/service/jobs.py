"""Run :func:`audioclf.engine.train.train` in a background thread a UI can poll.

A Streamlit script must not block while a model trains: the page starts a
:class:`TrainingJob`, re-renders every second from :meth:`TrainingJob.snapshot`,
and its Stop button calls :meth:`TrainingJob.stop`, which ends training after
the current batch with the best weights kept and the bundle still saved.

One app server serves many sessions from one process, so training jobs take
turns: at most :data:`TRAINING_QUEUE` ``.slots`` of them train at once (default:
one per CPU core, or ``$AUDIOCLF_TRAINING_JOBS``), first come first served; a
job that waits is ``'queued'`` and its snapshot says how many jobs are ahead.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import AudioclfError, ParameterError
from .workqueue import WorkQueue, default_slots

__all__ = ["TrainingJob", "JobSnapshot", "TRAINING_QUEUE", "training_slots", "POLL_SECONDS"]

#: How often a page redraws a live job (seconds).
POLL_SECONDS = 1.0
#: Batch losses kept for the live curve (the newest).
_MAX_BATCHES = 5000


def training_slots() -> int:
    """How many training jobs one server runs at once: ``$AUDIOCLF_TRAINING_JOBS``, else the CPU cores.

    Raises
    ------
    ParameterError
        If ``$AUDIOCLF_TRAINING_JOBS`` is not a positive integer.
    """
    env = os.environ.get("AUDIOCLF_TRAINING_JOBS", "").strip()
    if not env:
        return default_slots()
    if not env.isdigit() or int(env) < 1:
        raise ParameterError(f"AUDIOCLF_TRAINING_JOBS={env!r} must be a positive integer (training jobs at once)")
    return int(env)


#: The server-wide turn-taking of training jobs (shared by every session of the process).
TRAINING_QUEUE = WorkQueue(slots=training_slots(), cache_size=0)


class _Withdrawn(Exception):
    """Stop was pressed while the job still waited for its turn."""


@dataclass(frozen=True)
class JobSnapshot:
    """A consistent copy of a job's state.

    state : {'pending', 'queued', 'running', 'done', 'failed', 'withdrawn'}
        ``'queued'``: waiting for a free training slot; ``'withdrawn'``: stopped before its turn came.
    last : ProgressEvent or None
        The newest progress event.
    history : list of dict
        One row per finished epoch (epoch, loss, accuracy, val_loss, val_accuracy, val_clip_accuracy),
        copied from the ``'epoch'`` progress events.
    result : TrainResult or None
        When ``state == 'done'``.
    error : str or None
        One readable line when ``state == 'failed'``.
    stop_requested : bool
    ahead : int
        While ``'queued'``: training jobs running or waiting before this one.
    batches : list of (float, float)
        ``(epoch position, loss)`` after each training batch (the newest few thousand); the position is
        ``epoch - 1 + batch / batches``, so batch losses share the epoch axis of ``history``.
    """

    state: str
    last: Any = None
    history: list = field(default_factory=list)
    result: Any = None
    error: str | None = None
    stop_requested: bool = False
    ahead: int = 0
    batches: list = field(default_factory=list)

    @property
    def active(self) -> bool:
        """Still waiting or training (a page keeps redrawing)."""
        return self.state in ("pending", "queued", "running")

    @property
    def poll_interval(self) -> float | None:
        """Seconds between redraws of a live view: :data:`POLL_SECONDS` while active, else None (stop redrawing)."""
        return POLL_SECONDS if self.active else None


class TrainingJob:
    """One training run in a daemon thread, taking its turn in a :class:`~audioclf.service.workqueue.WorkQueue`.

    Parameters are those of :func:`audioclf.engine.train.train`, and

    queue : WorkQueue, optional
        Where the job waits for a slot (default: the server-wide :data:`TRAINING_QUEUE`).

    Subclasses may override :meth:`on_event` (a logger, or a test that pauses training at a known point).
    """

    def __init__(self, dataset: Any, *, config: Any, pipeline: Any = None, out: str | Path | None = None,
                 cache: Any = True, workers: int | None = None, queue: WorkQueue | None = None) -> None:
        from ..engine.config import StopToken
        self._kwargs = {"config": config, "pipeline": pipeline, "out": out, "cache": cache, "workers": workers}
        self._dataset = dataset
        self._token = StopToken()
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._queue = TRAINING_QUEUE if queue is None else queue
        self._ahead = 0
        self._batches: list[tuple[float, float]] = []
        self._state = "pending"
        self._last: Any = None
        self._history: list[dict] = []
        self._result: Any = None
        self._error: str | None = None
        self._thread = threading.Thread(target=self._run, name="audioclf-train", daemon=True)

    def start(self) -> TrainingJob:
        with self._lock:
            if self._state != "pending":
                return self
            self._state = "queued"
            self._changed.notify_all()
        self._thread.start()
        return self

    def stop(self) -> None:
        """Ask training to end after the current batch (best weights kept, bundle saved); a queued job is withdrawn."""
        self._token.request()
        with self._lock:
            self._changed.notify_all()

    def wait_for(self, predicate: Callable[[JobSnapshot], bool], timeout: float) -> JobSnapshot:
        """Block until ``predicate(snapshot)`` is true (checked at every change of the job); return that snapshot.

        Raises
        ------
        TimeoutError
            If it is still false after ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                snap = self._snapshot_locked()
                if predicate(snap):
                    return snap
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"training job still in state {snap.state!r} after {timeout:g} s")
                self._changed.wait(left)

    def on_event(self, event: Any) -> None:
        """Called in the training thread after each progress event is recorded; does nothing here."""

    def join(self, timeout: float | None = None) -> JobSnapshot:
        self._thread.join(timeout)
        return self.snapshot()

    def snapshot(self) -> JobSnapshot:
        with self._lock:
            return self._snapshot_locked()

    def _snapshot_locked(self) -> JobSnapshot:
        return JobSnapshot(self._state, self._last, list(self._history), self._result, self._error,
                           self._token.is_set(), self._ahead, list(self._batches))

    def _progress(self, event: Any) -> None:
        with self._lock:
            self._last = event
            if event.kind == "epoch":
                self._history.append({"epoch": event.epoch, "loss": event.loss, "accuracy": event.accuracy,
                                      "val_loss": event.val_loss, "val_accuracy": event.val_accuracy,
                                      "val_clip_accuracy": event.val_clip_accuracy})
            elif event.kind == "batch" and event.batches:
                self._batches.append((event.epoch - 1 + event.batch / event.batches, event.loss))
                del self._batches[:-_MAX_BATCHES]
            self._changed.notify_all()
        self.on_event(event)

    def _waiting(self, ahead: int) -> None:
        if self._token.is_set():
            raise _Withdrawn
        with self._lock:
            self._ahead = ahead
            self._changed.notify_all()

    def _train(self) -> Any:
        from ..engine.train import train
        if self._token.is_set():  # stopped while queued, and the turn came before the next check
            raise _Withdrawn
        with self._lock:
            self._state, self._ahead = "running", 0
            self._changed.notify_all()
        return train(self._dataset, progress=self._progress, stop=self._token, **self._kwargs)

    def _run(self) -> None:
        try:
            if self._token.is_set():
                raise _Withdrawn
            result = self._queue.run(self._train, on_wait=self._waiting)
        except _Withdrawn:
            outcome = ("withdrawn", None, "stopped while waiting for its turn; nothing was trained")
        except AudioclfError as exc:
            outcome = ("failed", None, str(exc))
        except Exception as exc:  # a bug must still reach the page as one line, not kill the thread silently
            outcome = ("failed", None, f"internal error during training ({type(exc).__name__}: {exc})")
        else:
            outcome = ("done", result, None)
        with self._lock:
            self._state, self._result, self._error = outcome
            self._changed.notify_all()
