"""Run the browser side's JavaScript (web/) under node, for the tests that compare it with the Python side."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from tests.conftest import HANG, ROOT

WEB = ROOT / "web"


def need_node() -> str:
    """node's path; skip the test without node or without ``web/node_modules`` (``make test`` installs both)."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed (make test installs the web side's packages with npm)")
    if not (WEB / "node_modules" / "onnxruntime-web").is_dir():
        pytest.skip("web/node_modules is missing: run `make web-deps` (make test does)")
    return node


def run_node(script: str, *args: str) -> str:
    """Run ``node web/test/SCRIPT ARGS``; its stdout (the test fails with its stderr on a non-zero exit)."""
    proc = subprocess.run([need_node(), str(WEB / "test" / script), *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=HANG)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout
