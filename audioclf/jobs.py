"""Run :func:`audioclf.engine.train.train` in a background thread a UI can poll.

A Streamlit script must not block while a model trains: the page starts a
:class:`TrainingJob`, re-renders every second from :meth:`TrainingJob.snapshot`,
and its Stop button calls :meth:`TrainingJob.stop`, which ends training after
the current batch with the best weights kept and the bundle still saved.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import AudioclfError

__all__ = ["TrainingJob", "JobSnapshot"]


@dataclass(frozen=True)
class JobSnapshot:
    """A consistent copy of a job's state.

    state : {'pending', 'running', 'done', 'failed'}
    last : ProgressEvent or None
        The newest progress event.
    history : list of dict
        One row per finished epoch (epoch, loss, accuracy, val_loss, val_accuracy, val_clip_accuracy).
    result : TrainResult or None
        When ``state == 'done'``.
    error : str or None
        One readable line when ``state == 'failed'``.
    stop_requested : bool
    """

    state: str
    last: Any = None
    history: list = field(default_factory=list)
    result: Any = None
    error: str | None = None
    stop_requested: bool = False


class TrainingJob:
    """One training run in a daemon thread.

    Parameters are those of :func:`audioclf.engine.train.train`.
    """

    def __init__(self, dataset: Any, *, config: Any, pipeline: Any = None, out: str | Path | None = None,
                 cache: Any = True, workers: int | None = None) -> None:
        from .engine.config import StopToken
        self._kwargs = {"config": config, "pipeline": pipeline, "out": out, "cache": cache, "workers": workers}
        self._dataset = dataset
        self._token = StopToken()
        self._lock = threading.Lock()
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
            self._state = "running"
        self._thread.start()
        return self

    def stop(self) -> None:
        """Ask training to end after the current batch (best weights kept, bundle saved)."""
        self._token.request()

    def join(self, timeout: float | None = None) -> JobSnapshot:
        self._thread.join(timeout)
        return self.snapshot()

    def snapshot(self) -> JobSnapshot:
        with self._lock:
            return JobSnapshot(self._state, self._last, list(self._history), self._result, self._error,
                               self._token.is_set())

    def _progress(self, event: Any) -> None:
        with self._lock:
            self._last = event
            if event.kind == "epoch":
                self._history.append({"epoch": event.epoch, "loss": event.loss, "accuracy": event.accuracy,
                                      "val_loss": event.val_loss, "val_accuracy": event.val_accuracy,
                                      "val_clip_accuracy": event.val_clip_accuracy})

    def _run(self) -> None:
        from .engine.train import train
        try:
            result = train(self._dataset, progress=self._progress, stop=self._token, **self._kwargs)
        except AudioclfError as exc:
            outcome = ("failed", None, str(exc))
        except Exception as exc:  # a bug must still reach the page as one line, not kill the thread silently
            outcome = ("failed", None, f"internal error during training ({type(exc).__name__}: {exc})")
        else:
            outcome = ("done", result, None)
        with self._lock:
            self._state, self._result, self._error = outcome
