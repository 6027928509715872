"""Clips recorded per class in the app: add takes, delete, rename, limits, and a zip of class folders.

A :class:`RecordingSet` is a value: every change returns a new set and leaves
the old one as it was, so a page can keep it in its session state and a failed
change (a take too short, a name already taken, a limit reached) changes
nothing. Each take keeps the bytes it was recorded as, so a take exported in a
zip and imported again is byte for byte the same.

Limits per set (one browser session): :data:`MAX_TAKES` takes and
:data:`MAX_TOTAL_SECONDS` seconds in all; a take lasts :data:`MIN_TAKE_SECONDS`
to :data:`MAX_TAKE_SECONDS`. A take whose loudest sample is below
:data:`QUIET_PEAK` is refused as silent, except in the background-noise class
(:data:`BACKGROUND`), whose takes are meant to be the room's quiet; a take of
exact digital zeros is refused everywhere (a muted microphone).
"""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from .._atomic import write_bytes_atomic
from .._validate import check_int, check_number, check_positive_int
from ..audio.io import AUDIO_EXTENSIONS, audio_info, load_audio
from ..errors import AudioError, RecordingError, RecordingLimitError
from .recorded import dataset_from_recordings, valid_label
from .safezip import safe_extract_zip

__all__ = ["RecordingSet", "Take", "BACKGROUND", "BACKGROUND_HELP", "MAX_TAKES", "MAX_TOTAL_SECONDS",
           "MIN_TAKE_SECONDS", "MAX_TAKE_SECONDS", "QUIET_PEAK"]

#: Most takes one set (one app session) may hold.
MAX_TAKES = 200
#: Most seconds of audio one set may hold, all takes together (10 minutes).
MAX_TOTAL_SECONDS = 600.0
#: Shortest take kept: a click of the record button on and off is not an example.
MIN_TAKE_SECONDS = 0.3
#: Longest take kept.
MAX_TAKE_SECONDS = 30.0
#: A take whose loudest sample is below this (full scale 1.0) is silent, except for background noise.
QUIET_PEAK = 0.01
#: The name of the background-noise class.
BACKGROUND = "background noise"
#: What the background class is for, in plain words (the page shows it).
BACKGROUND_HELP = ("Record the room with nobody making the sounds: silence, hum, distant voices. The model then "
                   "learns what 'nothing in particular' sounds like and answers 'background noise' instead of "
                   "forcing one of your classes; together with the 'none of these' answer (a threshold on the "
                   "model's confidence) it keeps stray sounds from being called one of your classes.")

_FORMATS = {"WAV": ".wav", "WAVEX": ".wav", "FLAC": ".flac", "OGG": ".ogg", "MP3": ".mp3"}


@dataclass(frozen=True)
class Take:
    """One recorded example.

    Attributes
    ----------
    id : int
        Unique within its set, never reused (widget keys and delete buttons use it).
    data : bytes
        The audio as recorded (WAV from the browser, or the file that was imported).
    seconds : float
        Its duration.
    suffix : str
        File extension of its format (``'.wav'``, ``'.flac'``, ...).
    """

    id: int
    data: bytes = field(repr=False)
    seconds: float
    suffix: str = ".wav"


@dataclass(frozen=True)
class RecordingSet:
    """Classes and their takes, in the order they were added (immutable; changes return a new set).

    Parameters
    ----------
    max_takes : int
        Limit on the number of takes (default :data:`MAX_TAKES`).
    max_seconds : float
        Limit on the total duration (default :data:`MAX_TOTAL_SECONDS`).

    Examples
    --------
    >>> from audioclf import synth
    >>> from audioclf.audio.io import to_wav_bytes
    >>> rs = RecordingSet().add_class("clap").add_take("clap", to_wav_bytes(synth.click_train(), 22050))
    >>> rs.labels, rs.n_takes
    (('clap',), 1)
    """

    classes: tuple[tuple[str, tuple[Take, ...]], ...] = ()
    max_takes: int = MAX_TAKES
    max_seconds: float = MAX_TOTAL_SECONDS
    next_id: int = 0

    def __post_init__(self) -> None:
        check_positive_int(self.max_takes, "max_takes")
        check_number(self.max_seconds, "max_seconds", low=0, low_open=True)
        check_int(self.next_id, "next_id", low=0)
        # Any sequence is accepted, tuples are stored: the set really is immutable.
        object.__setattr__(self, "classes", tuple((str(label), tuple(takes)) for label, takes in self.classes))

    # -- reading -----------------------------------------------------------------------------------------
    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(label for label, _ in self.classes)

    def takes(self, label: str) -> tuple[Take, ...]:
        """The takes of class ``label``.

        Raises
        ------
        RecordingError
            If there is no such class.
        """
        return self.classes[self._index(label)][1]

    @property
    def n_takes(self) -> int:
        return sum(len(t) for _, t in self.classes)

    @property
    def total_seconds(self) -> float:
        return float(sum(t.seconds for _, takes in self.classes for t in takes))

    @property
    def ready(self) -> bool:
        """At least two classes, each with at least one take: enough to train."""
        return len(self.classes) >= 2 and all(takes for _, takes in self.classes)

    def as_mapping(self) -> dict[str, list[bytes]]:
        """Label -> the takes' bytes (what :func:`audioclf.datasets.dataset_from_recordings` takes)."""
        return {label: [t.data for t in takes] for label, takes in self.classes}

    def _index(self, label: str) -> int:
        for i, (name, _) in enumerate(self.classes):
            if name == label:
                return i
        raise RecordingError(f"there is no class {label!r}; the classes are {list(self.labels)}")

    def _find(self, label: str) -> int | None:
        """Index of the class whose name equals ``label`` ignoring case, or None."""
        key = label.strip().lower()
        return next((i for i, (name, _) in enumerate(self.classes) if name.lower() == key), None)

    # -- changing ----------------------------------------------------------------------------------------
    def add_class(self, label: str) -> RecordingSet:
        """A new, empty class named ``label`` (spaces around it are dropped).

        Raises
        ------
        RecordingError
            A name that is not 1-40 letters, digits, spaces, '.', '_' or '-', or one already used (any case).
        """
        label = _checked_label(label)
        if self._find(label) is not None:
            raise RecordingError(f"a class named {label!r} already exists; pick another name or record into it")
        return replace(self, classes=(*self.classes, (label, ())))

    def add_background_class(self) -> RecordingSet:
        """The class :data:`BACKGROUND` (see :data:`BACKGROUND_HELP`); unchanged if it exists already."""
        return self if self._find(BACKGROUND) is not None else self.add_class(BACKGROUND)

    def remove_class(self, label: str) -> RecordingSet:
        i = self._index(label)
        return replace(self, classes=self.classes[:i] + self.classes[i + 1:])

    def rename_class(self, old: str, new: str, *, merge: bool = False) -> RecordingSet:
        """Rename class ``old`` to ``new``.

        When another class is already called ``new`` (any case) its takes and ``old``'s are merged under that
        class's name with ``merge=True``, and refused otherwise.

        Raises
        ------
        RecordingError
            No class ``old``, a bad name, or a name taken without ``merge=True``.
        """
        i = self._index(old)
        new = _checked_label(new)
        j = self._find(new)
        if j is None or j == i:
            classes = list(self.classes)
            classes[i] = (new, classes[i][1])
            return replace(self, classes=tuple(classes))
        target = self.classes[j][0]
        if not merge:
            raise RecordingError(f"cannot rename {old!r} to {new!r}: a class named {target!r} already exists; "
                                 f"choose another name, or merge the {len(self.classes[i][1])} take(s) of "
                                 f"{old!r} into {target!r}")
        classes = list(self.classes)
        classes[j] = (target, classes[j][1] + classes[i][1])
        del classes[i]
        return replace(self, classes=tuple(classes))

    def add_take(self, label: str, data: bytes, *, name: str | None = None) -> RecordingSet:
        """Add a recorded take to class ``label``.

        Parameters
        ----------
        label : str
            An existing class.
        data : bytes
            Audio in any format :func:`audioclf.audio.io.load_audio` reads (the browser records WAV).
        name : str, optional
            Names the take in error messages (default ``'<label> take <n>'``).

        Raises
        ------
        RecordingLimitError
            The set already holds :attr:`max_takes` takes, or this take would pass :attr:`max_seconds`.
        AudioError
            The take is unreadable, shorter than :data:`MIN_TAKE_SECONDS`, longer than :data:`MAX_TAKE_SECONDS`,
            or silent (see the module notes).
        RecordingError
            No class ``label``.
        """
        i = self._index(label)
        if self.n_takes >= self.max_takes:
            raise RecordingLimitError(f"this session already holds {self.n_takes} takes, the most allowed is "
                                      f"{self.max_takes}; delete some takes (or export them as a zip) to record more")
        name = name or f"{label} take {len(self.classes[i][1]) + 1}"
        take = _read_take(bytes(data), self.next_id, name=name, background=label == BACKGROUND)
        if self.total_seconds + take.seconds > self.max_seconds:
            raise RecordingLimitError(
                f"{name} ({take.seconds:.1f} s) would bring this session to {self.total_seconds + take.seconds:.0f} s "
                f"of recordings, more than the {self.max_seconds / 60:g} min allowed; delete some takes first")
        classes = list(self.classes)
        classes[i] = (label, (*classes[i][1], take))
        return replace(self, classes=tuple(classes), next_id=self.next_id + 1)

    def remove_take(self, label: str, take_id: int) -> RecordingSet:
        """The set without take ``take_id`` of class ``label``.

        Raises
        ------
        RecordingError
            No such class or take.
        """
        i = self._index(label)
        kept = tuple(t for t in self.classes[i][1] if t.id != take_id)
        if len(kept) == len(self.classes[i][1]):
            raise RecordingError(f"class {label!r} has no take with id {take_id}")
        classes = list(self.classes)
        classes[i] = (label, kept)
        return replace(self, classes=tuple(classes))

    # -- datasets and zips -------------------------------------------------------------------------------
    def to_dataset(self, root: str | Path):
        """Write the takes under ``root/<label>/`` and load them as a :class:`~audioclf.datasets.Dataset`.

        Raises
        ------
        DatasetError
            Fewer than two classes, or a class without takes.
        """
        return dataset_from_recordings(root, self.as_mapping())

    def to_zip(self) -> bytes:
        """A zip of class folders, ``<label>/<NNN><suffix>``, each take's bytes as recorded (same takes, same zip)."""
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            for label, takes in self.classes:
                if not takes:  # a zip cannot hold an empty folder portably; an empty class has nothing to keep
                    continue
                for n, take in enumerate(takes, start=1):
                    # a fixed time stamp: the same takes always give the same zip
                    info = zipfile.ZipInfo(f"{label}/{n:03d}{take.suffix}", date_time=(1980, 1, 1, 0, 0, 0))
                    zf.writestr(info, take.data, compress_type=zipfile.ZIP_DEFLATED)
        return buf.getvalue()

    def write_zip(self, path: str | Path) -> Path:
        """Write :meth:`to_zip` to ``path`` crash-safely (temporary name, then rename)."""
        return write_bytes_atomic(path, self.to_zip())

    @classmethod
    def from_zip(cls, source: str | Path | bytes, *, workdir: str | Path, max_takes: int = MAX_TAKES,
                 max_seconds: float = MAX_TOTAL_SECONDS) -> RecordingSet:
        """Read a zip of class folders (as :meth:`to_zip` writes, or one folder holding them) into a new set.

        Parameters
        ----------
        source : path or bytes
            The zip.
        workdir : path
            An empty or new folder to extract into (checked by :func:`audioclf.datasets.safe_extract_zip`).

        Raises
        ------
        DatasetError
            An unsafe or unreadable zip, or one without class folders of audio.
        RecordingError, RecordingLimitError, AudioError
            A bad class name, too many takes or seconds, a bad take (the file is named).
        """
        workdir = Path(workdir)
        workdir.mkdir(parents=True, exist_ok=True)
        zpath = workdir / "import.zip"
        if isinstance(source, (bytes, bytearray)):
            write_bytes_atomic(zpath, bytes(source))
        else:
            zpath = Path(source)
        dest = workdir / "extracted"
        safe_extract_zip(zpath, dest)
        root = _class_root(dest)
        rs = cls(max_takes=max_takes, max_seconds=max_seconds)
        for folder in sorted((p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")),
                             key=lambda p: p.name):
            files = sorted((f for f in folder.iterdir() if f.is_file() and f.suffix.lower() in AUDIO_EXTENSIONS
                            and not f.name.startswith(".")), key=_natural)
            if not files:
                continue
            rs = rs.add_class(folder.name)
            for f in files:
                rs = rs.add_take(folder.name, f.read_bytes(), name=f"{folder.name}/{f.name}")
        if not rs.classes:
            raise RecordingError("the zip holds no class folders of audio; expected <class>/<take>.wav entries, "
                                 "as 'Export recordings' writes")
        return rs


def _checked_label(label: str) -> str:
    label = str(label).strip()
    if not valid_label(label):
        raise RecordingError(f"class name {label!r} must be 1-40 letters, digits, spaces, '.', '_' or '-', "
                             "starting with a letter or digit")
    return label


def _read_take(data: bytes, take_id: int, *, name: str, background: bool) -> Take:
    info = audio_info(data, name=name)
    if info.duration < MIN_TAKE_SECONDS:
        raise AudioError(f"{name} lasts {info.duration:.2f} s, shorter than the {MIN_TAKE_SECONDS:g} s a take "
                         "needs; record a little longer")
    if info.duration > MAX_TAKE_SECONDS:
        raise AudioError(f"{name} lasts {info.duration:.1f} s, longer than the {MAX_TAKE_SECONDS:g} s allowed per "
                         "take; record shorter takes (several short takes teach more than one long one)")
    y, _ = load_audio(data, sr=None, name=name, max_duration=MAX_TAKE_SECONDS)
    peak = float(np.max(np.abs(y))) if y.size else 0.0
    if peak == 0.0:
        raise AudioError(f"{name} is pure digital silence (every sample is 0): the microphone seems muted or "
                         "blocked; check the browser's microphone permission and input device")
    if peak < QUIET_PEAK and not background:
        raise AudioError(f"{name} is almost silent (loudest sample {peak:.4f}, expected at least {QUIET_PEAK:g}); "
                         f"record closer to the microphone, or add it to the '{BACKGROUND}' class if silence is "
                         "what you meant")
    return Take(take_id, data, float(info.duration), _FORMATS.get(info.format.upper(), ".wav"))


def _class_root(dest: Path) -> Path:
    """``dest``, or the single folder inside it when the zip wrapped its class folders in one."""
    entries = [p for p in dest.iterdir() if not p.name.startswith(".")]
    if len(entries) == 1 and entries[0].is_dir() and all(p.is_dir() for p in entries[0].iterdir()):
        return entries[0]
    return dest


def _natural(path: Path) -> tuple:
    return tuple(int(s) if s.isdigit() else s for s in re.split(r"(\d+)", path.name))
