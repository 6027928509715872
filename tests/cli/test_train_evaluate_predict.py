"""The ``train``, ``evaluate`` and ``predict`` commands: JSON contracts and error paths."""

from __future__ import annotations

import json
import os

import pytest

from audioclf.audio import synth
from audioclf.audio.io import write_audio
from audioclf.cli import main
from tests.conftest import ROOT, run_cli


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory, monkeypatch):
    # "--data synthetic" and the default feature cache live under $AUDIOCLF_CACHE: keep them out of $HOME.
    monkeypatch.setenv("AUDIOCLF_CACHE", str(tmp_path_factory.getbasetemp() / "audioclf-cache"))


def _cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def _last_json(out: str):
    return json.loads(out.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("cli")


@pytest.fixture(scope="module")
def trained(workdir):
    """One quick-recipe bundle trained through the CLI (1 epoch on the synthetic dataset)."""
    code = main(["train", "--data", f"synthetic:{workdir / 'synth'}", "--out", str(workdir / "bundle"),
                 "--epochs", "1", "--split", "fold:5", "--start", "scratch", "--cache-dir", str(workdir / "cache"),
                 "--workers", "1", "--quiet", "--json"])
    assert code == 0
    return workdir / "bundle"


@pytest.mark.slow
def test_train_json_contract(trained, workdir, capsys):
    code, out, _ = _cli(capsys, "train", "--data", f"synthetic:{workdir / 'synth'}", "--out",
                        str(workdir / "bundle2"), "--model", "jae", "--input-shape", "32,32", "--epochs", "2", "--split", "ratio:0.2",
                        "--seed", "3", "--batch-size", "16", "--lr", "0.002", "--augment", "light",
                        "--cache-dir", str(workdir / "cache"), "--workers", "1", "--quiet", "--json")
    assert code == 0
    res = _last_json(out)
    assert {"accuracy", "window_accuracy", "epochs", "seconds", "bundle", "model"} <= set(res)
    assert res["epochs"] == 2 and res["model"] == "jae" and 0 <= res["accuracy"] <= 1
    assert (workdir / "bundle2" / "bundle.json").is_file()


@pytest.mark.slow
def test_evaluate_json_contract(trained, workdir, capsys):
    code, out, _ = _cli(capsys, "evaluate", str(trained), "--data", f"synthetic:{workdir / 'synth'}",
                        "--cache-dir", str(workdir / "cache"), "--workers", "1", "--quiet", "--json")
    assert code == 0
    res = _last_json(out)
    assert {"accuracy", "per_class", "confusion", "labels", "window_accuracy", "misclassified"} <= set(res)
    n = len(res["labels"])
    assert len(res["confusion"]) == n and all(len(row) == n for row in res["confusion"])
    assert sum(map(sum, res["confusion"])) == res["n_clips"] == 100
    code, out, _ = _cli(capsys, "evaluate", str(trained), "--data", f"synthetic:{workdir / 'synth'}", "--split",
                        "fold:5", "--cache-dir", str(workdir / "cache"), "--quiet", "--json")
    assert code == 0 and _last_json(out)["n_clips"] == 20
    code, out, _ = _cli(capsys, "evaluate", str(trained), "--data", f"synthetic:{workdir / 'synth'}",
                        "--cache-dir", str(workdir / "cache"), "--quiet")
    assert code == 0 and "clip accuracy" in out


@pytest.mark.slow
def test_predict_json_contract_and_bad_files(trained, workdir, capsys, tmp_path):
    good = sorted((workdir / "synth" / "tone").glob("*.wav"))[:2]
    long_clip = tmp_path / "long.wav"
    write_audio(long_clip, synth.example("chirp", 22050), 22050)
    bad = tmp_path / "notes.txt"
    bad.write_text("not audio")
    code, out, err = _cli(capsys, "predict", str(trained), *map(str, good), str(long_clip), str(bad), "--json")
    assert code == 2
    assert "error:" in err and "notes.txt" in err and "Traceback" not in err
    res = _last_json(out)
    assert [r["file"] for r in res] == [*map(str, good), str(long_clip), str(bad)]
    for r in res[:3]:
        assert {"file", "top", "windows", "classes"} <= set(r)
        assert {"label", "prob"} == set(r["top"][0])
        assert all({"start", "end", "probs"} <= set(w) for w in r["windows"])
        assert all(len(w["probs"]) == len(r["classes"]) for w in r["windows"])
    assert len(res[2]["windows"]) > 1 and res[2]["windows"][1]["start"] > 0
    assert "error" in res[3]
    code, out, _ = _cli(capsys, "predict", str(trained), str(good[0]))
    assert code == 0 and str(good[0]) in out


@pytest.mark.slow
def test_attention_model_through_the_cli(workdir, capsys):
    code, out, _ = _cli(capsys, "train", "--data", f"synthetic:{workdir / 'synth'}", "--out",
                        str(workdir / "lstm"), "--model", "lstm", "--attention", "rnn", "--input-shape", "32,32",
                        "--epochs", "1", "--split", "fold:5", "--cache-dir", str(workdir / "cache"), "--workers", "1",
                        "--quiet", "--json")
    assert code == 0
    clip = sorted((workdir / "synth" / "chirp").glob("*.wav"))[0]
    code, out, _ = _cli(capsys, "predict", str(workdir / "lstm"), str(clip), "--json", "--decimals", "2")
    assert code == 0
    res = _last_json(out)[0]
    att = res["attention"]["attn_rnn"]
    assert att["kind"] == "rnn" and att["axes"] == ["time"]
    assert len(att["values"]) == len(res["windows"]) and len(att["values"][0]) == 32


@pytest.mark.parametrize("args, message", [
    (["train", "--data", "/nonexistent/data", "--out", "/tmp/x"], "no such file or folder"),
    (["train", "--data", "synthetic", "--out", "/tmp/x", "--model", "nope"], "unknown model 'nope'"),
    (["train", "--data", "synthetic", "--out", "/tmp/x", "--attention", "self"], "does not support attention"),
    (["train", "--data", "synthetic", "--out", "/tmp/x", "--augment", "wild"], "--augment 'wild'"),
    (["train", "--data", "synthetic", "--out", "/tmp/x", "--channels", "nope"], "unknown channel"),
    (["train", "--data", "synthetic", "--out", "/tmp/x", "--input-shape", "abc"], "--input-shape"),
    (["train", "--data", "synthetic", "--out", "/tmp/x", "--model", "feature_mlp", "--channels", "mel"],
     "does not apply"),
    (["train", "--data", "synthetic"], "--out"),
    (["evaluate", "/nonexistent/bundle", "--data", "synthetic"], "not found"),
    (["predict", "/nonexistent/bundle", "x.wav"], "not found"),
    (["predict", "/nonexistent/model.h5", "x.wav"], "HDF5"),
])
def test_error_paths_exit_2_with_one_line(args, message, capsys):
    code, out, err = _cli(capsys, *args)
    assert code == 2
    assert err.startswith("error:") and message in err and "Traceback" not in err


@pytest.mark.slow
def test_more_error_paths(trained, workdir, capsys, tmp_path):
    code, _, err = _cli(capsys, "train", "--data", f"synthetic:{workdir / 'synth'}", "--out", str(tmp_path / "o"),
                        "--split", "fold:9", "--cache-dir", str(workdir / "cache"), "--quiet")
    assert code == 2 and "no fold 9" in err
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "bundle.json").write_text("{}")
    code, _, err = _cli(capsys, "predict", str(broken), "x.wav")
    assert code == 2 and "not an audioclf bundle" in err
    code, _, err = _cli(capsys, "predict", str(trained), str(tmp_path / "missing.wav"))
    assert code == 2 and "file not found" in err


@pytest.mark.slow
def test_real_process_reports_errors_without_traceback(trained, tmp_path):
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF0000WAVEjunk")
    proc = run_cli("predict", str(trained), str(bad), "--json")
    assert proc.returncode == 2
    assert "error:" in proc.stderr and "Traceback" not in proc.stderr
    assert json.loads(proc.stdout.strip().splitlines()[-1])[0]["file"] == str(bad)


def test_pad_option_reaches_the_pipeline():
    import argparse

    from audioclf.cli import _train

    parser = argparse.ArgumentParser()
    _train.register(parser.add_subparsers())
    args = parser.parse_args(["train", "--data", "x", "--out", "y", "--pad", "constant", "--split", "none"])
    config, pipeline = _train._configs(args)
    assert pipeline.window.pad == "constant" and config.split == "none"
    args = parser.parse_args(["train", "--data", "x", "--out", "y"])
    assert _train._configs(args)[1].window.pad == "repeat"


def test_train_feature_and_window_options_reach_the_pipeline():
    from audioclf.cli import build_parser
    from audioclf.cli._train import _configs

    args = build_parser().parse_args(["train", "--data", "synthetic", "--out", "x", "--n-fft", "512",
                                      "--hop-length", "128", "--fmin", "300", "--fmax", "4000", "--overlap", "0.75",
                                      "--pad", "constant", "--augment", "speech",
                                      "--split-silence", "45", "--denoise", "stationary", "--center", "time"])
    config, pipeline = _configs(args)
    f = pipeline.features
    assert (f.n_fft, f.hop_length, f.fmin, f.fmax) == (512, 128, 300.0, 4000.0)
    assert pipeline.window.length == 64 and pipeline.window.hop == 16 and pipeline.window.pad == "constant"
    assert config.augment.freq_warp > 0 and config.augment.time_stretch > 0
    assert pipeline.center == "time"
    args = build_parser().parse_args(["train", "--data", "synthetic", "--out", "x", "--augment",
                                      "speech,freq_warp=0.2,time_masks=1"])
    aug = _configs(args)[0].augment
    assert (aug.freq_warp, aug.time_masks, aug.time_stretch) == (0.2, 1, 0.15)
    assert pipeline.preprocess.split.top_db == 45.0 and pipeline.preprocess.denoise.stationary is True
    args = build_parser().parse_args(["train", "--data", "synthetic", "--out", "x", "--channels", "mfcc",
                                      "--input-shape", "20,64", "--n-mels", "64", "--n-mfcc", "20"])
    pipeline = _configs(args)[1]
    assert (pipeline.features.n_mels, pipeline.features.n_mfcc, pipeline.input_shape) == (64, 20, (20, 64, 1))


@pytest.mark.parametrize("args, message", [
    (["--overlap", "1.0"], "error: overlap=1.0 must be in [0, 1)"),
    (["--split-silence", "-3"], "error: top_db=-3.0 must be positive"),
    (["--model", "soundnet_cnn", "--center", "time"],
     "error: center='time' applies to spectrogram-like inputs, not waveform"),
    (["--augment", "speech,pitch=2"], "error: --augment: 'pitch=2' must be field=value"),
    (["--augment", "loud"], "error: --augment 'loud' must be one of none, light, standard, strong, speech"),
    (["--augment", "speech,freq_warp=0.9"], "error: freq_warp=0.9 must be in [0, 0.5]"),
    (["--n-mels", "32"], "error: n_mels=32: the mel channel has as many bands as the input has"),
    (["--channels", "mfcc", "--n-mels", "32"], "error: n_mfcc=40 must be <= n_mels=32"),
    (["--n-fft", "511"], "error: n_fft=511 must be even"),
    (["--label-smoothing", "1.5"], "error: label_smoothing=1.5 must be in [0, 1)"),
    (["--weight-decay", "-0.1"], "error: weight_decay=-0.1 must be in [0, 1)"),
    (["--model-option", "filters"], "error: --model-option 'filters' must be KEY=VALUE"),
    (["--model-option", "width=3"], "error: unknown option(s) ['width'] for sfc_dcnn"),
    (["--model-option", "filters=8,8"], "error: filters=(8, 8) must list 6 block widths"),  # when the model is built
])
def test_train_rejects_bad_options(args, message, capsys):
    code, _, err = _cli(capsys, "train", "--data", "synthetic", "--out", "x", *args)
    assert code == 2 and message in err


def test_train_model_options_reach_the_builder(capsys, tmp_path):
    from audioclf.cli import build_parser
    from audioclf.cli._train import _configs

    args = build_parser().parse_args(["train", "--data", "synthetic", "--out", "x",
                                      "--model-option", "filters=32,32,64,64,128,128",
                                      "--model-option", "dropout=0.25", "--model-option", "dense_units="])
    config = _configs(args)[0]
    # the quick recipe's own options (its sigmoid gate) are kept, the named ones replaced
    assert config.model_options == {"filters": (32, 32, 64, 64, 128, 128), "dense_units": (),
                                    "gate": "sigmoid", "dropout": 0.25}
    args = build_parser().parse_args(["train", "--data", "synthetic", "--out", "x", "--model", "cldnn",
                                      "--model-option", "units=8"])
    assert _configs(args)[0].model_options == {"units": 8}
    # and the built model really is wider
    out = tmp_path / "wide"
    code, _, _ = _cli(capsys, "train", "--data", "synthetic", "--out", str(out), "--epochs", "1", "--quiet",
                      "--no-cache", "--model-option", "filters=8,8,8,8,8,12")
    assert code == 0
    from audioclf.engine.bundle import load_bundle
    model = load_bundle(out).model
    widths = {layer.name: layer.filters for layer in model.layers if layer.name.startswith(("b1_conv", "b6_conv"))}
    assert widths["b6_conv_3"] == 12 and widths["b1_conv_3"] == 8


def test_train_regularisation_options():
    from audioclf.cli import build_parser
    from audioclf.cli._train import _configs

    config = _configs(build_parser().parse_args(["train", "--data", "synthetic", "--out", "x", "--weight-decay",
                                                 "0.05", "--label-smoothing", "0.1"]))[0]
    assert (config.weight_decay, config.label_smoothing) == (0.05, 0.1)


def test_cli_import_leaves_the_environment_alone_and_lists_every_command():
    import subprocess
    import sys

    code = ("import os, json; before = dict(os.environ); import audioclf.cli, audioclf.cli._common; "
            "from audioclf.cli import build_parser; p = build_parser(); "
            "print(json.dumps([dict(os.environ) == before, sorted(p._subparsers._group_actions[0].choices)]))")
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    unchanged, listed = json.loads(r.stdout.strip().splitlines()[-1])
    # every subcommand module of the package (all but _common) is registered
    modules = sorted(p.stem[1:] for p in (ROOT / "audioclf" / "cli").glob("_*.py") if p.stem not in ("__init__", "_common"))
    assert unchanged and listed == modules
