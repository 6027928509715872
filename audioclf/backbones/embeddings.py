"""Window embeddings of a whole dataset, cached on disk like the feature cache.

One ``.npz`` per (clip content, backbone), keyed by the SHA-256 of the clip's
file bytes and by :func:`cache_key` (backbone name, weight hash, every
front-end setting and the versions of the libraries that compute them): change
any of these and nothing stale is reused. Entries are written atomically
(temporary file in the same folder, synced, then renamed) and verified on every read
(key, digest, shape, checksum); a bad entry is deleted and recomputed. Nothing
is pickled: entries are read with ``allow_pickle=False``. The cache itself is
:class:`audioclf._cache.NpzCache`, the design the feature cache shares.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .._atomic import atomic_path
from .._cache import ENTRY_FORMAT as _ENTRY_FORMAT
from .._cache import NpzCache
from ..datasets import Clip, Dataset
from ..errors import AudioclfError, DatasetError
from .core import Backbone, file_sha256

__all__ = ["EmbeddingCache", "DatasetEmbeddings", "embed_dataset", "save_embeddings", "cache_key", "default_cache_dir"]

#: Progress callback: ``(done, total)`` clips.
Progress = Callable[[int, int], None]


def default_cache_dir() -> Path:
    """``embeddings/`` under audioclf's cache root (``$AUDIOCLF_CACHE``, ``$XDG_CACHE_HOME/audioclf``, ...)."""
    from ..datasets import default_cache_dir as cache_root

    return cache_root() / "embeddings"


def cache_key(backbone: Backbone, *, cut: str | None = None) -> str:
    """SHA-256 of everything that shapes a clip's embeddings besides the clip itself.

    ``cut``: entries hold the output of this layer (a top block's input, for fine-tuning)
    instead of the embeddings.
    """
    import librosa
    import soxr

    spec = backbone.spec
    fields = {"format": _ENTRY_FORMAT, "name": spec.name, "weights": spec.weights_sha256,
              "sample_rate": spec.sample_rate, "frames": spec.frames, "frame_hop": spec.frame_hop,
              "n_bands": spec.n_bands, "dim": spec.embedding_dim, "librosa": librosa.__version__,
              "soxr": soxr.__version__, "numpy": np.__version__}
    if cut is not None:  # absent otherwise: the embeddings' keys stay as they were
        fields["cut"] = cut
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()


class EmbeddingCache:
    """A folder of verified ``.npz`` entries: the window embeddings of one clip under one backbone.

    A view of :class:`audioclf._cache.NpzCache` (entries ``embeddings`` and ``starts``).

    Parameters
    ----------
    root : path, optional
        Cache folder; :func:`default_cache_dir` when omitted.
    """

    def __init__(self, root: str | os.PathLike | None = None) -> None:
        self._store = NpzCache(root if root is not None else default_cache_dir(), data="embeddings")
        self.root = self._store.root

    @property
    def rejected(self) -> int:
        """Entries found corrupt and deleted."""
        return self._store.rejected

    def path(self, digest: str, key: str) -> Path:
        return self._store.path(digest, key)

    def get(self, digest: str, key: str, dim: int) -> tuple[np.ndarray, np.ndarray] | None:
        """``(embeddings, starts)`` of a clip, or None when absent; a corrupt entry is deleted."""
        hit = self._store.get(digest, key, valid=lambda a: (a["embeddings"].ndim == 2
                                                             and a["embeddings"].shape[1] == dim
                                                             and a["starts"].shape == (len(a["embeddings"]),)))
        return None if hit is None else (hit[0]["embeddings"], hit[0]["starts"])

    def put(self, digest: str, key: str, embeddings: np.ndarray, starts: np.ndarray) -> None:
        """Write an entry crash-safely (:func:`audioclf._atomic.atomic_path`)."""
        self._store.put(digest, key, {"embeddings": embeddings, "starts": starts})


@dataclass(frozen=True)
class DatasetEmbeddings:
    """Window embeddings of a dataset's clips under one backbone.

    Attributes
    ----------
    backbone : str
        Backbone name.
    weights_sha256 : str
    clips : tuple of Clip
        The clips that were embedded (unreadable ones are in :attr:`failed`).
    classes : tuple of str
    windows : np.ndarray [shape=(n_windows, dim), float32]
        Every window's embedding, clip after clip.
    window_clip : np.ndarray [shape=(n_windows,)], int
        Index into :attr:`clips` of each window.
    window_start : np.ndarray [shape=(n_windows,)], float
        Start of each window in its clip, in seconds (negative when a short clip was centred in padding).
    failed : tuple of (str, str)
        ``(path, message)`` of clips that could not be read.
    cached, computed : int
    seconds : float
        Wall time.
    """

    backbone: str
    weights_sha256: str
    clips: tuple[Clip, ...]
    classes: tuple[str, ...]
    windows: np.ndarray
    window_clip: np.ndarray
    window_start: np.ndarray
    failed: tuple[tuple[str, str], ...] = ()
    cached: int = 0
    computed: int = 0
    seconds: float = 0.0

    @property
    def labels(self) -> np.ndarray:
        """Class index of every clip [shape=(n_clips,)]."""
        index = {c: i for i, c in enumerate(self.classes)}
        return np.array([index[c.label] for c in self.clips], dtype=np.int64)

    def pooled(self, how: str = "mean") -> np.ndarray:
        """One vector per clip: the ``"mean"`` or ``"max"`` of its windows [shape=(n_clips, dim)]."""
        reduce = {"mean": np.mean, "max": np.max}[how]
        return np.stack([reduce(self.windows[self.window_clip == i], axis=0) for i in range(len(self.clips))]
                        ).astype(np.float32)

    def clip_windows(self, i: int) -> np.ndarray:
        """The window embeddings of clip ``i`` [shape=(n, dim)]."""
        return self.windows[self.window_clip == i]


def embed_dataset(dataset: Dataset, backbone: Backbone, *, cache: bool | str | os.PathLike = True,
                  progress: Progress | None = None, batch_size: int = 64) -> DatasetEmbeddings:
    """Embed every clip of ``dataset`` with ``backbone``, reading and filling the cache.

    Parameters
    ----------
    dataset : Dataset
    backbone : Backbone
        From :func:`audioclf.backbones.get_backbone`.
    cache : bool or path
        True: the default cache folder; a path: that folder; False: no cache.
    progress : callable ``(done, total)``, optional

    Raises
    ------
    DatasetError
        No clip could be read.
    """
    from ..audio.io import load_audio

    start = time.perf_counter()
    store = None if cache is False else EmbeddingCache(None if cache is True else cache)
    key = cache_key(backbone)
    dim = backbone.spec.embedding_dim
    sr = backbone.spec.sample_rate
    slots: list[tuple[np.ndarray, np.ndarray] | None] = []  # one per embedded clip, filled in order
    clips: list[Clip] = []
    failed: list[tuple[str, str]] = []
    pending: list[tuple[int, str, np.ndarray, np.ndarray]] = []  # (slot, digest, windows, starts)
    cached = computed = 0
    total = len(dataset.clips)

    def flush() -> None:
        # Windows of several clips go through the network together: one call for many short clips.
        emb = backbone.embed_windows(np.concatenate([p[2] for p in pending]), batch_size=batch_size)
        at = 0
        for slot, digest, windows, starts in pending:
            entry = (emb[at:at + len(windows)], starts)
            at += len(windows)
            slots[slot] = entry
            if store is not None and digest:
                store.put(digest, key, *entry)
        pending.clear()

    for n, clip in enumerate(dataset.clips, start=1):
        digest = file_sha256(clip.path) if clip.path.is_file() else ""
        hit = store.get(digest, key, dim) if store is not None and digest else None
        if hit is None:
            try:
                y, _ = load_audio(clip.path, sr=sr)
                windows, starts = backbone.frontend(y, sr)
            except (AudioclfError, OSError) as exc:
                failed.append((str(clip.path), str(exc)))
                if progress:
                    progress(n, total)
                continue
            pending.append((len(slots), digest, windows, np.asarray(starts, dtype=np.float64)))
            slots.append(None)
            computed += 1
            if sum(len(p[2]) for p in pending) >= batch_size:
                flush()
        else:
            slots.append(hit)
            cached += 1
        clips.append(clip)
        if progress:
            progress(n, total)
    if pending:
        flush()
    parts = [s for s in slots if s is not None]
    if not clips:
        detail = f": {failed[0][1]}" if failed else ""
        raise DatasetError(f"no clip of {dataset.name!r} could be embedded ({len(failed)} failed){detail}")
    return DatasetEmbeddings(
        backbone=backbone.name, weights_sha256=backbone.spec.weights_sha256, clips=tuple(clips),
        classes=dataset.classes, windows=np.concatenate([p[0] for p in parts]).astype(np.float32),
        window_clip=np.concatenate([np.full(len(p[0]), i, dtype=np.int64) for i, p in enumerate(parts)]),
        window_start=np.concatenate([p[1] for p in parts]), failed=tuple(failed), cached=cached,
        computed=computed, seconds=time.perf_counter() - start)


def save_embeddings(embeddings: DatasetEmbeddings, path: str | os.PathLike, *, root: str | os.PathLike) -> Path:
    """Write ``embeddings`` as one ``.npz`` crash-safely (:func:`audioclf._atomic.atomic_path`).

    Arrays: ``mean``, ``max`` (per clip, ``(n_clips, dim)``), ``windows`` with ``window_clip`` and
    ``window_start``, ``labels``, ``classes``, ``paths`` (relative to ``root``, the dataset folder),
    ``folds`` (-1 where none) and ``groups`` ('' where none) when the dataset has any, ``backbone``
    and ``weights_sha256``. Read it with ``np.load(path)`` (no pickle).
    """
    path = Path(path)
    if path.suffix != ".npz":
        from ..errors import ParameterError

        raise ParameterError(f"--out {path} must end in .npz")
    path.parent.mkdir(parents=True, exist_ok=True)
    root = Path(root)
    rel = []
    for c in embeddings.clips:
        try:
            rel.append(c.path.relative_to(root).as_posix())
        except ValueError:
            rel.append(os.path.relpath(c.path, root))
    arrays: dict[str, np.ndarray] = {
        "mean": embeddings.pooled("mean"), "max": embeddings.pooled("max"), "windows": embeddings.windows,
        "window_clip": embeddings.window_clip, "window_start": embeddings.window_start,
        "labels": embeddings.labels, "classes": np.array(embeddings.classes, dtype=str),
        "paths": np.array(rel, dtype=str), "backbone": np.array(embeddings.backbone),
        "weights_sha256": np.array(embeddings.weights_sha256)}
    if any(c.fold is not None for c in embeddings.clips):
        arrays["folds"] = np.array([-1 if c.fold is None else c.fold for c in embeddings.clips], dtype=np.int64)
    if any(c.group is not None for c in embeddings.clips):
        arrays["groups"] = np.array(["" if c.group is None else c.group for c in embeddings.clips], dtype=str)
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.savez(f, **arrays)
    return path
