"""The shipped real example clips, their attribution, and card images on the Classify page."""

from __future__ import annotations

import json

import numpy as np
import pytest

from audioclf.datasets.examples import EXAMPLES_DIR, get_example, list_examples, load_example, trained_on
from audioclf.errors import ParameterError
from audioclf.service.store import card_parts
from tests.conftest import ROOT


def test_examples_are_real_attributed_and_small():
    found = list_examples()
    esc, fsdd = list_examples("esc10"), list_examples("fsdd")
    assert len(esc) == 10 and len({e.label for e in esc}) == 10  # one per ESC-10 class
    assert len(fsdd) >= 3
    assert all(e.licence == "CC0 1.0" for e in esc)  # only clips whose own licence is CC0
    assert all(e.licence == "CC BY-SA 4.0" and e.author for e in fsdd)
    assert all(e.source and e.author and e.path.is_file() for e in found)
    assert sum(f.stat().st_size for f in EXAMPLES_DIR.iterdir()) <= 3_000_000
    assert (EXAMPLES_DIR / "LICENSES.md").read_text(encoding="utf-8").count("|") > 10


@pytest.mark.parametrize("example", [e.id for e in list_examples()])
def test_every_example_loads_as_sound(example):
    y, sr = load_example(example, sr=16000)
    assert sr == 16000 and y.ndim == 1 and len(y) > 0.1 * sr
    assert np.all(np.isfinite(y)) and np.max(np.abs(y)) > 0.01  # not silent


def test_the_opening_example_is_a_real_clip_or_the_first_one(tmp_path):
    from audioclf.datasets.examples import OPENING_EXAMPLE, opening_example

    assert opening_example().id == OPENING_EXAMPLE and opening_example().dataset == "esc10"
    assert opening_example(folder=tmp_path) is None  # nothing shipped: the app opens on a synthesized clip
    index = json.loads((EXAMPLES_DIR / "examples.json").read_text(encoding="utf-8"))
    index["examples"] = [e for e in index["examples"] if e["id"] != OPENING_EXAMPLE]
    (tmp_path / "other").mkdir()  # a folder of its own: each folder's index is read once
    (tmp_path / "other" / "examples.json").write_text(json.dumps(index), encoding="utf-8")
    assert opening_example(folder=tmp_path / "other").id == index["examples"][0]["id"]


def test_unknown_example_names_the_valid_ones():
    with pytest.raises(ParameterError, match="unknown example 'nope'.*esc10_dog"):
        get_example("nope")


def test_trained_on_replays_the_split():
    dog = get_example("esc10_dog")
    fold = dog.origin["fold"]
    described = lambda name, split: {"training": {"dataset": {"name": name}, "split": split}}  # noqa: E731
    assert trained_on(dog, described("esc10", "none")) is True
    assert trained_on(dog, described("esc10", f"fold:{fold}")) is False  # its fold was held out
    assert trained_on(dog, described("esc10", f"fold:{fold % 4 + 1}")) is True
    assert trained_on(dog, described("fsdd", "none")) is False
    assert trained_on(dog, described("esc10", "ratio:0.2")) is None
    digit = list_examples("fsdd")[0]
    assert trained_on(digit, described("fsdd", "split:test")) is False  # repetition 0 is in the test split
    assert trained_on(digit, described("fsdd", f"group:{digit.origin['speaker']}")) is False


def test_card_images_resolve_inside_the_bundle(tmp_path):
    (tmp_path / "attention.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    card = "# m\n\nText before.\n\n![attention](attention.png)\n\nafter ![x](../../etc/passwd.png) ![y](gone.png)\n"
    parts = card_parts(tmp_path, card)
    kinds = [k for k, _, _ in parts]
    assert kinds == ["markdown", "image", "markdown", "markdown", "markdown"]
    assert parts[1][2] == (tmp_path / "attention.png").resolve() and parts[1][1] == "attention"
    notes = " ".join(t for k, t, _ in parts if k == "markdown")
    assert "passwd" in notes and "not in this bundle" in notes and "![" not in notes


def test_shipped_cards_show_their_images():
    for folder in (ROOT / "pretrained").iterdir():
        if not (folder / "card.md").is_file():
            continue
        text = (folder / "card.md").read_text(encoding="utf-8")
        images = [p for k, _, p in card_parts(folder) if k == "image"]
        assert len(images) == text.count("](") - text.count("](http"), folder.name  # every figure link resolves
        assert all(p.is_file() for p in images)


def test_example_index_is_json_with_every_field():
    d = json.loads((EXAMPLES_DIR / "examples.json").read_text(encoding="utf-8"))
    for e in d["examples"]:
        assert {"id", "title", "file", "label", "dataset", "origin", "source", "author", "licence"} <= set(e)


@pytest.mark.slow
def test_classify_defaults_to_a_real_example_of_the_models_task_and_says_it_was_trained_on(monkeypatch):
    from streamlit.testing.v1 import AppTest

    from audioclf.service.store import list_bundles

    monkeypatch.delenv("AUDIOCLF_PRETRAINED", raising=False)
    entries = {e.name: e for e in list_bundles()}
    if "fsdd_crnn_resnet_att" not in entries:
        pytest.skip("the shipped FSDD attention bundle is not in pretrained/")
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300).run()
    at.switch_page("pages/classify.py").run()
    at.selectbox(key="cl_pretrained").set_value(entries["fsdd_crnn_resnet_att"]).run()
    assert not at.exception and not at.error
    chosen = get_example(at.selectbox(key="cl_example").value)
    assert chosen.dataset == "fsdd"  # the default example fits the model
    assert at.metric[0].value == chosen.label  # a trained-on clip, recognised
    assert any("training data of this model" in c.value for c in at.caption)
    assert any(chosen.author in c.value for c in at.caption)  # attribution beside the clip
    assert len(at.get("image")) >= 1  # the card's attention.png renders (not a broken relative link)


def test_bundles_are_listed_best_first_within_each_task(tmp_path):
    from audioclf.service.store import list_bundles

    def make(name, dataset, metric, value):
        folder = tmp_path / name
        folder.mkdir()
        (folder / "bundle.json").write_text(json.dumps({
            "architecture": {"name": "x"}, "classes": ["a", "b"], "training": {"dataset": {"name": dataset}},
            "metrics": {"headline": {"name": metric, "value": value}}}))

    make("a_weak", "esc10", "cv_accuracy", 0.80)
    make("b_test_only", "esc10", "test_accuracy", 0.99)  # not a held-out protocol: after the CV models
    make("c_best", "esc10", "cv_accuracy", 0.92)
    make("d_digits", "fsdd", "loso_accuracy", 0.90)
    assert [e.name for e in list_bundles(tmp_path)] == ["c_best", "a_weak", "b_test_only", "d_digits"]
