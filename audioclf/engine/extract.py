"""Model inputs for a whole dataset, computed in parallel and cached on disk.

Every clip goes through :func:`audioclf.engine.pipeline.clip_inputs` (preprocessing,
channels, windowing). The result is cached as one ``.npz`` per clip, keyed by
the SHA-256 of the clip's file bytes and by :meth:`PipelineConfig.cache_key`
(every parameter that shapes the inputs, plus the library versions): change
any parameter and nothing stale is reused. Entries are written atomically
(temporary file + ``os.replace``) and checked on every read (key, shapes and a
checksum of the data); a bad entry is deleted and recomputed, never trusted.
Nothing is pickled: entries are read with ``allow_pickle=False``.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .._hashing import file_sha256
from .._validate import check_positive_int
from ..datasets import Clip, Dataset
from ..errors import AudioclfError, DatasetError, ParameterError
from .pipeline import (
    ClipInputs,
    EmbeddingDeferred,
    PipelineConfig,
    clip_inputs,
    computed_embeddings,
    deferred_embeddings,
)

__all__ = ["FeatureCache", "Extracted", "extract_dataset", "default_cache_dir"]

#: Progress callback: ``(done, total)`` clips.
Progress = Callable[[int, int], None]
_ENTRY_FORMAT = 1
_MIN_PARALLEL = 48  # fewer clips than this are computed serially: starting workers costs ~2 s


def default_cache_dir() -> Path:
    """``features/`` under audioclf's cache root: ``$AUDIOCLF_CACHE``, ``$XDG_CACHE_HOME/audioclf``
    or ``~/.cache/audioclf`` (the root :func:`audioclf.datasets.default_cache_dir` also uses)."""
    from ..datasets import default_cache_dir as cache_root

    return cache_root() / "features"


def _checksum(x: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(x).tobytes()).hexdigest()


class FeatureCache:
    """A folder of verified ``.npz`` entries, one per (clip content, pipeline).

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
        self.root = Path(root).expanduser() if root is not None else default_cache_dir()
        self.rejected = 0  # entries found corrupt and deleted (for tests and reports)

    def path(self, digest: str, config: PipelineConfig) -> Path:
        """Where the entry of a clip with content hash ``digest`` lives."""
        return self.root / config.cache_key()[:24] / f"{digest}.npz"

    def get(self, digest: str, config: PipelineConfig) -> ClipInputs | None:
        """The cached inputs, or None when absent; a corrupt entry is deleted and None returned."""
        path = self.path(digest, config)
        if not path.is_file():
            return None
        try:
            with np.load(path, allow_pickle=False) as z:
                meta = json.loads(str(z["meta"][()]))
                x = z["x"]
                starts, ends, padded = z["starts"], z["ends"], z["padded"]
                notes = tuple(str(n) for n in z["notes"])
            n = len(x)
            ok = (
                meta.get("format") == _ENTRY_FORMAT
                and meta.get("key") == config.cache_key()
                and meta.get("digest") == digest
                and x.dtype == np.float32
                and x.ndim == len(config.input_shape) + 1
                and tuple(x.shape[1:]) == config.input_shape
                and n >= 1
                and starts.shape == (n,) and ends.shape == (n,) and padded.shape == (n,)
                and meta.get("checksum") == _checksum(x)
                and np.all(np.isfinite(x))
            )
            if ok:
                return ClipInputs(x, starts, ends, padded.astype(bool), float(meta["duration"]), notes)
        except Exception:  # noqa: BLE001 -- any unreadable entry (truncated zip, bad JSON ...) is just rejected
            pass
        self.rejected += 1
        path.unlink(missing_ok=True)
        return None

    def put(self, digest: str, config: PipelineConfig, inputs: ClipInputs) -> None:
        """Write an entry atomically (temporary file in the same folder, then ``os.replace``)."""
        path = self.path(digest, config)
        path.parent.mkdir(parents=True, exist_ok=True)
        meta = {"format": _ENTRY_FORMAT, "key": config.cache_key(), "digest": digest,
                "checksum": _checksum(inputs.x), "duration": inputs.duration}
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".npz")
        try:
            with os.fdopen(fd, "wb") as f:
                np.savez(f, x=inputs.x, starts=inputs.starts, ends=inputs.ends, padded=inputs.padded,
                         notes=np.array(inputs.notes, dtype=str), meta=np.array(json.dumps(meta)))
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


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


def _compute_chunk(paths: Sequence[str], config_dict: dict[str, Any]) -> list[tuple[str, Any]]:
    """Worker: load and transform clips; an unreadable clip gives ("error", message)."""
    from ..audio.io import load_audio

    config = PipelineConfig.from_dict(config_dict)
    out: list[tuple[str, Any]] = []
    for p in paths:
        try:
            y, sr = load_audio(p, sr=config.sr)
            out.append(("ok", clip_inputs(y, sr, config=config, name=Path(p).name)))
        except AudioclfError as exc:
            out.append(("error", str(exc)))
    return out


# Clips whose backbone windows go through the network together (~70 windows of 5-s clips), fewer when their
# files are large: their decoded signals are held until the group's network call.
_EMBED_GROUP = 24
_EMBED_GROUP_BYTES = 16 << 20


def _embedding_groups(todo: list[int], paths: list[str]) -> Iterator[list[int]]:
    group: list[int] = []
    size = 0
    for i in todo:
        try:
            n = os.path.getsize(paths[i])
        except OSError:
            n = 0  # the clip's own load reports it
        if group and (len(group) >= _EMBED_GROUP or size + n > _EMBED_GROUP_BYTES):
            yield group
            group, size = [], 0
        group.append(i)
        size += n
    if group:
        yield group


def _compute_embedding_group(paths: Sequence[str], config: PipelineConfig) -> list[tuple[str, Any]]:
    """:func:`_compute_chunk` for an embedding pipeline: the backbone runs once for all the clips' windows.

    Each clip is loaded and prepared once; those that miss the embedding cache leave their backbone input
    (:func:`deferred_embeddings`); one batched network call embeds them all; the clips are then windowed
    with their embeddings (:func:`computed_embeddings`), which also go to the embedding cache.
    """
    from ..audio.io import load_audio
    from ..backbones import EmbeddingCache, get_backbone

    out: list[tuple[str, Any] | None] = [None] * len(paths)
    loaded: dict[int, tuple[np.ndarray, int]] = {}
    with deferred_embeddings() as pending:
        for k, p in enumerate(paths):
            try:
                y, sr = load_audio(p, sr=config.sr)
                out[k] = ("ok", clip_inputs(y, sr, config=config, name=Path(p).name))
            except EmbeddingDeferred:
                loaded[k] = (y, sr)
            except AudioclfError as exc:
                out[k] = ("error", str(exc))
    if pending:
        bb = get_backbone(config.backbone)
        found: dict[tuple[str, str], np.ndarray] = {}
        cache = EmbeddingCache()
        for top in (False, True):
            todo = [q for q in pending if q[2] is top]
            if not todo:
                continue
            frames = np.concatenate([q[3] for q in todo])
            emb = bb.top_inputs(frames).reshape(len(frames), -1) if top else bb.embed_windows(frames)
            at = 0
            for digest, key, _, f, starts in todo:
                found[(digest, key)] = emb[at:at + len(f)]
                at += len(f)
                try:
                    cache.put(digest, key, found[(digest, key)], starts)
                except OSError:
                    pass  # a read-only or full cache folder costs time, never a result
        with computed_embeddings(found):
            for k, (y, sr) in loaded.items():
                try:
                    out[k] = ("ok", clip_inputs(y, sr, config=config, name=Path(paths[k]).name))
                except AudioclfError as exc:
                    out[k] = ("error", str(exc))
    return [r if r is not None else ("error", f"{Path(p).name}: not computed") for r, p in zip(out, paths,
                                                                                               strict=True)]


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
        with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            futures = {pool.submit(_compute_chunk, [paths[i] for i in chunk], config.to_dict()): chunk
                       for chunk in chunks}
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
    elif config.input_kind == "embedding":
        for group in _embedding_groups(todo, paths):
            for i, res in zip(group, _compute_embedding_group([paths[i] for i in group], config), strict=True):
                on_result(i, res)
    else:
        for i in todo:
            on_result(i, _compute_chunk([paths[i]], config.to_dict())[0])

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
