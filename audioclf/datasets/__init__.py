"""Labelled audio datasets: loading, summaries, safe zip extraction, splits and a synthetic set.

>>> ds = load_dataset("data/esc10")                       # doctest: +SKIP
>>> print(summarize_dataset(ds))                         # doctest: +SKIP
>>> train, val = split_dataset(ds, "fold:4")             # doctest: +SKIP
"""

from .core import KINDS, MIN_CLASSES, Clip, Dataset, clip_id, require_classes
from .load import KIND_CHOICES, default_cache_dir, detect_kind, load_dataset
from .recorded import dataset_from_recordings
from .safezip import MAX_FILES, MAX_RATIO, MAX_TOTAL_BYTES, ExtractReport, safe_extract_zip
from .sources import load_class_folders, load_esc50, load_fsdd, load_manifest
from .splits import kfold_splits, leaks, shared_files, split_dataset
from .summary import DatasetSummary, DurationStats, summarize_dataset
from .synthetic import SYNTHETIC_CLASSES, SyntheticConfig, make_synthetic_dataset

__all__ = [
    "Clip",
    "clip_id",
    "Dataset",
    "DatasetSummary",
    "DurationStats",
    "ExtractReport",
    "KINDS",
    "KIND_CHOICES",
    "MAX_FILES",
    "MAX_RATIO",
    "MAX_TOTAL_BYTES",
    "MIN_CLASSES",
    "SYNTHETIC_CLASSES",
    "SyntheticConfig",
    "dataset_from_recordings",
    "default_cache_dir",
    "detect_kind",
    "kfold_splits",
    "leaks",
    "shared_files",
    "load_class_folders",
    "load_dataset",
    "load_esc50",
    "load_fsdd",
    "load_manifest",
    "make_synthetic_dataset",
    "require_classes",
    "safe_extract_zip",
    "split_dataset",
    "summarize_dataset",
]
