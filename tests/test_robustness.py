"""Bad and odd input end to end: library, CLI and pages (the corpus in tests/corpus.py)."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from audioclf import errors
from audioclf.audio.io import load_audio
from audioclf.audio.preprocess import DenoiseConfig, SplitConfig, denoise, split_silence
from audioclf.features import compute_channels
from audioclf.service.store import list_bundles
from tests.conftest import HANG, ROOT, run_cli
from tests.corpus import bad_cases, odd_cases

ODD = odd_cases()
BAD = bad_cases()


@pytest.fixture(scope="module")
def bundle():
    entries = list_bundles(ROOT / "pretrained")
    if not entries:
        pytest.skip("no pretrained bundle in pretrained/")
    from audioclf.engine.bundle import load_bundle
    return load_bundle(next(e.path for e in entries if e.architecture == "sfc_dcnn"))


@pytest.mark.slow
@pytest.mark.parametrize("case", list(ODD))
def test_odd_input_features_and_prediction_are_finite(case, bundle):
    from audioclf.engine.inference import predict
    data, suffix = ODD[case]
    y, sr = load_audio(data, sr=22050, name=f"{case}{suffix}")
    chans = compute_channels(y, sr)
    assert all(np.all(np.isfinite(c.values)) and np.all(np.isfinite(c.model_input())) for c in chans.values())
    for stationary in (True, False):
        assert np.all(np.isfinite(denoise(y, sr, config=DenoiseConfig(stationary=stationary))))
    assert np.all(np.isfinite(split_silence(y, sr, config=SplitConfig()).y))
    pred = predict(bundle, data, name=f"{case}{suffix}")
    assert np.all(np.isfinite(pred.window_probs)) and pred.probs.sum() == pytest.approx(1.0, abs=1e-4)
    assert len(pred.window_probs) >= 1
    if case in ("one_sample", "50ms"):
        assert pred.padded.all()  # shorter than a window: padded, as documented


@pytest.mark.slow
def test_cli_predict_bad_and_odd_files(tmp_path, bundle):
    files = []
    for case in ("empty", "text", "truncated", "nan_inf"):
        p = tmp_path / f"{case}.wav"
        p.write_bytes(BAD[case][0])
        files.append(p)
    r = run_cli("predict", str(bundle.path), *map(str, files), "--json")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.startswith("error: ")]
    assert [next(c for c in ("empty", "text", "truncated", "nan_inf") if f"{c}.wav" in ln) for ln in lines] == [
        "empty", "text", "truncated", "nan_inf"]  # one clear line per bad file
    odd = tmp_path / "six.wav"
    odd.write_bytes(ODD["six_channels"][0])
    r = run_cli("predict", str(bundle.path), str(odd), "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out[0]["file"] == str(odd) and out[0]["top"]


def test_bad_input_errors_are_distinct():
    kinds, messages = set(), set()
    for case, (data, exc, _) in BAD.items():
        with pytest.raises(exc) as info:
            load_audio(data, name=case)
        kinds.add(type(info.value).__name__)
        messages.add(str(info.value))
        assert case in str(info.value)  # the message names its source
    # text/image/random bytes share UnsupportedFormatError; every other problem has its own type
    assert kinds == {"EmptyAudioError", "UnsupportedFormatError", "TruncatedAudioError", "ZeroFramesError",
                     "NonFiniteAudioError", "AudioTooLongError"}
    assert len(messages) == len(BAD)


@pytest.mark.parametrize("data", [b"not a zip", b"PK\x03\x04garbage"])
def test_train_page_bad_zip_shows_error(data):
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=HANG).run()
    at.switch_page("pages/train.py").run()
    at.radio(key="tr_source").set_value("Upload a zip").run()
    at.get("file_uploader")[0].upload("data.zip", data, "application/zip").run()
    assert not at.exception
    assert len(at.error) == 1 and "zip" in at.error[0].value.lower()


@pytest.mark.realdata
@pytest.mark.slow
def test_every_real_clip_decodes(real_data):
    """Every clip of the FSDD and ESC-10 manifests loads (native rate, full decode) without error."""
    n = 0
    for name in ("fsdd", "esc10"):
        root = real_data / name
        with open(root / "manifest.csv", newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                y, sr = load_audio(root / row["path"], sr=None)
                assert len(y) > 0 and sr in (8000, 22050)
                n += 1
    assert n == 2820


def test_error_hierarchy():
    for exc in (errors.EmptyAudioError, errors.TruncatedAudioError, errors.AudioTooLongError):
        assert issubclass(exc, errors.AudioError) and issubclass(exc, errors.AudioclfError)
    assert issubclass(errors.BundleError, errors.ModelError)


@pytest.fixture(scope="module")
def kill_run(tmp_path_factory):
    """What the kill tests' `train` processes share: a small synthetic set (5 classes of 10 clips, one source per
    fold) and a feature cache, so its features are computed once, by the first run. The model is the small
    feature_mlp: a process reaches its first checkpoint seconds after it starts (the default recipe's CNN
    spends most of that time tracing its training step), and its epochs, each saving while it improves, follow
    one another a few per second, so random kills fall in every part of an epoch, a save among them."""
    from audioclf.datasets import SyntheticConfig, make_synthetic_dataset

    root = tmp_path_factory.mktemp("kill_run")
    make_synthetic_dataset(root / "synth", config=SyntheticConfig(clips_per_class=10))
    env = {**os.environ, "AUDIOCLF_CACHE": str(root / "cache"), "OMP_NUM_THREADS": "1"}
    return ["--data", str(root / "synth"), "--model", "feature_mlp", "--workers", "1", "--quiet",
            "--split", "fold:5"], env


@pytest.mark.slow
def test_training_process_killed_mid_epoch_leaves_the_last_good_bundle(tmp_path, kill_run):
    """SIGKILL a real `train` process while it trains over an existing bundle: the old bundle still loads,
    the half-done run is never listed as a bundle, and the best-so-far checkpoint loads."""
    from audioclf.engine.bundle import load_bundle
    from audioclf.models import load_model_file

    common, env = kill_run
    out, ck = tmp_path / "models" / "run", tmp_path / "best.keras"
    base = [sys.executable, "-m", "audioclf", "train", *common, "--out", str(out)]
    first = subprocess.run([*base, "--epochs", "1"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=HANG)
    assert first.returncode == 0, first.stderr[-2000:]
    before = json.loads((out / "bundle.json").read_text(encoding="utf-8"))["created"]
    # far more epochs than the second below lasts, on however fast a machine
    proc = subprocess.Popen([*base, "--epochs", "2000", "--checkpoint", str(ck)], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + HANG
        while not ck.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.5)
        assert ck.exists() and proc.poll() is None, "training did not reach its first checkpoint"
        time.sleep(1.0)  # well inside the next epochs
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    b = load_bundle(out)  # the last good bundle, untouched
    assert json.loads((out / "bundle.json").read_text(encoding="utf-8"))["created"] == before
    assert len(b.classes) == 5
    assert [e.path.name for e in list_bundles(out.parent)] == ["run"]  # no half-written bundle offered
    assert load_model_file(ck) is not None  # the best model so far survives the kill


# Runs `python -m audioclf ...` with keras.Model.save patched: the first save writes the file it is given,
# cuts it in half (what a kill in the middle of writing leaves), raises a flag and waits to be killed.
_KILLED_DURING_SAVE = """
import pathlib, sys, time
import keras
from audioclf.cli import main

flag, argv = pathlib.Path(sys.argv[1]), sys.argv[2:]
original = keras.Model.save

def save(self, filepath, *args, **kwargs):
    original(self, filepath, *args, **kwargs)
    p = pathlib.Path(filepath)
    p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])
    flag.write_text(str(p))
    while True:
        time.sleep(1)

keras.Model.save = save
sys.exit(main(argv))
"""


@pytest.mark.slow
def test_checkpoint_survives_kills_at_random_moments_and_during_a_save(tmp_path, kill_run):
    """SIGKILL `train --checkpoint` at five random moments after a save, then once in the middle of a save:
    the checkpoint is always the previous one or a new one, loadable, never a broken file."""
    from audioclf.models import load_model_file

    common, env = kill_run
    ck = tmp_path / "ck" / "best.keras"
    args = ["train", *common, "--out", str(tmp_path / "models" / "run"), "--epochs", "2000", "--checkpoint", str(ck)]
    rng = np.random.default_rng(15)

    def kill(proc: subprocess.Popen) -> None:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
        assert proc.returncode == -signal.SIGKILL

    def wait_for(condition, proc: subprocess.Popen, what: str) -> None:
        deadline = time.monotonic() + HANG
        while not condition():
            assert proc.poll() is None, f"training ended before {what} (status {proc.returncode})"
            assert time.monotonic() < deadline, f"no {what} in {HANG} s"
            time.sleep(0.05)

    for _ in range(5):
        before = ck.stat().st_mtime_ns if ck.exists() else None
        proc = subprocess.Popen([sys.executable, "-m", "audioclf", *args], cwd=ROOT, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            # the first epoch always saves: wait for it, then let training run on for a random while
            wait_for(lambda b=before: ck.exists() and ck.stat().st_mtime_ns != b, proc, "checkpoint")
            time.sleep(float(rng.uniform(0.0, 2.0)))
        finally:
            kill(proc)
        assert load_model_file(ck) is not None

    previous = ck.read_bytes()
    flag = tmp_path / "saving"
    proc = subprocess.Popen([sys.executable, "-c", _KILLED_DURING_SAVE, str(flag), *args], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        wait_for(flag.exists, proc, "save")
    finally:
        kill(proc)
    half_written = Path(flag.read_text())
    assert half_written != ck and half_written.parent == ck.parent and half_written.name.startswith(".")
    assert ck.read_bytes() == previous  # the half-written file never took the checkpoint's name
    assert load_model_file(ck) is not None
