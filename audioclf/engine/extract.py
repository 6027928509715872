"""Model inputs for a whole dataset, computed in parallel and cached on disk.

Every clip goes through the stages of :mod:`audioclf.engine.inputs` (prepare, backbone
windows for embedding pipelines, model inputs), each clip prepared once. The result is
cached as one ``.npz`` per clip, keyed by the SHA-256 of the clip's file bytes and by
:meth:`PipelineConfig.cache_key` (every parameter that shapes the inputs, plus the library
versions): change any parameter and nothing stale is reused. The cache is
:class:`audioclf._cache.NpzCache`, shared with the embedding cache: entries are written
crash-safely and checked on every read (key, shapes and a checksum of the data); a bad
entry is deleted and recomputed, never trusted. Nothing is pickled.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .._cache import NpzCache
from .._hashing import file_sha256
from .._validate import check_positive_int
from ..datasets import Clip, Dataset
from ..errors import DatasetError, ParameterError
from .inputs import ClipInputs, dataset_group_inputs, embedding_groups
from .pipeline import PipelineConfig

__all__ = ["FeatureCache", "Extracted", "extract_dataset", "default_cache_dir"]

#: Progress callback: ``(done, total)`` clips.
Progress = Callable[[int, int], None]
_MIN_PARALLEL = 48  # fewer clips than this are computed serially: starting workers costs ~2 s


def default_cache_dir() -> Path:
    """``features/`` under audioclf's cache root: ``$AUDIOCLF_CACHE``, ``$XDG_CACHE_HOME/audioclf``
    or ``~/.cache/audioclf`` (the root :func:`audioclf.datasets.default_cache_dir` also uses)."""
    from ..datasets import default_cache_dir as cache_root

    return cache_root() / "features"


class FeatureCache:
    """A folder of verified ``.npz`` entries, one per (clip content, pipeline).

    A view of :class:`audioclf._cache.NpzCache` that stores a :class:`ClipInputs`.

    Parameters
    ----------
    root : path, optional
        Cache folder; :func:`default_cache_dir` when omitted.

    Examples
    --------
    >>> cache = FeatureCache("/tmp/feat")                        # doctest: +SKIP
    >>> cache.get(digest, config) is None                         # doctest: +SKIP
    True
    """

    def __init__(self, root: str | os.PathLike | None = None) -> None:
        self._store = NpzCache(root if root is not None else default_cache_dir(), data="x")
        self.root = self._store.root

    @property
    def rejected(self) -> int:
        """Entries found corrupt and deleted (for tests and reports)."""
        return self._store.rejected

    def path(self, digest: str, config: PipelineConfig) -> Path:
        """Where the entry of a clip with content hash ``digest`` lives."""
        return self._store.path(digest, config.cache_key())

    def get(self, digest: str, config: PipelineConfig) -> ClipInputs | None:
        """The cached inputs, or None when absent; a corrupt entry is deleted and None returned."""

        def valid(a: dict[str, np.ndarray]) -> bool:
            n = len(a["x"])
            return (a["x"].ndim == len(config.input_shape) + 1 and tuple(a["x"].shape[1:]) == config.input_shape
                    and a["starts"].shape == (n,) and a["ends"].shape == (n,) and a["padded"].shape == (n,)
                    and a["notes"].ndim == 1)

        hit = self._store.get(digest, config.cache_key(), valid=valid)
        if hit is None:
            return None
        a, meta = hit
        return ClipInputs(a["x"], a["starts"], a["ends"], a["padded"].astype(bool), float(meta["duration"]),
                          tuple(str(n) for n in a["notes"]))

    def put(self, digest: str, config: PipelineConfig, inputs: ClipInputs) -> None:
        """Write an entry crash-safely (:func:`audioclf._atomic.atomic_path`)."""
        self._store.put(digest, config.cache_key(),
                        {"x": inputs.x, "starts": inputs.starts, "ends": inputs.ends, "padded": inputs.padded,
                         "notes": np.array(inputs.notes, dtype=str)}, duration=inputs.duration)


@dataclass(frozen=True)
class Extracted:
    """Windows of a dataset, ready for training or evaluation.

    Attributes
    ----------
    x : np.ndarray [shape=(n_windows, *input_shape), dtype=float32]
        Unnormalised inputs.
    labels : np.ndarray [shape=(n_windows,)], int
        Class index of each window (its clip's label).
    clip_index : np.ndarray [shape=(n_windows,)], int
        Index into :attr:`clips` of the clip each window comes from.
    starts, ends : np.ndarray [shape=(n_windows,)]
        Window position in its clip, in seconds.
    padded : np.ndarray [shape=(n_windows,)], bool
    clips : tuple of Clip
        The clips that produced windows (failed clips are left out).
    classes : tuple of str
    failed : tuple of (str, str)
        ``(path, message)`` of clips that could not be read.
    notes : tuple of str
        One line per clip that needed a note (silent, shorter than a window).
    cached, computed : int
        Clips read from the cache and clips computed now.
    seconds : float
        Wall time of the extraction.
    """

    x: np.ndarray
    labels: np.ndarray
    clip_index: np.ndarray
    starts: np.ndarray
    ends: np.ndarray
    padded: np.ndarray
    clips: tuple[Clip, ...]
    classes: tuple[str, ...]
    failed: tuple[tuple[str, str], ...] = ()
    notes: tuple[str, ...] = ()
    cached: int = 0
    computed: int = 0
    seconds: float = 0.0

    def __len__(self) -> int:
        return len(self.x)

    @property
    def clip_labels(self) -> np.ndarray:
        """Class index of every clip in :attr:`clips` [shape=(n_clips,)]."""
        index = {c: i for i, c in enumerate(self.classes)}
        return np.array([index[c.label] for c in self.clips], dtype=np.int64)


_worker_config: PipelineConfig | None = None  # a pool worker's pipeline, built once by _start_worker


def _start_worker(config_dict: dict[str, Any]) -> None:
    """Pool initializer: rebuild the pipeline once per worker process, not once per chunk."""
    global _worker_config
    _worker_config = PipelineConfig.from_dict(config_dict)


def _compute_chunk(paths: Sequence[str]) -> list[tuple[str, Any]]:
    """Worker: load and transform clips; an unreadable clip gives ("error", message)."""
    return dataset_group_inputs(paths, _worker_config)


def _workers(requested: int | None) -> int:
    try:
        available = len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        available = os.cpu_count() or 1
    if requested is None:
        return max(1, min(available, 8))
    return check_positive_int(requested, "workers", hint=" (1 = serial)")


_SINGLE_THREAD_ENV = {k: "1" for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                                       "NUMBA_NUM_THREADS")}


def _run_parallel(todo: list[int], paths: list[str], config: PipelineConfig, workers: int,
                  on_result: Callable[[int, tuple[str, Any]], None]) -> None:
    # Chunks amortise the per-task overhead; several per worker keep progress smooth.
    n_chunks = min(len(todo), workers * 8)
    chunks = [todo[i::n_chunks] for i in range(n_chunks)]
    # Workers are spawned (not forked): the parent may run TensorFlow threads, and a
    # fork copies their locks. One BLAS thread each, or two workers fight over two cores.
    saved = {k: os.environ.get(k) for k in _SINGLE_THREAD_ENV}
    os.environ.update(_SINGLE_THREAD_ENV)
    try:
        with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                                 initializer=_start_worker, initargs=(config.to_dict(),)) as pool:
            futures = {pool.submit(_compute_chunk, [paths[i] for i in chunk]): chunk for chunk in chunks}
            for k, v in saved.items():  # the pool has started its workers: restore the parent's setting
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
            for fut in as_completed(futures):
                for i, res in zip(futures[fut], fut.result(), strict=True):
                    on_result(i, res)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def extract_dataset(dataset: Dataset, *, config: PipelineConfig, cache: FeatureCache | str | os.PathLike | None
                    | bool = True, workers: int | None = None, progress: Progress | None = None,
                    on_error: str = "skip") -> Extracted:
    """Compute (or read from the cache) the model inputs of every clip of ``dataset``.

    Parameters
    ----------
    dataset : Dataset
    config : PipelineConfig
    cache : FeatureCache, path, True or False
        ``True`` (default) uses :func:`default_cache_dir`; a path or a
        :class:`FeatureCache` uses that folder; ``False`` or ``None`` disables caching.
    workers : int, optional
        Processes for the clips not in the cache; default: the available
        cores (at most 8). Fewer than 48 clips are always computed serially.
    progress : callable ``(done, total)``, optional
        Called as clips complete (cache hits count at once).
    on_error : {'skip', 'raise'}
        An unreadable clip is left out and listed in ``failed`` (``'skip'``),
        or raises :class:`DatasetError` (``'raise'``).

    Returns
    -------
    Extracted

    Raises
    ------
    DatasetError
        If no clip could be read, or a clip failed with ``on_error='raise'``.

    Examples
    --------
    >>> ex = extract_dataset(ds, config=default_pipeline("sfc_dcnn"))   # doctest: +SKIP
    >>> ex.x.shape                                                       # doctest: +SKIP
    (960, 128, 128, 1)
    """
    if on_error not in ("skip", "raise"):
        raise ParameterError(f"on_error={on_error!r} must be 'skip' or 'raise'")
    t0 = time.perf_counter()
    if cache is True:
        store: FeatureCache | None = FeatureCache()
    elif cache is False or cache is None:
        store = None
    elif isinstance(cache, FeatureCache):
        store = cache
    else:
        store = FeatureCache(cache)
    clips = list(dataset.clips)
    total = len(clips)
    paths = [str(c.path) for c in clips]
    results: list[Any] = [None] * total
    digests: list[str | None] = [None] * total
    done = 0

    def report() -> None:
        if progress is not None:
            progress(done, total)

    todo: list[int] = []
    cached = 0
    for i, p in enumerate(paths):
        if store is not None:
            try:
                digests[i] = file_sha256(p)
            except OSError as exc:
                results[i] = ("error", f"{Path(p).name}: cannot read the file ({exc.strerror or exc})")
                done += 1
                continue
            hit = store.get(digests[i], config)
            if hit is not None:
                results[i] = ("ok", hit)
                cached += 1
                done += 1
                continue
        todo.append(i)
    report()

    def on_result(i: int, res: tuple[str, Any]) -> None:
        nonlocal done
        results[i] = res
        if res[0] == "ok" and store is not None and digests[i] is not None:
            store.put(digests[i], config, res[1])
        done += 1
        report()

    n_workers = _workers(workers)
    # A backbone already uses every core through Keras, and each worker would load it again.
    if n_workers > 1 and len(todo) >= _MIN_PARALLEL and config.input_kind != "embedding":
        _run_parallel(todo, paths, config, n_workers, on_result)
    else:  # serial, with the caller's config; an embedding pipeline's backbone runs once per group of clips
        groups = embedding_groups(todo, paths) if config.input_kind == "embedding" else ([i] for i in todo)
        for group in groups:
            for i, res in zip(group, dataset_group_inputs([paths[i] for i in group], config), strict=True):
                on_result(i, res)

    return _assemble(dataset, clips, results, on_error, cached=cached, computed=len(todo),
                     seconds=time.perf_counter() - t0)


def _assemble(dataset: Dataset, clips: list[Clip], results: list[Any], on_error: str, *, cached: int,
              computed: int, seconds: float) -> Extracted:
    failed = [(str(c.path), r[1]) for c, r in zip(clips, results, strict=True) if r[0] == "error"]
    if failed and on_error == "raise":
        more = f" (and {len(failed) - 1} more)" if len(failed) > 1 else ""
        raise DatasetError(f"could not read {failed[0][1]}{more}; fix or remove the file")
    good = [(c, r[1]) for c, r in zip(clips, results, strict=True) if r[0] == "ok"]
    if not good:
        first = f": {failed[0][1]}" if failed else ""
        raise DatasetError(f"no clip of {dataset.name!r} could be read ({len(clips)} tried){first}")
    index = {c: i for i, c in enumerate(dataset.classes)}
    xs, labels, cidx, starts, ends, padded, notes = [], [], [], [], [], [], []
    for k, (clip, inp) in enumerate(good):
        n = len(inp.x)
        xs.append(inp.x)
        labels.append(np.full(n, index[clip.label], np.int64))
        cidx.append(np.full(n, k, np.int64))
        starts.append(inp.starts)
        ends.append(inp.ends)
        padded.append(inp.padded)
        notes.extend(f"{clip.path.name}: {note}" for note in inp.notes)
    return Extracted(
        x=np.concatenate(xs), labels=np.concatenate(labels), clip_index=np.concatenate(cidx),
        starts=np.concatenate(starts), ends=np.concatenate(ends), padded=np.concatenate(padded),
        clips=tuple(c for c, _ in good), classes=tuple(dataset.classes), failed=tuple(failed),
        notes=tuple(notes), cached=cached, computed=computed, seconds=seconds,
    )
