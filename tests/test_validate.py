"""The one home of argument checks: same error type, same message style everywhere."""

from __future__ import annotations

import numpy as np
import pytest

from audioclf._validate import check_choice, check_int, check_keys, check_number, check_positive_int
from audioclf.audio import io, synth
from audioclf.audio.augment import AugmentConfig
from audioclf.audio.preprocess import DenoiseConfig, SplitConfig
from audioclf.audio.windowing import WindowConfig
from audioclf.engine.config import TrainConfig
from audioclf.errors import ModelError, ParameterError
from audioclf.service.workqueue import WorkQueue


def test_positive_int_accepts_numpy_and_refuses_bool_float_and_zero():
    assert check_positive_int(np.int64(3), "n") == 3 and type(check_positive_int(np.int64(3), "n")) is int
    assert check_positive_int(None, "patience", allow_none=True) is None
    for bad in (True, 2.0, 0, -1, "3", None):
        with pytest.raises(ParameterError, match=f"n={bad!r} must be a positive integer"):
            check_positive_int(bad, "n")
    with pytest.raises(ModelError, match="filters=0 must be a positive integer"):
        check_positive_int(0, "filters", error=ModelError)


def test_ranges_name_the_interval():
    assert check_number(0, "overlap", low=0, high=1, high_open=True) == 0.0
    with pytest.raises(ParameterError, match=r"overlap=1.0 must be in \[0, 1\)"):
        check_number(1.0, "overlap", low=0, high=1, high_open=True)
    with pytest.raises(ParameterError, match=r"lr=nan must be in \(0, 1\)"):
        check_number(float("nan"), "lr", low=0, high=1, low_open=True, high_open=True)
    with pytest.raises(ParameterError, match="x=True must be a finite number"):
        check_number(True, "x")
    with pytest.raises(ParameterError, match="seed=-1 must be a non-negative integer"):
        check_int(-1, "seed", low=0)
    with pytest.raises(ParameterError, match=r"k=11 must be an integer in \[0, 10\]"):
        check_int(11, "k", low=0, high=10)


def test_choices_list_what_is_allowed():
    assert check_choice("best", "keep", ("last", "best")) == "best"
    with pytest.raises(ParameterError, match="keep='all' must be one of last, best"):
        check_choice("all", "keep", ("last", "best"))
    with pytest.raises(ParameterError, match=r"keep=\[\] must be one of"):
        check_choice([], "keep", {"last", "best"})


@pytest.mark.parametrize("cls, data", [
    (WindowConfig, {"length": 64, "hop": 32, "pad": "repeat", "hop_s": 1}),
    (DenoiseConfig, {"stationary": True, "strength": 0.5}),
    (SplitConfig, {"top_db": 40, "db": 3}),
    (TrainConfig, {"epochs": 3, "epoch": 3}),
])
def test_every_from_dict_refuses_an_unknown_key_and_names_the_allowed_ones(cls, data):
    with pytest.raises(ParameterError, match=rf"unknown {cls.__name__} field\(s\) \[.*\]; allowed: "):
        cls.from_dict(data)
    good = {k: v for k, v in data.items() if k not in ("hop_s", "strength", "db", "epoch")}
    assert cls.from_dict(good) == cls.from_dict(cls.from_dict(good).to_dict())


def test_check_keys_refuses_a_non_dict_and_missing_keys():
    with pytest.raises(ParameterError, match="WindowConfig must be a dict, got list"):
        check_keys([], WindowConfig)
    with pytest.raises(ParameterError, match=r"WindowConfig is missing key\(s\) \['hop'\]"):
        WindowConfig.from_dict({"length": 64})


@pytest.mark.parametrize("call, message", [
    (lambda: io.resample(np.zeros(4), 0, 16000), "orig_sr=0 must be a positive integer"),
    (lambda: io.load_audio(b"", sr=2.5), r"sr=2.5 must be a positive integer or None"),
    (lambda: io.load_audio(b"", max_duration=0), "max_duration=0 must be a positive number of seconds"),
    (lambda: io.to_wav_bytes(np.zeros(4), True), "sr=True must be a positive integer"),
    (lambda: io.write_audio("clip.wav", np.zeros(4), 0), "sr=0 must be a positive integer"),
    (lambda: synth.tone(duration=-1.0), r"duration=-1.0 must be a positive number \(seconds\)"),
    (lambda: synth.chirp(method="cubic"), "method='cubic' must be one of linear, logarithmic"),
    (lambda: synth.example("nope"), "example name='nope' must be one of tone_440, chirp"),
    (lambda: AugmentConfig(noise=11.0), r"noise=11.0 must be in \[0, 10\]"),
    (lambda: AugmentConfig(freq_masks=1.0), r"freq_masks=1.0 must be an integer in \[0, 10\]"),
    (lambda: AugmentConfig.from_dict({"shift": 0.1}), r"unknown augmentation field\(s\) \['shift'\]; allowed: time_shift"),
    (lambda: WorkQueue(slots=True), "slots=True must be a positive integer"),
    (lambda: WorkQueue(slots=1, cache_size=-1), "cache_size=-1 must be a non-negative integer"),
])
def test_audio_and_queue_arguments_go_through_the_same_checks(call, message):
    with pytest.raises(ParameterError, match=message):
        call()


def test_augment_config_keeps_plain_numbers_for_its_json():
    config = AugmentConfig(time_shift=np.float32(0.25), time_masks=np.int64(2))
    assert type(config.time_shift) is float and type(config.time_masks) is int
    assert AugmentConfig.from_dict(config.to_dict()) == config
