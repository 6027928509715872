"""Dataset embeddings: the verified, atomic cache and the saved .npz."""

from __future__ import annotations

import numpy as np
import pytest

from audioclf.backbones import EmbeddingCache, embed_dataset, get_backbone, save_embeddings
from audioclf.backbones.embeddings import cache_key
from audioclf.datasets import SyntheticConfig, make_synthetic_dataset
from audioclf.errors import DatasetError


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    config = SyntheticConfig(clips_per_class=2, classes=("tone", "noise_band", "chirp"), n_folds=2)
    return make_synthetic_dataset(tmp_path_factory.mktemp("synth"), config=config)


def test_embed_dataset_fills_then_reads_the_cache(dataset, tmp_path):
    bb = get_backbone("speech")
    first = embed_dataset(dataset, bb, cache=tmp_path)
    assert (first.computed, first.cached) == (len(dataset.clips), 0)
    second = embed_dataset(dataset, bb, cache=tmp_path)
    assert (second.computed, second.cached) == (0, len(dataset.clips))
    np.testing.assert_array_equal(first.windows, second.windows)
    np.testing.assert_array_equal(first.window_clip, second.window_clip)
    # each clip's windows are exactly what Backbone.embed gives
    from audioclf.audio.io import load_audio

    y, sr = load_audio(dataset.clips[0].path, sr=16000)
    np.testing.assert_allclose(first.clip_windows(0), bb.embed(y, sr), rtol=1e-5, atol=1e-5)
    assert first.pooled("mean").shape == (len(dataset.clips), 96)
    np.testing.assert_allclose(first.pooled("max")[0], first.clip_windows(0).max(axis=0))
    assert first.labels.tolist() == [dataset.classes.index(c.label) for c in dataset.clips]


def test_corrupt_entry_is_rejected_and_recomputed(dataset, tmp_path):
    bb = get_backbone("speech")
    embed_dataset(dataset, bb, cache=tmp_path)
    entries = sorted(tmp_path.rglob("*.npz"))
    assert len(entries) == len(dataset.clips) and not list(tmp_path.rglob("*.tmp-*"))
    entries[0].write_bytes(entries[0].read_bytes()[:100])  # truncated, as after a crash mid-write elsewhere
    again = embed_dataset(dataset, bb, cache=tmp_path)
    assert (again.computed, again.cached) == (1, len(dataset.clips) - 1)


def test_tampered_values_fail_the_checksum(tmp_path, rng):
    cache = EmbeddingCache(tmp_path)
    key = "k" * 64
    emb = rng.standard_normal((2, 96)).astype(np.float32)
    cache.put("d" * 64, key, emb, np.zeros(2))
    assert cache.get("d" * 64, key, 96)[0].tolist() == emb.tolist()
    assert cache.get("d" * 64, key, 512) is None and cache.rejected == 1  # wrong size: rejected and deleted
    cache.put("d" * 64, key, emb, np.zeros(2))
    path = cache.path("d" * 64, key)
    with np.load(path) as z:
        parts = dict(z)
    parts["embeddings"] = parts["embeddings"] + 1
    np.savez(path, **parts)
    assert cache.get("d" * 64, key, 96) is None and not path.exists()


def test_cache_key_names_backbone_and_weights():
    assert cache_key(get_backbone("speech")) != cache_key(get_backbone("sounds"))


def test_save_embeddings_npz(dataset, tmp_path):
    result = embed_dataset(dataset, get_backbone("speech"), cache=False)
    path = save_embeddings(result, tmp_path / "out" / "e.npz", root=dataset.root)
    with np.load(path, allow_pickle=False) as z:
        n = len(dataset.clips)
        assert z["mean"].shape == z["max"].shape == (n, 96)
        assert z["windows"].shape == (len(z["window_clip"]), 96) and z["window_start"].shape == z["window_clip"].shape
        assert set(z["window_clip"].tolist()) == set(range(n))
        assert z["paths"].tolist() == [c.path.relative_to(dataset.root).as_posix() for c in dataset.clips]
        assert z["classes"].tolist() == list(dataset.classes)
        assert z["folds"].tolist() == [c.fold for c in dataset.clips]
        assert z["groups"].tolist() == [c.group for c in dataset.clips]
        assert str(z["backbone"]) == "speech" and len(str(z["weights_sha256"])) == 64
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["e.npz"]


def test_no_readable_clip_is_a_dataset_error(tmp_path):
    from audioclf.datasets import load_class_folders

    for label in ("a", "b"):
        (tmp_path / label).mkdir()
        (tmp_path / label / "x.wav").write_bytes(b"not audio at all")
    with pytest.raises(DatasetError, match="no clip of .* could be embedded"):
        embed_dataset(load_class_folders(tmp_path), get_backbone("speech"), cache=False)
