"""Readers for each dataset layout: class folders, a CSV manifest, ESC-50 and FSDD.

Each reader lists files and parses metadata only; no audio is decoded. Paths
in a :class:`~audioclf.datasets.Clip` are absolute. Every reader raises
:class:`~audioclf.errors.DatasetError` with the file or row at fault.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from pathlib import Path

from ..audio.io import AUDIO_EXTENSIONS
from ..errors import DatasetError
from .core import Clip, Dataset

__all__ = ["load_class_folders", "load_manifest", "load_esc50", "load_fsdd",
           "ESC10_TARGETS", "FSDD_PATTERN", "DIGIT_WORDS"]

#: ESC-50 class indices of the ten ESC-10 classes.
ESC10_TARGETS = frozenset({0, 1, 10, 11, 12, 20, 21, 38, 40, 41})
#: FSDD file names: ``{digit}_{speaker}_{index}.wav``.
FSDD_PATTERN = re.compile(r"^(\d)_(.+)_(\d+)$")
DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
#: FSDD's own convention: repetitions 0-4 of each digit are the test set.
_FSDD_TEST_INDICES = range(5)
#: Manifest columns that name the group a clip belongs to, by priority.
_GROUP_COLUMNS = ("group", "speaker", "src_file", "source_file")
_PATH_COLUMNS = ("path", "filename", "file")
_NAMED = 5


def _is_audio(path: Path) -> bool:
    return path.suffix.lower() in AUDIO_EXTENSIONS


def _hidden(path: Path, root: Path) -> bool:
    return any(p.startswith(".") or p == "__MACOSX" for p in path.relative_to(root).parts)


def _missing_error(missing: list[str], where: Path, total: int) -> DatasetError:
    more = f" and {len(missing) - _NAMED} more" if len(missing) > _NAMED else ""
    return DatasetError(f"{len(missing)} of {total} files listed in {where} do not exist: "
                        f"{', '.join(missing[:_NAMED])}{more}; fix the paths (they are relative to the "
                        "CSV's folder) or remove those rows")


def _skip_note(n: int, what: str, examples: Iterable[str]) -> list[str]:
    names = list(examples)[:3]
    return [f"skipped {n} {what} (e.g. {', '.join(names)})"] if n else []


def load_class_folders(root: str | Path, *, name: str | None = None) -> Dataset:
    """One subfolder per class; every audio file below it (at any depth) is a clip of that class.

    Hidden files and folders are ignored; non-audio files are skipped and counted
    in ``Dataset.notes``.

    Raises
    ------
    DatasetError
        If ``root`` is not a folder or holds no class folder with audio.
    """
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"{root}: no such folder")
    root = root.resolve()
    clips: list[Clip] = []
    skipped: list[str] = []
    empty: list[str] = []
    loose = [p.name for p in root.iterdir() if p.is_file() and _is_audio(p) and not p.name.startswith(".")]
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not _hidden(p, root)):
        found = 0
        for path in sorted(folder.rglob("*")):
            if not path.is_file() or _hidden(path, root):
                continue
            if _is_audio(path):
                clips.append(Clip(path=path, label=folder.name))
                found += 1
            else:
                skipped.append(str(path.relative_to(root)))
        if not found:
            empty.append(folder.name)
    if not clips:
        hint = (f"; {len(loose)} audio files lie directly in it: put each class in its own subfolder"
                if loose else "")
        raise DatasetError(f"{root}: found no class folder with audio files{hint} "
                           "(expected e.g. dog/001.wav, cat/001.wav, or a manifest.csv)")
    notes = _skip_note(len(skipped), "non-audio files", skipped)
    notes += _skip_note(len(loose), "audio files outside class folders", loose)
    notes += _skip_note(len(empty), "folders without audio", empty)
    return Dataset.from_clips(clips, name=name or root.name, root=root, kind="folders", notes=notes)


def _read_csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            header = [h.strip().lower() for h in (reader.fieldnames or [])]
            reader.fieldnames = header
            rows = [{k: (v or "").strip() for k, v in row.items() if k is not None} for row in reader]
    except UnicodeDecodeError:
        raise DatasetError(f"{path}: not UTF-8 text; save the manifest as UTF-8 CSV") from None
    except csv.Error as exc:
        raise DatasetError(f"{path}: malformed CSV ({exc})") from None
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read ({exc})") from None
    return header, rows


def _group_value(column: str, value: str) -> str | None:
    if not value:
        return None
    if column in ("src_file", "source_file"):
        # ESC takes A/B/C of one Freesound sound are near-duplicates: drop the take so they share a group.
        stem = re.sub(r"\.[A-Za-z0-9]+$", "", value)
        return re.sub(r"-[A-Za-z]$", "", stem)
    return value


def _fold_value(value: str, row: int, where: Path) -> int | None:
    if not value:
        return None
    try:
        number = float(value)
    except ValueError:
        number = float("nan")
    if not number.is_integer():
        raise DatasetError(f"{where}, row {row}: fold {value!r} is not an integer")
    return int(number)


def _truthy(value: str) -> bool:
    return value.strip().lower() in ("true", "1", "yes", "y")


def load_manifest(csv_path: str | Path, *, name: str | None = None, esc10_only: bool = False,
                  kind: str = "manifest", confine: bool = False) -> Dataset:
    """Read a CSV manifest with columns ``path,label`` and optional ``fold``, ``group``, ``split``.

    Parameters
    ----------
    csv_path : str or Path
        The CSV (UTF-8, one header row). ``path`` is relative to the CSV's folder.
        ``speaker``, ``src_file`` or ``source_file`` stand in for ``group`` (for the
        source-file columns, the ESC take suffix ``-A``/``-B`` is dropped so takes of
        one recording share a group).
    name : str, optional
        Dataset name (default: the CSV's folder name).
    esc10_only : bool
        Keep only ESC-10 rows, using an ``esc10`` column or an ``esc50_target``/``target`` column.
    kind : str
        ``Dataset.kind`` of the result (the synthetic dataset reuses this reader).
    confine : bool
        Refuse paths that resolve outside the CSV's folder. :func:`load_dataset` sets it
        for a manifest that came in a zip, so an upload cannot point at the server's files.

    Raises
    ------
    DatasetError
        Missing ``path``/``label`` columns, an empty label, a non-integer fold,
        duplicate paths, or files that do not exist (the first few are named).
    """
    csv_path = Path(csv_path)
    if not csv_path.is_file():
        raise DatasetError(f"{csv_path}: no such manifest file")
    csv_path = csv_path.resolve()
    base = csv_path.parent
    header, rows = _read_csv(csv_path)
    path_col = next((c for c in _PATH_COLUMNS if c in header), None)
    if path_col is None or "label" not in header:
        raise DatasetError(f"{csv_path}: the header {header} lacks a 'path' and a 'label' column; "
                           "expected at least 'path,label'")
    group_col = next((c for c in _GROUP_COLUMNS if c in header), None)
    if esc10_only:
        rows = _esc10_rows(rows, header, csv_path)
    clips: list[Clip] = []
    missing: list[str] = []
    not_audio: list[str] = []
    seen: dict[Path, int] = {}
    for i, row in enumerate(rows, start=2):  # row 1 is the header
        rel = row.get(path_col, "")
        if not rel and not any(row.values()):
            continue  # blank line
        label = row.get("label", "")
        if not rel or not label:
            raise DatasetError(f"{csv_path}, row {i}: empty {'path' if not rel else 'label'}; every row needs both")
        path = (base / rel).resolve()
        if confine and not path.is_relative_to(base):
            raise DatasetError(f"{csv_path}, row {i}: {rel!r} points outside the dataset folder; paths must be "
                               "relative to the manifest's folder")
        if path in seen:
            raise DatasetError(f"{csv_path}, rows {seen[path]} and {i}: {rel!r} is listed twice; a clip listed "
                               "twice can land on both sides of a split")
        seen[path] = i
        if not _is_audio(path):
            not_audio.append(rel)
            continue
        if not path.is_file():
            missing.append(rel)
            continue
        split = row.get("split", "").lower() or None
        group = _group_value(group_col, row.get(group_col, "")) if group_col else None
        clips.append(Clip(path=path, label=label, fold=_fold_value(row.get("fold", ""), i, csv_path),
                          group=group, split=split))
    if missing:
        raise _missing_error(missing, csv_path, len(rows))
    notes = _skip_note(len(not_audio), "rows whose path is not an audio file", not_audio)
    return Dataset.from_clips(clips, name=name or base.name, root=base, kind=kind, notes=notes)


def _esc10_rows(rows: list[dict[str, str]], header: list[str], where: Path) -> list[dict[str, str]]:
    if "esc10" in header:
        return [r for r in rows if _truthy(r.get("esc10", ""))]
    target_col = next((c for c in ("esc50_target", "target") if c in header), None)
    if target_col is None:
        raise DatasetError(f"{where}: esc10_only needs an 'esc10' or 'esc50_target' column to know which rows "
                           "are ESC-10; drop --esc10 or add the column")
    try:
        return [r for r in rows if int(r.get(target_col) or -1) in ESC10_TARGETS]
    except ValueError:
        raise DatasetError(f"{where}: column {target_col!r} must hold integer ESC-50 class indices") from None


def load_esc50(root: str | Path, *, esc10_only: bool = False, name: str | None = None) -> Dataset:
    """The ESC-50 layout: ``meta/esc50.csv`` and ``audio/<filename>``.

    Columns used: ``filename, fold, category, esc10, src_file``. The label is the
    category, the group is ``src_file`` (the Freesound recording shared by its takes).

    Raises
    ------
    DatasetError
        If the CSV lacks those columns or listed audio files are missing.
    """
    root = Path(root).resolve()
    meta = root / "meta" / "esc50.csv"
    if not meta.is_file():
        raise DatasetError(f"{root}: not an ESC-50 folder (expected {meta})")
    header, rows = _read_csv(meta)
    need = {"filename", "fold", "category"}
    if not need <= set(header):
        raise DatasetError(f"{meta}: columns {sorted(need - set(header))} are missing; expected "
                           "filename,fold,target,category,esc10,src_file,take")
    if esc10_only:
        if "esc10" not in header:
            raise DatasetError(f"{meta}: no 'esc10' column, so the ESC-10 subset cannot be selected")
        rows = [r for r in rows if _truthy(r["esc10"])]
    clips, missing = [], []
    for i, row in enumerate(rows, start=2):
        path = (root / "audio" / row["filename"]).resolve()
        if not path.is_relative_to(root / "audio"):
            raise DatasetError(f"{meta}, row {i}: filename {row['filename']!r} points outside {root / 'audio'}")
        if not path.is_file():
            missing.append(f"audio/{row['filename']}")
            continue
        clips.append(Clip(path=path, label=row["category"], fold=_fold_value(row["fold"], i, meta),
                          group=row.get("src_file") or None))
    if missing:
        raise _missing_error(missing, meta, len(rows))
    return Dataset.from_clips(clips, name=name or ("esc10" if esc10_only else root.name), root=root, kind="esc50")


def load_fsdd(root: str | Path, *, name: str | None = None) -> Dataset:
    """The Free Spoken Digit Dataset layout: ``recordings/{digit}_{speaker}_{index}.wav``.

    The label is the digit as a word (``zero`` … ``nine``), the group is the
    speaker, and the split is ``test`` for repetitions 0-4, else ``train``
    (the upstream convention).

    Raises
    ------
    DatasetError
        If there is no ``recordings/`` folder or no file in it matches the pattern.
    """
    root = Path(root).resolve()
    rec = root / "recordings"
    if not rec.is_dir():
        raise DatasetError(f"{root}: not an FSDD folder (expected {rec})")
    clips, other = [], []
    for path in sorted(rec.iterdir()):
        m = FSDD_PATTERN.match(path.stem)
        if not (path.is_file() and _is_audio(path) and m):
            if not path.name.startswith("."):
                other.append(path.name)
            continue
        digit, speaker, index = int(m.group(1)), m.group(2), int(m.group(3))
        clips.append(Clip(path=path, label=DIGIT_WORDS[digit], group=speaker,
                          split="test" if index in _FSDD_TEST_INDICES else "train"))
    if not clips:
        raise DatasetError(f"{rec}: no file is named like '7_jackson_32.wav' (digit_speaker_index)")
    notes = _skip_note(len(other), "files not named digit_speaker_index.wav", other)
    return Dataset.from_clips(clips, name=name or root.name, root=root, kind="fsdd", notes=notes)
