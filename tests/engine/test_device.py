"""audioclf.engine.device: the device the backend really trains on, and the fix when a GPU sits unused."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from audioclf.engine import device, sysinfo
from tests.conftest import ROOT

H200 = ("NVIDIA H200",)  # what the conftest's fake_nvidia_smi lists


def test_nvidia_smi_names_are_parsed(fake_nvidia_smi):
    assert sysinfo.gpu_names() == H200


def test_cpu_machine_reports_the_cpu(monkeypatch):
    import keras

    monkeypatch.setattr(sysinfo, "gpu_names", lambda: ())
    info = device.device_info()
    assert (info.backend, info.kind, info.name, info.usable, info.fix) == (keras.backend.backend(), "cpu", "CPU",
                                                                           True, "")
    assert info.describe() == f"CPU via {info.backend}, float32"
    assert info.to_dict()["device"] == info.describe()


def test_gpu_the_cpu_build_cannot_use_is_reported_with_the_fix(fake_nvidia_smi):
    import keras

    if keras.backend.backend() != "tensorflow":
        pytest.skip("checks the pinned tensorflow-cpu")
    info = device.device_info()
    assert info.kind == "cpu" and not info.usable and info.system_gpus == H200
    assert "tensorflow-cpu 2.21.0" in info.reason and "built without CUDA" in info.reason
    assert info.fix == ".venv/bin/pip uninstall -y tensorflow-cpu && .venv/bin/pip install -r requirements-gpu.txt"
    assert "NVIDIA H200 present but unused" in info.describe()
    quick = device.quick_device_info()
    assert (quick.kind, quick.usable, quick.fix, quick.checked) == ("cpu", False, info.fix, False)


def test_quick_report_imports_no_framework(fake_nvidia_smi):
    code = ("import sys, json\nfrom audioclf.engine.device import quick_device_info\n"
            "d = quick_device_info().to_dict()\n"
            "d['imported'] = [m for m in ('tensorflow', 'keras', 'jax', 'torch') if m in sys.modules]\n"
            "print(json.dumps(d))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60,
                         env={**os.environ, "KERAS_BACKEND": "tensorflow"})
    d = json.loads(out.stdout.strip().splitlines()[-1])
    assert d["imported"] == [] and d["system_gpus"] == list(H200) and d["usable"] is False


def test_fix_commands_name_requirements_gpu_and_pinned_versions():
    assert "uninstall -y tensorflow-cpu" in device.gpu_fix_command("tensorflow")
    pinned = (ROOT / "requirements-gpu.txt").read_text()
    assert "tensorflow[and-cuda]==2.21.0" in pinned
    assert "tensorflow_cpu==2.21.0" in (ROOT / "requirements.txt").read_text()  # the same version, CPU build
    assert "==" in device.gpu_fix_command("jax") and "==" in device.gpu_fix_command("torch")


@pytest.mark.slow
def test_cli_device_json_with_an_unused_gpu(fake_nvidia_smi):
    out = subprocess.run([sys.executable, "-m", "audioclf", "device", "--json"], cwd=ROOT, capture_output=True,
                         text=True, timeout=120, env={**os.environ, "KERAS_BACKEND": "tensorflow"})
    assert out.returncode == 0, out.stderr
    d = json.loads(out.stdout.strip().splitlines()[-1])
    assert {"backend", "device", "gpus", "usable", "reason", "fix", "precision", "devices", "workers"} <= set(d)
    assert d["backend"] == "tensorflow" and d["gpus"] == [] and d["system_gpus"] == list(H200)
    assert d["usable"] is False and "tensorflow-cpu" in d["fix"] and d["precision"] == "float32"
    text = subprocess.run([sys.executable, "-m", "audioclf", "device"], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, env={**os.environ, "KERAS_BACKEND": "tensorflow"}).stdout
    assert "GPU present but unused: NVIDIA H200" in text and "make run-gpu" in text


def test_cli_train_refuses_a_bad_precision():
    out = subprocess.run([sys.executable, "-m", "audioclf", "train", "--data", "synthetic", "--out", "x",
                          "--precision", "half"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and out.stderr.startswith("error: ") and "invalid choice: 'half'" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
