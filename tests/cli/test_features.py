"""The `features` CLI contract and the one-line error contract."""

import json

import numpy as np
import pytest

from audioclf.audio import synth
from audioclf.audio.preprocess import DenoiseConfig
from tests.conftest import run_cli
from tests.corpus import bad_cases, encode


@pytest.fixture(scope="module")
def burst_wav(tmp_path_factory):
    p = tmp_path_factory.mktemp("cli") / "bursts.wav"
    p.write_bytes(encode(synth.example("bursts", 22050) + synth.noise(3.0, 22050, amp=0.001, rng=2), 22050))
    return p


def test_features_json_contract(burst_wav, tmp_path):
    npz = tmp_path / "f.npz"
    r = run_cli("features", str(burst_wav), "--channels", "mel,mfcc,cqt", "--sr", "16000", "--json",
                "--save", str(npz))
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["sr"] == 16000 and out["duration"] == pytest.approx(3.0, abs=1e-3)
    assert set(out["channels"]) == {"mel", "mfcc", "cqt"}
    assert out["channels"]["mel"]["shape"][0] == 128 and out["channels"]["mfcc"]["shape"][0] == 40
    frames = {c["shape"][1] for c in out["channels"].values()}
    assert len(frames) == 1  # one time axis
    with np.load(npz, allow_pickle=False) as z:
        assert z["mel"].shape == tuple(out["channels"]["mel"]["shape"])
        assert z["mel__times"].shape == (out["channels"]["mel"]["shape"][1],)


def test_features_split_reports_intervals_and_shorter_duration(burst_wav):
    r = run_cli("features", str(burst_wav), "--channels", "rms", "--split", "--denoise", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    np.testing.assert_allclose(out["intervals"], [[0.4, 0.8], [1.4, 1.8], [2.4, 2.8]], atol=512 / 22050)
    assert out["duration"] == pytest.approx(1.2, abs=0.05)
    # one default for the CLI, the library and the app: non-stationary denoising
    assert out["preprocess"]["denoise"] == DenoiseConfig().to_dict() and DenoiseConfig().stationary is False


def test_features_all_channels_by_default(burst_wav):
    r = run_cli("features", str(burst_wav), "--json")
    assert r.returncode == 0, r.stderr
    listed = json.loads(run_cli("channels", "--json").stdout)
    assert set(json.loads(r.stdout)["channels"]) == {c["name"] for c in listed}


@pytest.mark.parametrize("case", ["empty", "text", "truncated", "nan_inf", "zero_frames"])
def test_cli_bad_audio_exits_2_with_one_line(tmp_path, case):
    data, _, msg = bad_cases()[case]
    p = tmp_path / f"{case}.wav"
    p.write_bytes(data)
    r = run_cli("features", str(p), "--json")
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in r.stderr
    assert f"{case}.wav" in lines[0]


@pytest.mark.parametrize("args,msg", [
    (["features", "missing.wav"], "file not found"),
    (["features", "{wav}", "--channels", "nope"], "unknown channel"),
    (["features", "{wav}", "--hop", "0"], "hop_length=0 must be"),
    (["features", "{wav}", "--sr", "-5"], "--sr -5"),
    (["features"], "required"),
    (["bogus"], "invalid choice"),
])
def test_cli_usage_errors_exit_2(burst_wav, args, msg):
    r = run_cli(*[a.format(wav=burst_wav) for a in args])
    assert r.returncode == 2 and msg in r.stderr and "Traceback" not in r.stderr
    assert r.stderr.startswith("error: ")
