"""A private scratch folder per app session.

Uploads, recordings, extracted datasets and trained models of one browser
session live in its own temporary folder, named by the library (never by a
user's file name), and the folder is deleted when the session object goes away
(Streamlit drops a session's state when the browser tab closes) or at exit.
"""

from __future__ import annotations

import re
import shutil
import tempfile
import uuid
import weakref
from pathlib import Path

from ..errors import ParameterError

__all__ = ["SessionStore"]

_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


class SessionStore:
    """Owns one temporary folder; ``path_for`` hands out safe paths inside it.

    Parameters
    ----------
    root : path, optional
        Parent folder for session folders (default: the system temp dir).
    """

    def __init__(self, root: str | Path | None = None) -> None:
        parent = Path(root) if root else None
        if parent is not None:
            parent.mkdir(parents=True, exist_ok=True)
        self.path = Path(tempfile.mkdtemp(prefix="audioclf-session-", dir=parent))
        # finalize runs on garbage collection or at interpreter exit, whichever first.
        self._finalizer = weakref.finalize(self, shutil.rmtree, str(self.path), True)

    def path_for(self, kind: str, suggested_name: str = "", *, suffix: str = "") -> Path:
        """A fresh path ``<session>/<kind>/<uuid>-<sanitised name><suffix>``.

        The user's name is only a hint: it is sanitised, shortened and prefixed
        with a random id, so it can neither escape the folder nor collide.
        """
        if not kind or _SAFE.search(kind) or kind.startswith('.'):
            raise ParameterError(f"kind={kind!r} must be a simple folder name")
        folder = self.path / kind
        folder.mkdir(parents=True, exist_ok=True)
        stem = _SAFE.sub("_", Path(suggested_name).stem)[:40].strip("._") or "file"
        safe_suffix = _SAFE.sub("", suffix)[:10].lower()
        path = (folder / f"{uuid.uuid4().hex[:12]}-{stem}{safe_suffix}").resolve()
        if self.path.resolve() not in path.parents:
            raise ParameterError(f"refusing a path outside the session folder: {suggested_name!r}")
        return path

    def cleanup(self) -> None:
        """Delete the folder now (also happens automatically)."""
        self._finalizer()

    @property
    def alive(self) -> bool:
        return self._finalizer.alive
