"""A folder of verified, atomically written ``.npz`` entries: the one design behind audioclf's disk caches.

Each entry belongs to one (content digest, key) pair: ``digest`` names what was
computed on (usually the SHA-256 of a clip's file bytes), ``key`` everything
else that shapes the result (a pipeline or a backbone, with the versions of the
libraries that compute it). An entry lives at ``root/key[:24]/digest.npz``.

An entry is written crash-safely (:func:`audioclf._atomic.atomic_path`: a
temporary name in the same folder, synced, then renamed) and verified on every
read: its format, key and digest, a SHA-256 checksum of its data array, a
float32 dtype and finite values, plus whatever shape check the caller gives.
An entry that fails any of these (truncated, tampered, stale) is deleted and
reported as a miss, so the caller recomputes it; it is never trusted. Nothing is
pickled: entries are read with ``allow_pickle=False``.

Used by :class:`audioclf.backbones.embeddings.EmbeddingCache` (backbone
embeddings) and :class:`audioclf.engine.extract.FeatureCache` (model inputs).
This module sits at the bottom of the package: it imports only :mod:`audioclf._atomic`.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ._atomic import atomic_path

__all__ = ["NpzCache", "checksum"]

#: Written in every entry's metadata; an entry of another format is a miss.
ENTRY_FORMAT = 1


def checksum(x: np.ndarray) -> str:
    """SHA-256 of an array's bytes (C order)."""
    return hashlib.sha256(np.ascontiguousarray(x).tobytes()).hexdigest()


class NpzCache:
    """A folder of verified ``.npz`` entries, one per (digest, key).

    Parameters
    ----------
    root : path
        The cache folder (created on the first write).
    data : str
        Name of the entry's main array: float32, finite, and covered by the checksum.

    Examples
    --------
    >>> cache = NpzCache("/tmp/c", data="x")                                         # doctest: +SKIP
    >>> cache.put("d" * 64, "k" * 64, {"x": np.ones((2, 3), np.float32)}, duration=1.0)  # doctest: +SKIP
    >>> arrays, meta = cache.get("d" * 64, "k" * 64)                                 # doctest: +SKIP
    >>> arrays["x"].shape, meta["duration"]                                          # doctest: +SKIP
    ((2, 3), 1.0)
    """

    def __init__(self, root: str | os.PathLike, *, data: str) -> None:
        self.root = Path(root).expanduser()
        self.data = data
        self.rejected = 0  # entries found corrupt and deleted (for tests and reports)

    def path(self, digest: str, key: str) -> Path:
        """Where the entry of ``(digest, key)`` lives."""
        return self.root / key[:24] / f"{digest}.npz"

    def get(self, digest: str, key: str, *, valid: Callable[[dict[str, np.ndarray]], bool] | None = None
            ) -> tuple[dict[str, np.ndarray], dict[str, Any]] | None:
        """The entry's arrays and metadata, or None when absent; a corrupt entry is deleted and None returned.

        Parameters
        ----------
        digest, key : str
        valid : callable ``arrays -> bool``, optional
            The caller's own check of the arrays (shapes); False rejects the entry like a bad checksum.
        """
        path = self.path(digest, key)
        if not path.is_file():
            return None
        try:
            with np.load(path, allow_pickle=False) as z:
                arrays = {name: z[name] for name in z.files}
            meta = json.loads(str(arrays.pop("meta")[()]))
            x = arrays[self.data]
            if (meta.get("format") == ENTRY_FORMAT and meta.get("key") == key and meta.get("digest") == digest
                    and x.dtype == np.float32 and len(x) >= 1 and meta.get("checksum") == checksum(x)
                    and np.all(np.isfinite(x)) and (valid is None or valid(arrays))):
                return arrays, meta
        except Exception:  # noqa: BLE001 -- any unreadable entry (truncated zip, bad JSON, missing array) is rejected
            pass
        self.rejected += 1
        path.unlink(missing_ok=True)
        return None

    def put(self, digest: str, key: str, arrays: Mapping[str, np.ndarray], **meta: Any) -> None:
        """Write an entry crash-safely; ``meta`` (JSON values) is stored beside the checksum.

        Raises
        ------
        OSError
            The folder cannot be written (read-only, full); the callers treat this as a cache that costs time.
        """
        if "meta" in arrays or self.data not in arrays:
            raise ValueError(f"an entry holds a {self.data!r} array and no array named 'meta'")
        info = {"format": ENTRY_FORMAT, "key": key, "digest": digest, "checksum": checksum(arrays[self.data]),
                **meta}
        with atomic_path(self.path(digest, key)) as tmp, open(tmp, "wb") as f:
            np.savez(f, **arrays, meta=np.array(json.dumps(info)))
