"""engine.recipes.make_recipe: the one way choices become (TrainConfig, PipelineConfig), for the CLI and the app."""

from __future__ import annotations

import pytest

from audioclf.audio.augment import AUGMENT_PRESETS
from audioclf.cli import build_parser
from audioclf.cli._train import _configs
from audioclf.engine.recipes import default_pipeline, make_recipe, quick_recipe
from audioclf.errors import ParameterError


def test_no_choices_is_the_quick_recipe_and_the_cli_default():
    assert make_recipe() == quick_recipe()
    args = build_parser().parse_args(["train", "--data", "x", "--out", "y"])
    assert _configs(args) == make_recipe(training={"split": "ratio:0.2", "seed": 0, "mixed_precision": False})


def test_quick_recipe_with_another_channel_keeps_its_windows_without_overlap():
    config, pipeline = make_recipe(channels=("mfcc",), input_shape=(40, 64))
    assert config == quick_recipe()[0]
    assert pipeline.channels == ("mfcc",) and pipeline.input_shape == (40, 64, 1)
    assert pipeline.window.hop == pipeline.window.length == 64  # overlap 0, as --help says


def test_a_named_model_gets_its_default_pipeline_and_the_choices():
    config, pipeline = make_recipe(model="lstm", input_shape=(32, 48), overlap=0.75, denoise="nonstationary",
                                   augment=AUGMENT_PRESETS["light"], training={"epochs": 4, "attention": "rnn"})
    assert pipeline.input_shape == default_pipeline("lstm", input_shape=(32, 48, 1)).input_shape == (32, 48, 1)
    assert pipeline.window.hop == 12 and pipeline.preprocess.denoise.stationary is False
    assert (config.model, config.epochs, config.attention, config.augment) == ("lstm", 4, "rnn",
                                                                               AUGMENT_PRESETS["light"])


@pytest.mark.parametrize("kwargs, message", [
    ({"overlap": 1.0}, r"overlap=1.0 must be in \[0, 1\)"),
    ({"model": "feature_mlp", "channels": ("mel",)}, "does not apply to feature_mlp"),
    ({"model": "soundnet_cnn", "input_shape": (64, 64)}, None),
    ({"model": "feature_mlp", "input_shape": (64, 64)}, "does not apply to summary models"),
    ({"denoise": "strong"}, "denoise='strong' must be one of stationary, nonstationary"),
    ({"features": {"n_mels": 32}}, "n_mels=32: the mel channel has as many bands"),
])
def test_choices_that_do_not_fit_are_refused(kwargs, message):
    if message is None:  # a waveform model takes the first number as its window length
        assert make_recipe(**kwargs)[1].input_shape == (64, 1)
        return
    with pytest.raises(ParameterError, match=message):
        make_recipe(**kwargs)


@pytest.fixture(scope="module")
def layouts(tmp_path_factory):
    from tests.layouts import split_layouts

    return split_layouts(tmp_path_factory.mktemp("layouts"))


def test_default_split_follows_the_layout_and_the_cli_takes_it(layouts):
    from audioclf.datasets import load_dataset, split_dataset
    from audioclf.engine.recipes import default_split, train_defaults
    from tests.layouts import EXPECTED

    for name, path in layouts.items():
        ds = load_dataset(path)
        assert default_split(ds) == train_defaults(ds).split == EXPECTED[name], name
        train_ds, val_ds = split_dataset(ds, default_split(ds))  # a split this dataset can really use
        assert len(train_ds) and len(val_ds)
        args = build_parser().parse_args(["train", "--data", str(path), "--out", "b"])
        assert _configs(args, ds)[0].split == default_split(ds), name  # what `train` without --split uses
        args = build_parser().parse_args(["train", "--data", str(path), "--out", "b", "--split", "none"])
        assert _configs(args, ds)[0].split == "none"  # a split asked for wins


def test_a_single_fold_or_only_test_clips_fall_back_to_a_ratio(tmp_path):
    from pathlib import Path

    from audioclf.datasets.core import Clip, Dataset
    from audioclf.engine.recipes import default_split

    def ds(**fields):
        clips = [Clip(Path(f"/x/{c}{i}.wav"), c, **fields) for c in "ab" for i in range(3)]
        return Dataset.from_clips(clips, name="x", root="/x", kind="manifest")

    assert default_split(ds(fold=2)) == "ratio:0.2"  # fold:2 would leave nothing to train on
    assert default_split(ds(split="test")) == "ratio:0.2"
    assert default_split(ds(split="train")) == "ratio:0.2"


def test_train_defaults_pick_the_backbone_by_kind_and_transfer_by_size():
    from pathlib import Path

    from audioclf.datasets.core import Clip, Dataset
    from audioclf.engine.recipes import MLP_FROM_CLIPS, SMALL_DATASET, train_defaults

    def ds(n: int, kind: str, **fields):
        clips = [Clip(Path(f"/x/{c}{i}.wav"), c, **fields) for c in "ab" for i in range(n // 2)]
        return Dataset.from_clips(clips, name="x", root="/x", kind=kind)

    small = train_defaults(ds(SMALL_DATASET, "folders"))
    assert (small.backbone, small.transfer, small.split, small.head) == ("sounds", True, "ratio:0.2", "mlp")
    big = train_defaults(ds(SMALL_DATASET + 2, "fsdd"))
    assert (big.backbone, big.transfer) == ("speech", False)
    few = train_defaults(ds(2 * MLP_FROM_CLIPS, "folders"))  # 80 % of 20 clips a class to train: under 20
    assert few.head == "linear"


@pytest.mark.slow
def test_train_without_split_reports_the_default_in_its_json(layouts, tmp_path, capsys, monkeypatch):
    import json

    from audioclf.cli import main

    monkeypatch.setenv("AUDIOCLF_CACHE", str(tmp_path / "cache"))
    code = main(["train", "--data", str(layouts["test_split"]), "--out", str(tmp_path / "b"), "--model",
                 "feature_mlp", "--epochs", "1", "--workers", "1", "--quiet", "--json"])
    res = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert code == 0 and res["split"] == "split:test"
    assert (res["train_clips"], res["val_clips"]) == (8, 4)  # indices 0-1 of each class are the test split


def _clips_dataset(n: int, kind: str = "folders"):
    from pathlib import Path

    from audioclf.datasets.core import Clip, Dataset

    clips = [Clip(Path(f"/x/{c}{i}.wav"), c) for c in "ab" for i in range(n // 2)]
    return Dataset.from_clips(clips, name="x", root="/x", kind=kind)


def test_the_cli_starts_where_the_train_page_does():
    """One rule (start_backbone) for the page's "How to start" and the CLI's train without --model."""
    from audioclf.engine.recipes import SMALL_DATASET, start_backbone, train_defaults

    def cli(dataset, *flags):
        args = build_parser().parse_args(["train", "--data", "x", "--out", "y", *flags])
        _configs(args)  # the flags alone (before the data is read) stay valid
        config, pipeline = _configs(args, dataset)
        return config.model, pipeline.backbone

    small, big, fsdd = _clips_dataset(40), _clips_dataset(SMALL_DATASET + 2), _clips_dataset(40, "fsdd")
    assert train_defaults(small).transfer and not train_defaults(big).transfer
    assert cli(small) == ("head_linear", "sounds")  # 16 training clips a class: the linear head
    assert cli(fsdd) == ("head_linear", "speech")
    assert cli(big) == ("sfc_dcnn", None)  # the quick recipe
    assert cli(small, "--start", "scratch") == ("sfc_dcnn", None)
    assert cli(big, "--start", "backbone") == ("head_mlp", "sounds")  # 160 a class: mlp
    for zoo_flag in (["--channels", "mfcc"], ["--input-shape", "32,32"], ["--n-fft", "1024"], ["--sr", "16000"],
                     ["--center", "time"], ["--model-option", "dropout=0.2"], ["--augment", "standard"],
                     ["--model", "lstm"]):
        assert cli(small, *zoo_flag)[1] is None, zoo_flag  # a choice only the zoo takes: from scratch
    for shared_flag in (["--epochs", "3"], ["--augment", "embedding"], ["--augment", "none"], ["--overlap", "0.25"],
                        ["--denoise", "stationary"], ["--split", "none"], ["--head", "mlp", "--backbone", "sounds"]):
        assert cli(small, *shared_flag)[1] == "sounds", shared_flag
    assert start_backbone(None) is None and start_backbone(None, start="backbone") == "sounds"


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"start": "scratch", "backbone": "sounds"}, "takes no backbone"),
    ({"start": "scratch", "head": "mlp"}, "takes no head"),
    ({"start": "backbone", "model": "lstm"}, "not model='lstm'"),
    ({"start": "somewhere"}, "start"),
])
def test_start_refuses_what_does_not_fit(kwargs, message):
    with pytest.raises(ParameterError, match=message):
        make_recipe(dataset=_clips_dataset(10), **kwargs)


def test_cli_start_refusals_are_one_error_line(capsys):
    from audioclf.cli import main

    for args, message in ((["--start", "scratch", "--backbone", "sounds"], "takes no backbone"),
                          (["--start", "everywhere"], "invalid choice: 'everywhere'")):
        code = main(["train", "--data", "synthetic", "--out", "x", *args, "--quiet"])
        err = capsys.readouterr().err
        assert code == 2 and err.count("error: ") == 1 and message in err, err


@pytest.mark.slow
def test_train_on_a_few_clips_starts_from_the_backbone_and_says_so(layouts, tmp_path, capsys, monkeypatch):
    import json

    from audioclf.cli import main
    from audioclf.engine.bundle import load_bundle

    monkeypatch.setenv("AUDIOCLF_CACHE", str(tmp_path / "cache"))
    code = main(["train", "--data", str(layouts["test_split"]), "--out", str(tmp_path / "b"), "--workers", "1",
                 "--quiet", "--json"])
    res = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert code == 0, res
    assert (res["start"], res["backbone"], res["head"], res["model"]) == ("backbone", "sounds", "linear", "head_linear")
    assert load_bundle(tmp_path / "b").pipeline.backbone == "sounds"  # the bundle on disk is that model
    code = main(["train", "--data", str(layouts["test_split"]), "--out", str(tmp_path / "z"), "--start", "scratch",
                 "--model", "feature_mlp", "--epochs", "1", "--workers", "1", "--quiet", "--json"])
    res = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert code == 0 and (res["start"], res["backbone"], res["head"]) == ("scratch", None, None)


def test_the_speech_backbone_trims_its_takes_by_default_and_the_cli_switches_it():
    from audioclf.audio.preprocess import TrimConfig

    assert make_recipe(backbone="speech")[1].preprocess.trim == TrimConfig()
    assert make_recipe(backbone="sounds")[1].preprocess.trim is None  # rain fills the clip
    assert make_recipe(backbone="speech", trim=False)[1].preprocess.trim is None
    kept = make_recipe(backbone="speech", split_silence=30.0)[1].preprocess  # another choice keeps the trim
    assert kept.trim == TrimConfig() and kept.split.top_db == 30.0
    parser = build_parser()
    _, pipe = _configs(parser.parse_args(["train", "--data", "x", "--out", "o", "--backbone", "sounds", "--trim", "on"]))
    assert pipe.preprocess.trim == TrimConfig()
    with pytest.raises(ParameterError, match="trim='yes' must be True, False or None"):
        make_recipe(backbone="speech", trim="yes")
