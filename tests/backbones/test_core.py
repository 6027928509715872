"""Loading backbones: names, weight integrity, embedding shapes."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from audioclf.backbones import get_backbone, get_backbone_spec, list_backbones
from audioclf.backbones.registry import BACKBONES_DIR
from audioclf.errors import BackboneError, ModelError, ParameterError


def test_registry_lists_both_with_credits():
    specs = {s.name: s for s in list_backbones()}
    assert list(specs) == ["sounds", "speech"]
    assert specs["sounds"].licence == "CC BY 4.0" and "Lerch" in specs["sounds"].citation
    assert specs["speech"].licence == "Apache-2.0" and "ICASSP 2020" in specs["speech"].citation
    assert (specs["sounds"].sample_rate, specs["sounds"].embedding_dim) == (44100, 512)
    assert (specs["speech"].sample_rate, specs["speech"].embedding_dim) == (16000, 96)
    assert specs["speech"].window_s == pytest.approx(0.782) and specs["speech"].hop_s == pytest.approx(0.08)
    assert specs["sounds"].window_s == pytest.approx(2.322, abs=1e-3)
    assert all(len(s.weights_sha256) == 64 for s in specs.values())


def test_unknown_name_lists_the_valid_ones():
    with pytest.raises(BackboneError, match="unknown backbone 'vggish'; expected one of: sounds, speech"):
        get_backbone_spec("vggish")
    assert issubclass(BackboneError, ModelError)


@pytest.fixture
def weights_copy(tmp_path):
    root = tmp_path / "backbones"
    shutil.copytree(BACKBONES_DIR, root)
    return root


def test_missing_weights_say_how_to_restore(weights_copy):
    (weights_copy / "speech" / "model.keras").unlink()
    with pytest.raises(BackboneError, match=r"weights of backbone 'speech' are missing .*git checkout "
                                            r"pretrained/backbones.*convert_backbones\.py"):
        get_backbone("speech", root=weights_copy)


def test_altered_weights_say_how_to_restore(weights_copy, monkeypatch):
    path = weights_copy / "speech" / "model.keras"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(BackboneError, match=r"weights of backbone 'speech' were altered .*git checkout "
                                            r"pretrained/backbones"):
        get_backbone("speech", root=weights_copy)
    monkeypatch.setenv("AUDIOCLF_BACKBONES", str(weights_copy))  # the environment variable finds it too
    with pytest.raises(BackboneError, match="were altered"):
        get_backbone("speech")


def test_a_file_altered_after_a_good_check_is_caught(weights_copy):
    """The hash check is remembered per file identity, never across a rewrite of the file."""
    import os

    from audioclf.backbones.core import verify_weights

    spec = get_backbone_spec("speech")
    path = verify_weights(spec, weights_copy)
    st = path.stat()
    data = bytearray(path.read_bytes())
    data[len(data) // 3] ^= 0x01
    path.write_bytes(bytes(data))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))  # same size and modification time as the good file
    with pytest.raises(BackboneError, match="were altered"):
        verify_weights(spec, weights_copy)


def test_intact_copy_loads(weights_copy):
    assert get_backbone("speech", root=weights_copy).embed(np.zeros(16000, np.float32), 16000).shape == (3, 96)


@pytest.mark.parametrize("seconds, sr, n", [(0.2, 8000, 1), (0.78, 16000, 1), (1.0, 16000, 3), (2.0, 22050, 16)])
def test_speech_embedding_shapes(rng, seconds, sr, n):
    y = (0.1 * rng.standard_normal(int(seconds * sr))).astype(np.float32)
    emb = get_backbone("speech").embed(y, sr)
    assert emb.shape == (n, 96) and emb.dtype == np.float32 and np.all(np.isfinite(emb))


@pytest.mark.slow
@pytest.mark.parametrize("seconds, n", [(0.3, 1), (2.4, 1), (5.0, 3), (12.0, 9)])
def test_sounds_embedding_shapes(rng, seconds, n):
    y = (0.1 * rng.standard_normal(int(seconds * 22050))).astype(np.float32)
    emb = get_backbone("sounds").embed(y, 22050)
    assert emb.shape == (n, 512) and emb.dtype == np.float32 and np.all(np.isfinite(emb))


def test_resampling_happens_inside(rng):
    import soxr

    y = (0.1 * rng.standard_normal(16000)).astype(np.float32)
    bb = get_backbone("speech")
    np.testing.assert_allclose(bb.embed(soxr.resample(y, 16000, 8000, quality="HQ"), 8000),
                               bb.embed(soxr.resample(soxr.resample(y, 16000, 8000, quality="HQ"), 8000, 16000,
                                                      quality="HQ"), 16000), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("y, sr, match", [
    (np.zeros(0, np.float32), 16000, "non-empty mono"),
    (np.zeros((2, 100), np.float32), 16000, "non-empty mono"),
    (np.array([0.0, np.nan], np.float32), 16000, "NaN"),
    (np.zeros(100, np.float32), 0, "sr=0"),
])
def test_bad_input(y, sr, match):
    with pytest.raises(ParameterError, match=match):
        get_backbone("speech").embed(y, sr)
    with pytest.raises(ParameterError, match="windows must have shape"):
        get_backbone("speech").embed_windows(np.zeros((1, 10, 32), np.float32))


def test_pretrained_folder_stays_within_60_mb():
    from .conftest import ROOT

    total = sum(p.stat().st_size for p in (ROOT / "pretrained").rglob("*") if p.is_file())
    assert total <= 60 * 1024 * 1024, f"pretrained/ holds {total / 2**20:.1f} MiB"
    licences = (BACKBONES_DIR / "LICENSES.md").read_text()
    assert "CC BY 4.0" in licences and "Apache License 2.0" in licences and "Ma and Alexander Lerch" in licences
