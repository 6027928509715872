"""Grad-CAM against a hand-made model whose answer is known, and attention placed on the clip's time axis."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from audioclf.audio.windowing import WindowConfig
from audioclf.engine.inference import Prediction
from audioclf.engine.inputs import backbone_windows
from audioclf.engine.pipeline import PipelineConfig
from audioclf.errors import ModelError, ParameterError, UnsupportedBackendError
from audioclf.explanations.gradcam import attention_spans, grad_cam, gradcam_layer, upsample
from audioclf.models.readout import AttentionMap
from tests.conftest import ROOT

W = np.array([[1.0, -1.0], [0.5, 2.0]], np.float32)  # (filters, classes) of the softmax layer


@pytest.fixture(scope="module")
def known():
    """8 x 8 input -> conv 2x2 stride 2 (filter 0 sums a block, filter 1 takes -0.5 of it) -> mean -> softmax."""
    inp = keras.Input((8, 8, 1))
    conv = keras.layers.Conv2D(2, 2, strides=2, use_bias=False, name="conv")
    x = conv(inp)  # (batch, 4, 4, 2)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    dense = keras.layers.Dense(2, activation="softmax", name="probs")
    model = keras.Model(inp, {"probs": dense(x)})
    kernel = np.zeros((2, 2, 1, 2), np.float32)
    kernel[..., 0], kernel[..., 1] = 1.0, -0.5
    conv.set_weights([kernel])
    dense.set_weights([W, np.zeros(2, np.float32)])
    return model


def _numpy_cam(x: np.ndarray, c: int) -> np.ndarray:
    """Grad-CAM by hand: A = block sums x (1, -0.5); d logit_c / dA_k = W[k, c] / 16 everywhere."""
    blocks = x[..., 0].reshape(4, 2, 4, 2).sum(axis=(1, 3))  # (4, 4)
    act = np.stack([blocks, -0.5 * blocks], axis=-1)  # (4, 4, 2)
    alpha = W[:, c] / 16.0
    return np.maximum(act @ alpha, 0.0)


def test_grad_cam_matches_numpy_and_peaks_where_the_energy_is(known):
    x = np.zeros((8, 8, 1), np.float32)
    x[2, 5, 0] = 1.0
    cam = grad_cam(known, x, class_index=0)
    assert cam.layer == "conv" and cam.class_index == 0
    np.testing.assert_allclose(cam.grid, _numpy_cam(x, 0), atol=1e-7)
    assert cam.heat.shape == (8, 8)
    expected = np.zeros((8, 8))
    expected[2:4, 4:6] = 1.0  # the 2 x 2 input block that conv cell (1, 2) reads
    np.testing.assert_allclose(cam.heat, expected, atol=1e-6)
    # class 1 weighs the energy negatively (-1 * 1 + 2 * -0.5 < 0): nothing raised its score
    other = grad_cam(known, x, class_index=1)
    np.testing.assert_allclose(other.grid, _numpy_cam(x, 1), atol=1e-7)
    assert other.heat.max() == 0.0


def test_grad_cam_defaults_to_the_predicted_class(known):
    x = np.zeros((8, 8, 1), np.float32)
    x[6, 1, 0] = 3.0  # logits (3 * 0.75 / 16, -3 * 2 / 16): class 0 wins
    cam = grad_cam(known, x)
    assert cam.class_index == 0 and cam.prob > 0.5
    assert np.unravel_index(np.argmax(cam.heat), cam.heat.shape) == (6, 0)


def test_grad_cam_errors(known, monkeypatch):
    x = np.zeros((8, 8, 1), np.float32)
    with pytest.raises(ModelError, match=r"layer='nope' is not a layer .* choose one of: .*conv"):
        grad_cam(known, x, layer="nope")
    with pytest.raises(ModelError, match="layer='probs'"):
        gradcam_layer(known, "probs")
    with pytest.raises(ModelError, match=r"x has shape \(8, 8\)"):
        grad_cam(known, x[..., 0])
    with pytest.raises(ParameterError, match=r"class_index=5 must be an integer in \[0, 1\]"):
        grad_cam(known, x, class_index=5)
    flat = keras.Input((4,))
    dense = keras.Model(flat, {"probs": keras.layers.Dense(2, activation="softmax", name="probs")(flat)})
    with pytest.raises(ModelError, match="has no convolution"):
        gradcam_layer(dense)
    monkeypatch.setattr(keras.backend, "backend", lambda: "numpy")
    with pytest.raises(UnsupportedBackendError, match="not 'numpy'.*KERAS_BACKEND=tensorflow"):
        grad_cam(known, x)


def test_default_layer_follows_the_conv_through_elementwise_layers():
    inp = keras.Input((16, 16, 1))
    a = keras.layers.Conv2D(4, 3, padding="same", name="c1")(inp)
    b = keras.layers.Conv2D(4, 3, padding="same", name="c2")(a)
    b = keras.layers.BatchNormalization(name="bn")(b)
    s = keras.layers.Add(name="add")([a, b])  # a residual block's output
    s = keras.layers.ReLU(name="out")(s)
    x = keras.layers.MaxPooling2D(2, name="pool")(s)
    x = keras.layers.Conv2D(4, 8, name="tiny")(x)  # (1, 1): a single cell says nothing about where
    x = keras.layers.Flatten()(x)
    model = keras.Model(inp, {"probs": keras.layers.Dense(3, activation="softmax", name="probs")(x)})
    assert gradcam_layer(model) == "out"


def test_upsample_takes_the_covering_cell():
    np.testing.assert_array_equal(upsample(np.array([[1, 2]]), (2, 4)), [[1, 1, 2, 2], [1, 1, 2, 2]])
    assert upsample(np.arange(3), (7,)).tolist() == [0, 0, 1, 1, 1, 2, 2]
    with pytest.raises(ParameterError, match="the axes differ"):
        upsample(np.zeros((2, 2)), (4,))


def _pred(values: np.ndarray, starts, ends, duration, *, padded=None) -> Prediction:
    n = len(starts)
    att = AttentionMap(values.astype(np.float32), "rnn", ("batch", "time"), "sequence", "", {})
    return Prediction(file="c", classes=("a", "b"), probs=np.array([0.5, 0.5]), window_probs=np.full((n, 2), 0.5),
                      starts=np.asarray(starts, float), ends=np.asarray(ends, float),
                      padded=np.asarray(padded if padded is not None else [False] * n), attention={"attn_rnn": att},
                      duration=duration)


def test_rnn_spans_spread_each_window_over_its_seconds():
    cfg = PipelineConfig(sr=16000, input_shape=(32, 32, 1), window=WindowConfig(length=32, hop=16))
    ws = cfg.window_seconds  # 32 frames * 512 / 16000 = 1.024 s
    vals = np.full((2, 8), 1 / 8)
    vals[1] = np.array([0, 0, 0, 0, 0.5, 0.5, 0, 0])
    pred = _pred(vals, [0.0, ws / 2], [ws, 1.2], 1.2, padded=[False, True])
    s = attention_spans(pred, "attn_rnn", pipeline=cfg)
    first = s.window == 0
    np.testing.assert_allclose(s.starts[first], np.arange(8) * ws / 8)
    np.testing.assert_allclose(s.weights[first], 1.0)  # an even share everywhere
    second = s.window == 1
    # the second window's last steps lie in its padding (after 1.2 s): left out
    assert np.all(s.starts[second] < 1.2) and np.all(s.ends <= 1.2 + 1e-12)
    assert np.all(s.starts[second] >= ws / 2)
    assert s.weights[second].max() == pytest.approx(4.0)
    with pytest.raises(ParameterError, match="'attn_x' is not a recurrent"):
        attention_spans(pred, "attn_x", pipeline=cfg)


def test_rnn_spans_of_a_head_sit_on_backbone_windows():
    from audioclf.backbones import get_backbone_spec

    spec = get_backbone_spec("speech")
    cfg = PipelineConfig(sr=16000, channels=(), input_kind="embedding", input_shape=(8, 96), backbone="speech",
                         window=WindowConfig(length=8, hop=4, pad="constant"))
    long = _pred(np.full((1, 8), 1 / 8), [0.8], [0.8 + cfg.window_seconds], 3.0)
    s = attention_spans(long, "attn_rnn", pipeline=cfg)
    np.testing.assert_allclose(s.starts, 0.8 + np.arange(8) * spec.hop_s)
    np.testing.assert_allclose(s.ends - s.starts, spec.window_s)
    # a 0.5-s word was centred in silence: the steps move back by half the silence added
    short = _pred(np.full((1, 8), 1 / 8), [0.0], [0.5], 0.5, padded=[True])
    s = attention_spans(short, "attn_rnn", pipeline=cfg)
    shift = (cfg.window_seconds - 0.5) / 2
    assert s.starts.min() == 0.0 and s.ends.max() <= 0.5
    kept = np.arange(8) * spec.hop_s - shift
    assert len(s.starts) == np.sum((kept < 0.5) & (kept + spec.window_s > 0))


@pytest.mark.skipif(not (ROOT / "pretrained" / "backbones" / "speech").is_dir(), reason="no backbone weights")
def test_backbone_windows_index_the_embeddings_of_each_input():
    cfg = PipelineConfig(sr=16000, channels=(), input_kind="embedding", input_shape=(8, 96), backbone="speech",
                         window=WindowConfig(length=8, hop=4, pad="constant"))
    y = np.random.default_rng(0).normal(0, 0.1, 33600).astype(np.float32)  # 2.1 s: 17 backbone windows
    frames, index, starts = backbone_windows(y, 16000, config=cfg)
    assert frames.shape[1:] == (76, 32) and len(starts) == len(frames)
    assert index.shape[1] == 8
    np.testing.assert_array_equal(index[0], np.arange(8))
    np.testing.assert_array_equal(index[1][:4], np.arange(4, 8))
    assert index.tolist()[-1] == [12, 13, 14, 15, 16, -1, -1, -1]  # the last input's tail is constant padding
    np.testing.assert_allclose(np.diff(starts), 0.08)
    # the same embeddings the pipeline feeds the model, slot by slot
    from audioclf.backbones import get_backbone
    from audioclf.engine.inputs import clip_inputs

    emb = get_backbone("speech").embed_windows(frames)
    x = clip_inputs(y, 16000, config=cfg).x
    expected = np.where((index >= 0)[..., None], emb[np.maximum(index, 0)], emb.min())
    np.testing.assert_allclose(x, expected, atol=1e-5)


def _reference_cam(model: keras.Model, x: np.ndarray, layer: str, c: int) -> np.ndarray:
    """Grad-CAM as keras.io's example computes it: a tf.GradientTape over the layer's output and the logits
    (the ``probs`` Dense layer's input times its kernel), then ReLU(sum_k mean(grad_k) A_k) in numpy."""
    import tensorflow as tf

    seen: dict = {}

    def call(op, *args, **kwargs):
        out = op(*args, **kwargs)
        if op.name == layer:
            seen["act"] = out
        if op.name == "probs":
            seen["h"] = args[0]
        return out

    copy = keras.models.clone_model(model, clone_function=lambda op: op, call_function=call)
    tap = keras.Model(copy.inputs, [seen["act"], seen["h"]])
    dense = model.get_layer("probs")
    with tf.GradientTape() as tape:
        act, h = tap([x[None]], training=False)
        score = (tf.matmul(tf.cast(h, "float32"), dense.kernel) + dense.bias)[:, c]
    grad = tape.gradient(score, act).numpy()
    act = act.numpy()
    alpha = grad.mean(axis=tuple(range(1, grad.ndim - 1)))[0]  # (channels,): each filter's weight
    return np.maximum(act[0] @ alpha, 0.0)


#: Every zoo model that reads its own input: the conv layer Grad-CAM reads (at these small inputs), or the
#: reason it refuses.
ZOO = [
    ("sfc_dcnn", (32, 32, 1), "b6_bn_3"),
    ("crnn_resnet", (32, 32, 1), "res4_out"),
    ("mfc_dcnn", (32, 32, 4), "b6_bn_2"),
    ("cldnn", (32, 32, 1), "b3_bn_time"),
    ("jae", (32, 32, 1), "enc_conv_4"),
    ("mobilenet_v2", (64, 64, 1), "mobilenetv2"),
    ("feature_cnn2d", None, "conv_2"),
    ("soundnet_cnn", (8000, 1), "relu_7"),
    ("soundnet_rnn", (8000, 1), "relu_9"),
    ("subspectralnet", (40, 32, 1), "one per frequency band"),
    ("lstm", (32, 32, 1), "no convolution"),
    ("feature_mlp", None, "no convolution"),
]


def test_the_zoo_table_covers_every_model_on_its_own_input():
    from audioclf.models import list_models

    assert {name for name, _, _ in ZOO} == {s.name for s in list_models() if s.input_kind != "embedding"}


@pytest.mark.slow
@pytest.mark.parametrize(("name", "shape", "expected"), ZOO)
def test_grad_cam_on_every_zoo_model_matches_the_tape_reference_or_refuses(name, shape, expected):
    from audioclf.models import build_model

    model = build_model(name, num_classes=3, **({"input_shape": shape} if shape else {}))
    shape = tuple(model.inputs[0].shape[1:])
    x = np.random.default_rng(0).normal(size=shape).astype(np.float32)
    if " " in expected:  # a refusal, in words
        with pytest.raises(ModelError, match=expected):
            grad_cam(model, x)
        return
    grids = []
    for c in range(3):
        cam = grad_cam(model, x, class_index=c)
        assert cam.layer == expected and cam.class_index == c
        ref = _reference_cam(model, x, cam.layer, c)
        np.testing.assert_allclose(cam.grid, ref, rtol=1e-3, atol=1e-4 * max(float(ref.max()), 1e-30))
        assert cam.heat.shape == shape[:-1] and 0.0 <= cam.heat.min() and cam.heat.max() <= 1.0
        # the heat is the grid stretched onto the input (each bin takes its covering cell), top scaled to 1
        top = float(cam.grid.max())
        np.testing.assert_allclose(cam.heat, upsample(cam.grid, shape[:-1]) / top if top > 0 else 0.0, atol=1e-5)
        grids.append(cam.grid)
    assert any(g.max() > 0 for g in grids)  # some class has evidence somewhere: the check is not of zeros


def test_sub_band_models_are_refused_with_a_reason():
    from audioclf.models import build_model

    model = build_model("subspectralnet", input_shape=(40, 32, 1), num_classes=3)
    with pytest.raises(ModelError, match="one per frequency band"):
        gradcam_layer(model)
    with pytest.raises(ModelError, match="reads only a slice of the input"):
        gradcam_layer(model, "band1_relu_2")


@pytest.mark.skipif(not (ROOT / "pretrained" / "fsdd_speech").is_dir(), reason="no shipped speech model")
def test_backbone_grad_cam_follows_the_head_the_prediction_used():
    from audioclf.audio.io import load_audio
    from audioclf.engine.bundle import load_bundle
    from audioclf.engine.inference import predict
    from audioclf.explanations.gradcam import backbone_grad_cam

    bundle = load_bundle(ROOT / "pretrained" / "fsdd_speech")
    clip = next((ROOT / "examples").rglob("*.wav"))
    y, sr = load_audio(str(clip), sr=bundle.pipeline.sr)
    pred = predict(bundle, y, sr=sr)
    c = (int(np.argmax(pred.probs)) + 1) % len(pred.classes)  # another class than the answer
    cam = backbone_grad_cam(bundle, y, window=0, class_index=c)
    assert cam.class_index == c and cam.layer.startswith("act")  # the speech network's last block with 2 x 2 cells
    assert cam.prob == pytest.approx(float(pred.window_probs[0, c]), abs=1e-4)  # the head saw what predict fed it
    assert cam.mels.shape == cam.heats.shape == (8, 32, 76)
    np.testing.assert_allclose(np.diff(cam.starts), 0.08)
    assert cam.heats.max() <= 1.0 and cam.heats.min() >= 0.0
    with pytest.raises(ParameterError, match=r"window=3 must be an integer in \[0, 0\]"):
        backbone_grad_cam(bundle, y, window=3)


def test_gradcam_for_explains_a_zoo_model_over_its_own_window(tmp_path):
    from audioclf.engine.bundle import Bundle
    from audioclf.engine.inference import predict
    from audioclf.engine.recipes import default_pipeline
    from audioclf.explanations.gradcam import BackboneCam, GradCam, bundle_grad_cam, gradcam_for
    from audioclf.models import build_model

    pipeline = default_pipeline("sfc_dcnn", sr=16000, input_shape=(32, 32, 1), normalize="none")
    keras.utils.set_random_seed(0)
    bundle = Bundle(path=tmp_path, model=build_model("sfc_dcnn", input_shape=(32, 32, 1), num_classes=3),
                    pipeline=pipeline, classes=("a", "b", "c"), stats=None, architecture="sfc_dcnn")
    y = np.random.default_rng(0).normal(scale=0.1, size=3 * 16000).astype(np.float32)
    pred = predict(bundle, y, sr=16000)
    assert len(pred.inputs) >= 2
    cam = gradcam_for(bundle, pred, y=y, window=1, class_index=2)
    assert isinstance(cam, GradCam) and not isinstance(cam, BackboneCam)
    same = bundle_grad_cam(bundle, pred, window=1, class_index=2)
    np.testing.assert_array_equal(cam.grid, same.grid)
    np.testing.assert_allclose(cam.grid, _reference_cam(bundle.model, pred.inputs[1], cam.layer, 2), rtol=1e-3,
                               atol=1e-4 * max(float(same.grid.max()), 1e-30))
    assert gradcam_for(bundle, pred).class_index == int(np.argmax(pred.probs))  # y is only needed on a backbone
    with pytest.raises(ParameterError, match=r"window=9 must be an integer in \[0, "):
        gradcam_for(bundle, pred, window=9)


@pytest.mark.skipif(not (ROOT / "pretrained" / "fsdd_speech").is_dir(), reason="no shipped speech model")
def test_gradcam_for_explains_a_model_on_a_backbone_over_the_backbone_windows():
    from audioclf.audio.io import load_audio
    from audioclf.engine.bundle import load_bundle
    from audioclf.engine.inference import predict
    from audioclf.explanations.gradcam import BackboneCam, backbone_grad_cam, gradcam_for

    bundle = load_bundle(ROOT / "pretrained" / "fsdd_speech")
    y, sr = load_audio(str(ROOT / "examples" / "fsdd_seven_jackson.wav"), sr=bundle.pipeline.sr)
    pred = predict(bundle, y, sr=sr)
    cam = gradcam_for(bundle, pred, y=y, window=0, class_index=1)
    assert isinstance(cam, BackboneCam) and cam.class_index == 1
    np.testing.assert_array_equal(cam.heats, backbone_grad_cam(bundle, y, window=0, class_index=1).heats)
    with pytest.raises(ParameterError, match="pass the clip's samples y"):
        gradcam_for(bundle, pred, window=0)


_OTHER_BACKEND = """
import json, numpy as np, keras
from audioclf.errors import UnsupportedBackendError
from audioclf.explanations.gradcam import grad_cam
inp = keras.Input((8, 8, 1))
conv = keras.layers.Conv2D(2, 2, strides=2, use_bias=False, name="conv")
dense = keras.layers.Dense(2, activation="softmax", name="probs")
model = keras.Model(inp, {"probs": dense(keras.layers.GlobalAveragePooling2D()(conv(inp)))})
kernel = np.zeros((2, 2, 1, 2), np.float32); kernel[..., 0], kernel[..., 1] = 1.0, -0.5
conv.set_weights([kernel]); dense.set_weights([np.array([[1.0, -1.0], [0.5, 2.0]], np.float32), np.zeros(2, np.float32)])
x = np.zeros((8, 8, 1), np.float32); x[2, 5, 0] = 1.0
try:
    print(json.dumps({"grid": grad_cam(model, x, class_index=0).grid.tolist()}))
except UnsupportedBackendError as exc:
    print(json.dumps({"error": str(exc)}))
"""


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_grad_cam_on_other_backends(backend):
    """The known answer on JAX, and on torch where $AUDIOCLF_TORCH_PYTHON names an interpreter with torch."""
    import json
    import os
    import subprocess
    import sys

    python = sys.executable if backend == "jax" else os.environ.get("AUDIOCLF_TORCH_PYTHON")
    if python is None:
        pytest.skip("set AUDIOCLF_TORCH_PYTHON to an interpreter with torch to check Grad-CAM on torch")
    env = {**os.environ, "KERAS_BACKEND": backend, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.run([python, "-c", _OTHER_BACKEND], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    x = np.zeros((8, 8, 1), np.float32)
    x[2, 5, 0] = 1.0
    np.testing.assert_allclose(out["grid"], _numpy_cam(x, 0), atol=1e-6)


@pytest.mark.slow
@pytest.mark.skipif(not (ROOT / "pretrained" / "backbones" / "speech").is_dir(), reason="no backbone weights")
def test_attention_head_weights_sit_on_backbone_windows_and_grad_cam_passes_through_it(tmp_path, monkeypatch):
    import dataclasses

    from audioclf.audio import synth
    from audioclf.backbones import get_backbone_spec
    from audioclf.datasets import SyntheticConfig, make_synthetic_dataset
    from audioclf.engine.bundle import load_bundle
    from audioclf.engine.inference import predict
    from audioclf.engine.recipes import transfer_recipe
    from audioclf.engine.train import train
    from audioclf.explanations.gradcam import backbone_grad_cam

    monkeypatch.setenv("AUDIOCLF_CACHE", str(tmp_path / "cache"))
    ds = make_synthetic_dataset(tmp_path / "synth", config=SyntheticConfig(
        clips_per_class=3, classes=("tone", "clicks", "noise_band"), sr=16000, max_duration=1.5))
    config, pipe = transfer_recipe("speech", head="attention", epochs=2)
    train(ds, config=dataclasses.replace(config, split="none"), pipeline=pipe, out=tmp_path / "b", cache=False)
    bundle = load_bundle(tmp_path / "b")
    y = synth.tone(440, 3.0, 16000)
    pred = predict(bundle, y, sr=16000)
    spans = attention_spans(pred, "attn_rnn", pipeline=bundle.pipeline)
    spec = get_backbone_spec("speech")
    for w in range(len(pred.starts)):
        sel = spans.window == w
        assert sel.any()
        assert np.all(spans.starts[sel] >= pred.starts[w] - 1e-9) and np.all(spans.starts[sel] < pred.ends[w])
        np.testing.assert_allclose(np.diff(spans.starts[sel]), spec.hop_s)  # one step per backbone window
    cam = backbone_grad_cam(bundle, y, window=1)
    assert cam.heats.shape == (pipe.window.length, 32, 76) and cam.heats.max() == pytest.approx(1.0)
    assert cam.prob == pytest.approx(float(pred.window_probs[1].max()), abs=1e-4)


def test_keras_private_graph_names_of_the_walk_still_exist():
    # gradcam._graph walks Keras' private node structures (Keras 3 has no public node API).
    inputs = keras.Input((4,))
    out = keras.layers.Dense(2, name="d")(inputs)
    assert hasattr(out, "_keras_history"), (
        f"keras {keras.__version__} changed: KerasTensor._keras_history is gone; see explanations/gradcam._graph")
    op, node_index, _ = out._keras_history
    assert hasattr(op, "_inbound_nodes"), (
        f"keras {keras.__version__} changed: Layer._inbound_nodes is gone; see explanations/gradcam._graph")
    assert list(op._inbound_nodes[node_index].input_tensors) == [inputs]
