"""A loaded backbone: its spec, its verified Keras network and its front end."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from .._hashing import file_sha256
from ..errors import BackboneError, ParameterError
from .frontends import sounds_frontend, speech_frontend
from .registry import RESTORE_HINT, BackboneSpec, backbones_dir, get_backbone_spec, get_top_block

__all__ = ["Backbone", "get_backbone", "file_sha256", "verify_weights"]

_FRONTENDS: dict[str, Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]] = {
    "sounds": sounds_frontend,
    "speech": speech_frontend,
}
_LOADED: dict[tuple[str, str], Backbone] = {}
# Weight files whose hash was checked, by path and the file's identity (inode, size, change and modification
# times): hashing 10-25 MB on every clip of a dataset cost 16 ms a clip; a rewritten or replaced file is
# hashed again.
_VERIFIED: dict[str, tuple[int, int, int, int]] = {}


def _identity(path: Path) -> tuple[int, int, int, int]:
    st = path.stat()
    return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def verify_weights(spec: BackboneSpec, root: str | os.PathLike | None = None) -> Path:
    """The weight file's path, after checking that it exists and has the registered SHA-256.

    Raises
    ------
    BackboneError
        The file is missing or its hash differs; the message says how to restore it.
    """
    path = spec.weights_path(root)
    if not path.is_file():
        raise BackboneError(f"the weights of backbone {spec.name!r} are missing ({path}); {RESTORE_HINT}")
    seen = f"{path.resolve()}:{spec.weights_sha256}"
    identity = _identity(path)
    if _VERIFIED.get(seen) == identity:
        return path
    digest = file_sha256(path)
    if digest != spec.weights_sha256:
        _VERIFIED.pop(seen, None)
        raise BackboneError(f"the weights of backbone {spec.name!r} were altered ({path} has SHA-256 "
                            f"{digest[:12]}..., expected {spec.weights_sha256[:12]}...); {RESTORE_HINT}")
    _VERIFIED[seen] = identity
    return path


@dataclass(frozen=True, eq=False)
class Backbone:
    """A pretrained network that turns a clip into one embedding per window.

    Get one with :func:`get_backbone`. Attributes: ``spec`` (:class:`BackboneSpec`)
    and ``model`` (the Keras model, windows -> embeddings).
    """

    spec: BackboneSpec
    model: object

    @property
    def name(self) -> str:
        return self.spec.name

    def frontend(self, y: np.ndarray, sr: int) -> tuple[np.ndarray, np.ndarray]:
        """The network's input windows of a clip and their starts in seconds.

        Parameters
        ----------
        y : np.ndarray [shape=(n,)]
            Mono samples in [-1, 1].
        sr : int
            Their rate; resampled (soxr HQ) to :attr:`BackboneSpec.sample_rate` when different.

        Returns
        -------
        windows : np.ndarray [shape=(n_windows, frames, n_bands), dtype=float32]
        starts : np.ndarray [shape=(n_windows,)]
        """
        y = np.asarray(y, dtype=np.float32)
        if y.ndim != 1 or y.size == 0:
            raise ParameterError(f"y must be a non-empty mono signal; got shape {y.shape}")
        if not np.all(np.isfinite(y)):
            raise ParameterError("y holds NaN or infinite samples")
        if not (isinstance(sr, int | np.integer) and sr > 0):
            raise ParameterError(f"sr={sr!r} must be a positive integer")
        if sr != self.spec.sample_rate:
            import soxr

            y = soxr.resample(y, int(sr), self.spec.sample_rate, quality="HQ").astype(np.float32)
        return _FRONTENDS[self.spec.name](y)

    def embed_windows(self, windows: np.ndarray, *, batch_size: int = 64) -> np.ndarray:
        """Embeddings of front-end windows [shape=(n_windows, embedding_dim), float32].

        Runs the compiled predict function in batches of at most ``batch_size``, each
        of its own size: Keras traces it again only once, for any batch size
        (``reduce_retracing``), and padding a batch would compute windows for nothing
        (30-40 ms each for ``sounds`` on two cores, whatever the batch size).
        """
        return self._run(self.model, windows, batch_size, (self.spec.embedding_dim,))

    def top_inputs(self, windows: np.ndarray, *, batch_size: int = 64) -> np.ndarray:
        """What the backbone's top block reads for each front-end window (fine-tuning's inputs).

        Returns
        -------
        np.ndarray [shape=(n_windows, *TopBlock.input_shape), float32]
            The output of the layer :attr:`TopBlock.cut` (:func:`get_top_block`).

        Raises
        ------
        BackboneError
            The backbone has no top block.
        """
        return self._run(self._lower, windows, batch_size, get_top_block(self.name).input_shape)

    def top_block(self) -> object:
        """A fresh, trainable copy of the top block, initialised from the pretrained weights.

        Every layer after :attr:`TopBlock.cut` is copied under the name ``ft_<name>``, so
        the trained copy never touches this (shared, frozen) backbone. Batch norm stays in
        inference mode (``trainable=False``): its statistics, measured on the backbone's
        large training set, are kept, and a small batch cannot disturb them.

        Returns
        -------
        keras.Model
            ``(batch, *TopBlock.input_shape)`` -> ``(batch, embedding_dim)``, named ``ft_<backbone>_top``.
        """
        import keras

        top = get_top_block(self.name)
        names = [layer.name for layer in self.model.layers]
        inputs = keras.Input(top.input_shape, name=f"ft_{self.name}_cut")
        x = inputs
        for layer in self.model.layers[names.index(top.cut) + 1:]:  # the backbones are plain chains
            clone = type(layer).from_config({**layer.get_config(), "name": f"ft_{layer.name}"})
            x = clone(x)
            clone.set_weights(layer.get_weights())
            if isinstance(clone, keras.layers.BatchNormalization):
                clone.trainable = False  # inference mode: pretrained statistics, frozen scale and shift
        return keras.Model(inputs, x, name=f"ft_{self.name}_top")

    @cached_property
    def _lower(self) -> object:
        """The backbone up to the top block's input (shares the frozen backbone's layers)."""
        import keras

        cut = self.model.get_layer(get_top_block(self.name).cut)
        return keras.Model(self.model.inputs, cut.output, name=f"{self.name}_below_top")

    def _run(self, model: object, windows: np.ndarray, batch_size: int, out_shape: tuple[int, ...]) -> np.ndarray:
        windows = np.asarray(windows, dtype=np.float32)
        if windows.ndim != 3 or windows.shape[1:] != self.spec.input_shape:
            raise ParameterError(f"windows must have shape (n, {self.spec.frames}, {self.spec.n_bands}); "
                                 f"got {windows.shape}")
        out = []
        for i in range(0, len(windows), batch_size):
            out.append(np.asarray(model.predict_on_batch(windows[i:i + batch_size])))
        return np.concatenate(out).astype(np.float32) if out else np.zeros((0, *out_shape), np.float32)

    def embed(self, y: np.ndarray, sr: int) -> np.ndarray:
        """One embedding per window of a clip [shape=(n_windows, embedding_dim), float32].

        Examples
        --------
        >>> bb = get_backbone("speech")                               # doctest: +SKIP
        >>> bb.embed(np.zeros(16000, np.float32), 16000).shape         # doctest: +SKIP
        (2, 96)
        """
        windows, _ = self.frontend(y, sr)
        return self.embed_windows(windows)


def get_backbone(name: str, *, root: str | os.PathLike | None = None) -> Backbone:
    """Load a backbone by name, after checking its weight file's SHA-256.

    The network is loaded with ``keras.saving.load_model(..., safe_mode=True)``
    and kept for the process (keyed by name and folder).

    Raises
    ------
    BackboneError
        Unknown name, or a missing, altered or unreadable weight file.
    """
    spec = get_backbone_spec(name)
    folder = Path(root) if root is not None else backbones_dir()
    path = verify_weights(spec, folder)
    key = (spec.name, str(path.resolve()))
    if key not in _LOADED:
        import keras

        from . import networks  # noqa: F401 -- registers ClampedLeakyReLU for deserialisation

        try:
            model = keras.saving.load_model(path, compile=False, safe_mode=True)
        except Exception as exc:  # noqa: BLE001 -- a file with the right hash should load; say so plainly
            raise BackboneError(f"the weights of backbone {spec.name!r} could not be loaded from {path} "
                                f"({type(exc).__name__}: {exc}); {RESTORE_HINT}") from None
        _LOADED[key] = Backbone(spec, model)
    return _LOADED[key]
