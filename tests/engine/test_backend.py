"""audioclf.engine.backend: precision, workers, data-parallel devices, and training on every Keras backend.

The training tests run each backend in its own process (KERAS_BACKEND must be set before Keras is imported):
TensorFlow and JAX always (``make test`` installs JAX for CPU), PyTorch where $AUDIOCLF_TORCH_PYTHON names an
interpreter with torch and this project's dependencies, or this interpreter has torch.
"""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import subprocess
import sys
import warnings

import numpy as np
import pytest

from audioclf.datasets import SyntheticConfig, make_synthetic_dataset
from audioclf.engine.backend import (
    PRECISIONS,
    WorkerInfo,
    check_devices,
    precision_policy,
    resolve_precision,
    shard,
    worker_info,
)
from audioclf.engine.config import TrainConfig
from audioclf.engine.device import DeviceInfo
from audioclf.errors import ParameterError
from tests.conftest import ROOT, XLA_QUICK_COMPILE

CPU = DeviceInfo("tensorflow", "cpu", "CPU")
GPU = DeviceInfo("tensorflow", "gpu", "NVIDIA H200", ("NVIDIA H200",), system_gpus=("NVIDIA H200",))
RUNNER = str(ROOT / "tests" / "backend_run.py")


# ------------------------------------------------------------------------------------------- precision


@pytest.mark.parametrize(("choice", "device", "policy"), [
    ("auto", CPU, "float32"), ("auto", GPU, "mixed_float16"), ("float32", GPU, "float32"),
    ("float32", CPU, "float32"), ("mixed", GPU, "mixed_float16"),
])
def test_resolve_precision(choice, device, policy):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert resolve_precision(choice, device) == policy


def test_mixed_precision_on_a_cpu_warns_and_keeps_float32():
    with pytest.warns(UserWarning, match="mixed precision needs a GPU"):
        assert resolve_precision("mixed", CPU) == "float32"


def test_unknown_precision_is_refused():
    with pytest.raises(ParameterError, match="precision='half' must be one of auto, float32, mixed"):
        resolve_precision("half", CPU)
    with pytest.raises(ParameterError, match="precision='half'"):
        TrainConfig(precision="half")
    assert PRECISIONS == ("auto", "float32", "mixed")


def test_precision_policy_restores_the_global_policy():
    import keras

    with precision_policy("float32") as dev:
        assert keras.mixed_precision.global_policy().name == "float32" and dev.policy == "float32"
    assert keras.mixed_precision.global_policy().name == "float32"


def test_train_config_precision_devices_and_the_older_flag():
    assert TrainConfig().precision == "auto" and TrainConfig().devices == 1
    assert TrainConfig(mixed_precision=True).precision == "mixed"  # configs saved before 'precision' existed
    cfg = TrainConfig(precision="float32", devices=2)
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ParameterError, match="devices=0 must be a positive integer"):
        TrainConfig(devices=0)


# ------------------------------------------------------------------------------------------- workers


def _tf_config(index: int, ports: list[int]) -> str:
    return json.dumps({"cluster": {"worker": [f"127.0.0.1:{p}" for p in ports]},
                       "task": {"type": "worker", "index": index}})


def test_worker_info_reads_tf_config(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    assert worker_info() == WorkerInfo(0, 1) and worker_info().chief
    monkeypatch.setenv("TF_CONFIG", _tf_config(1, [1, 2, 3]))
    assert worker_info() == WorkerInfo(1, 3) and not worker_info().chief
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": {"chief": ["a:1"], "worker": ["b:1", "c:1"]},
                                                "task": {"type": "worker", "index": 0}}))
    assert worker_info() == WorkerInfo(1, 3)
    monkeypatch.setenv("TF_CONFIG", "{not json")
    with pytest.raises(ParameterError, match="TF_CONFIG is not valid"):
        worker_info()
    monkeypatch.setenv("TF_CONFIG", _tf_config(5, [1, 2]))
    with pytest.raises(ParameterError, match="task index 5 is outside the 2 workers"):
        worker_info()


def test_shard_partitions_the_clips():
    items = list(range(11))
    parts = [shard(items, WorkerInfo(i, 3)) for i in range(3)]
    assert parts[0] == [0, 3, 6, 9] and sorted(sum(parts, [])) == items


# ------------------------------------------------------------------------------------------- training


@pytest.fixture(scope="module")
def synthetic_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("synthetic")
    make_synthetic_dataset(root, config=SyntheticConfig(clips_per_class=4, classes=("tone", "clicks", "chirp"),
                                                        sr=16000, max_duration=1.2))
    return root


@pytest.fixture(scope="module")
def feature_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("features")


def _env(backend: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("TF_CONFIG", "XLA_FLAGS")}
    env.update(KERAS_BACKEND=backend, OMP_NUM_THREADS="1", TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=str(ROOT), **extra)
    if backend == "jax":
        env["XLA_FLAGS"] = f"{env.get('XLA_FLAGS', '')} {XLA_QUICK_COMPILE}".strip()
    return env


def _run(python: str, args: list[str], env: dict[str, str], timeout: float = 900) -> dict:
    proc = subprocess.run([python, RUNNER, *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=timeout)
    if proc.returncode == 77 or "No module named" in proc.stderr and python != sys.executable:
        pytest.skip(f"{python} lacks this project's dependencies: {proc.stderr.strip().splitlines()[-1]}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _load(out, backend: str) -> dict:
    """What ``backend_run.py load OUT`` prints, for ``backend``: in this process when Keras runs that backend here
    (the bundle is only read), else in a process of its own."""
    import keras

    if keras.backend.backend() != backend:
        return _run(sys.executable, ["load", str(out)], _env(backend))
    from audioclf.engine.bundle import load_bundle
    from tests.backend_run import probe

    return {"backend": keras.backend.backend(), "replicas": 1, "probs": probe(load_bundle(out))}


def _python(backend: str) -> str | None:
    explicit = os.environ.get(f"AUDIOCLF_{backend.upper()}_PYTHON")
    if explicit:
        return explicit
    return sys.executable if importlib.util.find_spec(backend) is not None else None


@pytest.mark.slow
@pytest.mark.parametrize(("trained_on", "loaded_on"), [("tensorflow", "jax"), ("jax", "tensorflow"),
                                                       ("torch", "tensorflow")])
def test_train_on_one_backend_predict_the_same_on_another(trained_on, loaded_on, synthetic_root, feature_cache,
                                                          tmp_path):
    python = _python(trained_on)
    if python is None:
        pytest.skip(f"{trained_on} is not installed (set AUDIOCLF_{trained_on.upper()}_PYTHON; docs/gpu.md)")
    out = tmp_path / "bundle"
    trained = _run(python, ["train", "sfc_dcnn", str(synthetic_root), str(feature_cache), str(out), "1"],
                   _env(trained_on))
    assert trained["backend"] == trained_on
    record = json.loads((out / "bundle.json").read_text())
    assert record["training"]["device"]["backend"] == trained_on
    assert record["training"]["device"]["kind"] == "cpu" and record["training"]["device"]["policy"] == "float32"
    loaded = _load(out, loaded_on)
    assert loaded["backend"] == loaded_on
    probs = np.array(trained["probs"])
    assert probs.shape == (6, 3)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(loaded["probs"], probs, rtol=1e-4, atol=1e-5)


@pytest.fixture(scope="module")
def one_device_tf(synthetic_root, feature_cache, tmp_path_factory) -> dict:
    """The tiny lstm trained on one TensorFlow device: what data parallelism must reproduce."""
    out = tmp_path_factory.mktemp("one_device") / "bundle"
    return _run(sys.executable, ["train", "lstm", str(synthetic_root), str(feature_cache), str(out), "1"],
                _env("tensorflow"))


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["tensorflow", "jax"])
def test_two_devices_train_like_one(backend, synthetic_root, feature_cache, tmp_path, request):
    """Data parallel over two virtual CPU devices gives the one-device model within float rounding.

    The 13 training windows make an uneven last batch (5 of 8), which the replicas must split without
    losing or double-counting a window.
    """
    extra = {"XLA_FLAGS": "--xla_force_host_platform_device_count=2"} if backend == "jax" else {}
    results = {}
    for n in (1, 2):
        if n == 1 and backend == "tensorflow":
            results[n] = request.getfixturevalue("one_device_tf")
            continue
        results[n] = _run(sys.executable, ["train", "lstm", str(synthetic_root), str(feature_cache),
                                           str(tmp_path / f"b{n}"), str(n)], _env(backend, **extra))
        assert results[n]["replicas"] == n
    record = json.loads((tmp_path / "b2" / "bundle.json").read_text())["training"]
    assert record["device"]["replicas"] == 2 and record["config"]["devices"] == 2
    assert record["train"]["windows"] % 2 == 1  # the uneven case is the one tested
    np.testing.assert_allclose(results[2]["probs"], results[1]["probs"], rtol=1e-3, atol=1e-4)


def test_more_devices_than_present_is_a_clear_error(tmp_path):
    code = ("import audioclf.engine.backend as b\n"
            "try:\n"
            "    with b.distribution_scope(3):\n"
            "        pass\n"
            "except b.ParameterError as e:\n"
            "    print(e)\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=_env("jax"), capture_output=True, text=True,
                          timeout=120)
    assert "devices=3: the jax backend sees only 1 device(s)" in proc.stdout
    assert "xla_force_host_platform_device_count" in proc.stdout


def test_check_devices_refuses_before_any_work(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    assert check_devices(1) == 1
    for bad in (0, -2, True, 1.5, "2"):
        with pytest.raises(ParameterError, match="must be a positive integer"):
            check_devices(bad)


@pytest.mark.slow
def test_several_jax_devices_compile_the_step_or_refuse_the_model():
    """On JAX a replicated model's step is one XLA program; a layer XLA cannot compile is refused, never run."""
    code = ("import keras\n"
            "from audioclf.engine.backend import distribution_scope, replicated_steps\n"
            "from audioclf.errors import ParameterError\n"
            "class Opaque(keras.layers.Layer):\n"
            "    def __init__(self, **kw):\n"
            "        super().__init__(**kw)\n"
            "        self.supports_jit = False\n"
            "    def call(self, x):\n"
            "        return x\n"
            "def build(*extra):\n"
            "    inp = keras.Input((3,))\n"
            "    x = inp\n"
            "    for layer in extra:\n"
            "        x = layer(x)\n"
            "    model = keras.Model(inp, {'probs': keras.layers.Dense(2, activation='softmax')(x)})\n"
            "    model.compile(optimizer='adam', loss={'probs': 'categorical_crossentropy'}, jit_compile=False)\n"
            "    model.run_eagerly = True\n"
            "    return model\n"
            "with distribution_scope(2):\n"
            "    model = build()\n"
            "    replicated_steps(model)\n"
            "    print(model.jit_compile, model.run_eagerly)\n"
            "    try:\n"
            "        replicated_steps(build(Opaque(name='opaque')))\n"
            "    except ParameterError as e:\n"
            "        print(e)\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=600,
                          env=_env("jax", XLA_FLAGS="--xla_force_host_platform_device_count=2"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.strip().splitlines()
    assert lines[0] == "True False"
    assert "cannot train over several devices on the jax backend: its layers Opaque cannot be compiled" in lines[1]


def test_a_replicated_model_gives_one_row_per_window():
    """Keras' predict_on_batch gives a replicated TF model's batch to every replica and stacks their copies."""
    code = ("import json, keras, numpy as np\n"
            "from audioclf.engine.backend import distribution_scope, replicated\n"
            "from audioclf.engine.inference import model_outputs\n"
            "def build():\n"
            "    inp = keras.Input((3,))\n"
            "    return keras.Model(inp, {'probs': keras.layers.Dense(4, activation='softmax')(inp)})\n"
            "with distribution_scope(2):\n"
            "    model = build()\n"
            "plain = build()\n"
            "plain.set_weights(model.get_weights())\n"
            "x = np.random.default_rng(0).normal(size=(5, 3)).astype('float32')\n"
            "print(json.dumps({'replicated': [replicated(model), replicated(plain)],\n"
            "                  'probs': model_outputs(model, x, batch_size=2)['probs'].tolist(),\n"
            "                  'plain': model_outputs(plain, x)['probs'].tolist()}))\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=_env("tensorflow"), capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["replicated"] == [True, False]
    np.testing.assert_allclose(out["probs"], out["plain"], rtol=1e-6)


def _free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


@pytest.mark.slow
def test_two_workers_on_localhost(synthetic_root, tmp_path, one_device_tf):
    """MultiWorkerMirroredStrategy over two processes: shared cache filled by shards, one bundle from the chief.

    The chief's bundle loads and predicts like the model trained on one device.
    """
    cache = tmp_path / "shared_cache"
    ports = _free_ports(2)
    procs = []
    try:
        for i in range(2):
            env = _env("tensorflow", TF_CONFIG=_tf_config(i, ports))
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "audioclf", "train", "--data", str(synthetic_root), "--out",
                 str(tmp_path / f"out{i}"), "--model", "lstm", "--model-option", "units=8",
                 "--model-option", "dense_units=8", "--input-shape", "32,32", "--sr", "16000", "--epochs", "2",
                 "--batch-size", "8", "--augment", "none", "--split", "ratio:0.25", "--cache-dir", str(cache),
                 "--workers", "1", "--json", "--quiet"],
                cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
        outs = [p.communicate(timeout=900) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    for p, (_stdout, stderr) in zip(procs, outs, strict=True):
        assert p.returncode == 0, stderr[-3000:]
    results = [json.loads(stdout.strip().splitlines()[-1]) for stdout, _ in outs]
    assert (tmp_path / "out0" / "bundle.json").is_file() and not (tmp_path / "out1").exists()
    assert results[0]["bundle"].endswith("out0") and results[1]["bundle"] == "None"
    record = json.loads((tmp_path / "out0" / "bundle.json").read_text())["training"]["device"]
    assert record["workers"] == 2 and record["replicas"] == 2
    # Synchronous training: both workers end with the same weights, so the same validation scores.
    assert results[0]["accuracy"] == results[1]["accuracy"]
    assert results[0]["macro_f1"] == results[1]["macro_f1"]
    loaded = _load(tmp_path / "out0", "tensorflow")
    np.testing.assert_allclose(loaded["probs"], one_device_tf["probs"], rtol=1e-3, atol=1e-4)


def test_keras_private_trainer_names_of_the_multi_worker_patch_still_exist():
    # engine/backend._patch_keras_multi_worker replaces two private pieces of Keras' TensorFlow trainer
    # (keras-team/keras#20585); if Keras renames them the patch would silently stop applying.
    pytest.importorskip("tensorflow")
    import keras
    from keras.src.backend.tensorflow import trainer

    names = [(trainer, "reduce_per_replica"), (trainer, "_collective_all_reduce_multi_worker"),
             (trainer.TensorFlowTrainer, "_maybe_symbolic_build"), (trainer.TensorFlowTrainer, "_symbolic_build")]
    for owner, name in names:
        assert hasattr(owner, name), (
            f"keras {keras.__version__} changed: {getattr(owner, '__name__', owner)}.{name} is gone; "
            "engine/backend.py _patch_keras_multi_worker (keras-team/keras#20585) needs a new look")
