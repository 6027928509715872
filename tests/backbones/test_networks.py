"""Each Keras port reproduces its original network: speech against the ONNX file run by onnxruntime,
aiSFX against a plain-numpy implementation of ``EmbeddingNet`` on the checkpoint's state dict."""

from __future__ import annotations

import numpy as np
import pytest

from audioclf.backbones import get_backbone
from audioclf.backbones.networks import ClampedLeakyReLU

from .conftest import ort_session


def _assert_close_relative(ours: np.ndarray, ref: np.ndarray, tol: float = 1e-4) -> None:
    """Every value within ``tol`` of the reference, relative to the reference's largest magnitude."""
    assert ours.shape == ref.shape
    err = np.max(np.abs(ours - ref)) / np.max(np.abs(ref))
    assert err <= tol, f"relative error {err:.2e} > {tol:.0e}"


def test_speech_port_matches_onnx(wheel_member, rng):
    session = ort_session(wheel_member("openwakeword", "openwakeword/resources/models/embedding_model.onnx"))
    x = (rng.standard_normal((6, 76, 32)) * 1.5 + 1.0).astype(np.float32)
    ref = session.run(None, {"input_1": x[..., None]})[0].reshape(6, 96)
    ours = get_backbone("speech").embed_windows(x)
    _assert_close_relative(ours, ref)


def _np_conv3x3(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """'same' 3x3 convolution, no bias. x: (c_in, h, w); w: (c_out, c_in, 3, 3) -> (c_out, h, w)."""
    c, h, wd = x.shape
    xp = np.pad(x, ((0, 0), (1, 1), (1, 1)))
    cols = np.stack([xp[:, i:i + h, j:j + wd] for i in range(3) for j in range(3)], axis=1)  # (c, 9, h, w)
    return np.einsum("ckhw,ock->ohw", cols, w.reshape(w.shape[0], c, 9), optimize=True)


def _np_embedding_net(block: np.ndarray, state: dict) -> np.ndarray:
    """aiSFX ``EmbeddingNet('max', 3, 1, 64).forward`` for one (time, freq) block, in float64 numpy."""
    x = block[None].astype(np.float64)  # (1, time, freq)
    for b in range(1, 5):
        for c in (1, 2):
            p = f"embedding_net.conv_block{b}."
            x = _np_conv3x3(x, state[f"{p}conv{c}.weight"].astype(np.float64))
            g, beta, mu, var = (state[f"{p}bn{c}.{k}"].astype(np.float64)[:, None, None]
                                for k in ("weight", "bias", "running_mean", "running_var"))
            x = np.maximum((x - mu) / np.sqrt(var + 1e-5) * g + beta, 0)
        if b < 4:  # 2x2 max pool, floor
            ch, h, w = x.shape
            x = x[:, : h // 2 * 2, : w // 2 * 2].reshape(ch, h // 2, 2, w // 2, 2).max(axis=(2, 4))
    return x.mean(axis=2).max(axis=1)  # mean over frequency, max over time -> (512,)


@pytest.mark.slow
def test_sounds_port_matches_numpy_reference(aisfx_state, rng):
    x = rng.random((2, 100, 96)).astype(np.float32)
    ref = np.stack([_np_embedding_net(b, aisfx_state) for b in x])
    ours = get_backbone("sounds").embed_windows(x)
    assert ours.shape == (2, 512)
    _assert_close_relative(ours, ref)


def test_clamped_leaky_relu_values_and_round_trip(tmp_path):
    import keras

    layer = ClampedLeakyReLU(0.2, -0.4)
    x = np.array([[-5.0, -1.0, -0.5, 0.0, 0.7]], np.float32)
    np.testing.assert_allclose(np.asarray(layer(x)), [[-0.4, -0.2, -0.1, 0.0, 0.7]], rtol=1e-6)
    clone = ClampedLeakyReLU.from_config(layer.get_config())
    assert (clone.negative_slope, clone.floor) == (0.2, -0.4)
    model = keras.Sequential([keras.Input((5,)), layer])
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras", safe_mode=True)
    np.testing.assert_allclose(np.asarray(loaded(x)), np.asarray(layer(x)))


@pytest.mark.parametrize("name, params", [("sounds", 4_689_984), ("speech", 328_128)])
def test_shipped_models_load_safely_with_their_spec(name, params):
    import keras

    bb = get_backbone(name)
    assert bb.model.count_params() == params == bb.spec.params
    path = bb.spec.weights_path()
    model = keras.saving.load_model(path, compile=False, safe_mode=True)
    assert tuple(model.input_shape[1:]) == bb.spec.input_shape
    assert tuple(model.output_shape[1:]) == (bb.spec.embedding_dim,)


@pytest.mark.slow
def test_conversion_reproduces_the_shipped_files(tmp_path):
    """scripts/convert_backbones.py on the wheels gives the committed files byte for byte."""
    import json
    import subprocess
    import sys

    from audioclf.backbones import list_backbones
    from audioclf.backbones.core import file_sha256

    from .conftest import ROOT, wheels_dir

    if not all((wheels_dir() / w).is_file() for w in ("aisfx-0.1.2-py2.py3-none-any.whl",
                                                        "openwakeword-0.5.1-py3-none-any.whl")):
        pytest.skip(f"original wheels not in {wheels_dir()}: run `make test` or set AUDIOCLF_WHEELS")
    out = subprocess.run([sys.executable, str(ROOT / "scripts" / "convert_backbones.py"), str(wheels_dir()),
                          "--out", str(tmp_path)], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    assert out.stdout.count("matches the registry") == len(list_backbones())
    for spec in list_backbones():
        assert file_sha256(tmp_path / spec.name / spec.weights_file) == spec.weights_sha256
        written = json.loads((tmp_path / spec.name / "spec.json").read_text())
        assert written == spec.as_dict()
        shipped = json.loads((ROOT / "pretrained" / "backbones" / spec.name / "spec.json").read_text())
        assert shipped == spec.as_dict()
    assert (tmp_path / "LICENSES.md").read_text() == (ROOT / "pretrained" / "backbones" / "LICENSES.md").read_text()


_BACKEND_CHECK = """
import sys
import numpy as np
import keras
from audioclf.backbones import get_backbone
assert keras.backend.backend() == sys.argv[1], keras.backend.backend()
data = np.load(sys.argv[2])
for name in ("speech", "sounds"):
    got = get_backbone(name).embed_windows(data["x_" + name])
    np.testing.assert_allclose(got, data["e_" + name], rtol=1e-4, atol=1e-4 * np.abs(data["e_" + name]).max())
    print("ok", name)
"""


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_backbones_run_on_other_backends(backend, tmp_path, rng):
    """The shipped .keras files load (safe_mode) and embed the same on JAX and PyTorch."""
    import importlib.util
    import os
    import subprocess
    import sys

    from .conftest import ROOT

    python = os.environ.get(f"AUDIOCLF_{backend.upper()}_PYTHON")
    if python is None and importlib.util.find_spec(backend) is not None:
        python = sys.executable
    if python is None:
        pytest.skip(f"{backend} is not installed (set AUDIOCLF_{backend.upper()}_PYTHON)")
    arrays = {}
    for name, shape in (("speech", (3, 76, 32)), ("sounds", (2, 100, 96))):
        arrays["x_" + name] = rng.random(shape).astype(np.float32)
        arrays["e_" + name] = get_backbone(name).embed_windows(arrays["x_" + name])
    np.savez(tmp_path / "data.npz", **arrays)
    (tmp_path / "check.py").write_text(_BACKEND_CHECK)
    env = {**os.environ, "KERAS_BACKEND": backend, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([python, str(tmp_path / "check.py"), backend, str(tmp_path / "data.npz")],
                          capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count("ok ") == 2
