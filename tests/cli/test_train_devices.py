"""``train --devices N`` in a real process (issue 30).

JAX data parallelism over two virtual CPU devices once ended the process with SIGABRT after 40 s (XLA's
all-reduce rendezvous timed out; :func:`audioclf.engine.backend.replicated_steps` says why). These tests drive the
command a user types, in a subprocess as a user would, and check that it trains, that the bundle predicts
like one device's, and that a device set-up the machine cannot give is refused with one ``error:`` line
before any feature is computed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from audioclf.datasets import make_synthetic_dataset

from ..conftest import HANG, ROOT, XLA_QUICK_COMPILE

#: The issue's command line, less --data / --out / --devices.
ISSUE_ARGS = ("--epochs", "2", "--split", "fold:5", "--start", "scratch", "--quiet", "--json")
#: A model that learns the synthetic classes in 2 epochs (the quick recipe's batch-normalised CNN still
#: predicts one class for every clip after 2 epochs: its moving statistics have barely left their start),
#: so that "predicts like one device" compares real decisions. Batches of 7 are odd: two replicas get a
#: padded batch (a weightless copy), the case where a window could be lost or counted twice.
LEARNING_ARGS = ("--model", "feature_mlp", "--batch-size", "7")
#: Probabilities of the two-device bundle may differ from the one-device bundle's by this much. Both see the
#: same windows in the same order with the same initial weights; what differs is float32 rounding -- the
#: replicas sum two half-batch gradients, one device sums the whole batch, and the two-device step is one
#: XLA-compiled program where one device runs operation by operation. Adam's first updates are about
#: +-learning rate whatever a gradient's size, so a weight whose gradient is near 0 can take a different
#: step. Measured on this machine (busy, 2 cores) the two bundles' probabilities agreed to 5 decimals on all
#: 100 clips, while a different --seed moved them by up to 0.41 and changed 38 of the 100 decisions. 1e-3
#: leaves room for other CPUs' rounding and stays far below what different training shows.
ATOL = 1e-3


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory) -> Path:
    """The built-in synthetic dataset (100 clips, 5 classes), as ``--data synthetic:DIR`` makes it."""
    root = tmp_path_factory.mktemp("devices") / "synthetic"
    make_synthetic_dataset(root)
    return root


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    """One feature cache for the module's runs (each pipeline's features are computed once)."""
    return tmp_path_factory.mktemp("devices_cache")


def _env(devices: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("TF_CONFIG", "XLA_FLAGS", "KERAS_BACKEND")}
    env.update(KERAS_BACKEND="jax", XLA_FLAGS=f"--xla_force_host_platform_device_count={devices} {XLA_QUICK_COMPILE}",
               PYTHONPATH=str(ROOT))
    return env


def _train(data: Path, out: Path, cache: Path, *args: str, host_devices: int = 2) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "audioclf", "train", "--data", f"synthetic:{data}", "--out",
                           str(out), "--cache-dir", str(cache), *ISSUE_ARGS, *args], cwd=ROOT,
                          env=_env(host_devices), capture_output=True, text=True, timeout=HANG)


def _result(proc: subprocess.CompletedProcess) -> dict:
    # -6 (SIGABRT) was the bug; the tail of stderr then holds XLA's "Termination timeout" line.
    assert proc.returncode == 0, f"exit {proc.returncode}: {proc.stderr[-3000:]}"
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _clip_probs(bundle_dir: Path, data: Path, cache: Path) -> np.ndarray:
    """The bundle's clip probabilities for every clip of the dataset, in this (TensorFlow) process.

    As ``evaluate`` scores a bundle: its model on the clips' windows, read from the feature cache the training
    run filled (computing them again, clip by clip, took most of these tests' time).
    """
    from audioclf.datasets import load_dataset
    from audioclf.engine.bundle import load_bundle
    from audioclf.engine.evaluate import evaluate_bundle

    dataset = load_dataset(data)
    result = evaluate_bundle(load_bundle(bundle_dir), dataset, cache=cache, workers=1)
    assert len(result.clip_names) == len(dataset.clips)
    return result.clip_probs


@pytest.mark.slow
def test_the_issue_command_trains_over_two_jax_devices(synthetic, cache, tmp_path):
    """The command of issue 30 (the quick recipe) exits 0 and writes a bundle trained by two replicas."""
    out = _result(_train(synthetic, tmp_path / "bundle", cache, "--devices", "2"))
    assert out["device"] == "CPU via jax, float32, 2 replicas"
    assert out["epochs"] == 2 and out["model"] == "sfc_dcnn"
    assert (out["train_clips"], out["val_clips"]) == (80, 20)
    training = json.loads((tmp_path / "bundle" / "bundle.json").read_text())["training"]
    assert training["device"]["replicas"] == 2 and training["config"]["devices"] == 2
    assert [row["epoch"] for row in training["history"]] == [1, 2]
    assert all(np.isfinite(row["loss"]) for row in training["history"])
    probs = _clip_probs(tmp_path / "bundle", synthetic, cache)
    assert probs.shape == (100, 5)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)


@pytest.mark.slow
def test_two_jax_devices_predict_like_one(synthetic, cache, tmp_path):
    """The same command on one and on two devices gives bundles that decide every clip alike."""
    one = _result(_train(synthetic, tmp_path / "one", cache, "--devices", "1", *LEARNING_ARGS))
    two = _result(_train(synthetic, tmp_path / "two", cache, "--devices", "2", *LEARNING_ARGS))
    assert (one["device"], two["device"]) == ("CPU via jax, float32", "CPU via jax, float32, 2 replicas")
    training = json.loads((tmp_path / "two" / "bundle.json").read_text())["training"]
    assert training["train"]["windows"] == 80  # one per clip: 11 batches of 7 and one of 3, each padded
    p1, p2 = _clip_probs(tmp_path / "one", synthetic, cache), _clip_probs(tmp_path / "two", synthetic, cache)
    assert len(set(p1.argmax(axis=1).tolist())) == 5, "the one-device model should tell the classes apart"
    np.testing.assert_array_equal(p2.argmax(axis=1), p1.argmax(axis=1))
    np.testing.assert_allclose(p2, p1, atol=ATOL, rtol=0)


@pytest.mark.slow
def test_more_devices_than_the_machine_has_is_refused_before_any_work(synthetic, tmp_path):
    """--devices 3 with two JAX devices: exit 2, one ``error:`` line, no feature computed, no bundle."""
    cache = tmp_path / "cache"
    proc = _train(synthetic, tmp_path / "bundle", cache, "--devices", "3")
    assert proc.returncode == 2, proc.stderr[-3000:]
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and errors[0].startswith("error: devices=3: the jax backend sees only 2 device(s)")
    assert "XLA_FLAGS=--xla_force_host_platform_device_count=N" in errors[0]
    assert "Traceback" not in proc.stderr and "rendezvous" not in proc.stderr
    assert not (tmp_path / "bundle").exists()
    assert not cache.exists() or not any(p.is_file() for p in cache.rglob("*"))
