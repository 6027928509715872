"""``backbones`` and ``embed`` on the command line: JSON contracts and error paths."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from audioclf.backbones.registry import BACKBONES_DIR
from audioclf.cli import main
from audioclf.datasets import SyntheticConfig, make_synthetic_dataset


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("AUDIOCLF_CACHE", str(tmp_path_factory.getbasetemp() / "audioclf-cache"))


def _cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_backbones_json(capsys):
    code, out, _ = _cli(capsys, "backbones", "--json")
    assert code == 0
    rows = json.loads(out.strip().splitlines()[-1])
    assert [r["name"] for r in rows] == ["sounds", "speech"]
    for r in rows:
        assert {"name", "title", "sample_rate", "embedding_dim", "window_s", "licence", "source", "params"} <= set(r)
        assert r["weights_ok"] is True
    assert rows[0]["sample_rate"] == 44100 and rows[1]["embedding_dim"] == 96 and rows[0]["params"] == 4_689_984


def test_backbones_reports_an_altered_file(capsys, tmp_path, monkeypatch):
    shutil.copytree(BACKBONES_DIR, tmp_path / "bb")
    (tmp_path / "bb" / "sounds" / "model.keras").write_bytes(b"x")
    monkeypatch.setenv("AUDIOCLF_BACKBONES", str(tmp_path / "bb"))
    code, out, _ = _cli(capsys, "backbones", "--json")
    rows = {r["name"]: r for r in json.loads(out)}
    assert code == 0 and rows["speech"]["weights_ok"] and not rows["sounds"]["weights_ok"]
    assert "git checkout pretrained/backbones" in rows["sounds"]["weights_problem"]


@pytest.fixture(scope="module")
def small_data(tmp_path_factory):
    config = SyntheticConfig(clips_per_class=2, classes=("tone", "clicks"), n_folds=2)
    return make_synthetic_dataset(tmp_path_factory.mktemp("synth"), config=config)


def test_embed_writes_npz_and_json(capsys, small_data, tmp_path):
    out_path = tmp_path / "emb.npz"
    code, out, err = _cli(capsys, "embed", str(small_data.root), "--backbone", "speech", "--out", str(out_path),
                          "--json", "--quiet")
    assert code == 0, err
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["clips"] == len(small_data.clips) and summary["embedding_dim"] == 96
    assert summary["computed"] + summary["cached"] == summary["clips"] and summary["failed"] == []
    with np.load(out_path) as z:
        assert z["mean"].shape == (summary["clips"], 96) and len(z["windows"]) == summary["windows"]
        assert sorted(z["labels"].tolist()) == [0, 0, 1, 1]


@pytest.mark.parametrize("args, message", [
    (["--backbone", "vggish"], "unknown backbone 'vggish'; expected one of: sounds, speech"),
    (["--backbone", "speech", "--out-suffix"], "must end in .npz"),
])
def test_embed_bad_arguments(capsys, small_data, tmp_path, args, message):
    out = str(tmp_path / ("e.txt" if "--out-suffix" in args else "e.npz"))
    args = [a for a in args if a != "--out-suffix"]
    code, _, err = _cli(capsys, "embed", str(small_data.root), *args, "--out", out)
    assert code == 2
    assert err.strip().count("\n") == 0 and err.startswith("error: ") and message in err


def test_embed_bad_data(capsys, tmp_path):
    code, _, err = _cli(capsys, "embed", str(tmp_path / "nowhere"), "--backbone", "speech", "--out",
                        str(tmp_path / "e.npz"))
    assert code == 2 and err.startswith("error: ") and err.strip().count("\n") == 0


def test_embed_altered_weights(capsys, small_data, tmp_path, monkeypatch):
    shutil.copytree(BACKBONES_DIR, tmp_path / "bb")
    path = tmp_path / "bb" / "speech" / "model.keras"
    path.write_bytes(path.read_bytes()[:-10])
    monkeypatch.setenv("AUDIOCLF_BACKBONES", str(tmp_path / "bb"))
    code, _, err = _cli(capsys, "embed", str(small_data.root), "--backbone", "speech", "--out",
                        str(tmp_path / "e.npz"))
    assert code == 2 and err.strip().count("\n") == 0
    assert "were altered" in err and "git checkout pretrained/backbones" in err
    assert not (tmp_path / "e.npz").exists()
