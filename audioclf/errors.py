"""The one exception hierarchy of audioclf.

Every error the library raises on purpose derives from :class:`AudioclfError`,
so callers (the CLI, the app's pages) can catch one type and show one clear
line. Messages say what was received, what was expected and how to fix it.
"""

from __future__ import annotations

__all__ = [
    "AudioclfError",
    "AudioError",
    "EmptyAudioError",
    "UnsupportedFormatError",
    "TruncatedAudioError",
    "ZeroFramesError",
    "NonFiniteAudioError",
    "AudioTooLongError",
    "ExportError",
    "ParameterError",
    "DatasetError",
    "RecordingError",
    "RecordingLimitError",
    "ModelError",
    "BundleError",
    "BackboneError",
    "UnsupportedBackendError",
]


class AudioclfError(Exception):
    """Base class of every error audioclf raises deliberately."""


class ParameterError(AudioclfError, ValueError):
    """A parameter has a wrong type or value (e.g. ``hop_length=0``)."""


class AudioError(AudioclfError):
    """Audio could not be read or is not usable."""


class EmptyAudioError(AudioError):
    """The source holds no bytes at all."""


class UnsupportedFormatError(AudioError):
    """The bytes are not audio in a format we can decode."""


class TruncatedAudioError(AudioError):
    """The header promises more audio data than the file holds."""


class ZeroFramesError(AudioError):
    """The file is valid audio but holds zero sample frames."""


class NonFiniteAudioError(AudioError):
    """The decoded samples contain NaN or infinity."""


class AudioTooLongError(AudioError):
    """The clip is longer than the configured maximum duration."""


class DatasetError(AudioclfError):
    """A dataset source is missing, malformed, unsafe or too small."""


class RecordingError(DatasetError):
    """A change to a set of recorded takes is not possible (unknown class, name taken, bad name)."""


class RecordingLimitError(RecordingError):
    """A session's recordings would pass the limit on takes or on total duration."""


class ModelError(AudioclfError):
    """A model name, option or input shape is not valid."""


class BundleError(ModelError):
    """A model bundle is missing, inconsistent or unsafe to load."""


class BackboneError(ModelError):
    """A pretrained backbone is unknown, or its weight file is missing, altered or unsafe."""


class UnsupportedBackendError(ModelError):
    """The active Keras backend cannot do what was asked (e.g. Grad-CAM's gradients on JAX)."""


class ExportError(ModelError):
    """A bundle cannot be exported as asked (a channel without an exportable front end, an unknown format)."""
