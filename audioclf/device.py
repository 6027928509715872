"""Which device trains and runs the models, and mixed precision on GPUs.

Keras places work on a visible GPU by itself; this module says which one it
is (for the CLI and the app) and switches mixed precision on only where it
helps: ``mixed_float16`` on a GPU. On a CPU it is slower and less exact, so
asking for it there warns and changes nothing.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from dataclasses import asdict, dataclass

__all__ = ["DeviceInfo", "device_info", "precision_policy"]


@dataclass(frozen=True)
class DeviceInfo:
    """What the active Keras backend computes on.

    Attributes
    ----------
    backend : str
        ``"tensorflow"``, ``"torch"`` or ``"jax"``.
    kind : {'cpu', 'gpu'}
        ``'gpu'`` when the backend sees at least one GPU (it is then used automatically).
    name : str
        Human-readable name: ``"CPU"``, or the first GPU's name.
    gpus : tuple of str
        Every visible GPU.
    policy : str
        The global Keras dtype policy (``"float32"`` or ``"mixed_float16"``).
    """

    backend: str
    kind: str
    name: str
    gpus: tuple[str, ...] = ()
    policy: str = "float32"

    def to_dict(self) -> dict:
        d = asdict(self)
        d["gpus"] = list(self.gpus)
        return d

    def describe(self) -> str:
        """One line for people, e.g. ``"GPU (NVIDIA H100) via tensorflow, float32"``."""
        where = f"GPU ({self.name})" if self.kind == "gpu" else "CPU"
        return f"{where} via {self.backend}, {self.policy}"


def _gpus(backend: str) -> tuple[str, ...]:
    """Names of the GPUs the backend can use; empty when none (or the backend cannot tell)."""
    try:
        if backend == "tensorflow":
            import tensorflow as tf

            found = tf.config.list_physical_devices("GPU")
            names = []
            for dev in found:
                try:
                    details = tf.config.experimental.get_device_details(dev)
                except Exception:  # noqa: BLE001 -- details are optional decoration
                    details = {}
                names.append(details.get("device_name") or dev.name)
            return tuple(names)
        if backend == "torch":
            import torch

            if torch.cuda.is_available():
                return tuple(torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count()))
            return ()
        if backend == "jax":
            import jax

            return tuple(str(d) for d in jax.devices() if d.platform == "gpu")
    except ImportError:
        return ()
    return ()


def device_info() -> DeviceInfo:
    """Report the device Keras uses for the active backend.

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
    gpus = _gpus(backend)
    policy = keras.mixed_precision.global_policy().name
    if gpus:
        return DeviceInfo(backend, "gpu", gpus[0], gpus, policy)
    return DeviceInfo(backend, "cpu", "CPU", (), policy)


@contextlib.contextmanager
def precision_policy(mixed: bool) -> Iterator[DeviceInfo]:
    """Build models under ``mixed_float16`` when asked and a GPU is present.

    Layers keep the policy they were built with, so the global policy is
    restored on exit: models built later are unaffected.

    Parameters
    ----------
    mixed : bool
        Ask for mixed precision. On a CPU this warns and keeps float32.

    Yields
    ------
    DeviceInfo
        With the policy in effect inside the block.

    Examples
    --------
    >>> with precision_policy(True) as dev:          # doctest: +SKIP
    ...     model = build_model("sfc_dcnn", num_classes=10)
    """
    import keras

    info = device_info()
    if not mixed:
        yield info
        return
    if info.kind != "gpu":
        warnings.warn("mixed precision needs a GPU and none is visible; training in float32", UserWarning,
                      stacklevel=3)
        yield info
        return
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        yield DeviceInfo(info.backend, info.kind, info.name, info.gpus, "mixed_float16")
    finally:
        keras.mixed_precision.set_global_policy(previous)
