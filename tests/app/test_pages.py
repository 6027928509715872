"""AppTest checks of the Train, Classify and Compare pages, and session isolation."""

from __future__ import annotations

import base64
import json
import time

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import HANG, ROOT
from tests.corpus import bad_cases, odd_cases

pytestmark = pytest.mark.slow
TIMEOUT = HANG


@pytest.fixture(scope="module")
def bundle_dir(tmp_path_factory):
    """Two tiny bundles trained on the synthetic dataset: recurrent attention and CNN attention."""
    from audioclf.datasets import SyntheticConfig, make_synthetic_dataset
    from audioclf.engine.config import TrainConfig
    from audioclf.engine.recipes import default_pipeline
    from audioclf.engine.train import train
    root = tmp_path_factory.mktemp("pretrained")
    ds = make_synthetic_dataset(root.parent / "synth", config=SyntheticConfig(clips_per_class=6))
    for name, attention, shape, folder in (
            ("cldnn", "rnn", (32, 32, 1), "tiny_cldnn"), ("sfc_dcnn", "cnn", (32, 32, 1), "tiny_sfc_dcnn"),
            ("cldnn", "self", (32, 32, 1), "tiny_cldnn_self"), ("jae", None, (32, 32, 1), "tiny_jae"),
            ("subspectralnet", None, (40, 32, 1), "tiny_subspectralnet")):
        pipe = default_pipeline(name, sr=16000, input_shape=shape)
        train(ds, config=TrainConfig(model=name, attention=attention, epochs=1, split="fold:3"), pipeline=pipe,
              out=root / folder, cache=False)
    return root


@pytest.fixture
def app(monkeypatch, bundle_dir) -> AppTest:
    monkeypatch.setenv("AUDIOCLF_PRETRAINED", str(bundle_dir))
    return AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT).run()


def _classify(app: AppTest, bundle: str) -> AppTest:
    app.switch_page("pages/classify.py").run()
    from audioclf.service.store import list_bundles

    app.selectbox(key="cl_pretrained").set_value(next(e for e in list_bundles() if e.name == bundle)).run()
    return app


def test_home_lists_pretrained(app):
    assert not app.exception
    table = app.dataframe[0].value
    assert set(table["name"]) == {"tiny_cldnn", "tiny_sfc_dcnn", "tiny_cldnn_self", "tiny_jae",
                                  "tiny_subspectralnet"}
    assert list(table.columns) == ["name", "model", "dataset", "classes", "headline", "measured as"]
    assert table["headline"].str.endswith("%").all()


def _values(v) -> np.ndarray:
    """A plotly JSON array: a plain list, or a typed array (``dtype``, base64 ``bdata``, optional ``shape``)."""
    if isinstance(v, list):
        return np.asarray(v)
    out = np.frombuffer(base64.b64decode(v["bdata"]), dtype=v["dtype"])
    return out.reshape([int(n) for n in str(v["shape"]).split(",")]) if "shape" in v else out


def test_classify_pretrained_shows_timeline_and_rnn_attention(app):
    at = _classify(app, "tiny_cldnn")
    assert not at.exception and not at.error
    assert at.metric[0].value in {"chirp", "clicks", "harmonics", "noise_band", "tone"}
    specs = [c.proto.spec for c in at.get("plotly_chart")]
    timeline = json.loads(next(s for s in specs if "Per-window class probabilities" in s))
    titles = [a["text"] for a in timeline["layout"]["annotations"]]
    assert titles == ["Spectrogram", "Attention over time", "Per-window class probabilities"]
    spectrogram, cells = timeline["data"][0], next(t for t in timeline["data"][1:] if t["type"] == "heatmap")
    assert spectrogram["type"] == "heatmap" and spectrogram.get("xaxis", "x") == "x"  # the clip's mel, on top
    edges = _values(cells["x"])
    assert len(edges) >= 2 and np.all(np.diff(edges) > 0)  # the windows' cells, left to right in seconds
    assert _values(spectrogram["x"])[0] <= edges[0] and _values(spectrogram["x"])[-1] >= edges[-2]
    assert any("Attention: rnn" in s.value for s in at.subheader)
    assert any("Model card" in e.label for e in at.expander)


def test_classify_can_answer_none_of_these(app):
    at = _classify(app, "tiny_cldnn")
    slider = next(s for s in at.slider if s.key.startswith("cl_unknown_"))
    assert 0 < slider.value < 1  # the threshold calibrated at training time
    slider.set_value(1.0).run()  # no answer is that sure
    assert not at.exception and at.metric[0].value == "none of these"
    assert any("none of the classes this model knows" in w.value for w in at.warning)
    why = next(w.value for w in at.warning if "none of the classes" in w.value)
    assert "below this model's threshold of 100." in why and "100% < 100%" not in why  # readable, and true
    next(s for s in at.slider if s.key.startswith("cl_unknown_")).set_value(0.0).run()
    assert at.metric[0].value in {"chirp", "clicks", "harmonics", "noise_band", "tone"} and not at.warning


def test_classify_cnn_attention_maps(app):
    at = _classify(app, "tiny_sfc_dcnn")
    assert not at.exception and not at.error
    assert sum("Attention: cnn" in s.value for s in at.subheader) >= 2  # one map per attention block


@pytest.mark.parametrize(("bundle", "heading", "chart"), [
    ("tiny_cldnn_self", "Attention: self", "Self-attention"),
    ("tiny_jae", "What the autoencoder rebuilt", "reconstruction"),
    ("tiny_subspectralnet", "What each frequency band voted", "Sub-band predictions"),
])
def test_classify_shows_self_attention_reconstruction_and_subbands(app, bundle, heading, chart):
    at = _classify(app, bundle)
    assert not at.exception and not at.error
    assert any(heading in s.value for s in at.subheader)
    specs = [c.proto.spec for c in at.get("plotly_chart")]
    assert any(chart in s for s in specs)


@pytest.mark.parametrize("case", sorted(bad_cases()))
def test_classify_bad_upload_shows_error(app, case):
    at = _classify(app, "tiny_cldnn")
    at.radio(key="cl_source").set_value("Upload").run()
    at.get("file_uploader")[0].upload(f"{case}.wav", bad_cases()[case][0], "audio/wav").run()
    assert not at.exception
    assert len(at.error) == 1 and f"{case}.wav" in at.error[0].value
    # nothing else is lost: the chosen model stays, and the next good clip is classified
    assert at.selectbox(key="cl_pretrained").value.name == "tiny_cldnn"
    at.get("file_uploader")[0].upload("good.wav", odd_cases()["flac"][0], "audio/flac").run()
    assert not at.exception and not at.error and at.metric


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(odd_cases()))
def test_classify_odd_but_valid_upload(app, case):
    at = _classify(app, "tiny_cldnn")
    at.radio(key="cl_source").set_value("Upload").run()
    data, ext = odd_cases()[case]
    at.get("file_uploader")[0].upload(f"{case}{ext}", data, "application/octet-stream").run()
    assert not at.exception and not at.error
    classes = {"chirp", "clicks", "harmonics", "noise_band", "tone"}
    if at.metric[0].value == "none of these":  # a fair answer for a 50-ms or one-sample clip: it still names
        closest = next(w.value for w in at.warning if "none of the classes" in w.value)  # the closest class
        assert any(f"closest: {c};" in closest for c in classes), closest
    else:
        assert at.metric[0].value in classes


def test_classify_uploaded_bundle_zip(app, bundle_dir):
    from audioclf.engine.bundle_zip import export_zip
    data = export_zip(bundle_dir / "tiny_cldnn")
    at = app.switch_page("pages/classify.py").run()
    at.radio(key="cl_model_source").set_value("Upload a bundle").run()
    at.get("file_uploader")[0].upload("model.zip", data, "application/zip").run()
    assert not at.exception and not at.error and len(at.metric) == 1
    at.get("file_uploader")[0].upload("evil.zip", b"PK\x03\x04 not really a zip", "application/zip").run()
    assert not at.exception and len(at.error) == 1


def _start(at: AppTest):
    """The "How to start" radio (its key follows the dataset)."""
    return next(r for r in at.radio if r.key.startswith("tr_start_"))


def _wait(at: AppTest) -> AppTest:
    deadline = time.monotonic() + TIMEOUT
    while at.session_state["train_job"].snapshot().active and time.monotonic() < deadline:
        time.sleep(0.5)
    at.run()
    return at


def _train(at: AppTest, model: str = "feature_mlp", epochs: int = 2) -> AppTest:
    at.switch_page("pages/train.py").run()
    at.slider(key="tr_synth_n").set_value(6).run()
    _start(at).set_value("Train an architecture from scratch").run()
    at.selectbox(key="tr_model").set_value(model).run()
    at.number_input(key="tr_epochs").set_value(epochs).run()
    at.button(key="tr_start").click().run()
    return _wait(at)


def test_small_datasets_start_from_a_backbone_and_train_a_head(app):
    at = app.switch_page("pages/train.py").run()
    at.slider(key="tr_synth_n").set_value(6).run()
    assert _start(at).value == "Start from a pretrained backbone"  # the default for a small dataset
    backbone = next(s for s in at.selectbox if s.key.startswith("tr_backbone_"))
    assert backbone.value == "sounds" and len(backbone.options) == 2  # sounds by default, speech for FSDD
    assert at.checkbox(key="tr_trim_sounds").value is False  # a bark's echo or the rain belong to the clip
    backbone.set_value("speech").run()
    assert at.checkbox(key="tr_trim_speech").value is True  # spoken takes are cut to the word
    head = next(s for s in at.selectbox if s.key.startswith("tr_head_"))
    assert head.value == "linear"  # the library's default for 6 clips per class (default_head)
    head.set_value("attention").run()
    at.number_input(key="tr_epochs_transfer").set_value(3).run()
    at.button(key="tr_start").click().run()
    at = _wait(at)
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert at.success and "Validation clip accuracy" in at.success[0].value
    assert at.session_state["runs"][-1]["model"] == "head_mlp"
    assert at.session_state["runs"][-1]["attention"] == "rnn"


def test_backbone_section_offers_fine_tuning_off_by_default(app):
    at = app.switch_page("pages/train.py").run()
    at.slider(key="tr_synth_n").set_value(6).run()
    assert at.checkbox(key="tr_fine_tune").value is False
    at.checkbox(key="tr_fine_tune").check().run()
    assert not at.exception
    assert at.number_input(key="tr_epochs_finetune").value == 15  # the fine-tuning recipe's epochs


def test_train_short_run_shows_confusion_and_compare(app):
    at = _train(app)
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert at.success and "Validation clip accuracy" in at.success[0].value
    specs = [c.proto.spec for c in at.get("plotly_chart")]
    assert any("Confusion matrix" in s for s in specs)
    assert {"What am I looking at? The confusion matrix", "What am I looking at? Precision, recall and F1"} <= {
        e.label for e in at.expander}
    assert len(at.get("download_button")) == 1
    at.switch_page("pages/compare.py").run()
    assert not at.exception
    assert at.dataframe[0].value["model"].tolist() == ["feature_mlp"]


def test_train_page_reports_the_device_and_offers_precision_and_devices(app):
    at = app.switch_page("pages/train.py").run()
    assert not at.exception
    assert any("Training device: **CPU via" in c.value for c in at.caption)
    assert at.selectbox(key="tr_precision").options == ["auto", "float32", "mixed"]
    assert at.number_input(key="tr_devices").value == 1


def test_train_bad_split_is_a_clear_error(app):
    at = app.switch_page("pages/train.py").run()
    at.slider(key="tr_synth_n").set_value(6).run()
    split = next(t for t in at.text_input if t.key.startswith("tr_split"))
    split.set_value("fold:9").run()
    _start(at).set_value("Train an architecture from scratch").run()
    at.selectbox(key="tr_model").set_value("feature_mlp").run()
    at.button(key="tr_start").click().run()
    at.session_state["train_job"].join(TIMEOUT)
    at.run()
    assert not at.exception and any("fold 9" in e.value for e in at.error)


def test_train_page_preselects_the_libraries_defaults(tmp_path):
    """The split, start and backbone the page preselects are train_defaults', which the CLI's train uses too."""
    from audioclf.cli import build_parser
    from audioclf.cli._train import _configs
    from audioclf.datasets import load_dataset
    from audioclf.engine.recipes import train_defaults
    from audioclf.models import HEADS
    from tests.layouts import EXPECTED, split_layouts

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT).run()
    at.switch_page("pages/train.py").run()
    at.radio(key="tr_source").set_value("Folder on this machine").run()
    for name, path in split_layouts(tmp_path).items():
        at.text_input(key="tr_path").set_value(str(path)).run()
        assert not at.exception and not at.error, name
        defaults = train_defaults(load_dataset(path))
        split = next(t for t in at.text_input if t.key.startswith("tr_split_"))
        assert split.value == defaults.split == EXPECTED[name], name
        assert _start(at).value == "Start from a pretrained backbone"  # a few clips: defaults.transfer
        backbone = next(s for s in at.selectbox if s.key.startswith("tr_backbone_"))
        head = next(s for s in at.selectbox if s.key.startswith("tr_head_"))
        assert (backbone.value, head.value) == (defaults.backbone, defaults.head), name
        # and `train --data PATH` without --model, --backbone or --split trains the same model
        config, pipeline = _configs(build_parser().parse_args(["train", "--data", str(path), "--out", "b"]),
                                    load_dataset(path))
        assert (config.model, config.attention) == HEADS[head.value], name
        assert (pipeline.backbone, config.split) == (backbone.value, split.value), name


def test_two_sessions_are_isolated(monkeypatch, bundle_dir):
    monkeypatch.setenv("AUDIOCLF_PRETRAINED", str(bundle_dir))
    a = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT).run()
    b = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT).run()
    _train(a)
    a.switch_page("pages/explore.py").run()
    a.radio(key="ex_source").set_value("Upload").run()
    a.get("file_uploader")[0].upload("mine.wav", bad_cases()["text"][0], "audio/wav").run()
    b.switch_page("pages/compare.py").run()
    assert not b.exception
    assert "runs" not in b.session_state or b.session_state["runs"] == []
    assert "train_job" not in b.session_state and "tr_ds" not in b.session_state
    b.switch_page("pages/explore.py").run()
    assert b.radio(key="ex_source").value == "Example" and not b.error
    assert a.session_state["store"].path != getattr(b.session_state, "store", None)
