"""A built-in dataset of synthesized sounds, so the whole pipeline runs offline.

Five classes a person can tell apart by ear and a model can tell apart by
features: pure ``tone``, rising or falling ``chirp``, ``noise_band``, ``clicks``
and ``harmonics`` (a note with overtones). Each class varies in pitch, rate or
band, duration, loudness and added background noise.

Clips come in *sources* of a few *takes*: the takes of one source share their
pitch, band or rate and differ only in duration, loudness and noise, like the
takes A/B/C of one ESC-50 recording. A source's takes share ``group`` and
``fold``, so a split by group or fold is honest while a naive random split
leaks -- which is worth seeing once.

Everything is deterministic given :attr:`SyntheticConfig.seed`: the same
config writes byte-identical WAV files, and a folder generated earlier with
the same config is reused without rewriting.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from .._atomic import write_text_atomic
from .._validate import check_positive_int
from ..audio import synth
from ..audio.io import write_audio
from ..errors import DatasetError, ParameterError
from .core import Dataset
from .sources import load_manifest

__all__ = ["SyntheticConfig", "SYNTHETIC_CLASSES", "make_synthetic_dataset"]

_MARKER = "synthetic.json"
_MANIFEST = "manifest.csv"
#: Bump when the generators change, so an old folder is not mistaken for a fresh one.
_FORMAT = 1

Generator = Callable[[np.random.Generator, np.random.Generator, float, int], np.ndarray]


def _loguniform(rng: np.random.Generator, low: float, high: float) -> float:
    return float(np.exp(rng.uniform(np.log(low), np.log(high))))


def _jitter(take: np.random.Generator) -> float:
    """A take's pitch or rate differs from its source's by up to 2 %."""
    return float(take.uniform(0.98, 1.02))


def _tone(base: np.random.Generator, take: np.random.Generator, duration: float, sr: int) -> np.ndarray:
    return synth.tone(_loguniform(base, 500.0, 1000.0) * _jitter(take), duration, sr)


def _chirp(base: np.random.Generator, take: np.random.Generator, duration: float, sr: int) -> np.ndarray:
    low = _loguniform(base, 150.0, 400.0)
    high = min(_loguniform(base, 2500.0, 5000.0), 0.45 * sr)
    f0, f1 = (low, high) if base.random() < 0.5 else (high, low)
    j = _jitter(take)
    return synth.chirp(f0 * j, f1 * j, duration, sr)


def _noise_band(base: np.random.Generator, take: np.random.Generator, duration: float, sr: int) -> np.ndarray:
    centre = min(_loguniform(base, 1500.0, 3000.0), 0.35 * sr)
    width = base.uniform(300.0, 900.0)
    seed = int(take.integers(2**31))
    return synth.noise_band(centre - width / 2, centre + width / 2, duration, sr, rng=seed)


def _clicks(base: np.random.Generator, take: np.random.Generator, duration: float, sr: int) -> np.ndarray:
    rate = base.uniform(4.0, 12.0) * _jitter(take)
    return synth.click_train(rate, duration, sr, click_ms=base.uniform(1.0, 3.0))


def _harmonics(base: np.random.Generator, take: np.random.Generator, duration: float, sr: int) -> np.ndarray:
    f0 = _loguniform(base, 100.0, 200.0) * _jitter(take)
    return synth.harmonic_stack(f0, duration, sr, n_harmonics=int(base.integers(4, 11)))


_GENERATORS: dict[str, Generator] = {
    "tone": _tone,
    "chirp": _chirp,
    "noise_band": _noise_band,
    "clicks": _clicks,
    "harmonics": _harmonics,
}
#: The sound classes :func:`make_synthetic_dataset` can generate.
SYNTHETIC_CLASSES = tuple(_GENERATORS)


@dataclass(frozen=True)
class SyntheticConfig:
    """What to generate. Saved as ``synthetic.json`` beside the clips.

    Parameters
    ----------
    seed : int
        Seed of every random draw.
    clips_per_class : int
        Number of clips of each class (default 20).
    takes_per_source : int
        Clips that share one source's pitch/band/rate (default 2); they share a group and fold.
    n_folds : int
        Sources are dealt round-robin into folds ``1..n_folds``; the last fold is the ``test`` split.
    sr : int
        Sample rate of the WAV files (default 16000).
    min_duration, max_duration : float
        Range of clip durations in seconds.
    min_amplitude, max_amplitude : float
        Range of peak amplitudes.
    noise_level : float
        Maximum standard deviation of the white noise added to each clip.
    classes : tuple of str
        Which of :data:`SYNTHETIC_CLASSES` to generate (at least 2).
    """

    seed: int = 0
    clips_per_class: int = 20
    takes_per_source: int = 2
    n_folds: int = 5
    sr: int = 16000
    min_duration: float = 0.8
    max_duration: float = 1.6
    min_amplitude: float = 0.2
    max_amplitude: float = 0.8
    noise_level: float = 0.02
    classes: tuple[str, ...] = SYNTHETIC_CLASSES

    def __post_init__(self) -> None:
        object.__setattr__(self, "classes", tuple(self.classes))
        for name in ("clips_per_class", "takes_per_source", "n_folds", "sr"):
            check_positive_int(getattr(self, name), name)
        if not isinstance(self.seed, int) or self.seed < 0:
            raise ParameterError(f"seed={self.seed!r} must be a non-negative integer")
        if self.sr < 8000:
            raise ParameterError(f"sr={self.sr} is too low for the noise bands and chirps; use 8000 Hz or more")
        if not 0 < self.min_duration <= self.max_duration:
            raise ParameterError(f"durations must satisfy 0 < min_duration <= max_duration, got "
                                 f"{self.min_duration} and {self.max_duration}")
        if not 0 < self.min_amplitude <= self.max_amplitude <= 1:
            raise ParameterError(f"amplitudes must satisfy 0 < min_amplitude <= max_amplitude <= 1, got "
                                 f"{self.min_amplitude} and {self.max_amplitude}")
        if not 0 <= self.noise_level < 1:
            raise ParameterError(f"noise_level={self.noise_level} must be in [0, 1)")
        unknown = [c for c in self.classes if c not in _GENERATORS]
        if unknown or len(set(self.classes)) < 2 or len(set(self.classes)) != len(self.classes):
            raise ParameterError(f"classes={list(self.classes)} must be at least 2 distinct names from "
                                 f"{', '.join(SYNTHETIC_CLASSES)}")

    def to_json(self) -> dict:
        return {"format": _FORMAT, **asdict(self), "classes": list(self.classes)}


def _render(config: SyntheticConfig, label: str, index: int) -> tuple[np.ndarray, int, int]:
    """Clip ``index`` of class ``label``: (samples, source number, fold)."""
    class_id = SYNTHETIC_CLASSES.index(label)  # stable even when config.classes is a subset
    source, take_no = divmod(index, config.takes_per_source)
    # Seeding by (seed, class, source[, take]) keeps every clip independent of the others' count.
    base = np.random.default_rng([config.seed, class_id, source])
    take = np.random.default_rng([config.seed, class_id, source, take_no + 1])
    duration = float(take.uniform(config.min_duration, config.max_duration))
    y = _GENERATORS[label](base, take, duration, config.sr).astype(np.float64)
    y *= take.uniform(config.min_amplitude, config.max_amplitude) / (np.max(np.abs(y)) or 1.0)
    y += take.uniform(0.0, config.noise_level) * take.standard_normal(len(y))
    return np.clip(y, -1.0, 1.0).astype(np.float32), source, source % config.n_folds + 1


def _reuse(root: Path, config: SyntheticConfig) -> bool:
    """True when ``root`` already holds a complete dataset generated with ``config``."""
    try:
        saved = json.loads((root / _MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if saved != config.to_json():
        return False
    try:
        with open(root / _MANIFEST, newline="", encoding="utf-8") as f:
            return all((root / row.get("path", "")).is_file() for row in csv.DictReader(f))
    except (OSError, csv.Error):
        return False


def _clear_previous(root: Path) -> None:
    """Remove the files a previous generation listed in its manifest -- and nothing else."""
    manifest = root / _MANIFEST
    if manifest.is_file():
        with open(manifest, newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                path = (root / row.get("path", "")).resolve()
                if path.is_file() and path.is_relative_to(root) and path.suffix == ".wav":
                    path.unlink()
        manifest.unlink()
    (root / _MARKER).unlink(missing_ok=True)
    for folder in root.iterdir():
        if folder.is_dir() and folder.name in _GENERATORS and not any(folder.iterdir()):
            folder.rmdir()


def make_synthetic_dataset(root: str | Path, *, config: SyntheticConfig | None = None,
                           overwrite: bool = False) -> Dataset:
    """Generate the synthetic dataset as WAV files under ``root`` (or reuse it) and load it.

    Parameters
    ----------
    root : str or Path
        Folder to write into: missing, empty, or holding a synthetic dataset.
        The layout is ``root/<class>/<class>_<nnn>.wav`` plus ``manifest.csv``
        (path, label, fold, group, split) and ``synthetic.json`` (the config).
    config : SyntheticConfig, optional
        What to generate (default ``SyntheticConfig()``: 5 classes x 20 clips, 16 kHz).
    overwrite : bool
        Replace a synthetic dataset generated there with a different config.

    Returns
    -------
    Dataset
        ``kind="synthetic"``; groups are sources (``"tone-03"``), folds ``1..n_folds``,
        split ``test`` for the last fold.

    Raises
    ------
    DatasetError
        If ``root`` is a file, holds other files, or holds a synthetic dataset
        with a different config while ``overwrite`` is false.

    Examples
    --------
    >>> ds = make_synthetic_dataset("/tmp/synth", config=SyntheticConfig(seed=1))  # doctest: +SKIP
    >>> ds.classes                                                                   # doctest: +SKIP
    ('chirp', 'clicks', 'harmonics', 'noise_band', 'tone')
    """
    config = config or SyntheticConfig()
    if not isinstance(config, SyntheticConfig):
        raise ParameterError(f"config must be a SyntheticConfig, got {type(config).__name__}")
    root = Path(root)
    if root.exists() and not root.is_dir():
        raise DatasetError(f"{root} is a file; give a folder to write the synthetic dataset into")
    root.mkdir(parents=True, exist_ok=True)
    root = root.resolve()
    if not _reuse(root, config):
        if (root / _MARKER).is_file():
            if not overwrite:
                raise DatasetError(f"{root} holds a synthetic dataset made with a different config; "
                                   "pass overwrite=True (CLI: --overwrite) or choose another folder")
            _clear_previous(root)
        if any(p for p in root.iterdir() if not p.name.startswith(".")):
            raise DatasetError(f"{root} is not empty and holds no synthetic dataset; choose an empty or new "
                               "folder so nothing of yours is overwritten")
        _generate(root, config)
    return load_manifest(root / _MANIFEST, name="synthetic", kind="synthetic")


def _generate(root: Path, config: SyntheticConfig) -> None:
    rows = []
    width = max(3, int(math.log10(config.clips_per_class)) + 1)
    for label in config.classes:
        (root / label).mkdir(exist_ok=True)
        for i in range(config.clips_per_class):
            y, source, fold = _render(config, label, i)
            rel = f"{label}/{label}_{i:0{width}d}.wav"
            write_audio(root / rel, y, config.sr, subtype="PCM_16")
            rows.append({"path": rel, "label": label, "fold": fold, "group": f"{label}-{source:02d}",
                         "split": "test" if fold == config.n_folds else "train"})
    manifest = io.StringIO()
    writer = csv.DictWriter(manifest, fieldnames=["path", "label", "fold", "group", "split"], lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    write_text_atomic(root / _MANIFEST, manifest.getvalue())
    # Written last: its presence means the folder is complete.
    write_text_atomic(root / _MARKER, json.dumps(config.to_json(), indent=2) + "\n")
