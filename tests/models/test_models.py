"""Tests of the model zoo (audioclf.models): registry, building, learning,
saving/loading, attention readout, safe loading and the ``models`` CLI."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import keras
import numpy as np
import pytest

from audioclf.errors import BundleError, ModelError
from audioclf.models import (
    ATTENTION_KINDS,
    INPUT_KINDS,
    build_model,
    compile_model,
    count_params,
    explain,
    get_model_spec,
    list_models,
    load_model_file,
    training_targets,
)
from tests.conftest import HANG, XLA_QUICK_COMPILE

REQUIRED = [
    "feature_mlp", "feature_cnn2d", "lstm", "cldnn", "jae", "soundnet_cnn", "soundnet_rnn",
    "sfc_dcnn", "mfc_dcnn", "subspectralnet", "crnn_resnet", "mobilenet_v2",
]

# Small inputs that keep the learning tests cheap; every model must have one.
SMALL = {
    "feature_mlp": (24,),
    "feature_cnn2d": (40, 5, 1),
    "lstm": (32, 32, 1),
    "cldnn": (32, 32, 1),
    "jae": (32, 32, 1),
    "soundnet_cnn": (8000, 1),
    "soundnet_rnn": (8000, 1),
    "sfc_dcnn": (32, 32, 1),
    "mfc_dcnn": (32, 32, 4),
    "subspectralnet": (40, 32, 1),
    "crnn_resnet": (32, 32, 1),
    "mobilenet_v2": (32, 32, 1),
    "head_linear": (6, 16),
    "head_mlp": (6, 16),
}

VARIANTS = [(s.name, att) for s in list_models() for att in (None, *s.attention)]
IDS = [f"{n}-{a or 'plain'}" for n, a in VARIANTS]


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture(autouse=True)
def _free_keras_state(request):
    yield
    # Dozens of models: keep memory flat. A full garbage collection (free_memory) takes 0.3-2 s in this process,
    # longer than most tests here take: it follows the slow tests, whose models are the big ones.
    keras.backend.clear_session(free_memory=request.node.get_closest_marker("slow") is not None)


def toy_problem(shape, n_classes, n, rng, *, last_axis=False):
    """A learnable problem: class k lights up the k-th band of rows (of the last axis with
    ``last_axis``: the embedding dimensions a head pools over its windows), or, for a
    waveform, is a tone of its own frequency, under Gaussian noise."""
    labels = np.arange(n) % n_classes
    rng.shuffle(labels)
    if len(shape) == 2 and shape[1] == 1:  # waveform (samples, 1)
        t = np.arange(shape[0]) / 8000.0
        freq = np.array([300.0, 900.0, 2000.0, 3000.0])[labels]
        phase = rng.uniform(0, 2 * np.pi, (n, 1))
        x = 0.5 * np.sin(2 * np.pi * freq[:, None] * t[None] + phase)
        x = (x + 0.1 * rng.normal(size=x.shape))[..., None]
    else:
        x = 0.5 * rng.normal(size=(n, *shape))
        rows = shape[-1] if last_axis else shape[0]
        for i, k in enumerate(labels):
            band = slice(k * rows // n_classes, (k + 1) * rows // n_classes)
            if last_axis:
                x[i, ..., band] += 1.5
            else:
                x[i, band] += 1.5
    return x.astype("float32"), np.eye(n_classes, dtype="float32")[labels]


# --------------------------------------------------------------------- registry


def test_registry_holds_the_required_models_in_order():
    assert [s.name for s in list_models() if s.family != "transfer"] == REQUIRED
    assert [s.name for s in list_models() if s.family == "transfer"] == ["head_linear", "head_mlp"]
    assert set(SMALL) == {s.name for s in list_models()}  # every model has a small input for the learning tests


@pytest.mark.parametrize("spec", list_models(), ids=lambda s: s.name)
def test_spec_fields_are_complete(spec):
    assert spec.input_kind in INPUT_KINDS
    assert set(spec.attention) <= set(ATTENTION_KINDS)
    assert len(spec.description) > 80 and len(spec.source) > 10
    assert all(isinstance(d, int) and d > 0 for d in spec.default_input_shape)
    assert json.loads(json.dumps(spec.as_dict()))["name"] == spec.name
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.name = "other"


def test_attention_support_matches_the_issue():
    supports = {s.name: set(s.attention) for s in list_models()}
    for name in ("sfc_dcnn", "mfc_dcnn"):
        assert supports[name] == {"cnn"}
    for name in ("lstm", "cldnn", "soundnet_rnn", "crnn_resnet"):
        assert supports[name] == {"rnn", "self"}


def test_default_shapes():
    shapes = {s.name: s.default_input_shape for s in list_models()}
    assert shapes["feature_cnn2d"] == (40, 5, 1)
    assert shapes["mfc_dcnn"] == (128, 128, 4)
    assert shapes["soundnet_cnn"] == (30000, 1)
    assert shapes["cldnn"] == (128, 128, 1)
    assert shapes["subspectralnet"] == (40, 128, 1)


def test_unknown_model_lists_valid_names():
    with pytest.raises(ModelError, match="unknown model 'resnet9'.*feature_mlp.*mobilenet_v2"):
        get_model_spec("resnet9")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"name": "lstm", "num_classes": 1}, "num_classes=1 must be an integer >= 2"),
        ({"name": "lstm", "num_classes": True}, "num_classes=True"),
        ({"name": "lstm", "num_classes": 3, "attention": "cnn"}, "does not support attention='cnn'.*rnn, self"),
        ({"name": "mobilenet_v2", "num_classes": 3, "attention": "rnn"}, "supported: none"),
        ({"name": "lstm", "num_classes": 3, "wings": 2}, r"unknown option\(s\) \['wings'\].*units"),
        ({"name": "lstm", "num_classes": 3, "input_shape": (128, 128)}, "rank 3"),
        ({"name": "lstm", "num_classes": 3, "input_shape": (128, 128, 2)}, "1-channel"),
        ({"name": "lstm", "num_classes": 3, "input_shape": (128, 0, 1)}, "positive ints"),
        ({"name": "lstm", "num_classes": 3, "input_shape": "big"}, "positive ints"),
        ({"name": "lstm", "num_classes": 3, "units": 0}, "units=0 must be a positive integer"),
        ({"name": "jae", "num_classes": 3, "input_shape": (100, 128, 1)}, "divisible by 16"),
        ({"name": "soundnet_cnn", "num_classes": 3, "input_shape": (2000, 1)}, "too short"),
        ({"name": "subspectralnet", "num_classes": 3, "band_size": 64}, "larger than the 40"),
        ({"name": "crnn_resnet", "num_classes": 3, "front": "vgg"}, "front='vgg'"),
        ({"name": "mobilenet_v2", "num_classes": 3, "input_shape": (16, 16, 1)}, ">= 32"),
        ({"name": "sfc_dcnn", "num_classes": 3, "dropout": 1.5}, r"dropout=1.5 must be in \[0, 1\)"),
        ({"name": "mfc_dcnn", "num_classes": 3, "gate": "tanh"}, "gate='tanh' must be one of relu, sigmoid"),
    ],
)
def test_build_model_rejects_bad_requests(kwargs, match):
    kwargs = dict(kwargs)
    with pytest.raises(ModelError, match=match):
        build_model(kwargs.pop("name"), **kwargs)


def test_count_params():
    assert count_params("feature_mlp", input_shape=(24,), num_classes=10) == (
        24 * 256 + 256 + 256 * 256 + 256 + 256 * 128 + 128 + 128 * 128 + 128
        + 128 * 64 + 64 + 64 * 32 + 32 + 32 * 10 + 10
    )


# ------------------------------------------------------- building, default shapes


def _output_shapes(model):
    return {k: tuple(t.shape) for k, t in zip(model.output_names, model.outputs, strict=True)}


@pytest.mark.parametrize(("name", "attention"), VARIANTS, ids=IDS)
def test_builds_for_default_shape_and_class_counts(name, attention):
    spec = get_model_spec(name)
    for n_classes in (2, 50):
        model = build_model(name, num_classes=n_classes, attention=attention)
        assert model.name == name
        assert tuple(model.inputs[0].shape[1:]) == spec.default_input_shape
        shapes = _output_shapes(model)
        assert shapes["probs"] == (None, n_classes)
        assert set(shapes) == {"probs", *spec.extra_outputs}
        if name == "jae":
            assert shapes["reconstruction"] == (None, *spec.default_input_shape)
        if name == "subspectralnet":
            assert shapes["sub_probs"] == (None, 3, n_classes)
    # A real forward pass at the default shape (the last model: 50 classes).
    x = np.zeros((1, *spec.default_input_shape), "float32")
    probs = keras.ops.convert_to_numpy(model(x, training=False)["probs"])
    assert probs.shape == (1, 50)
    np.testing.assert_allclose(probs.sum(-1), 1.0, rtol=1e-5)


def test_shapes_follow_the_documented_adaptations():
    def steps(model, layer):
        return model.get_layer(layer).output.shape[1]

    assert steps(build_model("soundnet_rnn", num_classes=3), "relu_9") == 13
    assert steps(build_model("soundnet_cnn", num_classes=3), "relu_10") == 6
    cldnn = build_model("cldnn", num_classes=3)
    assert tuple(cldnn.get_layer("time_steps").output.shape) == (None, 16, 128)
    jae = build_model("jae", num_classes=3)
    assert tuple(jae.get_layer("enc_pool_4").output.shape) == (None, 8, 8, 128)
    assert tuple(build_model("mfc_dcnn", num_classes=3).get_layer("b8_pool").output.shape) == (None, 4, 1, 512)
    assert tuple(build_model("sfc_dcnn", num_classes=3).get_layer("b6_pool").output.shape) == (None, 8, 8, 256)


def test_subspectralnet_bands():
    paper = build_model("subspectralnet", num_classes=4)  # 40 mel bins: bands 0-20, 10-30, 20-40
    assert _output_shapes(paper)["sub_probs"] == (None, 3, 4)
    assert [paper.get_layer(f"band{i}_slice").start for i in (1, 2, 3)] == [0, 10, 20]
    big = build_model("subspectralnet", input_shape=(128, 128, 1), num_classes=4)
    assert _output_shapes(big)["sub_probs"] == (None, 3, 4)  # 64-bin bands, hop 32
    wide = build_model("subspectralnet", input_shape=(128, 128, 1), num_classes=4, band_size=32, band_hop=16)
    assert _output_shapes(wide)["sub_probs"] == (None, 7, 4)


def test_mfc_dcnn_takes_two_channel_stft():
    model = build_model("mfc_dcnn", input_shape=(128, 128, 2), num_classes=5, attention="cnn")
    assert _output_shapes(model)["probs"] == (None, 5)


def test_cnn_attention_gate_kinds(rng):
    x = rng.normal(size=(2, 32, 32, 1)).astype("float32") * 5
    for gate, bounded in (("sigmoid", True), ("relu", False)):
        model = build_model("sfc_dcnn", input_shape=(32, 32, 1), num_classes=3, attention="cnn", gate=gate)
        layer = model.get_layer("attn_cnn_b1")
        probe = keras.Model(model.inputs, layer.output)
        g = np.asarray(probe([x]))
        assert (g >= 0).all()
        assert (g.max() <= 1.0) if bounded else (g.max() > 1.0)  # ReLU gates can amplify; sigmoid ones cannot
        assert layer.__class__.__name__ == ("Activation" if gate == "sigmoid" else "ReLU")
    paper = build_model("sfc_dcnn", input_shape=(32, 32, 1), num_classes=3, attention="cnn")
    assert paper.get_layer("attn_cnn_b1").__class__.__name__ == "ReLU"  # the paper's block by default
    from audioclf.engine.recipes import quick_recipe
    assert quick_recipe()[0].model_options["gate"] == "sigmoid"  # the compact recipe's bounded gates


def test_options_change_the_model():
    assert count_params("mobilenet_v2", num_classes=3, alpha=0.35) < count_params("mobilenet_v2", num_classes=3)
    resnet = build_model("crnn_resnet", num_classes=3, front="resnet50", attention="rnn")
    assert _output_shapes(resnet)["probs"] == (None, 3)
    assert resnet.get_layer("attn_rnn").output[1].shape[1] == 4  # 128 frames / 32


# ------------------------------------------ learning, saving, loading, explaining


@pytest.mark.slow
@pytest.mark.parametrize(("name", "attention"), VARIANTS, ids=IDS)
def test_learns_saves_loads_and_explains(name, attention, tmp_path, rng):
    keras.utils.set_random_seed(0)
    shape = SMALL[name]
    x, y = toy_problem(shape, 3, 32, rng, last_axis=name.startswith("head_"))
    # A head is one or two dense layers: 24 steps at Adam's default rate barely move it.
    lr = 1e-2 if name.startswith("head_") else 1e-3
    model = compile_model(build_model(name, input_shape=shape, num_classes=3, attention=attention), learning_rate=lr)
    history = model.fit(x, training_targets(model, x, y), batch_size=8, epochs=6, verbose=0).history
    ce = history.get("probs_loss", history["loss"])  # 24 steps
    assert ce[-1] < 0.5 * ce[0], f"{name}/{attention} did not learn: {ce}"

    before = model.predict_on_batch(x[:4])
    path = tmp_path / f"{name}.keras"
    model.save(path)
    loaded = load_model_file(path)
    # explain runs the loaded model's own layers: its outputs are the loaded predictions.
    ex = explain(loaded, x[:4])
    after = {"probs": ex.probs, **ex.extras}
    assert set(after) == set(before)
    for key in before:
        np.testing.assert_allclose(after[key], before[key], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ex.probs.sum(-1), 1.0, rtol=1e-5)
    if name == "jae":
        assert ex.extras["reconstruction"].shape == x[:4].shape
    if name == "subspectralnet":
        assert ex.extras["sub_probs"].shape == (4, 3, 3)
        np.testing.assert_allclose(ex.extras["sub_probs"].sum(-1), 1.0, rtol=1e-5)
    _check_attention(ex, attention, shape)


def _check_attention(ex, attention, shape):
    if attention is None:
        assert ex.attention == {}
        return
    assert ex.attention and all(m.kind == attention for m in ex.attention.values())
    for key, amap in ex.attention.items():
        assert key.startswith(f"attn_{attention}")
        assert amap.values.ndim == len(amap.axes) and amap.values.shape[0] == 4
        assert amap.meaning and amap.block
        if attention == "cnn":
            assert amap.axes == ("batch", "freq", "time")
            assert (amap.values >= 0).all()  # a ReLU gate (the paper's, the default)
            f, t = amap.values.shape[1:]
            assert amap.stride == {"freq": shape[0] / f, "time": shape[1] / t}
        elif attention == "rnn":
            assert amap.axes == ("batch", "time")
            np.testing.assert_allclose(amap.values.sum(-1), 1.0, rtol=1e-5)
        else:
            assert amap.axes == ("batch", "head", "query_time", "key_time")
            b, h, q, k = amap.values.shape
            assert h == 4 and q == k
            np.testing.assert_allclose(amap.values.sum(-1), 1.0, rtol=1e-5)
    if attention == "cnn":
        assert len(ex.attention) in (6, 8)  # one per block: sfc 6, mfc 8


def test_explain_time_axis_maps_to_input(rng):
    model = build_model("lstm", input_shape=(16, 24, 1), num_classes=3, attention="rnn")
    x = rng.normal(size=(5, 16, 24, 1))
    ex = explain(model, x, batch_size=2)  # 3 chunks, stitched back together
    amap = ex.attention["attn_rnn"]
    assert amap.values.shape == (5, 24) and amap.stride == {"time": 1.0}
    np.testing.assert_allclose(ex.probs, model.predict_on_batch(x)["probs"], rtol=1e-5, atol=1e-6)
    model = build_model("soundnet_rnn", num_classes=3, attention="self")
    amap = explain(model, np.zeros((1, 30000, 1), "float32")).attention["attn_self"]
    assert amap.values.shape == (1, 4, 13, 13)
    assert amap.stride["query_time"] == pytest.approx(30000 / 13)


def test_explain_rejects_bad_input():
    model = build_model("feature_mlp", input_shape=(8,), num_classes=2)
    with pytest.raises(ModelError, match=r"x has shape \(3, 9\); feature_mlp expects \(batch, 8\)"):
        explain(model, np.zeros((3, 9)))
    with pytest.raises(ModelError, match="no examples"):
        explain(model, np.zeros((0, 8)))


# ----------------------------------------------------------- losses and targets


def test_training_targets_by_name_and_by_model():
    x, y = np.zeros((2, 32, 32, 1)), np.eye(3)[[0, 1]]
    assert set(training_targets("lstm", x, y)) == {"probs"}
    jae_t = training_targets("jae", x, y)
    assert jae_t["reconstruction"] is x and jae_t["probs"] is y
    sub = build_model("subspectralnet", input_shape=(40, 32, 1), num_classes=3)
    assert training_targets(sub, x, y)["sub_probs"] is y


def test_jae_loss_is_ce_plus_lambda_mse(rng):
    x, y = toy_problem((32, 32, 1), 3, 8, rng)
    model = compile_model(build_model("jae", input_shape=(32, 32, 1), num_classes=3), jae_lambda=2.5)
    out = model.evaluate(x, training_targets(model, x, y), verbose=0, return_dict=True)
    assert out["loss"] == pytest.approx(out["probs_loss"] + 2.5 * out["reconstruction_loss"], rel=1e-4)
    pred = model.predict_on_batch(x)
    assert out["reconstruction_loss"] == pytest.approx(np.mean((pred["reconstruction"] - x) ** 2), rel=1e-4)


def test_subspectralnet_loss_sums_band_cross_entropies(rng):
    x, y = toy_problem((40, 32, 1), 3, 8, rng)
    model = compile_model(build_model("subspectralnet", input_shape=(40, 32, 1), num_classes=3))
    out = model.evaluate(x, training_targets(model, x, y), verbose=0, return_dict=True)
    sub = model.predict_on_batch(x)["sub_probs"]  # (8, 3 bands, 3 classes)
    expected = np.mean(np.sum(-np.log(np.clip(sub, 1e-7, 1)) * y[:, None, :], axis=(1, 2)))
    assert out["sub_probs_loss"] == pytest.approx(expected, rel=1e-4)
    assert out["loss"] == pytest.approx(out["probs_loss"] + out["sub_probs_loss"], rel=1e-4)


def test_compile_model_validates():
    model = build_model("feature_mlp", input_shape=(8,), num_classes=2)
    with pytest.raises(ModelError, match="jae_lambda=-1"):
        compile_model(model, jae_lambda=-1)
    with pytest.raises(ModelError, match="learning_rate=0"):
        compile_model(model, learning_rate=0)
    with pytest.raises(ModelError, match=r"lacks the outputs \['reconstruction'\]"):
        compile_model(model, spec="jae")
    inp = keras.Input((4,))
    with pytest.raises(ModelError, match="no 'probs' output"):
        compile_model(keras.Model(inp, keras.layers.Dense(2)(inp)))


def test_compile_model_builds_the_optimizer_so_fit_traces_the_step_once(rng):
    if keras.backend.backend() != "tensorflow":
        pytest.skip("the second trace is TensorFlow's (a tf.function that created variables)")
    model = compile_model(build_model("feature_mlp", input_shape=(8,), num_classes=2))
    assert model.optimizer.built and len(model.optimizer.variables) > 2 * len(model.trainable_variables)
    traced, step = [], model.train_step

    def counting_step(data):
        traced.append(1)  # Python runs it once per trace; the graph runs the 4 steps
        return step(data)

    model.train_step = counting_step
    x = rng.normal(size=(16, 8)).astype("float32")
    y = np.eye(2, dtype="float32")[np.arange(16) % 2]
    history = model.fit(x, training_targets(model, x, y), batch_size=8, epochs=2, verbose=0).history
    assert len(history["loss"]) == 2 and np.all(np.isfinite(history["loss"]))
    assert len(traced) == 1


# ----------------------------------------------------------------- safe loading


def _lambda_model_file(tmp_path: Path) -> Path:
    inp = keras.Input((4,))
    out = keras.layers.Lambda(lambda t: t * 2.0, name="doubler")(inp)
    model = keras.Model(inp, {"probs": keras.layers.Dense(2, activation="softmax", name="probs")(out)})
    path = tmp_path / "lambda.keras"
    model.save(path)
    return path


def test_lambda_layer_is_refused(tmp_path):
    path = _lambda_model_file(tmp_path)
    with pytest.raises(BundleError, match="contains a Lambda layer \\('doubler'\\).*arbitrary Python code"):
        load_model_file(path)


def test_unknown_custom_object_is_refused(tmp_path):
    @keras.saving.register_keras_serializable(package="stranger")
    class Doubler(keras.layers.Layer):
        def call(self, x):
            return x * 2.0

    inp = keras.Input((4,))
    model = keras.Model(inp, {"probs": keras.layers.Dense(2, activation="softmax", name="probs")(Doubler()(inp))})
    path = tmp_path / "custom.keras"
    model.save(path)
    with pytest.raises(BundleError, match="unknown custom object 'stranger>Doubler'"):
        load_model_file(path)


@pytest.mark.parametrize(
    ("filename", "content", "match"),
    [
        ("model.h5", b"\x89HDF", "legacy HDF5"),
        ("model.hdf5", b"\x89HDF", "legacy HDF5"),
        ("model.pkl", b"x", "not a .keras model file"),
        ("missing.keras", None, "does not exist"),
        ("broken.keras", b"not a zip", "not a valid .keras archive"),
    ],
)
def test_load_model_file_refuses_other_files(tmp_path, filename, content, match):
    path = tmp_path / filename
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(BundleError, match=match):
        load_model_file(path)


# ---------------------------------------------------------------- other backends


def _backend_python(backend: str) -> str | None:
    """An interpreter with ``backend`` + keras: $AUDIOCLF_<BACKEND>_PYTHON, or this one if it has the backend.

    ``make test`` installs JAX (CPU) with the test tools, so CI checks the JAX backend; PyTorch is too large
    to install there and is checked where $AUDIOCLF_TORCH_PYTHON names an interpreter that has it.
    """
    explicit = os.environ.get(f"AUDIOCLF_{backend.upper()}_PYTHON")
    if explicit:
        return explicit
    return sys.executable if importlib.util.find_spec(backend) is not None else None


_BACKEND_CHECK = textwrap.dedent(
    """
    import sys
    import numpy as np
    try:
        import audioclf.models as M
    except ImportError as exc:  # the project's other dependencies are missing there
        print(f"cannot import audioclf.models: {exc}")
        sys.exit(77)
    import keras
    assert keras.backend.backend() == sys.argv[1], keras.backend.backend()
    data = np.load(sys.argv[2])
    for path in sys.argv[3:]:
        model = M.load_model_file(path)
        got = model.predict_on_batch(data["x_" + model.name])["probs"]
        np.testing.assert_allclose(got, data["p_" + model.name], rtol=1e-4, atol=1e-5)
        ex = M.explain(model, data["x_" + model.name])
        np.testing.assert_allclose(ex.probs, data["p_" + model.name], rtol=1e-4, atol=1e-5)
        print("ok", model.name, sorted(ex.attention))
    """
)


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_models_saved_here_load_on_other_backends(backend, tmp_path, rng):
    python = _backend_python(backend)
    if python is None:
        pytest.skip(f"{backend} is not installed (set AUDIOCLF_{backend.upper()}_PYTHON)")
    arrays, paths = {}, []
    for name, attention in [("cldnn", "self"), ("sfc_dcnn", "cnn"), ("soundnet_rnn", "rnn"),
                            ("subspectralnet", None), ("jae", None)]:
        shape = SMALL[name]
        model = compile_model(build_model(name, input_shape=shape, num_classes=3, attention=attention))
        # Two steps: eagerly, rather than first tracing a training and a predict function for each model.
        model.run_eagerly = True
        x, y = toy_problem(shape, 3, 8, rng)
        # One epoch, so BatchNorm statistics and weights are no longer their initial values.
        model.fit(x, training_targets(model, x, y), batch_size=4, epochs=1, verbose=0)
        arrays[f"x_{name}"] = x
        arrays[f"p_{name}"] = model.predict_on_batch(x)["probs"]
        paths.append(str(tmp_path / f"{name}.keras"))
        model.save(paths[-1])
    np.savez(tmp_path / "data.npz", **arrays)
    script = tmp_path / "check.py"
    script.write_text(_BACKEND_CHECK)
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "KERAS_BACKEND": backend, "PYTHONPATH": str(root)}
    if backend == "jax":
        env["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} {XLA_QUICK_COMPILE}".strip()
    proc = subprocess.run([python, str(script), backend, str(tmp_path / "data.npz"), *paths],
                          capture_output=True, text=True, env=env, timeout=HANG)
    if proc.returncode == 77:
        pytest.skip(proc.stdout.strip())
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count("ok ") == len(paths)


# ------------------------------------------------------------------------- CLI


def test_cli_models_json(capsys):
    from audioclf.cli import main

    assert main(["models", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert [r["name"] for r in rows] == [*REQUIRED, "head_linear", "head_mlp"]  # the zoo, then the transfer heads
    for row in rows:
        assert {"name", "family", "input", "attention", "params", "input_shape", "description"} <= set(row)
        assert isinstance(row["params"], int) and row["params"] > 0
    by_name = {r["name"]: r for r in rows}
    assert by_name["cldnn"]["attention"] == ["rnn", "self"]
    assert by_name["mfc_dcnn"]["input_shape"] == [128, 128, 4]
    assert by_name["feature_mlp"]["params"] == count_params("feature_mlp")


def test_cli_models_table(capsys):
    from audioclf.cli import main

    assert main(["models", "--no-params"]) == 0
    out = capsys.readouterr().out
    assert "subspectralnet" in out and "waveform" in out
