"""Which device the active Keras backend will really train on, and how to fix it when that is the CPU.

``nvidia-smi`` seeing a GPU is not the same as training on it: the pinned
``tensorflow-cpu`` has no CUDA in it, a CPU build of PyTorch or JAX neither.
:func:`device_info` asks the backend itself (TensorFlow:
``tf.config.list_physical_devices('GPU')`` of a CUDA build; JAX:
``jax.devices()``; PyTorch: ``torch.cuda.is_available()``) and, when a GPU is
present but the backend cannot use it, says why and gives the exact command
that fixes it. :func:`quick_device_info` gives the same answer from package
metadata and ``nvidia-smi`` alone, without importing a framework, for pages
that must open fast (Home).
"""

from __future__ import annotations

import importlib.util
from dataclasses import asdict, dataclass
from importlib import metadata

from . import sysinfo

__all__ = ["DeviceInfo", "device_info", "quick_device_info", "gpu_fix_command"]

#: The exact commands that install a CUDA-enabled build of each backend into the project's .venv
#: (``make run-gpu`` runs the TensorFlow one; PyPI's Linux torch wheel is the CUDA build).
FIX_COMMANDS = {
    "tensorflow": ".venv/bin/pip uninstall -y tensorflow-cpu && .venv/bin/pip install -r requirements-gpu.txt",
    "jax": '.venv/bin/pip install "jax[cuda12]==0.10.2"',
    "torch": ".venv/bin/pip install torch==2.15.0 && export KERAS_BACKEND=torch",
}


@dataclass(frozen=True)
class DeviceInfo:
    """What the active Keras backend computes on.

    Attributes
    ----------
    backend : str
        ``"tensorflow"``, ``"torch"`` or ``"jax"``.
    kind : {'cpu', 'gpu'}
        ``'gpu'`` when the backend itself can use at least one GPU (it then does, automatically).
    name : str
        Human-readable name: ``"CPU"``, or the first usable GPU's name.
    gpus : tuple of str
        The GPUs the backend can use.
    policy : str
        The Keras dtype policy in effect (``"float32"`` or ``"mixed_float16"``).
    system_gpus : tuple of str
        The GPUs ``nvidia-smi`` sees, usable or not.
    usable : bool
        False when ``system_gpus`` is not empty but the backend cannot use any of them.
    reason : str
        Why not (empty when ``usable``).
    fix : str
        The command that fixes it (empty when ``usable``).
    replicas : int
        Copies of the model training in step (devices x workers; 1 without distribution).
    checked : bool
        True when the backend itself was asked (:func:`device_info`); False for the
        metadata-only guess of :func:`quick_device_info`.
    """

    backend: str
    kind: str
    name: str
    gpus: tuple[str, ...] = ()
    policy: str = "float32"
    system_gpus: tuple[str, ...] = ()
    usable: bool = True
    reason: str = ""
    fix: str = ""
    replicas: int = 1
    checked: bool = True

    def to_dict(self) -> dict:
        d = asdict(self)
        d["gpus"], d["system_gpus"] = list(self.gpus), list(self.system_gpus)
        d["device"] = self.describe()
        return d

    def describe(self) -> str:
        """One line for people, e.g. ``"GPU (NVIDIA H100) via tensorflow, float32"``."""
        where = f"GPU ({self.name})" if self.kind == "gpu" else "CPU"
        line = f"{where} via {self.backend}, {self.policy}"
        if self.replicas > 1:
            line += f", {self.replicas} replicas"
        if not self.usable:
            line += f" -- {', '.join(self.system_gpus)} present but unused: {self.reason}"
        return line


def gpu_fix_command(backend: str) -> str:
    """The command that installs a CUDA-enabled build of ``backend`` into ``.venv``."""
    return FIX_COMMANDS.get(backend, FIX_COMMANDS["tensorflow"])


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def _backend_gpus(backend: str) -> tuple[tuple[str, ...], str]:
    """(GPUs the backend can use, why none when there are none)."""
    if importlib.util.find_spec({"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}.get(backend, backend)) \
            is None:
        return (), f"{backend} is not installed"
    if backend == "tensorflow":
        import tensorflow as tf

        if not tf.sysconfig.get_build_info().get("is_cuda_build", False):
            pkg = "tensorflow-cpu" if _version("tensorflow-cpu") else "tensorflow"
            return (), f"the installed TensorFlow ({pkg} {tf.__version__}) is built without CUDA"
        names = []
        for dev in tf.config.list_physical_devices("GPU"):
            try:
                details = tf.config.experimental.get_device_details(dev)
            except Exception:  # noqa: BLE001 -- details are optional decoration
                details = {}
            names.append(details.get("device_name") or dev.name)
        return tuple(names), "TensorFlow is built with CUDA but finds no GPU (CUDA libraries or driver missing?)"
    if backend == "torch":
        import torch

        if torch.cuda.is_available():
            return tuple(torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())), ""
        if torch.version.cuda is None:
            return (), f"the installed PyTorch ({torch.__version__}) is a CPU-only build"
        return (), f"PyTorch {torch.__version__} (CUDA {torch.version.cuda}) finds no GPU (driver missing?)"
    if backend == "jax":
        import jax

        gpus = tuple(f"{d.device_kind} ({d})" for d in jax.devices() if d.platform == "gpu")
        return gpus, "" if gpus else f"the installed JAX ({jax.__version__}) has no CUDA plugin (jax-cuda12-plugin)"
    return (), f"unknown backend {backend!r}"


def device_info(*, policy: str | None = None) -> DeviceInfo:
    """Ask the active Keras backend which device it will train on.

    Imports Keras and the backend's framework. A GPU counts only when the
    backend can use it; one that ``nvidia-smi`` sees but the backend cannot is
    reported with the reason and the fix command.

    Parameters
    ----------
    policy : str, optional
        The dtype policy to report; default the global Keras policy.

    Returns
    -------
    DeviceInfo

    Examples
    --------
    >>> device_info().describe()          # doctest: +SKIP
    'CPU via tensorflow, float32'
    """
    import keras

    backend = keras.backend.backend()
    policy = policy or keras.mixed_precision.global_policy().name
    system = sysinfo.gpu_names()
    gpus, why = _backend_gpus(backend)
    if gpus:
        return DeviceInfo(backend, "gpu", gpus[0], gpus, policy, system)
    if system:
        return DeviceInfo(backend, "cpu", "CPU", (), policy, system, usable=False, reason=why,
                          fix=gpu_fix_command(backend))
    return DeviceInfo(backend, "cpu", "CPU", (), policy, system)


def quick_device_info() -> DeviceInfo:
    """The same report as :func:`device_info`, from package metadata and ``nvidia-smi`` only.

    Imports no framework (Home opens in about a second), so it is a strong
    guess, marked ``checked=False``: a CUDA build that cannot reach its
    driver still shows as a GPU here (the Train page runs the full check).

    Returns
    -------
    DeviceInfo
    """
    backend = sysinfo.keras_backend_name()
    system = sysinfo.gpu_names()
    if not system:
        return DeviceInfo(backend, "cpu", "CPU", checked=False)
    why = ""
    if backend == "tensorflow":
        if _version("tensorflow") is None:
            why = (f"the installed TensorFlow is tensorflow-cpu {_version('tensorflow-cpu')}, built without CUDA"
                   if _version("tensorflow-cpu") else "TensorFlow is not installed")
    elif backend == "torch":
        version = _version("torch")
        if version is None:
            why = "PyTorch is not installed"
        elif "+cpu" in version:
            why = f"the installed PyTorch ({version}) is a CPU-only build"
    elif backend == "jax":
        if _version("jax") is None:
            why = "JAX is not installed"
        elif not any(_version(p) for p in ("jax-cuda12-plugin", "jax-cuda13-plugin", "jax-cuda12-pjrt",
                                           "jax-cuda13-pjrt")):
            why = f"the installed JAX ({_version('jax')}) has no CUDA plugin (jax-cuda12-plugin)"
    if why:
        return DeviceInfo(backend, "cpu", "CPU", (), "float32", system, usable=False, reason=why,
                          fix=gpu_fix_command(backend), checked=False)
    return DeviceInfo(backend, "gpu", system[0], system, "mixed_float16", system, checked=False)
