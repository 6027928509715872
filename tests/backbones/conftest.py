"""Fixtures for the backbone tests: the original wheels (never downloaded at run time)."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
WHEELS = {"aisfx": "aisfx-0.1.2-py2.py3-none-any.whl", "openwakeword": "openwakeword-0.5.1-py3-none-any.whl"}


def wheels_dir() -> Path:
    """``$AUDIOCLF_WHEELS``, else ``.venv/wheels`` (filled by ``make test``)."""
    env = os.environ.get("AUDIOCLF_WHEELS")
    return Path(env) if env else ROOT / ".venv" / "wheels"


@pytest.fixture(scope="session")
def wheel_member(tmp_path_factory):
    """``wheel_member(package, member) -> Path`` of a file extracted from an original wheel."""
    out = tmp_path_factory.mktemp("wheels")

    def get(package: str, member: str) -> Path:
        wheel = wheels_dir() / WHEELS[package]
        if not wheel.is_file():
            pytest.skip(f"original wheel {wheel} not found: run `make test` (its setup step fetches it with "
                        f"`pip download --no-deps`) or set AUDIOCLF_WHEELS")
        target = out / package / member
        if not target.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            with zipfile.ZipFile(wheel) as zf:
                target.write_bytes(zf.read(member))
        return target

    return get


@pytest.fixture(scope="session")
def aisfx_state(wheel_member):
    from audioclf.backbones._torchzip import read_torch_zip

    state, _ = read_torch_zip(wheel_member("aisfx", "aisfx/models/checkpoint.pth"))
    return state


def ort_session(path: Path):
    ort = pytest.importorskip("onnxruntime", reason="onnxruntime (requirements-dev.txt) runs the original ONNX")
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])
