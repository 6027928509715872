"""One entry point for every dataset source: :func:`load_dataset`.

It looks at what ``path`` is and picks the reader (see :func:`detect_kind`);
a zip is first extracted safely (:func:`~audioclf.datasets.safe_extract_zip`)
into ``extract_dir`` or a cache folder, then read like a folder.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

from .._atomic import write_text_atomic
from ..audio.io import AUDIO_EXTENSIONS
from ..errors import DatasetError, ParameterError
from .core import Dataset, require_classes
from .safezip import safe_extract_zip
from .sources import FSDD_PATTERN, load_class_folders, load_esc50, load_fsdd, load_manifest
from .synthetic import make_synthetic_dataset

__all__ = ["load_dataset", "detect_kind", "KIND_CHOICES", "default_cache_dir"]

#: Values of ``kind`` that :func:`load_dataset` accepts.
KIND_CHOICES = ("auto", "folders", "manifest", "esc50", "fsdd", "zip", "synthetic")
_EXTRACT_MARKER = ".audioclf-extract.json"
#: How many single-folder wrappers (``upload.zip`` -> ``upload/`` -> classes) are looked through.
_MAX_WRAPPERS = 3


def default_cache_dir() -> Path:
    """Where zips are extracted when no ``extract_dir`` is given.

    ``$AUDIOCLF_CACHE``, else ``$XDG_CACHE_HOME/audioclf``, else ``~/.cache/audioclf``.
    """
    env = os.environ.get("AUDIOCLF_CACHE")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "audioclf"


def _has_fsdd_recordings(folder: Path) -> bool:
    rec = folder / "recordings"
    return rec.is_dir() and any(FSDD_PATTERN.match(p.stem) and p.suffix.lower() == ".wav" for p in rec.iterdir())


def detect_kind(path: str | Path) -> str:
    """Which reader :func:`load_dataset` would use for ``path``.

    In order: a ``.zip`` file -> ``"zip"``; a ``.csv`` file -> ``"manifest"``; a folder with
    ``meta/esc50.csv`` -> ``"esc50"``; with ``recordings/D_NAME_I.wav`` -> ``"fsdd"``; with
    ``synthetic.json`` and ``manifest.csv`` -> ``"synthetic"``; with ``manifest.csv`` ->
    ``"manifest"``; otherwise -> ``"folders"`` (class subfolders).

    Raises
    ------
    DatasetError
        If ``path`` does not exist or is a file of another type.
    """
    path = Path(path)
    if path.is_file():
        suffix = path.suffix.lower()
        if suffix == ".zip":
            return "zip"
        if suffix == ".csv":
            return "manifest"
        raise DatasetError(f"{path} is a {suffix or 'extension-less'} file; expected a folder, a .zip of class "
                           "folders or a .csv manifest")
    if not path.is_dir():
        raise DatasetError(f"{path}: no such file or folder")
    if (path / "meta" / "esc50.csv").is_file():
        return "esc50"
    if _has_fsdd_recordings(path):
        return "fsdd"
    if (path / "manifest.csv").is_file():
        return "synthetic" if (path / "synthetic.json").is_file() else "manifest"
    return "folders"


def load_dataset(path: str | Path, *, kind: str = "auto", esc10_only: bool = False,
                 extract_dir: str | Path | None = None) -> Dataset:
    """Load a labelled audio dataset from a folder, a CSV manifest or a zip.

    Parameters
    ----------
    path : str or Path
        A folder (class subfolders, ESC-50, FSDD, or with ``manifest.csv``), a ``.csv``
        manifest, or a ``.zip`` of any of those.
    kind : str
        ``"auto"`` (default, see :func:`detect_kind`) or one of ``folders``, ``manifest``,
        ``esc50``, ``fsdd``, ``zip``, ``synthetic`` (generates the built-in dataset in
        ``path`` if it is not there yet).
    esc10_only : bool
        ESC-50 layouts and manifests with an ``esc10`` or ``esc50_target`` column: keep the
        ESC-10 subset.
    extract_dir : str or Path, optional
        For a zip: an empty folder to extract into (or one this function filled from the
        same zip before). Default: a folder under :func:`default_cache_dir`, reused while
        the zip is unchanged.

    Returns
    -------
    Dataset

    Raises
    ------
    DatasetError
        A missing path, an unrecognised or malformed layout, files listed but missing,
        an unsafe zip, or fewer than 2 classes.
    ParameterError
        An unknown ``kind``.

    Examples
    --------
    >>> ds = load_dataset("data/fsdd")                                    # doctest: +SKIP
    >>> ds.kind, len(ds), ds.groups[:2]                                   # doctest: +SKIP
    ('fsdd', 2500, ('george', 'jackson'))
    """
    if kind not in KIND_CHOICES:
        raise ParameterError(f"kind={kind!r} is not a dataset kind; choose one of {', '.join(KIND_CHOICES)}")
    path = Path(path).expanduser()
    if kind == "synthetic":
        if esc10_only:
            raise DatasetError("esc10_only applies to ESC-50 layouts and manifests, not to the synthetic dataset")
        return make_synthetic_dataset(path)
    found = detect_kind(path)
    if kind == "auto":
        kind = found
    notes: list[str] = []
    root = path
    if kind == "zip":
        root, note = _extract(path, extract_dir)
        notes.append(note)
        kind = detect_kind(root)
    if esc10_only and kind not in ("esc50", "manifest"):
        raise DatasetError(f"esc10_only applies to ESC-50 layouts and manifests, but {path} is a {kind} dataset")
    if path.suffix.lower() == ".zip" or (path.suffix.lower() == ".csv" and path.stem != "manifest"):
        name = path.stem
    else:  # a folder, or the folder a manifest.csv describes
        name = (path.resolve().parent if path.is_file() else path.resolve()).name
    ds = _read(root, kind, name=name, esc10_only=esc10_only, confine=bool(notes))
    if notes:
        ds = Dataset(name=ds.name, root=ds.root, kind=ds.kind, clips=ds.clips, classes=ds.classes,
                     notes=(*notes, *ds.notes))
    return require_classes(ds, where=path)


def _read(root: Path, kind: str, *, name: str, esc10_only: bool, confine: bool) -> Dataset:
    if kind == "esc50":
        return load_esc50(root, esc10_only=esc10_only, name="esc10" if esc10_only else name)
    if kind == "fsdd":
        return load_fsdd(root, name=name)
    if kind in ("manifest", "synthetic"):
        csv_path = root if root.is_file() else root / "manifest.csv"
        if not csv_path.is_file():
            raise DatasetError(f"{root}: no manifest.csv here; give the CSV's path or use kind='folders'")
        return load_manifest(csv_path, name=name, esc10_only=esc10_only, kind=kind, confine=confine)
    if kind == "folders":
        if root.is_file():
            raise DatasetError(f"{root} is a file; kind='folders' needs a folder of class subfolders")
        return load_class_folders(root, name=name)
    raise DatasetError(f"{root}: cannot read a {kind!r} dataset here")  # e.g. kind='zip' for a folder


def _zip_key(zip_path: Path) -> str:
    # Path, size and mtime identify the upload well enough without hashing gigabytes.
    st = zip_path.stat()
    return hashlib.sha256(f"{zip_path.resolve()}|{st.st_size}|{st.st_mtime_ns}".encode()).hexdigest()[:16]


def _extract(zip_path: Path, extract_dir: str | Path | None) -> tuple[Path, str]:
    """Extract (or reuse an extraction of) ``zip_path``; return (dataset folder, note)."""
    if not zip_path.is_file():
        raise DatasetError(f"{zip_path}: kind='zip' needs a .zip file")
    key = _zip_key(zip_path)
    ours = extract_dir is None
    dest = default_cache_dir() / "extracted" / f"{zip_path.stem[:40]}-{key}" if ours else Path(extract_dir)
    marker = dest / _EXTRACT_MARKER
    try:
        previous = json.loads(marker.read_text(encoding="utf-8")) if marker.is_file() else None
    except (OSError, ValueError):
        previous = None
    if previous and previous.get("key") == key:
        note = f"reused the extraction of {zip_path.name} in {dest}"
    else:
        if dest.exists() and not dest.is_dir():
            raise DatasetError(f"extract_dir {dest} is a file; give a folder")
        if dest.is_dir() and any(dest.iterdir()):
            if not ours:
                raise DatasetError(f"extract_dir {dest} is not empty; give an empty or new folder so nothing "
                                   "of yours is overwritten")
            shutil.rmtree(dest)  # an unfinished extraction in our own cache folder
        report = safe_extract_zip(zip_path, dest)
        write_text_atomic(marker, json.dumps({"zip": str(zip_path.resolve()), "key": key,
                                              "n_files": report.n_files, "n_skipped": report.n_skipped}))
        note = f"extracted {report.n_files} files from {zip_path.name} into {report.dest}"
        if report.n_skipped:
            note += f"; skipped {report.n_skipped} other entries (e.g. {', '.join(report.skipped[:3])})"
    return _unwrap(dest.resolve()), note


def _unwrap(folder: Path) -> Path:
    """Look through single-folder wrappers: ``upload/`` holding only ``mydata/`` holding the classes."""
    for _ in range(_MAX_WRAPPERS):
        visible = [p for p in folder.iterdir() if not p.name.startswith(".") and p.name != "__MACOSX"]
        if len(visible) != 1 or not visible[0].is_dir():
            break
        inner = visible[0]
        # A folder with audio directly inside is a class, not a wrapper.
        if any(p.is_file() and p.suffix.lower() in AUDIO_EXTENSIONS for p in inner.iterdir()):
            break
        folder = inner
    return folder
