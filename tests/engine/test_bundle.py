"""Model bundles: atomic save, safe load, validation errors, zip export/import, inference on a bundle."""

from __future__ import annotations

import io
import json
import shutil
import zipfile

import numpy as np
import pytest

from audioclf.audio import synth
from audioclf.audio.preprocess import PreprocessConfig, SplitConfig
from audioclf.audio.windowing import WindowConfig
from audioclf.engine.bundle import load_bundle, read_description, save_bundle
from audioclf.engine.bundle_zip import export_zip, import_zip
from audioclf.engine.inference import predict, warm_up
from audioclf.engine.inputs import clip_inputs
from audioclf.engine.pipeline import PipelineConfig
from audioclf.errors import BundleError, ParameterError
from audioclf.features import FeatureConfig
from audioclf.features.normalization import NormStats

SR = 16000
CLASSES = ("a", "b", "c")


def _pipeline(**changes) -> PipelineConfig:
    base = dict(sr=SR, features=FeatureConfig(n_fft=512, hop_length=256, n_mels=32, n_mfcc=20), channels=("mel",),
                window=WindowConfig(length=16, hop=8), input_kind="spectrogram", input_shape=(32, 16, 1))
    base.update(changes)
    return PipelineConfig(**base)


def _model(name: str = "sfc_dcnn", shape=(32, 16, 1), n: int = 3, **options):
    from audioclf.models import build_model

    options = options or {"filters": (4,) * 6, "dense_units": (8,)}
    return build_model(name, input_shape=shape, num_classes=n, **options)


@pytest.fixture(scope="module")
def model():
    return _model()


@pytest.fixture
def bundle_dir(tmp_path, model):
    stats = NormStats(np.array([-40.0], np.float32), np.array([20.0], np.float32))
    return save_bundle(tmp_path / "demo", model=model, pipeline=_pipeline(), classes=CLASSES, stats=stats,
                       architecture="sfc_dcnn", options={"filters": (4,) * 6, "dense_units": (8,)},
                       training={"split": "fold:1"}, metrics={"accuracy": 0.5, "window_accuracy": 0.4})


def _edit(folder, change) -> None:
    path = folder / "bundle.json"
    d = json.loads(path.read_text())
    change(d)
    path.write_text(json.dumps(d))


def test_save_and_load_reproduce_the_model_and_the_pipeline(bundle_dir, model):
    b = load_bundle(bundle_dir)
    assert b.classes == CLASSES and b.architecture == "sfc_dcnn" and b.pipeline == _pipeline()
    assert sorted(p.name for p in bundle_dir.iterdir()) == ["bundle.json", "card.md", "model.keras"]
    d = read_description(bundle_dir)
    assert d["schema_version"] == 1 and set(d["versions"]) >= {"audioclf", "keras", "backend", "numpy", "librosa"}
    x = np.random.default_rng(0).normal(size=(2, 32, 16, 1)).astype(np.float32)
    np.testing.assert_allclose(np.asarray(b.model(x)["probs"]), np.asarray(model(x)["probs"]), atol=1e-6)
    assert not list(bundle_dir.parent.glob("demo.tmp-*")) and not list(bundle_dir.parent.glob("demo.old-*"))


def test_saving_again_replaces_the_bundle_atomically(bundle_dir, model):
    save_bundle(bundle_dir, model=model, pipeline=_pipeline(normalize="none"), classes=CLASSES, stats=None,
                architecture="sfc_dcnn")
    assert load_bundle(bundle_dir).stats is None
    assert sorted(p.name for p in bundle_dir.parent.iterdir()) == ["demo"]


def test_a_failed_save_leaves_the_old_bundle_intact(bundle_dir, model, monkeypatch):
    def broken_save(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(type(model), "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        save_bundle(bundle_dir, model=model, pipeline=_pipeline(normalize="none"), classes=CLASSES, stats=None,
                    architecture="sfc_dcnn")
    monkeypatch.undo()
    assert load_bundle(bundle_dir).stats is not None
    assert sorted(p.name for p in bundle_dir.parent.iterdir()) == ["demo"]


def test_save_refuses_to_overwrite_a_folder_that_is_not_a_bundle(tmp_path, model):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(BundleError, match="not a model bundle"):
        save_bundle(tmp_path / "mine", model=model, pipeline=_pipeline(normalize="none"), classes=CLASSES, stats=None,
                    architecture="sfc_dcnn")
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"


@pytest.mark.parametrize("change, message", [
    (lambda d: d.pop("classes"), "lacks the key 'classes'"),
    (lambda d: d.update(classes=["a", "b"]), "lists 2 classes but the model predicts 3"),
    (lambda d: d.update(classes=["a", "a", "b"]), "distinct"),
    (lambda d: d["architecture"].update(name="resnet9000"), "unknown architecture 'resnet9000'"),
    (lambda d: d["architecture"].update(name="cldnn"), "holds a 'sfc_dcnn' model"),
    (lambda d: d.update(model_file="../elsewhere/model.keras"), "model_file must be 'model.keras'"),
    (lambda d: d.update(model_file="model.h5"), "model_file must be 'model.keras'"),
    (lambda d: d["pipeline"].update(input_shape=[32, 32, 1]), "window.length=16"),
    (lambda d: d["pipeline"].update(input_shape=[64, 16, 1]), r"inputs of shape \(32, 16, 1\)"),
    (lambda d: d["pipeline"].update(input_kind="waveform"), "pipeline in bundle.json is invalid"),
    (lambda d: d["pipeline"]["features"].update(n_fft="big"), "pipeline in bundle.json is invalid"),
    (lambda d: d.update(normalization=None), "needs normalisation statistics"),
    (lambda d: d.update(normalization={"mean": [0.0, 1.0], "std": [1.0, 1.0]}), "do not fit"),
    (lambda d: d.update(schema_version=99), "newer than this audioclf"),
    (lambda d: d.update(schema_version="1"), "must be int"),
    (lambda d: d.update(schema="something"), "not an audioclf bundle"),
])
def test_inconsistent_descriptions_are_refused(bundle_dir, change, message):
    _edit(bundle_dir, change)
    with pytest.raises(BundleError, match=message):
        load_bundle(bundle_dir)


def test_missing_or_broken_files_are_refused(tmp_path, bundle_dir):
    with pytest.raises(BundleError, match="not found"):
        load_bundle(tmp_path / "nothing")
    (bundle_dir / "bundle.json").write_text("{not json")
    with pytest.raises(BundleError, match="not valid JSON"):
        load_bundle(bundle_dir)
    (bundle_dir / "bundle.json").unlink()
    with pytest.raises(BundleError, match="bundle.json is missing"):
        load_bundle(bundle_dir)


def test_hdf5_models_are_refused(tmp_path, bundle_dir):
    h5 = tmp_path / "model.h5"
    h5.write_bytes(b"\x89HDF\r\n\x1a\n")
    with pytest.raises(BundleError, match="HDF5"):
        load_bundle(h5)


def test_a_model_file_that_is_not_a_keras_archive_is_refused(bundle_dir):
    (bundle_dir / "model.keras").write_bytes(b"PK\x03\x04 garbage")
    with pytest.raises(BundleError, match="not a valid .keras archive"):
        load_bundle(bundle_dir)


def test_a_half_written_temporary_folder_is_not_a_bundle(bundle_dir):
    tmp = bundle_dir.parent / "demo.tmp-abcd"
    tmp.mkdir()
    shutil.copy(bundle_dir / "model.keras", tmp / "model.keras")
    with pytest.raises(BundleError, match="bundle.json is missing"):
        load_bundle(tmp)


# --- zip ----------------------------------------------------------------------------------------


def test_zip_round_trip(bundle_dir, tmp_path):
    data = export_zip(bundle_dir)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert sorted(zf.namelist()) == ["bundle.json", "card.md", "model.keras"]
    b = import_zip(data, tmp_path / "imported")
    assert b.path == tmp_path / "imported" and b.classes == CLASSES
    assert load_bundle(tmp_path / "imported").classes == CLASSES


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _members(bundle_dir) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in bundle_dir.iterdir()}


@pytest.mark.parametrize("extra, message", [
    ({"../evil.txt": b"x"}, "escaping path"),
    ({"/etc/evil": b"x"}, "escaping path"),
    ({"script.py": b"import os"}, "holds only"),
    ({"sub/model.keras": b"x"}, "holds only"),
])
def test_zip_import_refuses_unexpected_members(bundle_dir, tmp_path, extra, message):
    with pytest.raises(BundleError, match=message):
        import_zip(_zip({**_members(bundle_dir), **extra}), tmp_path / "out")
    assert not (tmp_path / "out").exists() and not list(tmp_path.glob("out.tmp-*"))


def test_zip_import_needs_the_model_and_bounds_sizes(bundle_dir, tmp_path, monkeypatch):
    members = _members(bundle_dir)
    del members["model.keras"]
    with pytest.raises(BundleError, match="model.keras is missing"):
        import_zip(_zip(members), tmp_path / "out")
    import audioclf.engine.bundle_zip as bundle_zip

    monkeypatch.setitem(bundle_zip.ZIP_LIMITS, "card.md", 10)
    with pytest.raises(BundleError, match="card.md"):
        import_zip(_zip(_members(bundle_dir)), tmp_path / "out")
    with pytest.raises(BundleError, match="not a zipped model bundle"):
        import_zip(b"plain bytes", tmp_path / "out")


def test_zip_import_refuses_symlinks(bundle_dir, tmp_path):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in _members(bundle_dir).items():
            zf.writestr(name, data)
        link = zipfile.ZipInfo("card.png")
        link.external_attr = (0o120777 << 16)
        zf.writestr(link, "/etc/passwd")
    with pytest.raises(BundleError, match="not a regular file"):
        import_zip(buf.getvalue(), tmp_path / "out")


def test_a_zip_with_an_inconsistent_bundle_is_not_installed(bundle_dir, tmp_path):
    members = _members(bundle_dir)
    d = json.loads(members["bundle.json"])
    d["classes"] = ["x", "y"]
    members["bundle.json"] = json.dumps(d).encode()
    with pytest.raises(BundleError, match="lists 2 classes"):
        import_zip(_zip(members), tmp_path / "out")
    assert not (tmp_path / "out").exists()


# --- inference on a bundle ------------------------------------------------------------------------


def test_predict_gives_timed_windows_and_a_clip_result(bundle_dir):
    b = load_bundle(bundle_dir)
    warm_up(b)
    y = synth.chirp(200, 4000, 2.0, SR)
    p = predict(b, y, sr=SR, name="chirp")
    n = len(clip_inputs(y, SR, config=b.pipeline))
    assert p.window_probs.shape == (n, 3) and p.starts.shape == (n,)
    np.testing.assert_allclose(p.probs, p.window_probs.mean(axis=0), rtol=1e-6)
    np.testing.assert_allclose(p.window_probs.sum(axis=1), 1.0, rtol=1e-5)
    assert set(p.timings) == {"features", "model"} and p.seconds > 0
    d = p.to_dict(top_k=2)
    assert d["file"] == "chirp" and len(d["top"]) == 2 and len(d["windows"]) == n
    assert "attention" not in d  # this model has none
    json.dumps(d)


def test_predict_resamples_arrays_and_notes_silence(tmp_path, model):
    stats = NormStats(np.array([-40.0], np.float32), np.array([20.0], np.float32))
    path = save_bundle(tmp_path / "split", model=model, stats=stats, classes=CLASSES, architecture="sfc_dcnn",
                       pipeline=_pipeline(preprocess=PreprocessConfig(split=SplitConfig())))
    p = predict(path, synth.silence(1.0, 44100), sr=44100)
    assert any("no sound found" in n for n in p.notes)
    with pytest.raises(ParameterError, match="sr is required"):
        predict(path, synth.silence(1.0, 44100))


def test_attention_maps_come_per_window(tmp_path):
    from audioclf.models import build_model

    model = build_model("lstm", input_shape=(32, 16, 1), num_classes=3, attention="rnn", units=4, dense_units=4)
    path = save_bundle(tmp_path / "att", model=model, pipeline=_pipeline(normalize="none"), classes=CLASSES,
                       stats=None, architecture="lstm", attention="rnn")
    p = predict(path, synth.tone(440, 1.0, SR), sr=SR)
    att = p.attention["attn_rnn"]
    assert att.values.shape == (len(p.window_probs), 16)
    d = p.to_dict(decimals=2)
    assert d["attention"]["attn_rnn"]["axes"] == ["time"]
    assert len(d["attention"]["attn_rnn"]["values"]) == len(d["windows"])


def test_zip_functions_live_in_bundle_zip_and_the_package_face():
    import audioclf
    from audioclf.engine import bundle, bundle_zip

    assert audioclf.export_zip is bundle_zip.export_zip and audioclf.import_zip is bundle_zip.import_zip
    assert not hasattr(bundle, "export_zip")  # no alias hiding where a name lives
