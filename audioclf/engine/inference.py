"""Classify a clip of any length with a model bundle, window by window.

The clip goes through the bundle's own pipeline (the preprocessing, channels
and windowing of training), then every window through the model. The result
holds each window's class probabilities with its start and end time, the
clip's top classes (window probabilities averaged), every attention map the
model exposes (one per window), the reconstruction of ``jae`` and the
sub-band votes of ``subspectralnet``, and how long each step took.

Models run through ``predict_on_batch`` (their traced graph, without the
60-100 ms of set-up that ``model.predict`` adds to every clip).

:func:`predict` is four stages a server can also call one by one:
:func:`load_clip`, :func:`~audioclf.engine.inputs.clip_inputs` with
:func:`normalised`, :func:`model_pass` (the only one that may take the windows
of several clips at once, :mod:`audioclf.service.serving`) and :func:`assemble`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ParameterError
from .backend import replicated
from .bundle import Bundle, load_bundle
from .export_runner import verdict_number
from .inputs import ClipInputs, clip_inputs
from .openset import clip_embedding

__all__ = ["Prediction", "predict", "predict_windows", "model_outputs", "warm_up", "LoadedClip", "load_clip",
           "ModelPass", "model_pass", "normalised", "assemble"]


@dataclass(frozen=True)
class Prediction:
    """What a model heard in one clip.

    Attributes
    ----------
    file : str
        The clip's name.
    classes : tuple of str
    probs : np.ndarray [shape=(n_classes,)]
        Clip-level probabilities (the mean of the windows').
    window_probs : np.ndarray [shape=(n_windows, n_classes)]
    starts, ends : np.ndarray [shape=(n_windows,)]
        Each window's position in the clip, in seconds.
    padded : np.ndarray [shape=(n_windows,)], bool
    attention : dict[str, AttentionMap]
        Every attention tensor of the model, batch axis = windows.
    extras : dict[str, np.ndarray]
        ``reconstruction`` (jae; like ``inputs``) and ``sub_probs`` (subspectralnet;
        (n_windows, n_bands, n_classes)).
    inputs : np.ndarray [shape=(n_windows, *input_shape)]
        The standardised windows the model read (for drawing).
    duration : float
        The clip's duration in seconds.
    timings : dict[str, float]
        Seconds spent on ``features`` and ``model`` (and ``load`` for files).
    notes : tuple of str
        E.g. a silent clip kept unsplit, a clip shorter than one window.
    open_set : dict
        "None of these" (:mod:`audioclf.engine.openset`): ``unknown``, ``confidence`` and its
        threshold, and for models on backbone embeddings ``distance`` and its threshold;
        ``{}`` for a bundle trained before calibration existed.
    embedding : np.ndarray or None
        The clip's mean backbone embedding (models on embeddings).
    """

    file: str
    classes: tuple[str, ...]
    probs: np.ndarray
    window_probs: np.ndarray
    starts: np.ndarray
    ends: np.ndarray
    padded: np.ndarray
    attention: dict = field(default_factory=dict, repr=False)
    extras: dict = field(default_factory=dict, repr=False)
    inputs: np.ndarray | None = field(default=None, repr=False)
    duration: float = 0.0
    timings: dict = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    open_set: dict = field(default_factory=dict)
    embedding: np.ndarray | None = field(default=None, repr=False)
    #: The clip's backbone embeddings as the head reads them, before standardisation (n_inputs, K, dim): what
    #: the "none of these" test compares window by window (models on embeddings; else None).
    sequences: np.ndarray | None = field(default=None, repr=False)

    @property
    def unknown(self) -> bool:
        """True when the clip seems to be none of the model's classes (see :attr:`open_set`)."""
        return bool(self.open_set.get("unknown", False))

    def judged(self, confidence: float | None, calibration: Any) -> Prediction:
        """The same prediction judged again with another confidence threshold (the app's slider)."""
        import dataclasses

        if calibration is None:
            return self
        return dataclasses.replace(self, open_set=calibration.judge(self.probs, self.embedding,
                                                                   confidence=confidence, inputs=self.sequences))

    @property
    def seconds(self) -> float:
        """Total time taken."""
        return float(sum(self.timings.values()))

    @property
    def label(self) -> str:
        """The most likely class."""
        return self.classes[int(np.argmax(self.probs))]

    def top(self, k: int = 3) -> list[tuple[str, float]]:
        """The ``k`` most likely classes with their probabilities, best first."""
        order = np.argsort(-self.probs)[:k]
        return [(self.classes[i], float(self.probs[i])) for i in order]

    def to_dict(self, *, top_k: int = 3, decimals: int = 3, attention: bool = True) -> dict[str, Any]:
        """A compact JSON-ready summary (the CLI's ``predict --json`` output).

        Each window's ``probs`` follow the order of ``classes``. Attention values are rounded to ``decimals``; each map is
        ``{kind, axes, block, values}`` with ``values`` one nested list per window.
        """
        out: dict[str, Any] = {
            "file": self.file,
            "label": self.label,
            "top": [{"label": lab, "prob": round(p, decimals)} for lab, p in self.top(top_k)],
            "duration": round(self.duration, 4),
            "classes": list(self.classes),
            "windows": [{"start": round(float(s), 4), "end": round(float(e), 4), "padded": bool(pad),
                         "probs": [round(float(p), decimals) for p in row]}
                        for s, e, pad, row in zip(self.starts, self.ends, self.padded, self.window_probs,
                                                  strict=True)],
            "seconds": round(self.seconds, 4),
            "timings": {k: round(v, 4) for k, v in self.timings.items()},
            "notes": list(self.notes),
            "unknown": self.unknown,
            "unknown_score": round(float(self.open_set.get("confidence", np.max(self.probs))), decimals),
            "open_set": {k: (verdict_number(v, decimals) if isinstance(v, float) else v)
                         for k, v in self.open_set.items()},
        }
        if attention and self.attention:
            out["attention"] = {name: {"kind": a.kind, "axes": list(a.axes[1:]), "block": a.block,
                                       "values": np.round(a.values.astype(np.float64), decimals).tolist()}
                                for name, a in self.attention.items()}
        if "sub_probs" in self.extras:
            out["sub_probs"] = np.round(self.extras["sub_probs"].astype(np.float64), decimals).tolist()
        if "reconstruction" in self.extras:
            rec, inp = self.extras["reconstruction"], self.inputs
            if inp is not None:
                out["reconstruction_mse"] = [round(float(v), 5) for v in ((rec - inp) ** 2).reshape(len(rec), -1)
                                             .mean(axis=1)]
        return out


def model_outputs(model: Any, x: np.ndarray, *, batch_size: int = 64) -> dict[str, np.ndarray]:
    """Run ``model`` on standardised inputs in batches; every output as numpy, batch first.

    A model replicated over several devices or workers (:func:`audioclf.engine.backend.replicated`)
    goes through ``model.predict``, which splits each batch over the replicas:
    its ``predict_on_batch`` would return every row once per replica.
    """
    if replicated(model):
        return _as_dict(model, model.predict(x, batch_size=batch_size, verbose=0))
    chunks: list[dict[str, np.ndarray]] = []
    for i in range(0, len(x), batch_size):
        # predict_on_batch runs the traced graph: ~10x faster per clip than an eager call, and it
        # holds the GIL far less while other app sessions run.
        chunks.append(_as_dict(model, model.predict_on_batch(x[i:i + batch_size])))
    return {k: np.concatenate([c[k] for c in chunks]) for k in chunks[0]}


def _as_dict(model: Any, out: Any) -> dict[str, np.ndarray]:
    """A model's outputs (one array, a list or a dict) as a dict of float32 arrays by output name."""
    if not isinstance(out, dict):
        out = dict(zip(model.output_names, out if isinstance(out, (list, tuple)) else [out], strict=True))
    return {k: np.asarray(v, dtype=np.float32) for k, v in out.items()}


def _normalise(bundle: Bundle, x: np.ndarray) -> np.ndarray:
    return bundle.stats.apply(x) if bundle.stats is not None else np.asarray(x, dtype=np.float32)


def predict_windows(bundle: Bundle, x: np.ndarray, *, batch_size: int = 64) -> np.ndarray:
    """Class probabilities of unnormalised windows [shape=(n_windows, n_classes)].

    Parameters
    ----------
    bundle : Bundle
    x : np.ndarray [shape=(n_windows, *input_shape)]
        Windows as :func:`audioclf.engine.inputs.clip_inputs` makes them.
    batch_size : int
    """
    x = np.asarray(x)
    if x.shape[1:] != bundle.pipeline.input_shape:
        raise ParameterError(f"windows of shape {x.shape[1:]} do not fit the model's input "
                             f"{bundle.pipeline.input_shape}")
    return model_outputs(bundle.model, _normalise(bundle, x), batch_size=batch_size)["probs"]


def predict(bundle: Bundle | str | Path, source: Any, *, sr: int | None = None, name: str | None = None,
            explain: bool = True, batch_size: int = 64) -> Prediction:
    """Classify one clip of any length.

    Parameters
    ----------
    bundle : Bundle or path
        A loaded bundle (load once, predict many) or a bundle folder.
    source : path, bytes, file-like or np.ndarray
        An audio file (any format :func:`audioclf.audio.io.load_audio` reads) or samples.
    sr : int, optional
        Sample rate of ``source`` when it is an array (resampled to the bundle's rate).
    name : str, optional
        Shown as ``file`` in the result; default: the file name.
    explain : bool
        Also read out attention maps (models that have them).
    batch_size : int

    Returns
    -------
    Prediction

    Raises
    ------
    AudioError
        If the audio cannot be read.
    ParameterError
        If ``source`` is an array without ``sr``.

    Examples
    --------
    >>> b = load_bundle("runs/esc10")                              # doctest: +SKIP
    >>> p = predict(b, "dog.wav")                                  # doctest: +SKIP
    >>> p.top(2), p.starts[:2], p.timings                          # doctest: +SKIP
    """
    b = bundle if isinstance(bundle, Bundle) else load_bundle(bundle)
    cfg = b.pipeline
    clip = load_clip(b, source, sr=sr, name=name)
    t1 = time.perf_counter()
    inp = clip_inputs(clip.y, cfg.sr, config=cfg, name=clip.label)
    x = _normalise(b, inp.x)
    timings = {**clip.timings, "features": time.perf_counter() - t1}
    t2 = time.perf_counter()
    out = model_pass(b, x, explain=explain, batch_size=batch_size)
    timings["model"] = time.perf_counter() - t2
    return assemble(b, clip.label, inp, x, out, timings)


@dataclass(frozen=True)
class LoadedClip:
    """A clip's samples at the bundle's rate, its display name, and the seconds spent loading it."""

    y: np.ndarray
    label: str
    timings: dict = field(default_factory=dict)


def load_clip(bundle: Bundle, source: Any, *, sr: int | None = None, name: str | None = None) -> LoadedClip:
    """The first stage of :func:`predict`: ``source`` read (or resampled) at the bundle's rate.

    Parameters and errors as :func:`predict`.
    """
    from ..audio.io import load_audio, resample

    cfg = bundle.pipeline
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    if isinstance(source, np.ndarray):
        if sr is None:
            raise ParameterError("sr is required when source is an array of samples")
        y = np.asarray(source, dtype=np.float32)
        if y.ndim == 2:
            y = y.mean(axis=0 if y.shape[0] < y.shape[1] else 1)
        y = resample(y, int(sr), cfg.sr)
        label = name or "clip"
    else:
        label = name or (Path(source).name if isinstance(source, (str, Path)) else getattr(source, "name", None)
                         or "clip")
        y, _ = load_audio(source, sr=cfg.sr, name=str(label))
        timings["load"] = time.perf_counter() - t0
    return LoadedClip(y, str(label), timings)


@dataclass(frozen=True)
class ModelPass:
    """What the model returned for a batch of standardised windows (the model stage of :func:`predict`).

    Attributes
    ----------
    probs : np.ndarray [shape=(n_windows, n_classes)]
    attention : dict[str, AttentionMap]
        Batch axis = windows.
    extras : dict[str, np.ndarray]
        Every other output, batch first.
    """

    probs: np.ndarray
    attention: dict = field(default_factory=dict)
    extras: dict = field(default_factory=dict)

    def rows(self, start: int, stop: int) -> ModelPass:
        """The same outputs for windows ``start:stop`` only (one clip's share of a batched pass)."""
        import dataclasses

        return ModelPass(self.probs[start:stop],
                         {k: dataclasses.replace(a, values=a.values[start:stop]) for k, a in self.attention.items()},
                         {k: v[start:stop] for k, v in self.extras.items()})


def model_pass(bundle: Bundle, x: np.ndarray, *, explain: bool = True, batch_size: int = 64) -> ModelPass:
    """Run the bundle's model on standardised windows, the windows of one clip or of several.

    Each window is computed on its own (no layer mixes the windows of a batch in inference), so the
    windows of several clips can go through in one call and be split again with :meth:`ModelPass.rows`.

    Parameters
    ----------
    bundle : Bundle
    x : np.ndarray [shape=(n_windows, *input_shape)]
        Normalised windows (``bundle.stats`` applied).
    explain : bool
        Also read out attention maps (models that have them).
    batch_size : int
    """
    has_more = len(bundle.model.output_names) > 1
    if explain and (has_more or _has_attention(bundle.model)):
        from ..models import explain as explain_model

        ex = explain_model(bundle.model, x, batch_size=batch_size)
        return ModelPass(np.asarray(ex.probs), ex.attention, dict(ex.extras))
    outs = model_outputs(bundle.model, x, batch_size=batch_size)
    probs = outs.pop("probs")
    return ModelPass(probs, {}, outs)


def normalised(bundle: Bundle, inp: ClipInputs) -> np.ndarray:
    """A clip's windows standardised as the model reads them (``bundle.stats`` applied)."""
    return _normalise(bundle, inp.x)


def assemble(bundle: Bundle, label: str, inp: ClipInputs, x: np.ndarray, out: ModelPass,
             timings: dict[str, float]) -> Prediction:
    """The last stage of :func:`predict`: one clip's windows and model outputs as a :class:`Prediction`
    (the clip's probabilities, its embedding and the open-set verdict are per clip)."""
    clip_probs = out.probs.mean(axis=0)
    embedding = clip_embedding(inp.x) if bundle.pipeline.input_kind == "embedding" else None
    sequences = inp.x if embedding is not None else None
    verdict = {} if bundle.open_set is None else bundle.open_set.judge(clip_probs, embedding, inputs=sequences)
    return Prediction(file=label, classes=bundle.classes, probs=clip_probs, window_probs=out.probs,
                      starts=inp.starts, ends=inp.ends, padded=inp.padded, attention=out.attention,
                      extras=out.extras, inputs=x, duration=inp.duration, timings=timings, notes=inp.notes,
                      open_set=verdict, embedding=embedding, sequences=sequences)


def _has_attention(model: Any) -> bool:
    return any(layer.name.startswith("attn_") for layer in model.layers)


def warm_up(bundle: Bundle) -> None:
    """Run a short silent clip through the bundle once.

    The first call of the feature code and of the model pays one-off set-up
    costs (about a second); a page can pay them while loading, so the first
    real prediction is as fast as the next ones.
    """
    cfg = bundle.pipeline
    for windows in (1, 3):  # a second batch size makes the model's traced call accept any number of windows
        y = np.zeros(int(windows * cfg.window_seconds * cfg.sr) + 1, dtype=np.float32)
        predict(bundle, y, sr=cfg.sr, name="warm-up")
