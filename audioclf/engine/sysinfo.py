"""Facts about this installation that are cheap to get: no TensorFlow import.

The Home page shows them, and it must open fast, so the Keras backend is read
from ``KERAS_BACKEND`` / ``~/.keras/keras.json`` and GPUs from ``nvidia-smi``
instead of importing a framework.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
from importlib import metadata
from pathlib import Path

__all__ = ["keras_backend_name", "gpu_names", "library_versions"]

_LIBS = ("audioclf", "keras", "tensorflow-cpu", "tensorflow", "torch", "jax", "librosa", "numpy", "streamlit",
         "noisereduce", "soundfile", "plotly")


def keras_backend_name() -> str:
    """The backend Keras will use: ``$KERAS_BACKEND``, else keras.json, else ``tensorflow``."""
    env = os.environ.get("KERAS_BACKEND")
    if env:
        return env
    cfg = Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")) / "keras.json"
    try:
        return str(json.loads(cfg.read_text()).get("backend", "tensorflow"))
    except (OSError, ValueError):
        return "tensorflow"


@functools.cache
def gpu_names() -> tuple[str, ...]:
    """Names of visible NVIDIA GPUs (empty when there is none or no driver)."""
    exe = shutil.which("nvidia-smi")
    if not exe or os.environ.get("CUDA_VISIBLE_DEVICES", None) == "":
        return ()
    try:
        out = subprocess.run([exe, "-L"], capture_output=True, text=True, timeout=5, check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return ()
    return tuple(line.split(":", 1)[1].split("(UUID")[0].strip() for line in out.splitlines() if line.startswith("GPU"))


def library_versions() -> dict[str, str]:
    """Installed versions of the libraries that matter, read from package metadata (once per process)."""
    return dict(_library_versions())


@functools.cache
def _library_versions() -> dict[str, str]:
    out = {}
    for name in _LIBS:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    if "audioclf" not in out:
        from .._version import __version__

        out["audioclf"] = __version__
    return out
