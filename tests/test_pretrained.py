"""The shipped models in ``pretrained/``: they load, predict, list, and match their cards."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
PRETRAINED = ROOT / "pretrained"
BUNDLES = sorted(p for p in PRETRAINED.iterdir() if (p / "bundle.json").is_file()) if PRETRAINED.is_dir() else []
MAX_BUNDLE_BYTES = 20_000_000
MAX_TOTAL_BYTES = 60_000_000

pytestmark = pytest.mark.skipif(not BUNDLES, reason="no bundles in pretrained/")


def _desc(folder: Path) -> dict:
    return json.loads((folder / "bundle.json").read_text(encoding="utf-8"))


def _size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def test_sizes():
    for folder in BUNDLES:
        assert _size(folder) <= MAX_BUNDLE_BYTES, folder.name
    assert sum(_size(f) for f in BUNDLES) <= MAX_TOTAL_BYTES


@pytest.mark.parametrize("folder", BUNDLES, ids=lambda p: p.name)
def test_loads_and_predicts_synth(folder):
    from audioclf.audio import synth
    from audioclf.engine.bundle import load_bundle
    from audioclf.engine.inference import predict
    b = load_bundle(folder)
    sr = b.pipeline.sr
    signals = {"tone": synth.tone(440.0, 1.0, sr), "noise": synth.noise(1.0, sr, rng=0),
               "burst": synth.burst_in_silence(sr)}
    for kind, y in signals.items():
        p = predict(b, y, sr=sr, name=kind)
        assert p.probs.shape == (len(b.classes),)
        assert np.all(np.isfinite(p.probs))
        assert abs(float(p.probs.sum()) - 1.0) < 1e-3
        assert p.label in b.classes


@pytest.mark.parametrize("folder", BUNDLES, ids=lambda p: p.name)
def test_card_matches_bundle(folder):
    d = _desc(folder)
    card = (folder / "card.md").read_text(encoding="utf-8")
    line = next(ln for ln in card.splitlines() if "in the model's output order" in ln)
    assert re.findall(r"`([^`]+)`", line) == d["classes"]
    head = d["metrics"]["headline"]
    assert {"name", "value", "protocol"} <= set(head)
    assert f"{head['name']} = {head['value']:.4f}" in card
    assert f"{d['metrics']['check']['accuracy']:.4f}" in card
    for png in re.findall(r"`(\w+\.png)`", card):
        assert (folder / png).is_file(), png
    assert f"- Date: {d['created'][:10]}." in card  # the day the bundle itself was trained


def test_cli_lists_them():
    out = subprocess.run([sys.executable, "-m", "audioclf", "pretrained", "--json"], cwd=ROOT, capture_output=True,
                         text=True, check=True)
    listed = {e["name"]: e for e in json.loads(out.stdout.strip().splitlines()[-1])}
    for folder in BUNDLES:
        e = listed[folder.name]
        d = _desc(folder)
        assert Path(e["path"]).resolve() == folder.resolve()
        assert e["classes"] == d["classes"]
        assert e["dataset"]
        assert e["headline"] == d["metrics"]["headline"]
        assert e["backbone"] == (d.get("backbone") or {}).get("name")  # transfer models name their backbone


@pytest.mark.slow
@pytest.mark.realdata
@pytest.mark.parametrize("folder", BUNDLES, ids=lambda p: p.name)
def test_check_reproduces(folder, real_data):
    """The card's reproducible check (an evaluation of the shipped model) gives its figure within 1 point."""
    from audioclf.datasets import load_dataset, split_dataset
    from audioclf.engine.evaluate import evaluate_bundle
    check = _desc(folder)["metrics"]["check"]
    ds = load_dataset(real_data / check["data"])
    if check["split"]:
        _, ds = split_dataset(ds, check["split"])
    ev = evaluate_bundle(folder, ds)
    assert abs(ev.accuracy - check["accuracy"]) <= 0.01, (ev.accuracy, check)


def test_the_transfer_benchmark_reads_every_protocol_run_from_the_cards():
    """bench/transfer.py puts the shipped models' per-split runs beside the backbone: it must parse every card."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_transfer", ROOT / "bench" / "transfer.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    runs = bench.shipped_protocols(PRETRAINED)
    for folder in BUNDLES:
        card = (folder / "card.md").read_text(encoding="utf-8")
        listed = re.findall(r"^\| ((?:fold|group|split):[\w-]+)(?: \(the shipped model\))? \| [0-9.]+ \|", card, re.M)
        expected = {s for s in listed if f"| {s} |" in card}  # rows the table names plainly
        assert set(runs.get(folder.name, {}).get("splits", {})) == expected, folder.name
    assert set(runs["esc10_sfc_dcnn"]["splits"]) == {f"fold:{k}" for k in (1, 2, 3, 4)}
    assert runs["esc10_sfc_dcnn"]["backbone"] is None and runs["esc10_sounds"]["backbone"] == "sounds"
    acc, seconds = runs["fsdd_sfc_dcnn"]["splits"]["group:george"]
    assert 0 < acc <= 1 and seconds > 0 and runs["fsdd_sfc_dcnn"]["dataset"] == "fsdd"
