"""Extract an uploaded zip of audio without trusting anything in it.

A zip is a list of claims: names, sizes, file types. :func:`safe_extract_zip`
checks every claim it can before writing a byte, then checks again while it
writes, because the central directory can lie. Only audio files and CSV
manifests are written:

* names: no absolute paths, drive letters, ``..`` components or NUL bytes; the
  final path must resolve inside ``dest``;
* types: symbolic links and other special entries are refused, encrypted
  entries too; other files (documents, ``__MACOSX`` forks, hidden files) are
  skipped and counted;
* sizes: the declared total and file count are bounded before extraction
  (defaults :data:`MAX_TOTAL_BYTES` = 2 GiB, :data:`MAX_FILES` = 20 000), a
  large entry may not claim a compression ratio above :data:`MAX_RATIO`, and
  the bytes actually decompressed are counted against the same limits, so an
  archive whose header understates a size is stopped as soon as it overflows.

If anything fails, the files written so far are removed.
"""

from __future__ import annotations

import re
import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from .._validate import check_positive_int
from ..audio.io import AUDIO_EXTENSIONS
from ..errors import DatasetError, ParameterError

__all__ = ["ExtractReport", "safe_extract_zip", "MAX_TOTAL_BYTES", "MAX_FILES", "MAX_RATIO"]

#: Default bound on the total uncompressed size written: 2 GiB.
MAX_TOTAL_BYTES = 2 * 1024**3
#: Default bound on the number of file entries in the archive.
MAX_FILES = 20_000
#: Default bound on an entry's compression ratio (audio barely compresses; zeros do ~1000:1).
MAX_RATIO = 100.0
#: Entries smaller than this are not ratio-checked: a tiny silent clip compresses well and is harmless.
_RATIO_MIN_BYTES = 1024**2
_CHUNK = 1024**2
#: What is written: audio, and CSV so a zipped manifest or ESC-50 ``meta/esc50.csv`` keeps working.
_KEPT = (*AUDIO_EXTENSIONS, ".csv")
_DRIVE = re.compile(r"^[A-Za-z]:")


@dataclass(frozen=True)
class ExtractReport:
    """What :func:`safe_extract_zip` did.

    Attributes
    ----------
    n_files : int
        Files written (audio files and CSV manifests).
    n_skipped : int
        File entries not written (not audio, hidden, ``__MACOSX`` resource forks).
    dest : Path
        The folder extracted into (resolved).
    n_bytes : int
        Bytes written.
    skipped : tuple of str
        Names of the first skipped entries, for messages.
    """

    n_files: int
    n_skipped: int
    dest: Path
    n_bytes: int = 0
    skipped: tuple[str, ...] = ()


def _is_dir(info: zipfile.ZipInfo) -> bool:
    return info.filename.endswith(("/", "\\"))


def _safe_parts(name: str) -> tuple[str, ...]:
    """The path components of entry ``name``, or a DatasetError if it could escape."""
    if "\x00" in name:
        raise DatasetError(f"zip entry {name!r} contains a NUL byte; refusing the archive")
    # Zips made on Windows may use backslashes; treat them as separators so '..\\x' is caught too.
    posix = name.replace("\\", "/")
    if posix.startswith("/") or _DRIVE.match(posix):
        raise DatasetError(f"zip entry {name!r} has an absolute path; refusing the archive "
                           "(entries must be relative, e.g. 'dog/001.wav')")
    parts = tuple(p for p in PurePosixPath(posix).parts if p not in ("", "."))
    if ".." in parts:
        raise DatasetError(f"zip entry {name!r} contains '..' and would be written outside the target folder; "
                           "refusing the archive")
    if not parts:
        raise DatasetError(f"zip entry {name!r} has an empty path; refusing the archive")
    return parts


def _check_type(info: zipfile.ZipInfo) -> None:
    mode = info.external_attr >> 16
    if mode and stat.S_ISLNK(mode):
        raise DatasetError(f"zip entry {info.filename!r} is a symbolic link; links are refused because they "
                           "can point outside the target folder")
    if mode and stat.S_IFMT(mode) not in (0, stat.S_IFREG, stat.S_IFDIR):
        raise DatasetError(f"zip entry {info.filename!r} is a special file (mode {oct(mode)}); only regular "
                           "files are accepted")
    if info.flag_bits & 0x1:
        raise DatasetError(f"zip entry {info.filename!r} is encrypted; re-create the zip without a password")


def _wanted(parts: tuple[str, ...]) -> bool:
    """Audio or a CSV manifest, and not macOS resource forks or hidden files."""
    if parts[0] == "__MACOSX" or any(p.startswith(".") for p in parts):
        return False
    return PurePosixPath(parts[-1]).suffix.lower() in _KEPT


def _check_limits(name: str, *, max_total_bytes: int, max_files: int, max_ratio: float) -> None:
    for label, value in (("max_total_bytes", max_total_bytes), ("max_files", max_files)):
        check_positive_int(value, label)
    if not max_ratio > 1:
        raise ParameterError(f"max_ratio={max_ratio!r} must be a number above 1")
    if not name:
        raise ParameterError("zip_path is empty")


def _plan(zf: zipfile.ZipFile, *, max_total_bytes: int, max_files: int, max_ratio: float
          ) -> tuple[list[tuple[zipfile.ZipInfo, tuple[str, ...]]], list[str]]:
    """Validate the central directory; return (entries to write, skipped names)."""
    infos = zf.infolist()
    files = [i for i in infos if not _is_dir(i)]
    if len(files) > max_files:
        raise DatasetError(f"the zip holds {len(files)} files, more than the limit of {max_files}; "
                           "split it into smaller archives or raise max_files")
    todo: list[tuple[zipfile.ZipInfo, tuple[str, ...]]] = []
    skipped: list[str] = []
    seen: set[tuple[str, ...]] = set()
    declared = 0
    for info in infos:
        parts = _safe_parts(info.filename)  # every name, written or not: a bad name means a hostile archive
        _check_type(info)
        if _is_dir(info):
            continue
        if not _wanted(parts):
            skipped.append(info.filename)
            continue
        if parts in seen:
            raise DatasetError(f"zip entry {info.filename!r} appears twice; refusing an ambiguous archive")
        seen.add(parts)
        if info.file_size > _RATIO_MIN_BYTES and info.file_size > max_ratio * max(info.compress_size, 1):
            raise DatasetError(f"zip entry {info.filename!r} expands {info.compress_size} bytes to "
                               f"{info.file_size} (ratio above {max_ratio:g}); this looks like a zip bomb")
        declared += info.file_size
        if declared > max_total_bytes:
            raise DatasetError(f"the zip's audio would take more than {max_total_bytes} bytes when extracted "
                               f"(limit max_total_bytes); refusing before writing anything")
        todo.append((info, parts))
    return todo, skipped


def safe_extract_zip(zip_path: str | Path, dest: str | Path, *, max_total_bytes: int = MAX_TOTAL_BYTES,
                     max_files: int = MAX_FILES, max_ratio: float = MAX_RATIO) -> ExtractReport:
    """Extract the audio files (and CSV manifests) of a zip into ``dest``, refusing anything unsafe.

    Parameters
    ----------
    zip_path : str or Path
        The archive.
    dest : str or Path
        Target folder; created if missing. Nothing is ever written outside it.
    max_total_bytes : int
        Bound on the uncompressed bytes written (default 2 GiB), checked from the
        central directory before writing and again while decompressing.
    max_files : int
        Bound on the number of file entries in the archive (default 20 000).
    max_ratio : float
        Bound on an entry's declared compression ratio, for entries over 1 MiB (default 100).

    Returns
    -------
    ExtractReport

    Raises
    ------
    DatasetError
        For a missing or corrupt archive, an absolute or ``..`` path, a symbolic
        link, an encrypted entry, or a limit exceeded (the message names the entry).
    ParameterError
        For a non-positive limit.

    Examples
    --------
    >>> report = safe_extract_zip("upload.zip", "/tmp/upload")   # doctest: +SKIP
    >>> report.n_files, report.n_skipped                         # doctest: +SKIP
    (40, 2)
    """
    _check_limits(str(zip_path), max_total_bytes=max_total_bytes, max_files=max_files, max_ratio=max_ratio)
    zip_path = Path(zip_path)
    if not zip_path.is_file():
        raise DatasetError(f"{zip_path}: no such zip file")
    try:
        zf = zipfile.ZipFile(zip_path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise DatasetError(f"{zip_path.name}: not a readable zip archive ({exc})") from None
    written: list[Path] = []
    with zf:
        todo, skipped = _plan(zf, max_total_bytes=max_total_bytes, max_files=max_files, max_ratio=max_ratio)
        dest = Path(dest)
        dest.mkdir(parents=True, exist_ok=True)
        root = dest.resolve()
        total = 0
        try:
            for info, parts in todo:
                total += _write_entry(zf, info, parts, root, written, already=total,
                                      max_total_bytes=max_total_bytes)
        except BaseException:
            # Leave no half-extracted archive behind: remove what this call wrote.
            for path in reversed(written):
                path.unlink(missing_ok=True)
                for parent in path.parents:
                    if parent == root or not parent.is_relative_to(root) or any(parent.iterdir()):
                        break
                    parent.rmdir()
            raise
    return ExtractReport(n_files=len(written), n_skipped=len(skipped), dest=root, n_bytes=total,
                         skipped=tuple(skipped[:20]))


def _write_entry(zf: zipfile.ZipFile, info: zipfile.ZipInfo, parts: tuple[str, ...], root: Path,
                 written: list[Path], *, already: int, max_total_bytes: int) -> int:
    """Stream one entry to disk under ``root``; return the bytes written."""
    target = root.joinpath(*parts)
    # resolve() follows any link already present in dest: the final location must still be inside.
    if not target.resolve().is_relative_to(root):
        raise DatasetError(f"zip entry {info.filename!r} would be written outside {root}; refusing the archive")
    target.parent.mkdir(parents=True, exist_ok=True)
    if not target.parent.resolve().is_relative_to(root):
        raise DatasetError(f"zip entry {info.filename!r} would be written outside {root}; refusing the archive")
    n = 0
    try:
        with zf.open(info) as src, open(target, "xb") as out:
            written.append(target)
            while chunk := src.read(_CHUNK):
                n += len(chunk)
                # Counted on the real bytes, not the header: a header that understates stops here.
                if n > info.file_size:
                    raise DatasetError(f"zip entry {info.filename!r} holds more than the {info.file_size} bytes "
                                       "its header declares; refusing a lying archive")
                if already + n > max_total_bytes:
                    raise DatasetError(f"extracting {info.filename!r} went past max_total_bytes="
                                       f"{max_total_bytes}; stopped")
                out.write(chunk)
    except FileExistsError:
        raise DatasetError(f"zip entry {info.filename!r}: {target} already exists; extract into an empty "
                           "folder") from None
    except (zipfile.BadZipFile, EOFError, NotImplementedError, RuntimeError, ValueError) as exc:
        # zipfile stops at the declared size and then fails its CRC check when a header lies.
        raise DatasetError(f"zip entry {info.filename!r} is corrupt or its header is wrong ({exc})") from None
    except OSError as exc:
        raise DatasetError(f"zip entry {info.filename!r}: cannot write {target.name} ({exc})") from None
    return n
