"""A dataset's model inputs: serial and parallel extraction, failed clips, and the feature cache."""

from __future__ import annotations

import numpy as np
import pytest

from audioclf.audio.windowing import WindowConfig
from audioclf.datasets import Clip, Dataset, split_dataset
from audioclf.engine import extract
from audioclf.engine.extract import FeatureCache, extract_dataset
from audioclf.engine.inputs import ClipInputs
from audioclf.engine.pipeline import PipelineConfig
from audioclf.errors import DatasetError
from tests.engine.conftest import spec_config

# --- extraction and cache ------------------------------------------------------------------------


def test_cache_is_reused_and_a_changed_parameter_recomputes(tiny_dataset, tmp_path):
    cfg = spec_config()
    cache = FeatureCache(tmp_path / "cache")
    first = extract_dataset(tiny_dataset, config=cfg, cache=cache, workers=1)
    assert (first.cached, first.computed) == (0, 6)
    second = extract_dataset(tiny_dataset, config=cfg, cache=cache, workers=1)
    assert (second.cached, second.computed) == (6, 0)
    np.testing.assert_array_equal(first.x, second.x)
    changed = spec_config(window=WindowConfig(length=16, hop=4))
    third = extract_dataset(tiny_dataset, config=changed, cache=cache, workers=1)
    assert third.computed == 6 and len(third) > len(first)


def test_corrupted_cache_entry_is_detected_and_recomputed(tiny_dataset, tmp_path):
    cfg = spec_config()
    cache = FeatureCache(tmp_path / "cache")
    ref = extract_dataset(tiny_dataset, config=cfg, cache=cache, workers=1)
    entries = sorted((tmp_path / "cache").rglob("*.npz"))
    assert len(entries) == 6
    entries[0].write_bytes(entries[0].read_bytes()[:100])  # truncated
    data = dict(np.load(entries[1], allow_pickle=False))
    data["x"] = data["x"] + 1.0  # flipped values, stale checksum
    np.savez(entries[1], **data)
    again = extract_dataset(tiny_dataset, config=cfg, cache=cache, workers=1)
    assert again.computed == 2 and cache.rejected == 2
    np.testing.assert_array_equal(again.x, ref.x)
    assert not list((tmp_path / "cache").rglob("*.tmp-*"))


def test_cache_entries_hold_no_pickles(tiny_dataset, tmp_path):
    extract_dataset(tiny_dataset, config=spec_config(), cache=tmp_path / "cache", workers=1)
    for entry in (tmp_path / "cache").rglob("*.npz"):
        with np.load(entry, allow_pickle=False) as z:
            assert all(z[k].dtype != object for k in z.files)


def test_parallel_extraction_matches_serial(tiny_dataset, monkeypatch):
    monkeypatch.setattr(extract, "_MIN_PARALLEL", 1)
    events = []
    par = extract_dataset(tiny_dataset, config=spec_config(), cache=False, workers=2,
                          progress=lambda done, total: events.append((done, total)))
    ser = extract_dataset(tiny_dataset, config=spec_config(), cache=False, workers=1)
    np.testing.assert_array_equal(par.x, ser.x)
    assert events[-1] == (6, 6)


def test_unreadable_clip_is_skipped_or_raised(tiny_dataset, tmp_path):
    bad = tmp_path / "audio" / "bad.wav"
    bad.write_bytes(b"not audio at all" * 10)
    ds = Dataset.from_clips([*tiny_dataset.clips, Clip(path=bad, label="tone")], name="t", root=tmp_path,
                            kind="folders")
    out = extract_dataset(ds, config=spec_config(), cache=False, workers=1)
    assert len(out.clips) == 6 and out.failed[0][0] == str(bad)
    with pytest.raises(DatasetError, match="bad.wav"):
        extract_dataset(ds, config=spec_config(), cache=False, workers=1, on_error="raise")


def test_windows_of_a_clip_never_cross_the_split(tiny_dataset):
    for spec in ("fold:1", "group:g1", "ratio:0.3"):
        train, val = split_dataset(tiny_dataset, spec, seed=3)
        tr = extract_dataset(train, config=spec_config(), cache=False, workers=1)
        va = extract_dataset(val, config=spec_config(), cache=False, workers=1)
        train_paths = {tr.clips[i].path for i in tr.clip_index}
        val_paths = {va.clips[i].path for i in va.clip_index}
        assert train_paths.isdisjoint(val_paths)
        assert len(train_paths) + len(val_paths) == 6


def test_the_pipeline_is_built_once_per_worker_and_never_on_the_serial_path(tiny_dataset, monkeypatch):
    built = []
    real = PipelineConfig.from_dict.__func__
    monkeypatch.setattr(PipelineConfig, "from_dict", classmethod(lambda cls, d: built.append(1) or real(cls, d)))
    extract_dataset(tiny_dataset, config=spec_config(), cache=False, workers=1)
    assert built == []
    # a pool worker: the initializer builds it, every chunk after that reuses it
    monkeypatch.setattr(extract, "_worker_config", None)
    extract._start_worker(spec_config().to_dict())
    paths = [str(c.path) for c in tiny_dataset.clips]
    first, second = extract._compute_chunk(paths[:3]), extract._compute_chunk(paths[3:])
    assert built == [1] and [r[0] for r in first + second] == ["ok"] * 6


def test_feature_cache_entry_round_trips_and_refuses_another_shape(tiny_dataset, tmp_path):
    cfg = spec_config()
    cache = FeatureCache(tmp_path / "cache")
    out = extract_dataset(tiny_dataset, config=cfg, cache=cache, workers=1)
    digest = "d" * 64
    one = ClipInputs(out.x[:2], out.starts[:2], out.ends[:2], out.padded[:2], 0.6, ("a note",))
    cache.put(digest, cfg, one)
    back = cache.get(digest, cfg)
    np.testing.assert_array_equal(back.x, one.x)
    assert back.notes == ("a note",) and back.duration == 0.6 and back.padded.dtype == bool
    np.savez(cache.path(digest, cfg), **{**dict(np.load(cache.path(digest, cfg))), "starts": np.zeros(5)})
    assert cache.get(digest, cfg) is None and not cache.path(digest, cfg).exists() and cache.rejected == 1
