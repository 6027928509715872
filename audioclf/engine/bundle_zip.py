"""A model bundle as one ``.zip`` file, for download and upload.

Exporting packs the bundle folder's files at the archive's root. Importing
accepts only ``model.keras``, ``bundle.json``, ``card.md`` and ``*.png``
members (at the root, or all under one top folder) of bounded size --
counted while decompressing, never trusted from the header -- unpacks them
into a temporary folder, loads and checks the bundle there, and only then
moves it into place: a zip that is unsafe or inconsistent never becomes a
bundle on disk.
"""

from __future__ import annotations

import dataclasses
import io
import os
import shutil
import tempfile
import zipfile
from pathlib import Path
from typing import BinaryIO

from .._atomic import write_bytes_atomic
from ..errors import BundleError
from .bundle import (
    CARD_FILE,
    DESCRIPTION_FILE,
    MODEL_FILE,
    Bundle,
    allowed_member,
    bundle_folder,
    load_bundle,
    move_into_place,
    read_description,
)

__all__ = ["export_zip", "import_zip", "ZIP_LIMITS"]

#: Largest accepted size in bytes of each member of an imported zip, and the most members.
ZIP_LIMITS = {"model.keras": 512 * 2**20, "bundle.json": 4 * 2**20, "card.md": 2**20, "*.png": 8 * 2**20,
              "members": 32}


def export_zip(path: str | os.PathLike, dest: str | os.PathLike | None = None) -> bytes | Path:
    """Pack a bundle folder into one ``.zip`` (files at the archive's root).

    Parameters
    ----------
    path : path
        The bundle folder (validated first).
    dest : path, optional
        Where to write the zip; when omitted the zip's bytes are returned (for a download button).

    Returns
    -------
    bytes or Path
    """
    folder = bundle_folder(path)
    read_description(folder)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for item in sorted(folder.iterdir()):
            if item.is_file() and not item.is_symlink() and allowed_member(item.name):
                zf.write(item, arcname=item.name)
    data = buf.getvalue()
    if dest is None:
        return data
    return write_bytes_atomic(dest, data)


def _limit(name: str) -> int:
    return ZIP_LIMITS["*.png"] if name.endswith(".png") else ZIP_LIMITS[name]


def import_zip(source: str | os.PathLike | bytes | BinaryIO, dest: str | os.PathLike) -> Bundle:
    """Unpack a zipped bundle into the folder ``dest`` and load it; nothing unsafe is written.

    Only ``model.keras``, ``bundle.json``, ``card.md`` and ``*.png`` members are
    accepted (at the root, or all under one top folder), each within
    :data:`ZIP_LIMITS` (counted while decompressing, not trusted from the
    header). The files go to a temporary folder, are loaded and checked, and
    only then moved to ``dest``.

    Raises
    ------
    BundleError
        Not a zip; a member with a path, link, unexpected name or excessive
        size; a missing ``model.keras`` / ``bundle.json``; or an invalid bundle.
    """
    target = Path(dest)
    if target.exists() and not (target / DESCRIPTION_FILE).is_file():
        raise BundleError(f"{target} exists and is not a model bundle; choose another folder")
    try:
        if isinstance(source, (bytes, bytearray, memoryview)):
            zf = zipfile.ZipFile(io.BytesIO(bytes(source)))
        else:
            zf = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise BundleError(f"not a zipped model bundle ({type(exc).__name__}: {exc})") from None
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f"{target.name}.tmp-"))
    try:
        with zf:
            members = _plan_members(zf)
            for info, name in members:
                _extract_bounded(zf, info, tmp / name, _limit(name))
        bundle = load_bundle(tmp)  # validates everything before it becomes visible
        move_into_place(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return dataclasses.replace(bundle, path=target)


def _plan_members(zf: zipfile.ZipFile) -> list[tuple[zipfile.ZipInfo, str]]:
    infos = [i for i in zf.infolist() if not i.is_dir()]
    if len(infos) > ZIP_LIMITS["members"]:
        raise BundleError(f"the zip holds {len(infos)} files; a bundle has at most {ZIP_LIMITS['members']}")
    names = [i.filename for i in infos]
    for n in names:
        if n.startswith(("/", "\\")) or "\\" in n or ".." in n.split("/") or ":" in n:
            raise BundleError(f"refused zip member {n!r}: absolute or escaping path")
    tops = {n.split("/", 1)[0] for n in names if "/" in n}
    prefix = ""
    if tops and all("/" in n for n in names) and len(tops) == 1:
        prefix = tops.pop() + "/"  # a zip of the folder itself: NAME/model.keras ...
    out = []
    for info in infos:
        name = info.filename[len(prefix):]
        if not allowed_member(name):
            raise BundleError(f"refused zip member {info.filename!r}: a bundle zip holds only {MODEL_FILE}, "
                              f"{DESCRIPTION_FILE}, {CARD_FILE} and .png images")
        mode = (info.external_attr >> 16) & 0o170000
        if mode and mode != 0o100000:  # not a regular file (a symlink, a device ...)
            raise BundleError(f"refused zip member {info.filename!r}: not a regular file")
        if info.file_size > _limit(name):
            raise BundleError(f"zip member {name!r} is {info.file_size} bytes; the limit is {_limit(name)}")
        out.append((info, name))
    found = [n for _, n in out]
    if len(set(found)) != len(found):
        raise BundleError("the zip holds the same file twice")
    for required in (MODEL_FILE, DESCRIPTION_FILE):
        if required not in found:
            raise BundleError(f"the zip is not a model bundle: {required} is missing")
    return out


def _extract_bounded(zf: zipfile.ZipFile, info: zipfile.ZipInfo, dest: Path, limit: int) -> None:
    written = 0
    with zf.open(info) as src, open(dest, "wb") as out:
        while chunk := src.read(1 << 20):
            written += len(chunk)
            if written > limit:
                raise BundleError(f"zip member {info.filename!r} unpacks to more than {limit} bytes; refused")
            out.write(chunk)
