"""The one verified, atomic ``.npz`` cache behind the feature and embedding caches."""

from __future__ import annotations

import json

import numpy as np
import pytest

from audioclf import _cache
from audioclf._cache import NpzCache, checksum

DIGEST, KEY = "d" * 64, "k" * 64


@pytest.fixture
def cache(tmp_path) -> NpzCache:
    return NpzCache(tmp_path / "cache", data="x")


def _entry(rng, n: int = 3) -> dict[str, np.ndarray]:
    return {"x": rng.standard_normal((n, 4)).astype(np.float32), "starts": np.arange(n, dtype=np.float64)}


def test_an_entry_round_trips_with_its_metadata(cache, rng):
    entry = _entry(rng)
    cache.put(DIGEST, KEY, entry, duration=1.5)
    assert cache.path(DIGEST, KEY) == cache.root / KEY[:24] / f"{DIGEST}.npz"
    arrays, meta = cache.get(DIGEST, KEY)
    assert set(arrays) == {"x", "starts"} and arrays["x"].tolist() == entry["x"].tolist()
    assert meta["duration"] == 1.5 and meta["checksum"] == checksum(entry["x"]) and meta["format"] == 1
    assert cache.get("e" * 64, KEY) is None and cache.rejected == 0  # absent: a miss, nothing rejected


@pytest.mark.parametrize("spoil", ["truncate", "values", "key", "format", "nan", "float64", "valid"])
def test_a_bad_entry_is_a_miss_and_is_deleted(cache, rng, spoil):
    entry = _entry(rng)
    cache.put(DIGEST, KEY, entry)
    path = cache.path(DIGEST, KEY)
    with np.load(path) as z:
        parts = dict(z)
    meta = json.loads(str(parts["meta"][()]))
    if spoil == "truncate":
        path.write_bytes(path.read_bytes()[:100])
    else:
        if spoil == "values":
            parts["x"] = parts["x"] + 1  # the stored checksum no longer fits
        elif spoil in ("key", "format"):
            meta[spoil] = "another" if spoil == "key" else 0
            parts["meta"] = np.array(json.dumps(meta))
        elif spoil == "nan":
            parts["x"][0, 0] = np.nan
            meta["checksum"] = checksum(parts["x"])
            parts["meta"] = np.array(json.dumps(meta))
        elif spoil == "float64":
            parts["x"] = parts["x"].astype(np.float64)
            meta["checksum"] = checksum(parts["x"])
            parts["meta"] = np.array(json.dumps(meta))
        np.savez(path, **parts)
    valid = (lambda a: a["x"].shape[1] == 5) if spoil == "valid" else None
    assert cache.get(DIGEST, KEY, valid=valid) is None
    assert cache.rejected == 1 and not path.exists()


def test_a_failed_write_keeps_the_old_entry_and_leaves_no_temporary_file(cache, rng, monkeypatch):
    old = _entry(rng)
    cache.put(DIGEST, KEY, old)

    def crash(f, **arrays):
        f.write(b"PK\x03\x04 half an entry")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(_cache.np, "savez", crash)
    with pytest.raises(OSError, match="No space left"):
        cache.put(DIGEST, KEY, _entry(rng))
    monkeypatch.undo()
    assert cache.get(DIGEST, KEY)[0]["x"].tolist() == old["x"].tolist()
    assert [p.name for p in cache.path(DIGEST, KEY).parent.iterdir()] == [f"{DIGEST}.npz"]


def test_entries_hold_no_pickles_and_need_their_data_array(cache, rng):
    cache.put(DIGEST, KEY, _entry(rng), note="text")
    with np.load(cache.path(DIGEST, KEY), allow_pickle=False) as z:
        assert all(z[k].dtype != object for k in z.files)
    with pytest.raises(ValueError, match="holds a 'x' array"):
        cache.put(DIGEST, KEY, {"starts": np.zeros(2)})
