"""The browser's one log-mel (web/src/logmel.js) against librosa, within 1e-3 dB."""

from __future__ import annotations

import json

import librosa
import numpy as np
import pytest

from audioclf.datasets.examples import list_examples, load_example
from tests.web.node import run_node

PARAMS = [
    {"sr": 22050, "nFft": 1024, "hop": 256, "nMels": 64, "fmin": 0, "fmax": None, "topDb": 80},
    {"sr": 22050, "nFft": 2048, "hop": 512, "nMels": 128, "fmin": 50, "fmax": 8000, "topDb": 80},
    {"sr": 16000, "nFft": 400, "hop": 160, "nMels": 40, "fmin": 0, "fmax": None, "topDb": 80},  # not a power of 2
]


def _librosa_db(y: np.ndarray, p: dict) -> np.ndarray:
    mel = librosa.feature.melspectrogram(y=y, sr=p["sr"], n_fft=p["nFft"], hop_length=p["hop"], window="hann",
                                         center=True, pad_mode="constant", power=2.0, n_mels=p["nMels"],
                                         fmin=p["fmin"], fmax=p["fmax"])
    return librosa.power_to_db(mel, ref=1.0, amin=1e-10, top_db=p["topDb"]).T  # (frames, mels)


@pytest.mark.parametrize("params", PARAMS, ids=lambda p: f"{p['sr']}-{p['nFft']}-{p['nMels']}")
def test_js_logmel_matches_librosa(tmp_path, params):
    ex = next(e for e in list_examples() if e.id.startswith("esc10_dog"))
    y, _ = load_example(ex.id, sr=params["sr"])
    # the whole real dog clip: barks and digital silence (the -100 dB floor and top_db both matter)
    src, out = tmp_path / "y.f32", tmp_path / "db.f32"
    y.astype(np.float32).tofile(src)
    shape = json.loads(run_node("logmel_check.mjs", str(src), str(out), json.dumps(params)))
    got = np.fromfile(out, np.float32).reshape(shape["frames"], shape["mels"])
    ref = _librosa_db(y.astype(np.float32).astype(np.float64), params)  # float64: librosa's STFT exact too
    assert got.shape == ref.shape
    assert float(np.max(np.abs(got - ref))) < 1e-3
    assert float(ref.max() - ref.min()) > 40  # a real clip with a real range, not a flat one
