from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
#: Seconds a subprocess, a page run or a server start may take before a test calls it hung. A bound against
#: hangs, not a speed expectation: the suite must pass on a machine whose cores are busy with other work,
#: where importing TensorFlow alone can take a minute.
HANG = 900
#: XLA_FLAGS for the tests' JAX subprocesses: XLA's CPU code generation without its expensive LLVM passes.
#: Those tests check what a compiled program computes (loading, predicting, replicas), never how fast its code
#: runs; on their small inputs compiling is most of their time, and this halves it. The program, and so every
#: result to within float rounding, is the same.
XLA_QUICK_COMPILE = "--xla_backend_optimization_level=0 --xla_llvm_disable_expensive_passes=true"
# No background warm start of the default model in the test process (app.py starts one per server process):
# it would load a model beside every test's own work; tests/service/test_serving.py starts its own.
os.environ.setdefault("AUDIOCLF_WARM", "0")


#: The test files that take minutes, with their seconds in one process on a busy 2-core machine (2026-12-07).
#: `make test` hands its two workers whole files (--dist loadfile), by default those with the most tests first,
#: which left these (few, long tests) to the end, where one worker ran them while the other had nothing left.
#: Collected first, longest first (with --no-loadscope-reorder xdist keeps this order), they start while the
#: short files can still fill the other worker. A stale figure only changes the order.
LONG_FILES = {
    "tests/models/test_models.py": 390,
    "tests/engine/test_export.py": 290,
    "tests/engine/test_backend.py": 190,
    "tests/app/test_listen_browser.py": 175,
    "tests/test_robustness.py": 140,
    "tests/app/test_browser.py": 130,
    "tests/cli/test_train_devices.py": 95,
    "tests/engine/test_finetune.py": 70,
}


def pytest_collection_modifyitems(config, items):
    """The long files first (:data:`LONG_FILES`), then the others, those with more tests first, as xdist orders
    them; each file's tests keep their order."""
    files: dict[str, list] = {}
    for item in items:
        path = Path(str(item.path))
        key = path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else str(path)
        files.setdefault(key, []).append(item)
    order = sorted(files, key=lambda f: (-LONG_FILES.get(f, 0), -len(files[f])))
    items[:] = [item for f in order for item in files[f]]


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


def data_root() -> Path | None:
    """The real datasets: $AUDIOCLF_DATA, else ../shared/data beside the repo, else None."""
    env = os.environ.get("AUDIOCLF_DATA")
    path = Path(env) if env else ROOT.parent / "shared" / "data"
    return path if path.is_dir() else None


@pytest.fixture
def real_data() -> Path:
    path = data_root()
    if path is None:
        pytest.skip("real datasets not found: set AUDIOCLF_DATA or place them in ../shared/data")
    return path


def run_cli(*args: str, timeout: float = HANG) -> subprocess.CompletedProcess:
    """Run ``python -m audioclf ARGS`` from the repo root and capture its output."""
    return subprocess.run([sys.executable, "-m", "audioclf", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout)


@pytest.fixture
def fake_nvidia_smi(tmp_path, monkeypatch):
    """An nvidia-smi on PATH that lists one H200, as the real one does with -L."""
    exe = tmp_path / "nvidia-smi"
    exe.write_text('#!/bin/sh\necho "GPU 0: NVIDIA H200 (UUID: GPU-0a1b2c3d)"\n')
    exe.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    from audioclf.engine import sysinfo

    sysinfo.gpu_names.cache_clear()
    yield
    sysinfo.gpu_names.cache_clear()


