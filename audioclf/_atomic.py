"""Crash-safe file writes: a temporary name in the same folder, flushed to disk, then renamed over the target.

A process killed at any moment leaves either the old file or the new one under
the target's name, never a half-written one (``os.replace`` is atomic within a
file system). A killed writer may leave its temporary file behind; it starts
with ``.`` and ends with ``.tmp-XXXX<suffix>``, so listings that skip hidden
files never offer it.

This module sits at the bottom of the package: it imports nothing from audioclf.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["atomic_path", "fsync_path", "write_bytes_atomic", "write_text_atomic"]


def fsync_path(path: str | os.PathLike) -> None:
    """Flush a file's (or a folder's) data to disk; a folder whose platform cannot be synced is skipped."""
    flags = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) if Path(path).is_dir() else os.O_RDONLY
    try:
        fd = os.open(path, flags)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:  # some file systems do not sync folders
        pass
    finally:
        os.close(fd)


def _create_temporary(target: Path) -> Path:
    # Not tempfile.mkstemp: its files are private (0600); this one gets the usual umask-based mode.
    for _ in range(100):
        tmp = target.with_name(f".{target.name}.tmp-{secrets.token_hex(4)}{target.suffix}")
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        except FileExistsError:
            continue
        return tmp
    raise FileExistsError(f"no free temporary name beside {target}")


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``path`` to write to; on success it is synced and renamed onto ``path``.

    The temporary name keeps ``path``'s suffix (Keras insists on ``.keras``,
    soundfile picks the format from it). On an exception the temporary file is
    removed and ``path`` is untouched.

    Example
    -------
    >>> with atomic_path("best.keras") as tmp:  # doctest: +SKIP
    ...     model.save(tmp)
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = _create_temporary(target)
    try:
        yield tmp
        fsync_path(tmp)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_path(target.parent)


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` crash-safely (see :func:`atomic_path`); returns ``path``."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    """Write UTF-8 ``text`` to ``path`` crash-safely (see :func:`atomic_path`); returns ``path``."""
    return write_bytes_atomic(path, text.encode("utf-8"))
