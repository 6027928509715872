"""audioclf: audio classification you can see.

The library under the app: audio I/O, preprocessing, feature channels,
windowing, datasets, the Keras 3 model zoo, training, inference and model
bundles. Importing ``audioclf`` is light: it does not import Keras, which
loads where a model is built, trained or run; the model zoo's names
(``build_model``, ``list_models``, ...) are imported on first use.

Examples
--------
>>> import audioclf
>>> y = audioclf.audio.synth.tone(440.0, 1.0, 22050)
>>> audioclf.compute_channels(y, 22050, ["mel"])["mel"].values.shape
(128, 44)
"""

from __future__ import annotations

from typing import Any

from . import errors
from ._version import __version__
from .audio import synth
from .audio.augment import AugmentConfig
from .audio.io import audio_info, load_audio, resample, to_wav_bytes, write_audio
from .audio.preprocess import (
    DenoiseConfig,
    PreprocessConfig,
    SplitConfig,
    TrimConfig,
    denoise,
    preprocess,
    split_silence,
    trim_silence,
    trim_to_sound,
)
from .audio.windowing import WindowConfig, Windows, frame_windows, hop_for_overlap, sample_windows
from .backbones import BackboneSpec, embed_dataset, get_backbone, list_backbones
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
from .engine.bundle import Bundle, load_bundle, save_bundle
from .engine.bundle_zip import export_zip, import_zip
from .engine.config import ProgressEvent, StopToken, TrainConfig, TrainResult
from .engine.device import device_info
from .engine.evaluate import evaluate_bundle
from .engine.inference import Prediction, predict
from .engine.metrics import Evaluation
from .engine.pipeline import PipelineConfig
from .engine.recipes import default_pipeline, quick_recipe
from .engine.train import train
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
from .explanations.embedding_map import EmbeddingMap, embedding_map
from .explanations.gradcam import attention_spans, backbone_grad_cam, bundle_grad_cam, grad_cam
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
from .service.jobs import TrainingJob
from .service.session import SessionStore
from .service.store import list_bundles

# The model zoo (audioclf.models) imports Keras, and so TensorFlow, at import: its names load on first use.
_FROM_MODELS = ("list_models", "get_model_spec", "build_model", "compile_model", "explain", "load_model_file",
                "count_params", "ModelSpec")

__all__ = [
    "__version__", "errors", "synth",
    # errors
    "AudioclfError", "AudioError", "EmptyAudioError", "UnsupportedFormatError", "TruncatedAudioError",
    "ZeroFramesError", "NonFiniteAudioError", "AudioTooLongError", "ParameterError", "DatasetError", "ModelError",
    "BundleError", "ExportError", "BackboneError", "RecordingError", "RecordingLimitError", "UnsupportedBackendError",
    # audio
    "load_audio", "audio_info", "resample", "to_wav_bytes", "write_audio",
    "DenoiseConfig", "SplitConfig", "PreprocessConfig", "denoise", "split_silence", "trim_silence", "preprocess",
    "TrimConfig", "trim_to_sound",
    # features and windows
    "FeatureConfig", "ChannelInfo", "ChannelData", "list_channels", "get_channel", "compute_channel",
    "compute_channels", "stack_channels", "stft_pair", "summary_matrix", "summary_vector", "mean_stft",
    "WindowConfig", "Windows", "frame_windows", "sample_windows", "hop_for_overlap",
    # datasets
    "Clip", "Dataset", "SyntheticConfig", "load_dataset", "make_synthetic_dataset", "dataset_from_recordings",
    "safe_extract_zip", "summarize_dataset", "RecordingSet", "split_dataset", "kfold_splits",
    # app support
    "SessionStore", "list_bundles",
    # training, inference, bundles, backbones, explanations
    "AugmentConfig", "BackboneSpec", "embed_dataset", "get_backbone", "list_backbones", "Bundle", "load_bundle",
    "save_bundle", "export_zip", "import_zip", "ProgressEvent", "StopToken", "TrainConfig", "TrainResult",
    "device_info", "evaluate_bundle", "Prediction", "predict", "Evaluation", "PipelineConfig", "default_pipeline",
    "quick_recipe", "train", "EmbeddingMap", "embedding_map", "attention_spans", "backbone_grad_cam",
    "bundle_grad_cam", "grad_cam", "TrainingJob",
    *_FROM_MODELS,
]


def __getattr__(name: str) -> Any:
    if name not in _FROM_MODELS:
        raise AttributeError(f"module 'audioclf' has no attribute {name!r}")
    from . import models

    value = getattr(models, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_FROM_MODELS))
