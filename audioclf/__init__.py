"""audioclf: audio classification you can see.

The library under the app: audio I/O, preprocessing, feature channels,
windowing, datasets, the Keras 3 model zoo, training, inference and model
bundles. Importing ``audioclf`` is light: names that need Keras (models,
training, inference, bundles) are imported on first use.

Examples
--------
>>> import audioclf
>>> y = audioclf.audio.synth.tone(440.0, 1.0, 22050)
>>> audioclf.compute_channels(y, 22050, ["mel"])["mel"].values.shape
(128, 44)
"""

from __future__ import annotations

import importlib
from typing import Any

from . import errors
from ._version import __version__
from .audio import synth
from .audio.io import audio_info, load_audio, resample, to_wav_bytes, write_audio
from .audio.preprocess import (
    DenoiseConfig,
    PreprocessConfig,
    SplitConfig,
    denoise,
    preprocess,
    split_silence,
    trim_silence,
)
from .audio.windowing import WindowConfig, Windows, frame_windows, hop_for_overlap, sample_windows
from .datasets import (
    Clip,
    Dataset,
    SyntheticConfig,
    dataset_from_recordings,
    kfold_splits,
    load_dataset,
    make_synthetic_dataset,
    safe_extract_zip,
    split_dataset,
    summarize_dataset,
)
from .datasets.recordings import RecordingSet
from .errors import (
    AudioclfError,
    AudioError,
    AudioTooLongError,
    BackboneError,
    BundleError,
    DatasetError,
    EmptyAudioError,
    ExportError,
    ModelError,
    NonFiniteAudioError,
    ParameterError,
    RecordingError,
    RecordingLimitError,
    TruncatedAudioError,
    UnsupportedBackendError,
    UnsupportedFormatError,
    ZeroFramesError,
)
from .features import (
    ChannelData,
    ChannelInfo,
    FeatureConfig,
    compute_channel,
    compute_channels,
    get_channel,
    list_channels,
    mean_stft,
    stack_channels,
    stft_pair,
    summary_matrix,
    summary_vector,
)
from .service.session import SessionStore
from .service.store import list_bundles

# Names whose modules import Keras (and so TensorFlow): loaded on first access.
_LAZY = {
    "list_models": "models", "get_model_spec": "models", "build_model": "models", "compile_model": "models",
    "explain": "models", "load_model_file": "models", "count_params": "models", "ModelSpec": "models",
    "TrainConfig": "engine.config", "TrainResult": "engine.config", "ProgressEvent": "engine.config",
    "StopToken": "engine.config", "train": "engine.train", "quick_recipe": "engine.recipes",
    "PipelineConfig": "engine.pipeline", "default_pipeline": "engine.recipes",
    "Evaluation": "engine.metrics", "evaluate_bundle": "engine.evaluate",
    "Prediction": "engine.inference", "predict": "engine.inference",
    "Bundle": "engine.bundle", "load_bundle": "engine.bundle", "save_bundle": "engine.bundle",
    "export_zip": "engine.bundle_zip", "import_zip": "engine.bundle_zip",
    "AugmentConfig": "audio.augment", "TrainingJob": "service.jobs", "device_info": "engine.device",
}
# Pretrained backbones (audioclf.backbones): the registry is light, loading one imports Keras.
_LAZY.update({"list_backbones": "backbones", "get_backbone": "backbones", "BackboneSpec": "backbones",
              "embed_dataset": "backbones"})
# The embedding explorer (audioclf.explanations.embedding_map): light itself; its sources import Keras when used.
_LAZY.update({"embedding_map": "explanations.embedding_map", "EmbeddingMap": "explanations.embedding_map"})
# Grad-CAM and attention in seconds (audioclf.explanations.gradcam): light itself; the gradients import Keras.
_LAZY.update({"grad_cam": "explanations.gradcam", "bundle_grad_cam": "explanations.gradcam",
              "backbone_grad_cam": "explanations.gradcam", "attention_spans": "explanations.gradcam"})

__all__ = [
    "__version__", "errors", "synth",
    # errors
    "AudioclfError", "AudioError", "EmptyAudioError", "UnsupportedFormatError", "TruncatedAudioError",
    "ZeroFramesError", "NonFiniteAudioError", "AudioTooLongError", "ParameterError", "DatasetError", "ModelError",
    "BundleError", "ExportError", "BackboneError", "RecordingError", "RecordingLimitError", "UnsupportedBackendError",
    # audio
    "load_audio", "audio_info", "resample", "to_wav_bytes", "write_audio",
    "DenoiseConfig", "SplitConfig", "PreprocessConfig", "denoise", "split_silence", "trim_silence", "preprocess",
    # features and windows
    "FeatureConfig", "ChannelInfo", "ChannelData", "list_channels", "get_channel", "compute_channel",
    "compute_channels", "stack_channels", "stft_pair", "summary_matrix", "summary_vector", "mean_stft",
    "WindowConfig", "Windows", "frame_windows", "sample_windows", "hop_for_overlap",
    # datasets
    "Clip", "Dataset", "SyntheticConfig", "load_dataset", "make_synthetic_dataset", "dataset_from_recordings",
    "safe_extract_zip", "summarize_dataset", "RecordingSet", "split_dataset", "kfold_splits",
    # app support
    "SessionStore", "list_bundles",
    *_LAZY,
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'audioclf' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
