"""Where a model looked: Grad-CAM heat maps, and attention placed on the clip's time axis.

* :func:`grad_cam` -- Grad-CAM (Selvaraju et al., 2017) of one input for one
  class: the gradient of the class's score with respect to a conv layer's
  output, averaged over each filter's cells, weights that filter's map; the
  weighted sum, cut at zero, shows which cells raised the score. Stretched
  back to the input's (frequency, time) grid so it lies on the spectrogram.
* :func:`bundle_grad_cam` -- the same for a window of a classified clip.
* :func:`backbone_grad_cam` -- for models on a backbone's embeddings: through
  the head and the backbone down to the backbone's last conv block, over the
  log-mel input of each backbone window.
* :func:`gradcam_for` -- whichever of the two fits the bundle's input kind.
* :func:`attention_spans` -- recurrent attention weights (the zoo's ``rnn``
  attention, the ``attention`` head's weights over backbone windows) with the
  seconds each step covers.

Gradients come from :func:`audioclf.engine.backend.variable_gradient` (TensorFlow,
JAX, torch), taken with respect to a zero variable added to the chosen
layer's output in a copy of the model that shares its layers; on a backend
without gradients the functions here raise
:class:`~audioclf.errors.UnsupportedBackendError`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import ModelError, ParameterError

if TYPE_CHECKING:
    import keras

    from ..engine.bundle import Bundle
    from ..engine.inference import Prediction
    from ..engine.pipeline import PipelineConfig

__all__ = ["GradCam", "BackboneCam", "AttentionSpans", "gradcam_layer", "grad_cam", "bundle_grad_cam",
           "backbone_grad_cam", "gradcam_for", "upsample", "attention_spans"]

_ELEMENTWISE = ("BatchNormalization", "Activation", "ReLU", "LeakyReLU", "ELU", "PReLU", "Add", "Multiply",
                "Dropout", "SpatialDropout1D", "SpatialDropout2D", "GaussianNoise", "ClampedLeakyReLU")
_CROPS = ("FrequencyBand", "Cropping1D", "Cropping2D", "Cropping3D")


@dataclass(frozen=True)
class GradCam:
    """A Grad-CAM heat map of one input for one class.

    Attributes
    ----------
    heat : np.ndarray [shape=input's (freq, time), (time,) for waveforms, or (frames, bands) for a backbone]
        In [0, 1] (1 = the cell that raised the class's score most), on the input's own grid.
    grid : np.ndarray
        The same on the layer's (coarser) grid, before stretching and scaling.
    layer : str
        The conv layer the gradients were taken at.
    class_index : int
    prob : float
        The model's probability of that class for this input.
    """

    heat: np.ndarray
    grid: np.ndarray
    layer: str
    class_index: int
    prob: float


@dataclass(frozen=True)
class BackboneCam:
    """Grad-CAM of one model window of a model on backbone embeddings.

    Attributes
    ----------
    mels : np.ndarray [shape=(K, n_bands, frames)]
        The backbone's log-mel input of each of the window's ``K`` backbone windows (frequency first, to draw).
    heats : np.ndarray [shape=(K, n_bands, frames)]
        Grad-CAM of each, in [0, 1] over the whole window (so windows compare).
    starts : np.ndarray [shape=(K,)]
        Each backbone window's start in seconds of the clip; ``frame_s`` apart frame by frame.
    frame_s : float
        Seconds between two frames of the backbone's front end.
    layer : str
    class_index : int
    prob : float
    """

    mels: np.ndarray
    heats: np.ndarray
    starts: np.ndarray
    frame_s: float
    layer: str
    class_index: int
    prob: float


@dataclass(frozen=True)
class AttentionSpans:
    """Recurrent attention weights with the part of the clip each step covers.

    Attributes
    ----------
    window : np.ndarray [shape=(n,)], int
        The model window each step belongs to.
    starts, ends : np.ndarray [shape=(n,)]
        Seconds of the clip each step covers (steps that lie wholly in padding are left out).
    weights : np.ndarray [shape=(n,)]
        The step's weight times the number of steps in its window: 1 = an even share, 3 = three times that.
    """

    window: np.ndarray
    starts: np.ndarray
    ends: np.ndarray
    weights: np.ndarray

    @property
    def centres(self) -> np.ndarray:
        return (self.starts + self.ends) / 2


# --------------------------------------------------------------------------------------- the layer


def _is_conv(layer: Any) -> bool:
    import keras

    conv = (keras.layers.Conv1D, keras.layers.Conv2D, keras.layers.SeparableConv1D, keras.layers.SeparableConv2D,
            keras.layers.DepthwiseConv1D, keras.layers.DepthwiseConv2D)
    return isinstance(layer, conv) or (isinstance(layer, keras.Model) and len(layer.output.shape) >= 3)


def _graph(tensor: Any) -> dict[int, tuple[Any, Any, list[Any]]]:
    """Every operation ``tensor`` is computed from: id -> (operation, its output here, its input tensors).

    Walked through the outer graph's nodes, so a nested model's output is its output *in this model*.
    Keras 3 has no public node API; ``_keras_history`` and ``_inbound_nodes`` are what its Functional uses.
    """
    graph: dict[int, tuple[Any, Any, list[Any]]] = {}
    stack = [tensor]
    while stack:
        t = stack.pop()
        op, node_index, _ = t._keras_history
        if id(op) in graph:
            continue
        parents = list(op._inbound_nodes[node_index].input_tensors)
        graph[id(op)] = (op, t, parents)
        stack.extend(parents)
    return graph


def _cropped(graph: dict[int, tuple[Any, Any, list[Any]]], op: Any) -> bool:
    """True when ``op`` reads only a slice of the input (one band of a sub-band model): its map is not the input's."""
    stack, seen = list(graph[id(op)][2]), set()
    while stack:
        cur = stack.pop()._keras_history[0]
        if id(cur) in seen:
            continue
        seen.add(id(cur))
        if type(cur).__name__ in _CROPS:
            return True
        stack.extend(graph[id(cur)][2])
    return False


def _probs_tensor(model: keras.Model) -> Any:
    if len(model.outputs) == 1 and "probs" not in model.output_names:  # e.g. a backbone: its embedding
        return model.outputs[0]
    if "probs" not in model.output_names:
        raise ModelError(f"model {model.name!r} has no 'probs' output; build it with build_model")
    return model.outputs[model.output_names.index("probs")]


def _tap_layer(model: keras.Model, layer: str | None) -> tuple[str, Any]:
    """:func:`gradcam_layer`, with the chosen layer itself."""
    import keras

    root = _probs_tensor(model)
    graph = _graph(root)
    order = [m for m in model.layers if id(m) in graph]  # topological, as the model lists them
    spatial = [m for m in order if len(graph[id(m)][1].shape) >= 3 and graph[id(m)][2]]
    if layer is not None:
        found = next((m for m in spatial if m.name == layer), None)
        if found is None:
            raise ModelError(f"layer={layer!r} is not a layer with a (time[, freq], channels) output that the class "
                             f"scores depend on in {model.name}; choose one of: "
                             f"{', '.join(m.name for m in spatial[-8:])}")
        if _cropped(graph, found):
            raise ModelError(f"layer={layer!r} reads only a slice of the input (one band), so its map cannot be "
                             "laid over the whole input; choose a layer that sees all of it")
        return layer, found
    convs = [m for m in order if _is_conv(m) and not _cropped(graph, m)]
    if not convs:
        raise ModelError(f"{model.name} has no convolution over the whole input on the path to its class scores "
                         "(none at all, or one per frequency band), so Grad-CAM has no map to lay over it; look "
                         "at its attention or its sub-band votes instead")
    wide = [m for m in convs if all((d or 0) >= 2 for d in graph[id(m)][1].shape[1:-1])]
    chosen = (wide or convs)[-1]
    shape = tuple(graph[id(chosen)][1].shape)
    while True:
        out = id(graph[id(chosen)][1])
        nxt = [graph[i][0] for i in graph if any(id(t) == out for t in graph[i][2])]
        if (len(nxt) != 1 or type(nxt[0]).__name__ not in _ELEMENTWISE or isinstance(nxt[0], keras.Model)
                or tuple(graph[id(nxt[0])][1].shape) != shape):
            return chosen.name, chosen
        chosen = nxt[0]


def gradcam_layer(model: keras.Model, layer: str | None = None) -> str:
    """The layer Grad-CAM reads: ``layer`` checked, or the last conv block the class scores depend on.

    The class scores are the ``probs`` output (or the only output, e.g. a backbone's embedding).
    The default is the last convolution over the whole input (not one band of
    it) whose output still has at least two cells along each axis (a 1 x 1 map cannot say where), followed forward through the
    element-wise layers after it (batch norm, activation, residual add,
    attention gate) while the grid stays the same.

    Raises
    ------
    ModelError
        ``layer`` is not a layer of the model, the class scores do not depend on
        it, it has no spatial axis, or paths around it reach the scores (it sees
        only part of the input, as one band of a sub-band model); or the model
        has no such convolution.
    """
    return _tap_layer(model, layer)[0]


def _score_parts(model: keras.Model) -> tuple[Any, Any]:
    """(layer, fn): ``fn`` maps that layer's *input* to the class scores -- logits where the softmax is a Dense
    layer's activation (gradients of a saturated probability vanish) -- or, with ``None`` for the layer, the
    model's ``probs`` (or only) output to itself."""
    import keras

    probs = _probs_tensor(model)
    op = probs._keras_history[0]
    if isinstance(op, keras.layers.Dense) and op.activation is keras.activations.softmax:
        kernel, bias = op.kernel, op.bias

        def logits(h):
            z = keras.ops.matmul(keras.ops.cast(h, "float32"), keras.ops.cast(kernel, "float32"))
            return z + keras.ops.cast(bias, "float32") if bias is not None else z

        return op, logits
    return None, lambda p: keras.ops.cast(p, "float32")


def _nudged(model: keras.Model, target: Any, score_layer: Any, batch: int) -> tuple[Any, Any]:
    """A copy of ``model`` sharing its layers, with a zero variable added to ``target``'s output.

    Returns the copy, whose outputs are ``[target's output, score_layer's input (or the scores output)]``, and
    the variable: the gradient with respect to it is the gradient with respect to ``target``'s output.
    """
    import keras

    class Nudge(keras.layers.Layer):
        def __init__(self, shape: tuple[int, ...], **kwargs) -> None:
            super().__init__(**kwargs)
            self.nudge_shape = shape

        def build(self, input_shape) -> None:
            self.delta = self.add_weight(shape=self.nudge_shape, initializer="zeros", trainable=True, name="delta")

        def call(self, x):
            return x + keras.ops.cast(self.delta, x.dtype)

        def compute_output_shape(self, input_shape):
            return input_shape  # the batch is `batch` when called; symbolically it is unknown

    seen: dict[str, Any] = {}

    def call(layer, *args, **kwargs):
        if layer is score_layer:
            seen["scores"] = args[0]
        out = layer(*args, **kwargs)
        if layer is target:
            seen["act"], seen["nudge"] = out, Nudge((batch, *out.shape[1:]), name="grad_cam_nudge")
            out = seen["nudge"](out)
        return out

    copy = keras.models.clone_model(model, clone_function=lambda layer: layer, call_function=call)
    scores = seen["scores"] if score_layer is not None else copy.outputs[0 if len(copy.outputs) == 1 else
                                                                          model.output_names.index("probs")]
    inputs = copy.inputs[0] if len(copy.inputs) == 1 else copy.inputs  # a bare tensor takes a bare array
    return keras.Model(inputs, [seen["act"], scores]), seen["nudge"].delta


def upsample(grid: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Stretch a map onto a finer grid: each output bin takes the cell that covers its centre.

    Parameters
    ----------
    grid : np.ndarray [shape=(g0, g1, ...)]
    shape : tuple of int
        The finer grid, same number of axes.

    Returns
    -------
    np.ndarray [shape=shape]

    Examples
    --------
    >>> upsample(np.array([[1, 2]]), (2, 4))
    array([[1, 1, 2, 2],
           [1, 1, 2, 2]])
    """
    grid = np.asarray(grid)
    if grid.ndim != len(shape):
        raise ParameterError(f"a grid of shape {grid.shape} cannot be stretched to {shape}: the axes differ")
    index = np.ix_(*[np.minimum(((np.arange(n) + 0.5) * g / n).astype(int), g - 1)
                     for n, g in zip(shape, grid.shape, strict=True)])
    return grid[index]


def _cam(act: np.ndarray, grad: np.ndarray) -> np.ndarray:
    """Grad-CAM of a batch: (batch, *grid, channels) activations and gradients -> (batch, *grid), >= 0."""
    axes = tuple(range(1, act.ndim - 1))
    alpha = grad.mean(axis=axes, keepdims=True)  # (batch, 1.., channels): each filter's importance
    return np.maximum((alpha * act).sum(axis=-1), 0.0)


def _class_index(index: int | None, probs: np.ndarray) -> int:
    n = probs.shape[-1]
    if index is None:
        return int(np.argmax(probs))
    if isinstance(index, bool) or not isinstance(index, (int, np.integer)) or not 0 <= index < n:
        raise ParameterError(f"class_index={index!r} must be an integer in [0, {n - 1}]")
    return int(index)


def _scaled(cam: np.ndarray) -> np.ndarray:
    top = float(cam.max()) if cam.size else 0.0
    return (cam / top if top > 0 else np.zeros_like(cam)).astype(np.float32)


def grad_cam(model: keras.Model, x: np.ndarray, *, class_index: int | None = None,
             layer: str | None = None) -> GradCam:
    """Grad-CAM of one input for one class.

    Parameters
    ----------
    model : keras.Model
        A zoo model (a ``probs`` output).
    x : np.ndarray [shape=model input, without the batch axis]
        Already standardised, as the model reads it.
    class_index : int, optional
        Default: the class the model gives the highest probability.
    layer : str, optional
        Default: :func:`gradcam_layer`'s choice.

    Returns
    -------
    GradCam
        ``heat`` on the input's grid without its channel axis: (freq, time) for
        spectrograms, (samples,) for waveforms.

    Raises
    ------
    ModelError
        See :func:`gradcam_layer`; ``x`` of the wrong shape.
    UnsupportedBackendError
        The Keras backend cannot take gradients (Keras's ``numpy`` backend).

    Examples
    --------
    >>> cam = grad_cam(model, np.zeros((64, 64, 1), "float32"))     # doctest: +SKIP
    >>> cam.heat.shape, cam.layer                                   # doctest: +SKIP
    ((64, 64), 'b6_bn_3')
    """
    import keras

    from ..engine.backend import variable_gradient

    x = np.asarray(x, dtype=np.float32)
    expected = tuple(model.inputs[0].shape[1:])
    if x.shape != expected:
        raise ModelError(f"x has shape {x.shape}; {model.name} reads one input of shape {expected}")
    name, target = _tap_layer(model, layer)
    probs = np.asarray(model.predict_on_batch(x[None])["probs"], dtype=np.float32)[0]
    c = _class_index(class_index, probs)
    score_layer, scores = _score_parts(model)
    tap, nudge = _nudged(model, target, score_layer, 1)
    (act, _), grad = variable_gradient(tap, nudge, x[None], lambda outs: keras.ops.sum(scores(outs[1])[:, c]))
    grid = _cam(act, grad)[0]
    target = expected[:-1] if len(expected) > 1 else expected
    if len(grid.shape) != len(target):  # e.g. a (time, channels) layer in a model on (freq, time, 1) inputs
        raise ModelError(f"layer {name!r} has a {grid.shape} grid that does not map onto the input's {target}; "
                         "choose a layer before the features are flattened")
    return GradCam(heat=_scaled(upsample(grid, target)), grid=grid, layer=name, class_index=c, prob=float(probs[c]))


def bundle_grad_cam(bundle: Bundle, pred: Prediction, *, window: int = 0, class_index: int | None = None,
                    layer: str | None = None) -> GradCam:
    """Grad-CAM of one window of a classified clip (zoo models; see :func:`backbone_grad_cam` for the others).

    ``class_index`` defaults to the clip's predicted class (not the window's).

    Raises
    ------
    ParameterError
        ``window`` out of range, or a prediction made without its inputs.
    ModelError
        A model on backbone embeddings (use :func:`backbone_grad_cam`), or see :func:`grad_cam`.
    """
    if bundle.pipeline.input_kind == "embedding":
        raise ModelError("this model reads backbone embeddings; use backbone_grad_cam for its Grad-CAM")
    if pred.inputs is None:
        raise ParameterError("the prediction holds no inputs; predict the clip again")
    w = _window_index(window, len(pred.inputs))
    c = int(np.argmax(pred.probs)) if class_index is None else class_index
    return grad_cam(bundle.model, pred.inputs[w], class_index=c, layer=layer)


def _window_index(window: int, n: int) -> int:
    if isinstance(window, bool) or not isinstance(window, (int, np.integer)) or not 0 <= window < n:
        raise ParameterError(f"window={window!r} must be an integer in [0, {n - 1}]")
    return int(window)


def backbone_grad_cam(bundle: Bundle, y: np.ndarray, *, window: int = 0, class_index: int | None = None,
                      layer: str | None = None) -> BackboneCam:
    """Grad-CAM of one model window of a model on backbone embeddings, over the backbone's log-mel inputs.

    The class score is followed back through the head, the standardisation of
    the embeddings and the frozen backbone, to the output of the backbone's
    last conv block (:func:`gradcam_layer` on the backbone), for every one of
    the window's ``K`` backbone windows at once.

    Parameters
    ----------
    bundle : Bundle
        Its pipeline's ``input_kind`` is ``"embedding"``.
    y : np.ndarray [shape=(n,)]
        The clip, loaded at ``bundle.pipeline.sr``.
    window : int
        The model window (as in :attr:`Prediction.starts`).
    class_index : int, optional
        Default: the window's most likely class.
    layer : str, optional
        A layer of the backbone network.

    Returns
    -------
    BackboneCam

    Raises
    ------
    ModelError
        The bundle's model does not read embeddings; see :func:`gradcam_layer`.
    UnsupportedBackendError
        The Keras backend cannot take the gradients.
    """
    import keras

    from ..backbones import get_backbone
    from ..engine.backend import variable_gradient
    from ..engine.inputs import backbone_windows

    cfg = bundle.pipeline
    if cfg.input_kind != "embedding":
        raise ModelError(f"backbone_grad_cam explains models on backbone embeddings; this one reads "
                         f"{cfg.input_kind} inputs (use bundle_grad_cam)")
    bb = get_backbone(cfg.backbone)
    frames, index, starts = backbone_windows(y, cfg.sr, config=cfg)
    w = _window_index(window, len(index))
    slots = index[w]  # (K,) rows of `frames`, -1 for a padded slot
    x = frames[np.maximum(slots, 0)]  # (K, frames, bands)
    name, target = _tap_layer(bb.model, layer)
    tap, nudge = _nudged(bb.model, target, None, len(x))
    head = bundle.model
    score_layer, scores = _score_parts(head)
    head_scores = keras.Model(head.inputs, score_layer.input if score_layer is not None else _probs_tensor(head))
    mean, std = ((np.zeros(1, np.float32), np.ones(1, np.float32)) if bundle.stats is None
                 else (np.asarray(bundle.stats.mean, np.float32), np.asarray(bundle.stats.std, np.float32)))
    every = bb.embed_windows(frames)  # (n_emb, dim)
    # What the pipeline fed the head: the slot's embedding, or the constant padding (the minimum of all).
    fed = np.where((slots >= 0)[:, None], every[np.maximum(slots, 0)], every.min()).astype(np.float32)  # (K, dim)
    probs = np.asarray(head.predict_on_batch(((fed - mean) / std)[None].astype(np.float32))["probs"])[0]
    c = _class_index(class_index, probs)
    real = (slots >= 0).astype(np.float32)[:, None]  # padded slots take no gradient

    def score(outs):  # (K, dim) embeddings -> the class score of the model window
        e = keras.ops.cast(outs[1], "float32") * real + fed * (1.0 - real)
        z = keras.ops.expand_dims((e - mean) / std, 0)  # (1, K, dim)
        return keras.ops.sum(scores(head_scores(z, training=False))[:, c])

    (act, _), grad = variable_gradient(tap, nudge, x, score)
    cams = _cam(act, grad)  # (K, time', mel')
    spec = bb.spec
    heats = np.stack([upsample(g, spec.input_shape) for g in cams])  # (K, frames, bands)
    heats = _scaled(np.where(slots[:, None, None] >= 0, heats, 0.0))
    return BackboneCam(mels=np.transpose(x, (0, 2, 1)), heats=np.transpose(heats, (0, 2, 1)),
                       starts=starts[np.maximum(slots, 0)], frame_s=spec.hop_s / spec.frame_hop, layer=name,
                       class_index=c, prob=float(probs[c]))


def gradcam_for(bundle: Bundle, pred: Prediction, *, y: np.ndarray | None = None, window: int = 0,
                class_index: int | None = None, layer: str | None = None) -> GradCam | BackboneCam:
    """Grad-CAM of one window of a classified clip, by the function that fits the bundle's input kind.

    A model on backbone embeddings is explained over the backbone's log-mel windows
    (:func:`backbone_grad_cam`, which needs the clip's samples ``y``); every other model over its own input
    window, as the prediction fed it (:func:`bundle_grad_cam`).

    Parameters
    ----------
    bundle : Bundle
    pred : Prediction
        The clip's prediction by ``bundle``.
    y : np.ndarray [shape=(n,)], optional
        The clip at ``bundle.pipeline.sr``; needed for a model on embeddings.
    window : int
        The model window (as in :attr:`Prediction.starts`).
    class_index : int, optional
        Default: the clip's predicted class (embeddings: the window's).
    layer : str, optional
        The conv layer (of the backbone, for a model on embeddings).

    Returns
    -------
    GradCam or BackboneCam
        A :class:`BackboneCam` (one map per backbone window) for a model on embeddings.

    Raises
    ------
    ParameterError
        A model on embeddings without ``y``; ``window`` out of range.
    ModelError
        A model Grad-CAM cannot explain (see :func:`gradcam_layer`: no convolution over the whole input).

    Example
    -------
    >>> cam = gradcam_for(bundle, predict(bundle, y, sr=sr), y=y, window=0)     # doctest: +SKIP
    """
    if bundle.pipeline.input_kind == "embedding":
        if y is None:
            raise ParameterError("a model on backbone embeddings is explained over the backbone's inputs: pass the "
                                 f"clip's samples y (at {bundle.pipeline.sr} Hz)")
        return backbone_grad_cam(bundle, y, window=window, class_index=class_index, layer=layer)
    return bundle_grad_cam(bundle, pred, window=window, class_index=class_index, layer=layer)


# ------------------------------------------------------------------------------------ attention in time


def attention_spans(pred: Prediction, name: str, *, pipeline: PipelineConfig) -> AttentionSpans:
    """Recurrent attention weights of a prediction with the seconds each step covers.

    For a zoo model, a window of ``window_seconds`` read in ``T`` steps gives
    step ``i`` the span ``start + [i, i + 1] * window_seconds / T``. For a head
    on backbone embeddings, step ``k`` is the ``k``-th backbone window:
    ``start + k * hop_s`` for ``window_s`` seconds (a clip shorter than one
    input was centred in silence or looped, and its steps are placed
    accordingly). Steps that start after the window's real content ends (the
    padding of the last window) are left out; the others end at the clip's end
    at the latest. Silence removal (a pipeline option) is not undone inside a
    window.

    Raises
    ------
    ParameterError
        ``name`` is not an ``rnn`` attention map of the prediction.
    """
    att = pred.attention.get(name)
    if att is None or att.kind != "rnn":
        found = [k for k, a in pred.attention.items() if a.kind == "rnn"]
        raise ParameterError(f"{name!r} is not a recurrent ('rnn') attention map of this prediction; "
                             f"found: {', '.join(found) or 'none'}")
    vals = np.asarray(att.values, dtype=np.float64)  # (windows, steps)
    n_win, steps = vals.shape
    k = np.arange(steps)
    rows = []
    for w in range(n_win):
        start, end = float(pred.starts[w]), float(pred.ends[w])
        if pipeline.input_kind == "embedding":
            from ..backbones import get_backbone_spec

            spec = get_backbone_spec(pipeline.backbone)
            t0 = start + k * spec.hop_s
            t1 = t0 + spec.window_s
            if pred.padded[w] and n_win == 1 and pred.duration < pipeline.window_seconds:
                if pipeline.window.pad == "constant":  # centred in silence
                    shift = (pipeline.window_seconds - pred.duration) / 2
                    t0, t1 = t0 - shift, t1 - shift
                else:  # looped: a step heard the clip from (t0 mod duration)
                    t0 = np.mod(t0, pred.duration)
                    t1 = t0 + spec.window_s
        else:
            span = pipeline.window_seconds / steps
            t0 = start + k * span
            t1 = t0 + span
        keep = (t0 < end) & (t1 > 0)
        rows.append((np.full(keep.sum(), w), np.maximum(t0[keep], 0.0), np.minimum(t1[keep], max(end, pred.duration)),
                     vals[w, keep] * steps))
    window, starts, ends, weights = (np.concatenate(c) for c in zip(*rows, strict=True))
    return AttentionSpans(window.astype(int), starts, ends, weights)
