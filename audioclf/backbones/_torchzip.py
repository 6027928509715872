"""Read a PyTorch zip checkpoint without torch and without trusting its pickle.

A ``torch.save`` file is a zip holding ``<prefix>/data.pkl`` (a pickle that
describes the tensors) and ``<prefix>/data/<key>`` (each storage's raw
little-endian bytes). An ordinary unpickler would import and call whatever the
pickle names -- running a checkpoint is running code. :class:`_RestrictedUnpickler`
resolves exactly the globals a plain state dict needs (:data:`ALLOWED_GLOBALS`)
to small functions of ours that build numpy arrays; any other name raises
:class:`~audioclf.errors.BackboneError` before anything is called.
"""

from __future__ import annotations

import io
import os
import pickle
import zipfile
from collections import OrderedDict
from typing import Any

import numpy as np

from ..errors import BackboneError

__all__ = ["ALLOWED_GLOBALS", "read_torch_zip", "load_restricted"]

# Storage types a checkpoint may name, and the numpy dtype of their raw bytes.
_STORAGES = {"FloatStorage": np.dtype("<f4"), "LongStorage": np.dtype("<i8")}


class _StorageType:
    """Stands for ``torch.FloatStorage`` / ``torch.LongStorage``: only its dtype matters."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.dtype = _STORAGES[name]


def _rebuild_tensor_v2(storage: np.ndarray, offset: int, size: tuple[int, ...], stride: tuple[int, ...],
                       requires_grad: bool = False, hooks: Any = None, metadata: Any = None) -> np.ndarray:
    """``torch._utils._rebuild_tensor_v2`` for numpy: a strided view of the storage, copied."""
    size, stride = tuple(int(s) for s in size), tuple(int(s) for s in stride)
    if not size:
        return storage[offset].copy()
    last = offset + sum((n - 1) * s for n, s in zip(size, stride, strict=True))
    if offset < 0 or any(s < 0 for s in stride) or (min(size) > 0 and last >= storage.size):
        raise BackboneError(f"checkpoint tensor of size {size}, stride {stride} at offset {offset} "
                            f"does not fit its storage of {storage.size} elements")
    if min(size) == 0:
        return np.zeros(size, dtype=storage.dtype)
    view = np.lib.stride_tricks.as_strided(storage[offset:], shape=size,
                                           strides=tuple(s * storage.itemsize for s in stride), writeable=False)
    return np.array(view)


def _numpy_scalar(dtype: np.dtype, data: bytes) -> np.generic:
    """``numpy.core.multiarray.scalar``: one value of ``dtype`` from its bytes."""
    return np.frombuffer(data, dtype=np.dtype(dtype), count=1)[0]


def _numpy_dtype(name: str, align: bool = False, copy: bool = False) -> np.dtype:
    return np.dtype(name, align=bool(align))


def _codecs_encode(text: str, encoding: str = "utf-8") -> bytes:
    if encoding not in ("latin1", "latin-1", "utf-8", "utf8"):
        raise BackboneError(f"checkpoint pickle asks for text encoding {encoding!r}; expected latin1 or utf-8")
    return text.encode(encoding)


#: The only globals a checkpoint pickle may name, and what each resolves to here.
ALLOWED_GLOBALS: dict[tuple[str, str], Any] = {
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    ("torch", "FloatStorage"): _StorageType("FloatStorage"),
    ("torch", "LongStorage"): _StorageType("LongStorage"),
    ("collections", "OrderedDict"): OrderedDict,
    ("numpy.core.multiarray", "scalar"): _numpy_scalar,
    ("numpy", "dtype"): _numpy_dtype,
    ("_codecs", "encode"): _codecs_encode,
}


class _RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that resolves only :data:`ALLOWED_GLOBALS`; storages come from ``load_storage``."""

    def __init__(self, file: io.BufferedIOBase, load_storage: Any) -> None:
        super().__init__(file)
        self._load_storage = load_storage

    def find_class(self, module: str, name: str) -> Any:
        try:
            return ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            allowed = ", ".join(f"{m}.{n}" for m, n in ALLOWED_GLOBALS)
            raise BackboneError(f"checkpoint pickle names the global {module}.{name}, which is not allowed; "
                                f"a weights file may only name {allowed}") from None

    def persistent_load(self, pid: Any) -> Any:
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"
                and isinstance(pid[1], _StorageType)):
            raise BackboneError(f"checkpoint pickle has an unexpected persistent id {pid!r:.80}")
        _, storage_type, key, _location, numel = pid
        return self._load_storage(storage_type, str(key), int(numel))


def load_restricted(data: bytes, load_storage: Any = None) -> Any:
    """Unpickle ``data`` allowing only :data:`ALLOWED_GLOBALS`.

    Parameters
    ----------
    data : bytes
        A pickle.
    load_storage : callable ``(storage_type, key, numel) -> np.ndarray``, optional
        Resolves persistent storage ids; without it any storage reference is refused.

    Raises
    ------
    BackboneError
        The pickle names another global, or is malformed.
    """

    def no_storage(*_: Any) -> np.ndarray:
        raise BackboneError("this pickle refers to tensor storages but no checkpoint archive was given")

    try:
        return _RestrictedUnpickler(io.BytesIO(data), load_storage or no_storage).load()
    except BackboneError:
        raise
    except Exception as exc:  # noqa: BLE001 -- any malformed pickle is one clear error
        raise BackboneError(f"checkpoint pickle could not be read ({type(exc).__name__}: {exc})") from None


def read_torch_zip(path: str | os.PathLike) -> Any:
    """The object a ``torch.save`` zip holds (e.g. ``(state_dict, extra)``), tensors as numpy arrays.

    Parameters
    ----------
    path : path
        A PyTorch checkpoint in the zip format (PyTorch >= 1.6).

    Returns
    -------
    object
        The unpickled object; every tensor is a float32 or int64 ``np.ndarray``.

    Raises
    ------
    BackboneError
        Not a zip checkpoint, a storage file is missing or short, or the pickle
        names a global outside :data:`ALLOWED_GLOBALS`.

    Examples
    --------
    >>> state, ds_dict = read_torch_zip("aisfx/models/checkpoint.pth")   # doctest: +SKIP
    >>> state["embedding_net.conv_block1.conv1.weight"].shape            # doctest: +SKIP
    (64, 1, 3, 3)
    """
    try:
        zf = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as exc:
        raise BackboneError(f"{os.fspath(path)} is not a PyTorch zip checkpoint ({exc})") from None
    with zf:
        names = [n for n in zf.namelist() if n.endswith("/data.pkl") and n.count("/") == 1]
        if len(names) != 1:
            raise BackboneError(f"{os.fspath(path)} holds no single <prefix>/data.pkl; not a PyTorch zip checkpoint")
        prefix = names[0][: -len("data.pkl")]
        cache: dict[str, np.ndarray] = {}

        def load_storage(storage_type: _StorageType, key: str, numel: int) -> np.ndarray:
            if key not in cache:
                try:
                    raw = zf.read(f"{prefix}data/{key}")
                except KeyError:
                    raise BackboneError(f"checkpoint storage {key!r} is missing from {os.fspath(path)}") from None
                need = numel * storage_type.dtype.itemsize
                if len(raw) < need:
                    raise BackboneError(f"checkpoint storage {key!r} holds {len(raw)} bytes, expected {need}")
                cache[key] = np.frombuffer(raw[:need], dtype=storage_type.dtype).copy()
            return cache[key]

        return load_restricted(zf.read(names[0]), load_storage)
