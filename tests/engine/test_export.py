"""Export: the front end as fixed matrices against the library's features, ONNX / TFLite against Keras, the
export folder's classify.py against predict, and the error paths."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from audioclf.audio import synth
from audioclf.audio.windowing import WindowConfig
from audioclf.datasets.examples import list_examples
from audioclf.engine import export_runner
from audioclf.engine.bundle import load_bundle, save_bundle
from audioclf.engine.export import (
    EXPORTABLE_CHANNELS,
    _frames_tables,
    _layers,
    check_exportable,
    convert,
    export_bundle,
    export_graph,
    export_zip_bytes,
)
from audioclf.engine.inference import predict
from audioclf.engine.inputs import clip_inputs
from audioclf.engine.openset import OpenSetCalibration
from audioclf.engine.pipeline import PipelineConfig
from audioclf.errors import ExportError
from audioclf.features import FeatureConfig
from audioclf.features.normalization import NormStats

from ..conftest import HANG, ROOT

SR = 16000
CLASSES = ("a", "b", "c")
PRETRAINED = ("esc10_sfc_dcnn", "esc10_sounds", "fsdd_crnn_resnet_att", "fsdd_sfc_dcnn", "fsdd_sfc_dcnn_att",
              "fsdd_soundnet", "fsdd_speech")


def _clip(seconds: float = 2.3, sr: int = SR) -> np.ndarray:
    """A tone, a chirp and a little noise, with a quiet gap (so dB floors are reached)."""
    y = np.concatenate([synth.tone(440.0, seconds / 2, sr), np.zeros(int(0.2 * sr), np.float32),
                        synth.chirp(300.0, 3000.0, seconds / 2, sr)])
    return (y + synth.noise(len(y) / sr, sr, amp=1e-6, rng=0)[:len(y)]).astype(np.float32)


def _features(**kw) -> FeatureConfig:
    return FeatureConfig(n_fft=512, hop_length=256, n_mels=40, n_mfcc=20, **kw)


#: name -> (pipeline, architecture, options); every input kind the zoo has that can export
TINY = {
    "mel": (dict(channels=("mel",), input_kind="spectrogram", input_shape=(32, 16, 1),
                 window=WindowConfig(length=16, hop=8)), "sfc_dcnn", {"filters": (4,) * 6, "dense_units": (8,)}),
    "mfcc": (dict(channels=("mfcc",), input_kind="spectrogram", input_shape=(20, 16, 1), center="time",
                  window=WindowConfig(length=16, hop=16)), "sfc_dcnn", {"filters": (4,) * 6, "dense_units": ()}),
    "multichannel": (dict(channels=("mel", "stft_mag", "mfcc"), input_kind="multichannel",
                          input_shape=(32, 16, 3), window=WindowConfig(length=16, hop=8)),
                     "mfc_dcnn", {"filters": (4,) * 8, "dense_units": (8,)}),
    "waveform": (dict(channels=(), input_kind="waveform", input_shape=(8000, 1),
                      window=WindowConfig(length=8000, hop=4000)), "soundnet_cnn", {"dense_units": (8,)}),
    "backbone": (dict(channels=(), input_kind="embedding", input_shape=(4, 96), backbone="speech",
                      window=WindowConfig(length=4, hop=2, pad="constant")), "head_linear",
                 {"pooling": "mean_max_std"}),  # the recipes' linear head: its spread exports too
}


#: a recurrent model (bidirectional LSTMs, attention): TFLite int8 calibrates it unrolled
RECURRENT = (dict(channels=("mel",), input_kind="spectrogram", input_shape=(32, 16, 1),
                  window=WindowConfig(length=16, hop=8)), "cldnn",
             {"attention": "rnn", "filters": (4, 4), "units": 8, "dense_units": 8})


def _tiny_bundle(folder: Path, kind: str, *, joint: bool = False, **extra) -> Path:
    """A bundle of ``kind`` with a model trained for one short epoch on random inputs (``extra``: pipeline fields;
    ``joint``: a backbone's calibration judges its ranks together, the window-by-window one among them)."""
    from audioclf.models import build_model

    pipe, arch, options = RECURRENT if kind == "recurrent" else TINY[kind]
    cfg = PipelineConfig(sr=SR, features=_features(), **pipe, **extra)
    model = build_model(arch, input_shape=cfg.input_shape, num_classes=len(CLASSES), **options)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(12, *cfg.input_shape)).astype(np.float32)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.run_eagerly = True  # three steps: run them, rather than trace a training function for them (5-10 s)
    model.fit(x, rng.integers(0, 3, 12), epochs=1, batch_size=4, verbose=0)
    c = cfg.input_shape[-1] if kind != "backbone" else 1
    stats = NormStats(np.full((c,), -30.0 if kind in ("mel", "multichannel") else 0.1, np.float32),
                      np.full((c,), 20.0 if kind != "waveform" else 0.3, np.float32))
    open_set = None
    if kind == "backbone" and joint:
        from audioclf.engine.openset import calibrate

        labels = np.arange(30) % 3
        probs = rng.dirichlet(np.ones(3), 30) + np.eye(3)[labels]
        open_set = calibrate(probs / probs.sum(axis=1, keepdims=True), labels, train_embeddings=rng.normal(size=(30, 96)),
                             train_labels=labels, val_distances=rng.uniform(0.0, 1.0, 30), source="out-of-fold",
                             joint_quantile=0.05, sequence_centroids=rng.normal(size=(3, cfg.input_shape[0] * 96)),
                             val_sequence_distances=rng.uniform(0.2, 1.0, 30))
    elif kind == "backbone":
        open_set = OpenSetCalibration(confidence=0.4, distance=0.2, centroids=rng.normal(size=(3, 96)), clips=9)
    return save_bundle(folder / kind, model=model, pipeline=cfg, classes=CLASSES, stats=stats, architecture=arch,
                       options=options, open_set=open_set)


def _same_verdict(mine: dict, ref: dict) -> bool:
    """Two ``open_set`` verdicts of predict --json agree: the same fields and verdict, numbers as rounded for JSON
    (a tiny product of ranks keeps three significant digits, which the ONNX and Keras embeddings may move by one)."""
    assert mine.keys() == ref.keys() and mine["unknown"] == ref["unknown"]
    for k, v in ref.items():
        assert mine[k] == pytest.approx(v, rel=1e-2, abs=1e-3), k
    return True


def _cli(capsys, *args: str) -> subprocess.CompletedProcess:
    """``python -m audioclf ARGS`` by its ``main`` in this process, which has TensorFlow loaded already: the same
    exit code, stdout and stderr, without a second interpreter importing it (5-10 s)."""
    from audioclf.cli import main

    capsys.readouterr()
    code = main(list(args))
    out, err = capsys.readouterr()
    return subprocess.CompletedProcess(["audioclf", *args], code, out, err)


def _planes(cfg: PipelineConfig, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The Keras front end's output and the library's inputs for the same windows of ``y``."""
    import keras

    b = type("B", (), {"pipeline": cfg})()
    tables, planes = _frames_tables(b)
    frames_layer = _layers()[0](tables, planes, cfg.center == "time")
    fc = cfg.features
    frames = export_runner.frame(y, fc.n_fft, fc.hop_length, center=True)[:1 + len(y) // fc.hop_length]
    _, idx, _, _ = export_runner.window_index(len(frames), cfg.window.length, cfg.window.hop, cfg.window.pad)
    floors = sum(p["floor"] is not None for p in planes)
    _, peak = frames_layer([keras.ops.convert_to_tensor(frames[idx]), np.full((len(idx), floors), -1e30, "f4")])
    peak = np.asarray(peak).max(axis=0, keepdims=True).repeat(len(idx), axis=0)
    x, _ = frames_layer([keras.ops.convert_to_tensor(frames[idx]), peak.astype(np.float32)])
    return np.asarray(x), clip_inputs(y, SR, config=cfg).x


def test_front_end_matches_the_library_features_on_a_test_clip():
    """Mel (resized 40 -> 32 bins), STFT magnitude (257 -> 32), MFCC (20 -> 32), real part: one graph."""
    cfg = PipelineConfig(sr=SR, features=_features(), channels=("mel", "stft_mag", "mfcc", "stft_real"),
                         input_kind="multichannel", input_shape=(32, 16, 4), window=WindowConfig(length=16, hop=8))
    y = _clip()
    y = y / np.max(np.abs(y))  # the level step, done by the runner before framing
    x, ref = _planes(cfg, y)
    assert x.shape == ref.shape == (len(ref), 32, 16, 4)
    # dB channels within 0.01 dB; MFCCs and the real part (float32 DFT of 512 samples) within 0.01 absolute
    np.testing.assert_allclose(x[..., :2], ref[..., :2], atol=0.01)
    np.testing.assert_allclose(x[..., 2:], ref[..., 2:], atol=0.01, rtol=1e-4)
    assert np.mean(ref[..., 0] == ref[..., 0].min()) > 0.05  # the top_db floor is exercised (the quiet gap)


def test_front_end_centres_each_window_in_time():
    cfg = PipelineConfig(sr=SR, features=_features(), channels=("mfcc",), input_kind="spectrogram",
                         input_shape=(20, 16, 1), center="time", window=WindowConfig(length=16, hop=16))
    y = _clip()
    x, ref = _planes(cfg, y / np.max(np.abs(y)))
    np.testing.assert_allclose(x, ref, atol=0.01)
    np.testing.assert_allclose(x.mean(axis=2), 0.0, atol=1e-3)


def test_a_channel_without_a_matrix_front_end_is_refused_naming_it(tmp_path, capsys):
    from audioclf.models import build_model

    cfg = PipelineConfig(sr=SR, features=_features(), channels=("chroma_stft",), input_kind="spectrogram",
                         input_shape=(12, 16, 1), window=WindowConfig(length=16, hop=8), normalize="none")
    model = build_model("sfc_dcnn", input_shape=(12, 16, 1), num_classes=3, filters=(4,) * 6, dense_units=())
    path = save_bundle(tmp_path / "chroma", model=model, pipeline=cfg, classes=CLASSES, stats=None,
                       architecture="sfc_dcnn", options={"filters": (4,) * 6, "dense_units": ()})
    with pytest.raises(ExportError, match="'chroma_stft' cannot be exported.*mel, mfcc, stft_mag"):
        check_exportable(load_bundle(path))
    out = tmp_path / "out"
    r = _cli(capsys, "export", str(path), "--format", "onnx", "--out", str(out))
    assert r.returncode == 2
    lines = [ln for ln in r.stderr.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1 and "chroma_stft" in lines[0] and ", ".join(EXPORTABLE_CHANNELS) in lines[0]
    assert not out.exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".out")]


def test_unknown_format_and_quantization_and_a_foreign_out_folder_are_refused(tmp_path, capsys):
    with pytest.raises(ExportError, match="format='h5' must be one of onnx, tflite"):
        convert(None, "h5")
    with pytest.raises(ExportError, match="quantize='int4' must be one of none, float16, int8"):
        convert(None, "onnx", quantize="int4")
    r = _cli(capsys, "export", str(ROOT / "pretrained" / "fsdd_sfc_dcnn"), "--format", "pb", "--out",
                str(tmp_path / "x"))
    assert r.returncode == 2 and r.stderr.strip().splitlines()[-1] == "error: --format 'pb' must be one of onnx, tflite"
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    with pytest.raises(ExportError, match="exists and is not an earlier export"):
        export_bundle(ROOT / "pretrained" / "fsdd_sfc_dcnn", foreign)
    assert [p.name for p in foreign.iterdir()] == ["notes.txt"]
    r = _cli(capsys, "export", str(tmp_path / "no_bundle"), "--format", "onnx", "--out", str(tmp_path / "y"))
    assert r.returncode == 2 and r.stderr.strip().splitlines()[-1].startswith("error: model bundle")
    assert not (tmp_path / "y").exists()


def test_classify_py_without_its_runtime_says_so_in_one_line(tmp_path):
    (tmp_path / "labels.json").write_text(json.dumps({"model_file": "model.onnx", "outputs": ["probs"]}))
    (tmp_path / "model.onnx").write_bytes(b"")
    runner = tmp_path / "classify.py"
    runner.write_text(Path(export_runner.__file__).read_text())
    code = ("import sys; sys.modules['onnxruntime'] = None; sys.argv = ['classify.py', 'x.wav']; "
            f"import runpy; runpy.run_path({str(runner)!r}, run_name='__main__')")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=HANG)
    assert r.returncode == 2
    assert r.stderr.strip() == "error: onnxruntime is not installed; pip install onnxruntime"


def test_windows_and_padding_follow_the_library_windowing():
    from audioclf.audio.windowing import WindowConfig as W
    from audioclf.audio.windowing import sample_windows

    y = np.arange(23, dtype=np.float32)
    for pad in ("repeat", "constant"):
        w = sample_windows(y, 10, config=W(length=8, hop=5, pad=pad))
        starts, idx, kept, padded = export_runner.window_index(len(y), 8, 5, pad)
        np.testing.assert_array_equal(np.where(kept, y[idx], 0.0), w.data)
        np.testing.assert_array_equal(padded, w.padded)
        np.testing.assert_allclose(starts / 10, w.starts)


@pytest.mark.parametrize("kind", [pytest.param(k, marks=() if k == "mel" else pytest.mark.slow) for k in TINY])
def test_a_freshly_trained_model_of_each_kind_exports_to_onnx_and_tflite_within_1e3(tmp_path, kind):
    path = _tiny_bundle(tmp_path, kind)
    r = export_bundle(path, tmp_path / "out", fmt="onnx")
    assert r.files == ("README.md", "classify.py", "labels.json", "model.onnx")
    assert r.clips and r.max_abs_diff < 1e-3 and r.agreement == 1.0
    lite = export_bundle(path, tmp_path / "lite", fmt="tflite")  # builtin ops only, checked by LiteRT
    assert "model.tflite" in lite.files and lite.max_abs_diff < 1e-3 and lite.agreement == 1.0
    spec = json.loads((tmp_path / "out" / "labels.json").read_text())
    assert spec["classes"] == list(CLASSES) and spec["sample_rate"] == SR
    if kind == "backbone":  # open-set thresholds and centroids travel; the verdict is predict's
        assert spec["open_set"]["distance"] == 0.2 and len(spec["open_set"]["centroids"]) == 3
        model, spec = export_runner.load(tmp_path / "out")
        y = _clip(4.0)  # longer than one input: the last one has 'constant' padded slots
        mine = export_runner.result("c", spec, export_runner.classify_samples(model, spec, y))
        ref = predict(load_bundle(path), y, sr=SR, name="c", explain=False).to_dict()
        assert mine["windows"] == ref["windows"] and any(w["padded"] for w in mine["windows"])
        assert mine["unknown"] == ref["unknown"] and _same_verdict(mine["open_set"], ref["open_set"])


@pytest.mark.slow
def test_classify_py_trims_a_take_as_predict_does(tmp_path):
    """A speech pipeline that trims each take to its sound: classify.py cuts the same samples (numpy, the
    library's own ``trim_bounds``), so windows, their times in the take and the verdict are predict's."""
    from audioclf.audio.preprocess import PreprocessConfig, TrimConfig

    path = _tiny_bundle(tmp_path, "backbone", joint=True, preprocess=PreprocessConfig(trim=TrimConfig()))
    folder = export_bundle(path, tmp_path / "out", fmt="onnx", check=False).folder
    model, spec = export_runner.load(folder)
    assert spec["trim"] == TrimConfig().to_dict()
    rng = np.random.default_rng(3)
    y = rng.normal(0, 1e-3, 3 * SR).astype(np.float32)
    word = _clip(0.6)
    y[int(1.2 * SR):int(1.2 * SR) + len(word)] += word  # a 'word' 1.2 s into a 3-s take
    mine = export_runner.result("t", spec, export_runner.classify_samples(model, spec, y))
    ref = predict(load_bundle(path), y, sr=SR, name="t", explain=False).to_dict()
    assert mine["windows"] == ref["windows"] and _same_verdict(mine["open_set"], ref["open_set"])
    assert "sequence_rank" in mine["open_set"]  # the windows one by one, judged alike
    w = mine["windows"]  # the windows cover the word and its 0.2-s margins, not the 3 s of the take
    assert 0.9 < w[0]["start"] < 1.2 and w[-1]["end"] < 2.3 and len(w) <= 2
    assert "trim" in (folder / "README.md").read_text() and mine["duration"] == 3.0


@pytest.mark.slow
@pytest.mark.parametrize("name", PRETRAINED)
def test_every_shipped_model_exports_to_onnx_and_tflite_within_1e3_of_keras(tmp_path, name):
    """Both formats through classify.py's code against predict on two real example clips of the task (the
    export's own check covers every example; ``scripts/check_export_venv.sh`` every clip in a clean venv)."""
    bundle = load_bundle(ROOT / "pretrained" / name)
    folder = export_bundle(bundle, tmp_path / "onnx", fmt="onnx", check=False).folder
    spec = json.loads((folder / "labels.json").read_text())
    (tmp_path / "model.tflite").write_bytes(convert(export_graph(bundle), "tflite"))
    models = {"onnx": export_runner.Model(folder / "model.onnx", spec["outputs"]),
              "tflite": export_runner.Model(tmp_path / "model.tflite", spec["outputs"])}
    for example in [e for e in list_examples() if e.label in bundle.classes][:2]:
        ref = predict(bundle, example.path, explain=False)
        y = export_runner.load_audio(str(example.path), bundle.pipeline.sr)
        for fmt, model in models.items():
            got = export_runner.classify_samples(model, spec, y)
            assert np.max(np.abs(got["probs"] - ref.window_probs)) < 1e-3, (fmt, example.id)


@pytest.mark.slow
def test_classify_py_gives_predicts_answer_on_every_example_clip(tmp_path, capsys):
    out = tmp_path / "digits"
    r = _cli(capsys, "export", str(ROOT / "pretrained" / "fsdd_speech"), "--format", "onnx", "--out", str(out), "--json")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout.strip().splitlines()[-1])
    assert d["format"] == "onnx" and d["files"] == ["README.md", "classify.py", "labels.json", "model.onnx"]
    assert d["bytes"] == (out / "model.onnx").stat().st_size and d["sample_rate"] == 16000
    assert d["window_samples"] > 0 and d["max_abs_diff"] < 1e-3
    clips = [str(e.path) for e in list_examples()]
    run = subprocess.run([sys.executable, str(out / "classify.py"), *clips, "--json"], capture_output=True,
                         text=True, timeout=HANG, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    got = json.loads(run.stdout)
    bundle = load_bundle(ROOT / "pretrained" / "fsdd_speech")
    for item, clip in zip(got, clips, strict=True):
        ref = predict(bundle, clip, explain=False).to_dict()
        assert item["file"] == clip and item["top"][0]["label"] == ref["top"][0]["label"]
        assert item["unknown"] == ref["unknown"] and len(item["windows"]) == len(ref["windows"])
        assert {"start", "end", "probs"} <= set(item["windows"][0])
    names = export_zip_bytes(out)
    assert b"digits/classify.py" in names and b"digits/model.onnx" in names


@pytest.mark.slow
@pytest.mark.realdata
def test_the_export_scores_a_real_split_as_evaluate_does(real_data, tmp_path, capsys):
    """FSDD's test split (250 clips) through the exported ONNX model and the runner classify.py uses, against
    ``evaluate`` of the Keras bundle on the same split."""
    from audioclf.datasets import load_dataset, split_dataset

    bundle = ROOT / "pretrained" / "fsdd_sfc_dcnn"
    r = _cli(capsys, "evaluate", str(bundle), "--data", str(real_data / "fsdd"), "--split", "split:test", "--json")
    assert r.returncode == 0, r.stderr
    expected = json.loads(r.stdout.strip().splitlines()[-1])["accuracy"]
    out = export_bundle(bundle, tmp_path / "onnx", fmt="onnx")
    model, spec = export_runner.load(out.folder)
    _, test = split_dataset(load_dataset(real_data / "fsdd"), "split:test")
    right = 0
    for clip in test.clips:
        res = export_runner.classify_samples(model, spec, export_runner.load_audio(str(clip.path), spec["sample_rate"]))
        right += spec["classes"][int(np.asarray(res["probs"]).mean(axis=0).argmax())] == clip.label
    assert len(test.clips) == 250 and right / len(test.clips) == pytest.approx(expected, abs=1e-9)


def test_the_quantization_check_compares_accuracy_where_labels_are_known():
    from audioclf.engine.export import _quantization_check

    b = type("B", (), {"classes": CLASSES})()
    clips = [(f"c{i}", None, label) for i, label in enumerate("aabcc")]
    # Keras right on all five; the quantized model wrong on one: 20 points lost, flagged
    got = _quantization_check(b, clips, [(0, 0), (0, 1), (1, 1), (2, 2), (2, 2)])
    assert got == {"clips": 5, "agree": 4, "measure": "accuracy", "accuracy_float": 1.0,
                   "accuracy_quantized": 0.8, "flagged": True}
    # a changed top class that was wrong in float32 and is right quantized loses nothing
    assert not _quantization_check(b, clips, [(0, 0), (2, 0), (1, 1), (2, 2), (2, 2)])["flagged"]
    unlabelled = [(n, y, None) for n, y, _ in clips]
    got = _quantization_check(b, unlabelled, [(0, 0), (0, 1), (1, 1), (2, 2), (2, 2)])
    assert got["measure"] == "agreement" and got["accuracy_float"] is None and got["flagged"]


@pytest.mark.slow
def test_int8_calibrates_on_the_examples_keeps_the_front_end_float_and_reports_accuracy(tmp_path, capsys):
    """fsdd_sfc_dcnn in int8: ONNX dynamic (int8 weights), TFLite calibrated on a representative set of the
    examples' windows; a float front end; the example clips' accuracy against float32 in the JSON."""
    import onnx

    from audioclf.engine.export import _check_clips, _labels, _plan, representative_inputs

    bundle = load_bundle(ROOT / "pretrained" / "fsdd_sfc_dcnn")
    graph = export_graph(bundle, keep_front_end_float=True)
    spec = _labels(bundle, _plan(bundle), "model.onnx")
    rep = representative_inputs(graph, spec, [y for _, y, _ in _check_clips(bundle)], limit=3)
    assert len(rep) == 3 and all(set(r) == {"frames", "clip_peak"} for r in rep)
    assert all(r["frames"].shape == (1, 64, 1024) and -100.0 < r["clip_peak"].min() < 50.0 for r in rep)

    r = _cli(capsys, "export", str(bundle.path), "--format", "onnx", "--quantize", "int8", "--out", str(tmp_path / "q"),
                "--json")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout.strip().splitlines()[-1])
    assert d["quantization_check"] == {"clips": 5, "agree": 5, "measure": "accuracy", "accuracy_float": 1.0,
                                       "accuracy_quantized": 1.0, "flagged": False} and d["warnings"] == []
    assert 1e-5 < d["max_abs_diff"] < 0.1  # quantized (not float32 within 1e-6), yet close
    m = onnx.load(tmp_path / "q" / "model.onnx")
    kinds = {i.name: i.data_type for i in m.graph.initializer}
    tables = [i for i in m.graph.initializer if "/frontend" in i.name and np.prod(i.dims) >= 1000]
    assert {(513, 64), (1024, 1026)} <= {tuple(i.dims) for i in tables}  # the mel bank and the DFT
    assert all(i.data_type == onnx.TensorProto.FLOAT for i in tables)
    assert any(n.op_type == "DynamicQuantizeLinear" for n in m.graph.node)  # activations quantized per call
    assert sum(t == onnx.TensorProto.INT8 for t in kinds.values()) >= 6  # the model's weights

    lite = export_bundle(bundle, tmp_path / "lite", fmt="tflite", quantize="int8")
    assert lite.quantization_check["measure"] == "accuracy" and not lite.quantization_check["flagged"]
    assert lite.quantization_check["accuracy_quantized"] == 1.0 and lite.max_abs_diff < 0.1


@pytest.mark.slow
def test_a_recurrent_model_exports_to_tflite_int8_unrolled(tmp_path):
    """TFLite's calibrator crashes the process on a recurrent loop: int8 calibrates the unrolled graph, whose
    outputs are the graph's."""
    import keras

    from audioclf.engine.export import _has_recurrent, _unrolled

    path = _tiny_bundle(tmp_path, "recurrent")
    graph = export_graph(load_bundle(path))
    flat = _unrolled(graph)
    assert _has_recurrent(graph) and all(getattr(layer, "unroll", True) for layer in flat._flatten_layers()
                                         if isinstance(layer, keras.layers.LSTM))
    rng = np.random.default_rng(0)
    feeds = {"frames": rng.normal(0, 0.1, (2, 16, 512)).astype(np.float32),
             "clip_peak": np.zeros((2, 1), np.float32)}
    np.testing.assert_allclose(np.asarray(flat(feeds)["probs"]), np.asarray(graph(feeds)["probs"]), atol=1e-5)
    r = export_bundle(path, tmp_path / "q", fmt="tflite", quantize="int8")
    assert r.quantization_check["measure"] == "agreement" and r.quantization_check["clips"] == 3
    assert r.max_abs_diff < 0.1
