"""What one app server shares between its sessions: loaded models, the work queue, batched classification, a warm start.

One Python process serves a whole class. Its sessions share one loaded copy of
each model (:class:`Models`: loaded once, a second request for a model being
loaded waits for it), one :class:`~audioclf.service.workqueue.WorkQueue`, and one
:class:`~audioclf.service.batching.Batcher`: classifications of the same model that
arrive close together go through the network as one call
(:func:`classify`). :func:`warm_start` loads the default Classify model and
runs it on a real clip in a background thread when the server starts, so the
first student does not pay for it.

Environment: ``$AUDIOCLF_QUEUE_LOG`` (the work queue's job log), ``$AUDIOCLF_BATCH``
(``0`` turns batching off), ``$AUDIOCLF_BATCH_WINDOW_MS`` (how long a batch
collects; default 30), ``$AUDIOCLF_BATCH_BACKBONE`` (``1``: batch a backbone's
calls too, see :func:`batch_backbones`) and ``$AUDIOCLF_WARM`` (``0``: no warm start).
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from .batching import Batcher
from .workqueue import WorkQueue, default_slots

__all__ = ["Models", "WarmStart", "models", "work_queue", "batcher", "classify", "default_model_path",
           "warm_start", "warm_in_background", "rss_mb",
           "batch_backbones"]

_LOCK = threading.Lock()
_SHARED: dict[str, Any] = {}


def rss_mb() -> float:
    """This process's resident memory now, in MB (NaN where ``/proc`` is missing)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def _load_and_warm(path: str) -> Any:
    import gc

    from ..engine.bundle import load_bundle
    from ..engine.inference import warm_up

    bundle = load_bundle(path)
    warm_up(bundle)  # the first prediction traces the model (~1.7 s); pay it here, once
    # TensorFlow and the model are half a million long-lived objects: out of the collector's sight, a full
    # collection (Python's own, from time to time) takes milliseconds instead of 0.3 s with every session stalled.
    gc.freeze()
    return bundle


@dataclass
class _Entry:
    ready: threading.Event = field(default_factory=threading.Event)
    value: Any = None
    error: BaseException | None = None


class Models:
    """Loaded bundles shared by every session: each (folder, modification time) loaded once.

    A request for a bundle that another thread is loading waits for that load; a failed load
    is not kept (the next request tries again).

    Parameters
    ----------
    loader : callable, optional
        ``path -> bundle`` (default: load, trace on a silent clip, freeze the collector).
    max_entries : int
        Bundles kept, the most recently used first.

    Attributes
    ----------
    loads : int
        How many times ``loader`` was called.
    """

    def __init__(self, loader: Callable[[str], Any] | None = None, *, max_entries: int = 8) -> None:
        self._loader = loader or _load_and_warm
        self._max = max_entries
        self._lock = threading.Lock()
        self._entries: OrderedDict[tuple[str, float], _Entry] = OrderedDict()
        self.loads = 0

    def get(self, path: str | os.PathLike, mtime: float | None = None) -> Any:
        """The loaded bundle in ``path`` (``mtime``: its ``bundle.json``'s, read when not given)."""
        path = str(path)
        key = (path, _mtime(path) if mtime is None else float(mtime))
        with self._lock:
            entry = self._entries.get(key)
            mine = entry is None
            if mine:
                entry = self._entries[key] = _Entry()
                self.loads += 1
                while len(self._entries) > self._max:
                    self._entries.popitem(last=False)
            else:
                self._entries.move_to_end(key)
        if mine:
            try:
                entry.value = self._loader(path)
            except BaseException as exc:
                entry.error = exc
                with self._lock:
                    if self._entries.get(key) is entry:
                        del self._entries[key]
            entry.ready.set()
        else:
            entry.ready.wait()
        if entry.error is not None:
            raise entry.error
        return entry.value


def _mtime(path: str) -> float:
    return (Path(path) / "bundle.json").stat().st_mtime


def _shared(name: str, make: Callable[[], Any]) -> Any:
    with _LOCK:
        if name not in _SHARED:
            _SHARED[name] = make()
        return _SHARED[name]


def models() -> Models:
    """This process's loaded models."""
    return _shared("models", Models)


def work_queue() -> WorkQueue:
    """This process's queue for heavy work: every session's jobs, one per CPU core at a time.

    ``$AUDIOCLF_QUEUE_LOG``: a file that gets one JSON line per job (kind, seconds waited, seconds of work,
    and for a classification ``batch``: how many requests its model call served).
    """
    return _shared("queue", lambda: WorkQueue(log=os.environ.get("AUDIOCLF_QUEUE_LOG") or None))


def batcher() -> Batcher:
    """This process's batcher (``$AUDIOCLF_BATCH=0`` turns it off; ``$AUDIOCLF_BATCH_WINDOW_MS``, default 30)."""
    def make() -> Batcher:
        window = float(os.environ.get("AUDIOCLF_BATCH_WINDOW_MS") or 30) / 1000
        return Batcher(window=window, max_items=32, parallel=default_slots(),
                       enabled=os.environ.get("AUDIOCLF_BATCH", "1") != "0")
    return _shared("batcher", make)


def _model_batch(bundle: Any, explain: bool, xs: list[np.ndarray]) -> list[Any]:
    """One model call over the windows of several clips; each clip's share of the outputs."""
    from ..engine.inference import model_pass

    out = model_pass(bundle, np.concatenate(xs), explain=explain)
    ends = np.cumsum([len(x) for x in xs])
    return [out.rows(int(e - len(x)), int(e)) for x, e in zip(xs, ends, strict=True)]


def _alone(key: Any, fn: Callable[[list[Any]], list[Any]], item: Any) -> tuple[Any, int]:
    (answer,) = fn([item])
    return answer, 1


def _clip_inputs(bundle: Any, y: np.ndarray, label: str, run: Callable[..., tuple[Any, int]]) -> tuple[Any, int]:
    """The clip's model inputs; a backbone's network call, where the embedding cache misses, goes through ``run``
    (the clip's front end, level and windowing stay per clip). Returns the inputs and the backbone batch size
    (0: no backbone call)."""
    from ..engine.inputs import clip_inputs, embed_frames

    cfg = bundle.pipeline
    size = 0

    def embed(frames: list[np.ndarray]) -> list[np.ndarray]:
        nonlocal size
        (mine,) = frames  # one clip: its windows join other requests' in one call
        emb, size = run(("backbone", cfg.backbone, cfg.fine_tune), partial(embed_frames, cfg), mine)
        return [emb]

    return clip_inputs(y, cfg.sr, config=cfg, name=label, embed=embed), size


def batch_backbones() -> bool:
    """Whether :func:`classify` batches a backbone's network calls too (``$AUDIOCLF_BATCH_BACKBONE=1``).

    Off by default: on a CPU the ``sounds`` backbone costs the same per window at any batch size
    (36 ms of CPU per window, measured at 1 to 48 windows), so a batch only makes its clips wait for
    each other (measured with 20 requests at once on 2 cores: 2.9 clips/s batched, 4.1 not).
    """
    return os.environ.get("AUDIOCLF_BATCH_BACKBONE", "0") == "1"


def classify(bundle: Any, source: Any, *, sr: int | None = None, name: str | None = None, explain: bool = True,
             batch: Batcher | None = None, queue: WorkQueue | None = None,
             backbone: bool | None = None) -> Any:
    """:func:`audioclf.engine.inference.predict`, with the network calls shared with other threads' clips.

    The clip is loaded, preprocessed, levelled and windowed on its own (for a model on a backbone, its
    embeddings computed too); its windows then join those of other clips of the same model that arrived
    within the batcher's window, for one call of the model; its share of the outputs comes back and its
    probabilities, embedding and open-set verdict are computed on their own. The answer is the one
    :func:`~audioclf.engine.inference.predict` gives (within float32 rounding, 1e-5).

    Parameters
    ----------
    bundle : Bundle
        A loaded bundle (e.g. from :func:`models`).
    source, sr, name, explain
        As :func:`~audioclf.engine.inference.predict`; ``source`` may also be a
        :class:`~audioclf.engine.inference.LoadedClip` already loaded for this bundle (not read again).
    batch : Batcher, optional
        Default: :func:`batcher`.
    queue : WorkQueue, optional
        The queue whose job this call runs in (default: :func:`work_queue`): while the call waits for
        its batch it gives its slot to the next request (:meth:`WorkQueue.idle`), and its log line
        gets ``batch``, the number of clips its model call served (and ``backbone_batch``, its
        backbone call's, when that was batched).
    backbone : bool, optional
        Also batch the backbone's network calls (where the embedding cache misses); default
        :func:`batch_backbones`.

    Returns
    -------
    Prediction

    Raises
    ------
    AudioError, ParameterError
        As :func:`~audioclf.engine.inference.predict`, for this clip alone.
    """
    from ..engine.inference import LoadedClip, assemble, load_clip, normalised

    batch = batcher() if batch is None else batch
    queue = work_queue() if queue is None else queue

    def run(key: Any, fn: Callable[[list[Any]], list[Any]], item: Any) -> tuple[Any, int]:
        with queue.idle():
            # wait for others only when other requests are running or queued: a lone user waits for no one
            return batch.run(key, fn, item, collect=queue.pending() > 0)

    clip = source if isinstance(source, LoadedClip) else load_clip(bundle, source, sr=sr, name=name)
    t1 = time.perf_counter()
    backbone = batch_backbones() if backbone is None else backbone
    inp, backbone_size = _clip_inputs(bundle, clip.y, clip.label, run if backbone else _alone)
    if backbone and backbone_size:
        queue.note(backbone_batch=backbone_size)
    x = normalised(bundle, inp)
    timings = {**clip.timings, "features": time.perf_counter() - t1}
    t2 = time.perf_counter()
    out, size = run(("model", id(bundle), bool(explain)), partial(_model_batch, bundle, bool(explain)), x)
    timings["model"] = time.perf_counter() - t2
    queue.note(batch=size)
    return assemble(bundle, clip.label, inp, x, out, timings)


def default_model_path() -> Path | None:
    """The model the Classify page offers first (:func:`audioclf.service.store.list_bundles`), if any is installed."""
    from .store import list_bundles

    entries = list_bundles()
    return entries[0].path if entries else None


@dataclass
class WarmStart:
    """A warm start in progress or done (:func:`warm_start`).

    Attributes
    ----------
    path : str or None
        The model warmed (None: none installed, or warm start turned off).
    done : threading.Event
        Set when it ended, well or not.
    error : str
        Why it failed ('' when it did not).
    rss_before, rss_after : float
        The process's resident memory (MB) before the model was loaded (with TensorFlow imported)
        and after it ran on the clip: what the warm model costs.
    seconds : float
        How long it took.
    """

    path: str | None
    done: threading.Event = field(default_factory=threading.Event)
    error: str = ""
    rss_before: float = float("nan")
    rss_after: float = float("nan")
    seconds: float = 0.0

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until it ended; True if it did within ``timeout``."""
        return self.done.wait(timeout)


def _example_clip(path: str) -> tuple[bytes, str]:
    """A short real example clip of the model's dataset (a synthesized tone if there is none)."""
    from ..audio import synth
    from ..audio.io import to_wav_bytes
    from ..datasets.examples import list_examples
    from .store import read_json

    dataset = ((read_json(path).get("training") or {}).get("dataset") or {})
    dataset = dataset.get("name") if isinstance(dataset, dict) else dataset
    for e in list_examples():
        if e.dataset == dataset:
            return e.path.read_bytes(), e.path.name
    return to_wav_bytes(synth.tone(440.0, 1.0, 22050), 22050), "tone_440.wav"


def _warm(state: WarmStart, shared: Models) -> None:
    started = time.perf_counter()
    try:
        import keras  # noqa: F401  (TensorFlow imported before the first reading: only the model is counted)

        state.rss_before = rss_mb()
        bundle = shared.get(state.path)
        data, name = _example_clip(state.path)
        classify(bundle, data, name=name)
        state.rss_after = rss_mb()
    except Exception as exc:  # a failed warm start costs the first user time, never the server
        state.error = f"{type(exc).__name__}: {exc}"
    finally:
        state.seconds = time.perf_counter() - started
        state.done.set()
        # one line for whoever runs the server: what was warmed, how long it took, what it costs in memory
        print(f"audioclf: warm start of {Path(state.path).name}: "
              + (f"failed ({state.error})" if state.error else
                 f"{state.seconds:.1f} s, {state.rss_after - state.rss_before:+.0f} MB resident "
                 f"({state.rss_before:.0f} -> {state.rss_after:.0f} MB)"), file=sys.stderr, flush=True)


def warm_in_background(path: str | os.PathLike | None, *, shared: Models | None = None) -> WarmStart:
    """Load the bundle in ``path`` into ``shared`` (default :func:`models`) and run it once on a short real
    clip of its dataset, in a background thread; return at once. ``path`` None: nothing to warm."""
    state = WarmStart(None if path is None else str(path))
    if state.path is None:
        state.done.set()
        return state
    threading.Thread(target=_warm, args=(state, shared if shared is not None else models()),
                     name="audioclf-warm-start", daemon=True).start()
    return state


def warm_start() -> WarmStart:
    """Warm the default Classify model once per process (:func:`warm_in_background`); return at once.

    Later calls return the first call's :class:`WarmStart`. A request for the same model during the
    warm start waits for its load (:class:`Models`) instead of loading it again. ``$AUDIOCLF_WARM=0``
    turns it off.

    Examples
    --------
    >>> state = warm_start()                                   # doctest: +SKIP
    >>> state.wait(60), state.rss_after - state.rss_before     # doctest: +SKIP
    """
    with _LOCK:
        state = _SHARED.get("warm")
        if state is None:
            path = default_model_path() if os.environ.get("AUDIOCLF_WARM", "1") != "0" else None
            state = _SHARED["warm"] = warm_in_background(path, shared=_SHARED.setdefault("models", Models()))
        return state
