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
