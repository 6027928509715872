"""Load model files safely: ``.keras`` only, safe mode on, no foreign code.

A ``.keras`` file is a zip holding ``config.json`` (the architecture),
``metadata.json`` and the weights. Loading rebuilds the architecture from the
config, so we read the config first and refuse anything that would run code
we did not write: ``Lambda`` layers (pickled Python) and custom objects from
packages other than Keras and audioclf. Legacy HDF5 files (``.h5``) can hold
the same and are refused outright.
"""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path
from typing import Any

import keras

from ..errors import BundleError
from . import _compile  # noqa: F401  (registers SubbandCrossentropy)
from . import layers as _layers  # noqa: F401  (registers audioclf's layers)

__all__ = ["load_model_file", "check_model_config"]

# Layer classes that wrap arbitrary Python functions (the last two are Keras 2 leftovers).
_CODE_LAYERS = {"Lambda", "TFOpLambda", "SlicingOpLambda"}
_TRUSTED_MODULES = ("keras", "audioclf", "builtins", "numpy")


def _walk(obj: Any):
    if isinstance(obj, dict):
        yield obj
        for value in obj.values():
            yield from _walk(value)
    elif isinstance(obj, list):
        for value in obj:
            yield from _walk(value)


def check_model_config(config: dict, *, source: str = "the model") -> None:
    """Refuse a model config that would run foreign code when deserialised.

    Parameters
    ----------
    config : dict
        The parsed ``config.json`` of a ``.keras`` file.
    source : str
        How to name the model in messages (usually its path).

    Raises
    ------
    BundleError
        If it contains a ``Lambda`` layer or an object registered by a package
        other than Keras / audioclf.
    """
    for node in _walk(config):
        class_name = node.get("class_name")
        if not isinstance(class_name, str):
            continue
        name = (node.get("config") or {}).get("name") if isinstance(node.get("config"), dict) else None
        if class_name in _CODE_LAYERS:
            raise BundleError(
                f"refused to load {source}: it contains a {class_name} layer"
                f"{f' ({name!r})' if name else ''}, which stores arbitrary Python code; "
                "audioclf only loads models built from registered layers "
                "(rebuild it with audioclf.models.build_model and save it again)"
            )
        registered = node.get("registered_name")
        module = node.get("module")
        package = registered.split(">", 1)[0] if isinstance(registered, str) and ">" in registered else None
        untrusted_module = isinstance(module, str) and module.split(".", 1)[0] not in _TRUSTED_MODULES
        if (package is not None and package not in ("audioclf", "keras")) or untrusted_module:
            raise BundleError(
                f"refused to load {source}: it uses the unknown custom object "
                f"{registered or class_name!r} (module {module!r}); only Keras and audioclf "
                "objects are loaded"
            )


def load_model_file(path: str | os.PathLike) -> keras.Model:
    """Load a ``.keras`` model with ``safe_mode=True`` and without its training config.

    Parameters
    ----------
    path : str or PathLike
        A ``.keras`` file written by ``model.save``.

    Returns
    -------
    keras.Model
        Uncompiled; call :func:`audioclf.models.compile_model` to train it further.

    Raises
    ------
    BundleError
        The file is missing, is HDF5 (``.h5`` / ``.hdf5``) or another format,
        is not a valid ``.keras`` archive, contains a ``Lambda`` layer or an
        unknown custom object, or Keras cannot rebuild it.

    Examples
    --------
    >>> model = load_model_file("runs/cldnn/model.keras")
    >>> explain(model, x).probs.shape
    (8, 10)
    """
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix in (".h5", ".hdf5"):
        raise BundleError(
            f"refused to load {p}: legacy HDF5 model files can carry code and are not loaded; "
            "save the model in the .keras format (model.save('model.keras'))"
        )
    if suffix != ".keras":
        raise BundleError(f"{p} is not a .keras model file (got suffix {suffix or 'none'!r})")
    if not p.is_file():
        raise BundleError(f"model file {p} does not exist")
    try:
        with zipfile.ZipFile(p) as archive:
            config = json.loads(archive.read("config.json"))
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise BundleError(f"{p} is not a valid .keras archive ({type(exc).__name__}: {exc})") from None
    check_model_config(config, source=str(p))
    try:
        model = keras.saving.load_model(p, safe_mode=True, compile=False)
    except (ValueError, TypeError, KeyError, OSError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise BundleError(f"refused to load {p}: {first}") from exc
    if not isinstance(model, keras.Model):
        raise BundleError(f"{p} holds a {type(model).__name__}, not a keras.Model")
    return model
