"""The model leaves the app: one graph from audio frames to class probabilities, as ONNX or TFLite.

:func:`export_graph` builds, from a bundle, one Keras model whose front end is made of fixed matrices
computed by the same librosa functions the features use, so training and export cannot drift:

* the STFT is a matrix product of each frame with DFT kernels that hold librosa's periodic Hann window
  (``librosa.filters.get_window``); its power (or magnitude) follows;
* the mel bands are a product with ``librosa.filters.mel`` of the bundle's parameters, decibels are
  ``power_to_db`` as :meth:`audioclf.features.ChannelData.model_input` computes them (ref 1, ``amin``, and
  ``top_db`` below the clip's peak, which the graph takes as its ``clip_peak`` input), MFCCs a product
  with the orthonormal DCT-II that ``librosa.feature.mfcc`` applies, and the resize to the model's
  frequency bins a product with the interpolation matrix of :func:`audioclf.features.stack.interp_axis`;
* then the per-window normalisation of the bundle and the trained model.

Waveform models read their audio window as it is. Models on a backbone read the frames of their ``K``
backbone windows; the backbone's own front end (aiSFX's log-mel, speech_embedding's int16 mel with its
80-dB floor), the backbone (or, fine-tuned, its part below the trained top block) and the head are one graph,
which also gives the windows' embeddings (``embedding``) for the open-set distance.

What stays outside the graph is indexing only: reading the file, scaling the clip to full-scale peak,
slicing it into frames, the windows' starts and padding, and averaging the windows; ``classify.py``
(:mod:`audioclf.engine.export_runner`) does it in numpy exactly as :func:`~audioclf.engine.inference.predict`.

:func:`export_bundle` converts the graph (ONNX through tf2onnx, TFLite with builtin ops only), writes a
self-contained folder (model, ``labels.json``, ``README.md``, ``classify.py``) atomically and checks the
exported model against the Keras bundle on real or synthesized clips.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ExportError
from . import export_runner
from .bundle import Bundle, load_bundle, move_into_place

__all__ = ["EXPORT_FORMATS", "QUANTIZE_OPTIONS", "EXPORTABLE_CHANNELS", "ExportResult", "check_exportable",
           "export_graph", "representative_inputs", "convert", "export_bundle", "export_zip_bytes",
           "export_archive"]

EXPORT_FORMATS = ("onnx", "tflite")
QUANTIZE_OPTIONS = ("none", "float16", "int8")
#: Channels whose front end is a fixed matrix product (and decibels) of the frames.
EXPORTABLE_CHANNELS = ("mel", "mfcc", "stft_mag", "stft_real", "stft_imag")
_AMIN_POWER = 1e-10  # audioclf.features._types: power_to_db's amin (amplitude_to_db's 1e-5, squared)
_MFCC_TOP_DB = 80.0  # librosa.power_to_db's default, which librosa.feature.mfcc's log-mel uses
_MAX_QUANT_LOSS = 0.01  # a quantized model losing more accuracy (or agreement, without labels) is flagged


def _db(x: Any, ops: Any) -> Any:
    """``10 log10(max(x, amin))``: power_to_db with ref 1, before the top_db floor."""
    return ops.log(ops.maximum(x, _AMIN_POWER)) * (10.0 / math.log(10.0))


def _dft(n_fft: int, window: np.ndarray) -> np.ndarray:
    """``[w cos | -w sin]`` [shape=(n_fft, 2 * (n_fft // 2 + 1))]: a windowed frame times it is its rfft."""
    n = np.arange(n_fft)[:, None]
    k = np.arange(n_fft // 2 + 1)[None, :]
    ang = 2.0 * np.pi * ((n * k) % n_fft) / n_fft  # exact phase for large n * k
    w = np.asarray(window, np.float64)[:, None]
    return np.concatenate([w * np.cos(ang), -w * np.sin(ang)], axis=1).astype(np.float32)


def check_exportable(bundle: Bundle) -> None:
    """Raise :class:`ExportError` unless the bundle's whole pipeline can go into a graph.

    Raises
    ------
    ExportError
        A channel without a matrix front end (CQT, chroma, phase, gammatone...), summary inputs,
        or preprocessing (denoise, silence split) the graph cannot hold. A trim to the sound is no part of
        the graph either, but plain numpy: ``classify.py`` and the browser repeat it (``labels.json``'s
        ``trim``).
    """
    cfg = bundle.pipeline
    if cfg.preprocess.denoise is not None or cfg.preprocess.split is not None:
        raise ExportError(f"{bundle.name}: its pipeline denoises or splits silences before the features; an "
                          "exported model cannot do that -- train without preprocessing to export")
    if cfg.input_kind == "summary":
        raise ExportError(f"{bundle.name}: summary inputs (per-window statistics of many channels) cannot be "
                          f"exported; exportable input kinds are spectrogram, multichannel, waveform and embedding "
                          f"with channels {', '.join(EXPORTABLE_CHANNELS)}")
    bad = [p for p in cfg.planes if p not in EXPORTABLE_CHANNELS]
    if bad:
        raise ExportError(f"channel {bad[0]!r} cannot be exported (no fixed-matrix front end); the channels that "
                          f"can are {', '.join(EXPORTABLE_CHANNELS)}")


# --- the front ends as Keras layers ---------------------------------------------------------------------------

def _tables(tables: dict[str, np.ndarray], frames: Any, keep_float: bool) -> dict[str, Any]:
    """The front end's matrices as tensors; with ``keep_float`` tied to the input so they are no constants.

    A quantizer turns every large constant matrix into int8, and a DFT kernel or a mel bank in int8 ruins
    the decibels (an int8 FSDD model lost 40 points that way): adding ``min(|frames[0, ...]|, 0)`` keeps them
    out of its reach, at the cost of one addition per entry per call.
    """
    from keras import ops

    out = {k: ops.convert_to_tensor(v) for k, v in tables.items()}
    if keep_float:
        # min(|x|, 0) is 0, but no converter folds it away as it does x * 0
        zero = ops.minimum(ops.abs(ops.reshape(frames, (-1,))[0]), 0.0)
        out = {k: v + zero for k, v in out.items()}
    return out


def _layers() -> Any:
    """The front-end layer classes (defined on first use: importing this module must not import Keras)."""
    import keras
    from keras import ops

    class FramesFrontEnd(keras.layers.Layer):
        """Frames ``(b, T, n_fft)`` and the clip's peak per decibel channel ``(b, F)`` -> model input, peaks."""

        def __init__(self, tables: dict[str, np.ndarray], planes: list[dict], center: bool, *,
                     keep_float: bool = False, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.tables, self.planes, self.center, self.keep_float = tables, planes, center, keep_float

        def call(self, inputs: list) -> tuple:
            frames, clip_peak = inputs
            t = _tables(self.tables, frames, self.keep_float)
            nb = self.tables["dft"].shape[1] // 2
            spec = ops.matmul(frames, t["dft"])  # (b, T, 2 nb)
            re, im = spec[..., :nb], spec[..., nb:]
            power = re * re + im * im  # (b, T, nb)
            out, peaks = [], []
            for p in self.planes:
                name = p["name"]
                if name == "stft_real":
                    v = re
                elif name == "stft_imag":
                    v = im
                else:
                    v = _db(ops.matmul(power, t["mel_t"]) if name in ("mel", "mfcc") else power, ops)
                    if p["floor"] is not None:
                        i = p["floor"]
                        peaks.append(ops.max(v, axis=(1, 2))[:, None])
                        v = ops.maximum(v, clip_peak[:, i:i + 1, None] - p["top_db"])
                    if name == "mfcc":
                        v = ops.matmul(v, t["dct_t"])  # (b, T, n_mfcc)
                v = ops.matmul(v, t[f"interp_{p['rows']}_{p['bins']}"])  # (b, T, f)
                out.append(v)
            x = ops.transpose(ops.stack(out, axis=-1), (0, 2, 1, 3))  # (b, f, T, c)
            if self.center:
                x = x - ops.mean(x, axis=2, keepdims=True)
            peak = ops.concatenate(peaks, axis=1) if peaks else ops.zeros_like(clip_peak)
            return x, peak

    class BlockFrontEnd(keras.layers.Layer):
        """Backbone frames ``(b, K, B, n_fft)`` -> the backbone's input ``(b K, B, bands)``, and the peak (b, 1)."""

        def __init__(self, tables: dict[str, np.ndarray], backbone: str, *, keep_float: bool = False,
                     **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.tables, self.backbone, self.keep_float = tables, backbone, keep_float

        def call(self, inputs: list) -> tuple:
            from ..backbones.frontends import SOUNDS_SCALE

            frames, clip_peak = inputs
            t = _tables(self.tables, frames, self.keep_float)
            shape = ops.shape(frames)
            k, block, n_fft = frames.shape[1], frames.shape[2], frames.shape[3]
            # one frame per row: TFLite's converter mis-fuses a rank-3 product followed by a constant add
            x = ops.reshape(frames, (-1, n_fft))  # (b K B, n_fft)
            nb = self.tables["dft"].shape[1] // 2
            if self.backbone == "speech":  # openWakeWord reads 16-bit PCM
                x = ops.clip(x * 32768.0, -32768.0, 32767.0)
            spec = ops.matmul(x, t["dft"])
            re, im = spec[..., :nb], spec[..., nb:]
            mel = ops.matmul(re * re + im * im, t["mel_t"])
            mel = ops.reshape(mel, (-1, block, mel.shape[-1]))  # (b K, B, bands)
            if self.backbone == "sounds":
                return ops.log(mel * 10000.0 + 1.0) / (math.log(10.0) * SOUNDS_SCALE), ops.zeros_like(clip_peak)
            db = _db(mel, ops)
            peak = ops.max(ops.reshape(ops.max(db, axis=(1, 2)), (shape[0], k)), axis=1)[:, None]  # (b, 1)
            clip = ops.repeat(clip_peak, k, axis=0)[:, :, None]  # (b K, 1, 1)
            return ops.maximum(db, clip - 80.0) / 10.0 + 2.0, peak

    return FramesFrontEnd, BlockFrontEnd


def _probs(model: Any, x: Any) -> Any:
    out = model(x)
    if isinstance(out, dict):
        return out["probs"]
    if isinstance(out, (list, tuple)):
        return out[list(model.output_names).index("probs")]
    return out


def _constant_standardisation(model: Any) -> Any:
    """``model`` with each ``keras.layers.Normalization`` computed from numpy constants in its call.

    Keras builds such a layer's mean and variance as eager tensors, which a traced function captures as
    extra inputs; tf2onnx then keeps them as graph inputs the runtime asks for (a fine-tuned backbone
    block's fixed standardisation, :mod:`audioclf.engine.finetune`, broke its ONNX export that way).
    Constants made inside ``call`` are plain graph constants. The other layers are shared, not copied.
    """
    import keras
    from keras import ops

    norms = [layer for layer in model._flatten_layers() if isinstance(layer, keras.layers.Normalization)]
    if not norms:
        return model
    if any(layer.invert for layer in norms):
        raise ExportError(f"{model.name}: an inverted Normalization layer cannot be exported")

    class ConstantStandardise(keras.layers.Layer):
        def __init__(self, mean: np.ndarray, std: np.ndarray, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.mean_, self.std_ = mean, std

        def call(self, x: Any) -> Any:
            return (x - ops.convert_to_tensor(self.mean_)) / ops.convert_to_tensor(self.std_)

    def clone(layer: Any) -> Any:
        if isinstance(layer, keras.layers.Normalization):
            mean = np.asarray(layer.mean, np.float32)
            # as Normalization.call divides: by max(sqrt(variance), epsilon)
            std = np.maximum(np.sqrt(np.asarray(layer.variance, np.float32)), keras.backend.epsilon())
            return ConstantStandardise(mean, std.astype(np.float32), name=layer.name)
        if isinstance(layer, keras.Model):
            return _constant_standardisation(layer)
        return layer  # shared: same weights, same graph

    return keras.models.clone_model(model, clone_function=clone)


def _normalise(bundle: Bundle, x: Any) -> Any:
    if bundle.stats is None:
        return x
    return (x - np.asarray(bundle.stats.mean, np.float32)) / np.asarray(bundle.stats.std, np.float32)


def _frames_tables(bundle: Bundle) -> tuple[dict[str, np.ndarray], list[dict]]:
    import librosa

    from ..features.stack import interp_axis

    cfg = bundle.pipeline
    fc = cfg.features
    window = librosa.filters.get_window("hann", fc.n_fft, fftbins=True)
    tables = {"dft": _dft(fc.n_fft, window)}
    planes, floors = [], 0
    f = cfg.input_shape[0]
    for name in cfg.planes:
        bins = fc.n_mfcc if name == "mfcc" else fc.n_mels if name == "mel" else fc.n_fft // 2 + 1
        if name in ("mel", "mfcc"):
            mel = librosa.filters.mel(sr=cfg.sr, n_fft=fc.n_fft, n_mels=fc.n_mels, fmin=fc.fmin,
                                      fmax=fc.fmax_for(cfg.sr))
            tables["mel_t"] = mel.T.astype(np.float32)  # (nb, n_mels)
        if name == "mfcc":
            import scipy.fft

            # librosa.feature.mfcc: scipy's orthonormal DCT-II along the mel axis, first n_mfcc rows
            dct = scipy.fft.dct(np.eye(fc.n_mels), axis=0, type=2, norm="ortho")[:fc.n_mfcc]
            tables["dct_t"] = dct.T.astype(np.float32)  # (n_mels, n_mfcc)
        tables[f"interp_{f}_{bins}"] = interp_axis(np.eye(bins, dtype=np.float32), f, 0).T.astype(np.float32)
        top_db = _MFCC_TOP_DB if name == "mfcc" else fc.top_db if name in ("mel", "stft_mag") else None
        planes.append({"name": name, "rows": f, "bins": bins, "top_db": top_db,
                       "floor": floors if top_db is not None else None})
        floors += top_db is not None
    return tables, planes


def _block_tables(backbone: str) -> dict[str, np.ndarray]:
    from ..backbones import frontends

    if backbone == "sounds":
        import librosa

        window = librosa.filters.get_window("hann", 2048, fftbins=True)
        return {"dft": _dft(2048, window), "mel_t": frontends._sounds_mel_basis().T.astype(np.float32)}
    window, mel = frontends._speech_tables()
    return {"dft": _dft(512, window), "mel_t": mel.T.astype(np.float32)}


@dataclass(frozen=True)
class _Plan:
    """What the runner needs to know about the graph (written to ``labels.json`` as ``frontend``)."""

    frontend: dict
    inputs: dict  # name -> shape without the batch axis
    outputs: tuple[str, ...]


def _plan(bundle: Bundle) -> _Plan:
    cfg = bundle.pipeline
    kind = cfg.input_kind
    if kind == "waveform":
        return _Plan({"kind": "waveform", "pad": cfg.window.pad}, {"audio": (cfg.window.length,)}, ("probs",))
    if kind == "embedding":
        from ..backbones import get_backbone_spec

        spec = get_backbone_spec(cfg.backbone)
        speech = cfg.backbone == "speech"
        n_fft, hop = (512, 160) if speech else (2048, 1024)
        fe = {"kind": "blocks", "backbone": cfg.backbone, "n_fft": n_fft, "hop": hop, "center": not speech,
              "block": spec.frames, "block_hop": spec.frame_hop, "peak_normalise": not speech,
              "min_samples": 512 + 75 * 160 if speech else 0, "window_frames": cfg.window.length,
              "window_hop": cfg.window.hop, "pad": cfg.window.pad,
              "need_samples": int(round(cfg.window_seconds * cfg.sr)),
              "hop_samples": int(round(spec.hop_s * cfg.sr)), "window_seconds": cfg.window_seconds,
              "floors": 1 if speech else 0}
        k = cfg.window.length
        inputs = {"frames": (k, spec.frames, n_fft), "slot_mask": (k,), "slot_fill": (1,)}
        if speech:
            inputs["clip_peak"] = (1,)
        return _Plan(fe, inputs, ("probs", "embedding") + (("peak",) if speech else ()))
    fc = cfg.features
    _, planes = _frames_tables(bundle)
    floors = sum(p["floor"] is not None for p in planes)
    fe = {"kind": "frames", "n_fft": fc.n_fft, "hop": fc.hop_length, "window_frames": cfg.window.length,
          "window_hop": cfg.window.hop, "pad": cfg.window.pad, "floors": floors,
          "planes": [{"name": p["name"], "top_db": p["top_db"]} for p in planes]}
    inputs = {"frames": (cfg.window.length, fc.n_fft)}
    if floors:
        inputs["clip_peak"] = (floors,)
    return _Plan(fe, inputs, ("probs", "peak") if floors else ("probs",))


def export_graph(bundle: Bundle | str | os.PathLike, *, keep_front_end_float: bool = False) -> Any:
    """One Keras model: audio frames (or a waveform window) -> class probabilities, front end inside.

    Parameters
    ----------
    bundle : Bundle or path

    keep_front_end_float : bool
        Keep the front end's matrices out of a quantizer's reach (see :func:`export_bundle`'s ``quantize``).

    Returns
    -------
    keras.Model
        Inputs (batch first, all float32): ``frames`` ``(b, T, n_fft)`` -- the clip's centred STFT frames of one
        window -- and ``clip_peak`` ``(b, F)`` (the clip's peak per decibel channel, when a channel is limited by
        ``top_db``); ``audio`` ``(b, L)`` for waveform models; ``frames`` ``(b, K, B, n_fft)``, ``slot_mask``
        ``(b, K)`` (0 for a slot padded by 'constant'), ``slot_fill`` ``(b, 1)`` (its value) and, for ``speech``,
        ``clip_peak`` ``(b, 1)`` for models on a backbone. Outputs: ``probs`` ``(b, n_classes)``, ``peak``
        (each input's own peaks) where ``clip_peak`` is an input, and ``embedding`` ``(b, K, dim)`` on a backbone.

    Raises
    ------
    ExportError
        See :func:`check_exportable`.
    """
    import keras
    from keras import ops

    b = bundle if isinstance(bundle, Bundle) else load_bundle(bundle)
    check_exportable(b)
    cfg = b.pipeline
    plan = _plan(b)
    FramesFrontEnd, BlockFrontEnd = _layers()
    model = _constant_standardisation(b.model)
    ins = {name: keras.Input(shape, name=name, dtype="float32") for name, shape in plan.inputs.items()}
    outs: dict[str, Any] = {}
    if cfg.input_kind == "waveform":
        x = ops.expand_dims(ins["audio"], -1)  # (b, L, 1)
        outs["probs"] = _probs(model, _normalise(b, x))
    elif cfg.input_kind == "embedding":
        from ..backbones import get_backbone

        bb = get_backbone(cfg.backbone)
        peak_in = ins.get("clip_peak")
        if peak_in is None:
            peak_in = ops.zeros_like(ins["slot_fill"])
        logmel, peak = BlockFrontEnd(_block_tables(cfg.backbone), cfg.backbone, keep_float=keep_front_end_float,
                                     name="frontend")(
            [ins["frames"], peak_in])
        net = bb._lower if cfg.fine_tune else bb.model
        emb = net(logmel)  # (b K, dim...)
        k = cfg.window.length
        # the 'constant' padding, one backbone window per row (TFLite's converter fails on the same
        # product after the reshape to (b, K, dim))
        ones = (1,) * (len(emb.shape) - 1)
        mask = ops.reshape(ins["slot_mask"], (-1,) + ones)
        fill = ops.reshape(ops.repeat(ins["slot_fill"], k, axis=0), (-1,) + ones)
        emb = emb * mask + fill * (1.0 - mask)
        emb = ops.reshape(emb, (-1, k) + tuple(emb.shape[1:]))  # (b, K, dim...)
        outs["probs"] = _probs(model, _normalise(b, emb))
        outs["embedding"] = emb
        if "clip_peak" in ins:
            outs["peak"] = peak
    else:
        tables, planes = _frames_tables(b)
        peak_in = ins.get("clip_peak")
        if peak_in is None:
            peak_in = ops.zeros_like(ins["frames"][:, :1, 0])
        x, peak = FramesFrontEnd(tables, planes, cfg.center == "time", keep_float=keep_front_end_float,
                                  name="frontend")([ins["frames"], peak_in])
        outs["probs"] = _probs(model, _normalise(b, x))
        if "clip_peak" in ins:
            outs["peak"] = peak
    # identity layers name the outputs, so ONNX and TFLite keep these names
    outs = {k: keras.layers.Identity(name=k)(v) for k, v in outs.items()}
    return keras.Model(list(ins.values()), outs, name=f"{b.name}_export")


# --- conversion ------------------------------------------------------------------------------------------------

def _signature(graph: Any, batch: int | None) -> Any:
    import tensorflow as tf

    specs = [tf.TensorSpec((batch, *i.shape[1:]), tf.float32, name=i.name) for i in graph.inputs]
    names = [i.name for i in graph.inputs]

    def serve(*args: Any) -> Any:
        out = graph(dict(zip(names, args, strict=True)) if len(names) > 1 else args[0], training=False)
        # TFLite: a tuple in sorted name order (freezing the variables renames the outputs output_0...)
        return out if batch is None else tuple(out[k] for k in sorted(out))

    return tf.function(serve, input_signature=specs), names


def _has_recurrent(model: Any) -> bool:
    import keras

    return any(isinstance(layer, (keras.layers.RNN, keras.layers.Bidirectional)) for layer in model._flatten_layers())


def _unrolled(graph: Any) -> Any:
    """The graph with every recurrent layer unrolled (TFLite's builtin ops have no dynamic loop).

    The recurrent layers (in nested models too) are rebuilt with ``unroll=True`` and given their weights;
    every other layer is shared, as the front end, which has no config to rebuild it from.
    """
    import keras

    def unroll(cfg: dict) -> dict:
        if "unroll" in cfg:
            return {**cfg, "unroll": True}
        out = dict(cfg)  # Bidirectional: its forward (and backward) layer
        for key in ("layer", "backward_layer"):
            if isinstance(out.get(key), dict):
                out[key] = {**out[key], "config": {**out[key]["config"], "unroll": True}}
        return out

    rebuilt: list[tuple[Any, Any]] = []

    def clone(layer: Any) -> Any:
        if isinstance(layer, keras.Model):
            return _unrolled(layer) if _has_recurrent(layer) else layer
        if isinstance(layer, (keras.layers.RNN, keras.layers.Bidirectional)):
            new = type(layer).from_config(unroll(layer.get_config()))
            rebuilt.append((layer, new))
            return new
        return layer

    model = keras.models.clone_model(graph, clone_function=clone)
    for old, new in rebuilt:
        new.set_weights(old.get_weights())
    return model


def _check_options(fmt: str, quantize: str) -> None:
    if fmt not in EXPORT_FORMATS:
        raise ExportError(f"format={fmt!r} must be one of {', '.join(EXPORT_FORMATS)}")
    if quantize not in QUANTIZE_OPTIONS:
        raise ExportError(f"quantize={quantize!r} must be one of {', '.join(QUANTIZE_OPTIONS)}")


def convert(graph: Any, fmt: str, *, quantize: str = "none",
            representative: list[dict[str, np.ndarray]] | None = None) -> bytes:
    """The exported graph as ONNX or TFLite bytes.

    Parameters
    ----------
    graph : keras.Model
        From :func:`export_graph`.
    fmt : {'onnx', 'tflite'}
        ONNX (tf2onnx, opset 17, any batch size) or TFLite (builtin ops only, batch of one).
    quantize : {'none', 'float16', 'int8'}
        TFLite: float16 weights, or int8. ONNX: int8; float16 is TFLite only. Build the graph with
        ``keep_front_end_float=True`` so the front end's matrices stay float.
    representative : list of dict, optional
        For TFLite int8: the graph's inputs of typical windows, one dict of ``(1, ...)`` arrays per window
        (:func:`representative_inputs`). With it, TFLite quantizes activations too (integer where an op
        allows it, float elsewhere; inputs and outputs stay float32); without it, the weights only (dynamic
        range). ONNX int8 is onnxruntime's dynamic quantization (int8 weights, activations quantized per
        call), which needs none: calibrated static quantization (``quantize_static``, QDQ) lost 7.6 points
        on ESC-10 fold 1 with ``esc10_sfc_dcnn``, where dynamic lost none.

    Raises
    ------
    ExportError
        An unknown format or quantization, or a conversion that failed.
    """
    _check_options(fmt, quantize)
    if fmt == "onnx":
        return _to_onnx(graph, quantize)
    return _to_tflite(graph, quantize, representative)


def _to_onnx(graph: Any, quantize: str) -> bytes:
    if quantize == "float16":
        raise ExportError("float16 quantization is offered for TFLite; for ONNX use --quantize int8 or none")
    try:
        import tf2onnx
    except ImportError:
        raise ExportError("ONNX export needs tf2onnx (pip install tf2onnx==1.17.0)") from None
    fn, _ = _signature(graph, None)
    try:
        proto, _ = tf2onnx.convert.from_function(fn, input_signature=fn.input_signature, opset=17)
    except Exception as exc:  # noqa: BLE001 -- a converter failure is one line for the person
        raise ExportError(f"ONNX conversion failed: {type(exc).__name__}: {str(exc).splitlines()[0][:300]}") from None
    data = proto.SerializeToString()
    if quantize == "int8":
        from onnxruntime.quantization import QuantType, quantize_dynamic

        with tempfile.TemporaryDirectory() as tmp:
            src, dst = Path(tmp) / "f32.onnx", Path(tmp) / "int8.onnx"
            src.write_bytes(data)
            # the front end (DFT, mel, dB) stays float: in int8 its decibels lose the quiet bands
            front = [n.name for n in proto.graph.node if "/frontend" in n.name]  # the layer: .../frontend_1/...
            quantize_dynamic(str(src), str(dst), weight_type=QuantType.QInt8, nodes_to_exclude=front)
            data = dst.read_bytes()
    return data


def _to_tflite(graph: Any, quantize: str, representative: list[dict[str, np.ndarray]] | None) -> bytes:
    import tensorflow as tf

    def converter(frozen: Any, model: Any, quantize: str) -> Any:
        conv = tf.lite.TFLiteConverter.from_concrete_functions([frozen], model)
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]  # no Flex ops: phones and browsers
        if quantize != "none":
            conv.optimizations = [tf.lite.Optimize.DEFAULT]
            if quantize == "float16":
                conv.target_spec.supported_types = [tf.float16]
            elif representative is not None:  # integer activations where an op allows it; float in and out
                # by name: the frozen function's positional order is not the graph's
                conv.representative_dataset = lambda: iter(representative)
        return conv

    def attempt(model: Any) -> bytes:
        from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

        fn, _ = _signature(model, 1)
        # every variable frozen into a constant: the converter would otherwise keep some (a dropout's
        # seed, batch-norm statistics) as READ_VARIABLE ops that LiteRT runs uninitialised (NaN)
        frozen = convert_variables_to_constants_v2(fn.get_concrete_function())
        if quantize != "int8" or representative is None:
            return converter(frozen, model, quantize).convert()
        # The front end stays float (int8 decibels lose the quiet bands: an FSDD model fell from 5/5 to 1/5
        # example clips): its ops, found by name in the float model, are denylisted for the quantizer.
        from ai_edge_litert.interpreter import Interpreter

        flat = Interpreter(model_content=converter(frozen, model, "none").convert())
        front = [t["name"] for t in flat.get_tensor_details() if "/frontend" in t["name"]]
        debugger = tf.lite.experimental.QuantizationDebugger(
            converter=converter(frozen, model, "int8"), debug_dataset=lambda: iter(representative),
            debug_options=tf.lite.experimental.QuantizationDebugOptions(denylisted_nodes=front))
        return debugger.get_nondebug_quantized_model()

    if quantize == "int8" and representative is not None and _has_recurrent(graph):
        # TFLite's calibrator crashes the process (a segfault, no exception) on a recurrent layer's loop
        graph = _unrolled(graph)
    try:
        return attempt(graph)
    except Exception as first:  # noqa: BLE001 -- recurrent layers: try again unrolled
        try:
            return attempt(_unrolled(graph))
        except Exception:  # noqa: BLE001
            msg = str(first).splitlines()
            raise ExportError(f"TFLite conversion (builtin ops only) failed: {type(first).__name__}: "
                              f"{(msg[0] if msg else '')[:300]}") from None


# --- the export folder -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ExportResult:
    """What :func:`export_bundle` wrote and how close the export is to the Keras bundle.

    Attributes
    ----------
    folder : Path
    format, quantize : str
    files : tuple of str
        Names of the files in ``folder``.
    bytes : int
        Size of the model file.
    sample_rate, window_samples, hop_samples : int
        The model's rate; a window's (and the hop's) span of the clip in samples.
    max_abs_diff : float
        Largest difference between the exported model's window probabilities and the Keras bundle's over the
        ``clips`` checked (``classify.py``'s numpy path against :func:`~audioclf.engine.inference.predict`).
    agreement : float
        Fraction of the checked clips whose top class is the Keras bundle's.
    clips : tuple of str
        The clips checked (shipped examples of the model's task, or synthesized ones).
    warnings : tuple of str
        E.g. a quantized model that lost more than 1 point of accuracy on the clips checked.
    quantization_check : dict or None
        For a quantized export that was checked: ``clips``, ``agree`` (clips with the Keras bundle's top class),
        ``measure`` (``'accuracy'`` when every clip checked has a label, the shipped examples; else
        ``'agreement'``), ``accuracy_float`` (the Keras bundle's) and ``accuracy_quantized`` (None without
        labels), and ``flagged``: the quantized accuracy is more than 1 point below float32 (or, without
        labels, more than 1 % of the clips changed their top class).
    """

    folder: Path
    format: str
    quantize: str
    files: tuple[str, ...]
    bytes: int
    sample_rate: int
    window_samples: int
    hop_samples: int
    max_abs_diff: float
    agreement: float
    clips: tuple[str, ...] = ()
    warnings: tuple[str, ...] = field(default_factory=tuple)
    quantization_check: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """The ``export --json`` object."""
        return {"folder": str(self.folder), "format": self.format, "quantize": self.quantize,
                "files": list(self.files), "bytes": self.bytes, "sample_rate": self.sample_rate,
                "window_samples": self.window_samples, "hop_samples": self.hop_samples,
                "max_abs_diff": self.max_abs_diff, "agreement": self.agreement, "clips": list(self.clips),
                "warnings": list(self.warnings), "quantization_check": self.quantization_check}


def _spans(b: Bundle) -> tuple[int, int]:
    """A window's span of the clip in samples, and the hop between windows."""
    cfg = b.pipeline
    if cfg.input_kind == "waveform":
        return cfg.window.length, cfg.window.hop
    if cfg.input_kind == "embedding":
        from ..backbones import get_backbone_spec

        spec = get_backbone_spec(cfg.backbone)
        return int(round(cfg.window_seconds * cfg.sr)), int(round(cfg.window.hop * spec.hop_s * cfg.sr))
    fc = cfg.features
    return (cfg.window.length - 1) * fc.hop_length + fc.n_fft, cfg.window.hop * fc.hop_length


def _labels(b: Bundle, plan: _Plan, model_file: str) -> dict[str, Any]:
    window, hop = _spans(b)
    return {"schema": "audioclf.service.downloads", "schema_version": 1, "name": b.name, "model_file": model_file,
            "classes": list(b.classes), "sample_rate": b.pipeline.sr, "window_samples": window,
            "hop_samples": hop, "level": b.pipeline.level,
            "trim": b.pipeline.preprocess.trim.to_dict() if b.pipeline.preprocess.trim is not None else None,
            "frontend": plan.frontend,
            "inputs": {k: list(v) for k, v in plan.inputs.items()}, "outputs": sorted(plan.outputs),
            "open_set": b.open_set.to_dict() if b.open_set is not None else None}


_README = """# {name}: an exported audioclf model

`{model_file}` classifies {sr} Hz mono audio into: {classes}.

    pip install numpy soundfile soxr {runtime}
    python classify.py CLIP.wav [CLIP2.ogg ...] [--json]

`classify.py` reads each file,{trim} scales it to full-scale peak, cuts it into windows of {window} samples every
{hop} (the last one padded by '{pad}'), runs the model and averages the windows, as audioclf's `predict`
does; `--json` prints the same fields as `python -m audioclf predict --json`. `labels.json` holds the classes,
the front end's framing and the open-set ("none of these") thresholds.

The graph's inputs are described in `labels.json` (`inputs`): spectrogram models read the clip's STFT frames
(`frames`: centred frames of `n_fft` samples every `hop`, as librosa cuts them) and the clip's peak in dB
(`clip_peak`, for the `top_db` floor; the graph gives each input's own peak as `peak`), waveform models a
window of samples (`audio`), models on a backbone the frames of their backbone windows.
Exported from audioclf ({fmt}, quantization: {quantize}).
"""


def _check_clips(b: Bundle) -> list[tuple[str, np.ndarray, str | None]]:
    """(name, audio, label): shipped examples of the bundle's task (resampled to its rate), labelled; else
    three synthesized clips, without a label."""
    from ..datasets.examples import list_examples, load_example

    found = [e for e in list_examples() if e.label in b.classes]
    if found:
        return [(e.path.name, load_example(e.id, sr=b.pipeline.sr)[0], e.label) for e in found]
    from ..audio import synth

    sr = b.pipeline.sr
    return [(f"tone_{f}", synth.tone(f, 1.5, sr), None) for f in (220.0, 880.0)] + \
        [("noise", np.random.default_rng(0).normal(0, 0.1, int(1.5 * sr)).astype(np.float32), None)]


class _GraphRunner:
    """classify.py's model interface (``run(feeds) -> outputs``) over the Keras export graph, keeping what
    it is fed: the windows of real clips, a quantizer's representative set."""

    def __init__(self, graph: Any) -> None:
        self.graph, self.names, self.fed = graph, [i.name for i in graph.inputs], []

    def run(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        feeds = {k: np.asarray(feeds[k], np.float32) for k in self.names}
        peak = feeds.get("clip_peak")
        if peak is None or peak.min() > export_runner._NO_PEAK:  # not the first pass, which finds the peaks
            self.fed.append(feeds)
        out = self.graph(feeds if len(self.names) > 1 else feeds[self.names[0]], training=False)
        return {k: np.asarray(v) for k, v in out.items()}


def representative_inputs(graph: Any, spec: dict, clips: list[np.ndarray], *, limit: int = 100
                          ) -> list[dict[str, np.ndarray]]:
    """The graph's inputs for the windows of ``clips``, as ``classify.py`` cuts them: a quantizer's calibration set.

    Parameters
    ----------
    graph : keras.Model
        From :func:`export_graph`.
    spec : dict
        The export's ``labels.json`` (framing, windows, padding).
    clips : list of np.ndarray
        Audio at the model's rate.
    limit : int
        At most this many windows, spread evenly over all of them.

    Returns
    -------
    list of dict
        One dict per window: input name -> array of shape ``(1, ...)``.
    """
    runner = _GraphRunner(graph)
    for y in clips:
        export_runner.classify_samples(runner, spec, y)
    rows = [{k: v[i:i + 1] for k, v in f.items()} for f in runner.fed for i in range(len(next(iter(f.values()))))]
    if not rows:
        raise ExportError("no windows to calibrate the int8 quantization on")
    pick = np.unique(np.linspace(0, len(rows) - 1, min(limit, len(rows))).round().astype(int))
    return [rows[i] for i in pick]


def _quantization_check(b: Bundle, clips: list[tuple[str, np.ndarray, str | None]],
                        tops: list[tuple[int, int]]) -> dict[str, Any]:
    """The quantized export against the Keras bundle (float32): accuracy on labelled clips, else agreement."""
    n = len(tops)
    agree = sum(k == e for k, e in tops)
    out: dict[str, Any] = {"clips": n, "agree": agree, "measure": "agreement", "accuracy_float": None,
                           "accuracy_quantized": None}
    if n and all(label is not None for _, _, label in clips):
        truth = [b.classes.index(label) for _, _, label in clips]
        acc_f = sum(k == t for (k, _), t in zip(tops, truth, strict=True)) / n
        acc_q = sum(e == t for (_, e), t in zip(tops, truth, strict=True)) / n
        out.update(measure="accuracy", accuracy_float=acc_f, accuracy_quantized=acc_q,
                   flagged=acc_q < acc_f - _MAX_QUANT_LOSS)
    else:
        out["flagged"] = agree < n * (1.0 - _MAX_QUANT_LOSS)
    return out


def _compare(b: Bundle, model: export_runner.Model, spec: dict, clips: list[tuple[str, np.ndarray, str | None]]
             ) -> tuple[float, list[tuple[int, int]]]:
    """The largest window-probability difference from predict, and (Keras, export) top class per clip."""
    from .inference import predict

    diff, tops = 0.0, []
    for name, y, _ in clips:
        ref = predict(b, y, sr=b.pipeline.sr, name=name, explain=False)
        res = export_runner.classify_samples(model, spec, y)
        if res["probs"].shape != ref.window_probs.shape:
            raise ExportError(f"{name}: the export gives {res['probs'].shape[0]} windows, the bundle "
                              f"{ref.window_probs.shape[0]}")
        d = float(np.max(np.abs(res["probs"] - ref.window_probs)))
        diff = max(diff, d if math.isfinite(d) else math.inf)  # NaN from a broken runtime is a failure
        tops.append((int(np.argmax(ref.probs)), int(np.argmax(res["probs"].mean(axis=0)))))
    return diff, tops


def export_bundle(bundle: Bundle | str | os.PathLike, out: str | os.PathLike, *, fmt: str = "onnx",
                  quantize: str = "none", check: bool = True) -> ExportResult:
    """Write a self-contained export folder: model file, ``labels.json``, ``README.md``, ``classify.py``.

    The folder is written under a temporary name beside ``out`` and renamed into place, so ``out`` never
    holds a half-written export; an existing export there is replaced.

    Parameters
    ----------
    bundle : Bundle or path
    out : path
        The folder to create (or replace, if it holds an earlier export).
    fmt : {'onnx', 'tflite'}
    quantize : {'none', 'float16', 'int8'}
    check : bool
        Run the written model with ``classify.py``'s code on the shipped examples of the bundle's task
        (synthesized clips otherwise) and compare with :func:`~audioclf.engine.inference.predict`.

    Returns
    -------
    ExportResult

    Raises
    ------
    ExportError
        Unknown format or quantization, a pipeline that cannot be exported, ``out`` is a folder that
        is not an export, or a failed conversion.
    BundleError
        The bundle fails its checks.

    Examples
    --------
    >>> r = export_bundle("pretrained/fsdd_sfc_dcnn", "/tmp/digits", fmt="onnx")   # doctest: +SKIP
    >>> r.max_abs_diff < 1e-3                                                      # doctest: +SKIP
    True
    """
    _check_options(fmt, quantize)
    target = Path(out)
    if target.exists() and (not target.is_dir() or (any(target.iterdir())
                                                    and not (target / "labels.json").is_file())):
        raise ExportError(f"--out {target} exists and is not an earlier export; choose a new folder")
    b = bundle if isinstance(bundle, Bundle) else load_bundle(bundle)
    graph = export_graph(b, keep_front_end_float=quantize != "none")
    model_file = f"model.{fmt}"
    labels = _labels(b, _plan(b), model_file)
    clips = _check_clips(b) if check or (quantize == "int8" and fmt == "tflite") else []
    representative = None
    if quantize == "int8" and fmt == "tflite":
        representative = representative_inputs(graph, labels, [y for _, y, _ in clips])
    data = convert(graph, fmt, quantize=quantize, representative=representative)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.tmp-"))
    try:
        (tmp / model_file).write_bytes(data)
        (tmp / "labels.json").write_text(json.dumps(labels, indent=1), encoding="utf-8")
        shutil.copyfile(export_runner.__file__, tmp / "classify.py")
        window, hop = labels["window_samples"], labels["hop_samples"]
        (tmp / "README.md").write_text(_README.format(
            name=b.name, model_file=model_file, sr=b.pipeline.sr, classes=", ".join(b.classes),
            runtime="onnxruntime" if fmt == "onnx" else "ai-edge-litert", window=window, hop=hop,
            pad=b.pipeline.window.pad, fmt=fmt.upper(), quantize=quantize,
            trim=" cuts it back to its sound (the noise before and after it; `trim` in `labels.json`),"
            if b.pipeline.preprocess.trim is not None else ""), encoding="utf-8")
        diff, agree, names, warnings, qcheck = float("nan"), float("nan"), (), [], None
        if check:
            diff, tops = _compare(b, export_runner.Model(tmp / model_file, labels["outputs"]), labels, clips)
            agree = sum(k == e for k, e in tops) / max(1, len(tops))
            names = tuple(n for n, _, _ in clips)
            if quantize != "none":
                qcheck = _quantization_check(b, clips, tops)
                if qcheck["flagged"] and qcheck["measure"] == "accuracy":
                    warnings.append(f"{quantize} quantization lost more than 1 point of accuracy on the "
                                    f"{len(clips)} example clips checked ({qcheck['accuracy_float']:.0%} "
                                    f"in float32, {qcheck['accuracy_quantized']:.0%} quantized)")
                elif qcheck["flagged"]:
                    warnings.append(f"{quantize} quantization changed the top class of {1.0 - agree:.0%} of the "
                                    f"{len(clips)} clips checked (more than 1 point)")
        files = tuple(sorted(p.name for p in tmp.iterdir()))
        move_into_place(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return ExportResult(folder=target, format=fmt, quantize=quantize, files=files, bytes=len(data),
                        sample_rate=b.pipeline.sr, window_samples=window, hop_samples=hop, max_abs_diff=diff,
                        agreement=agree, clips=names, warnings=tuple(warnings), quantization_check=qcheck)


def export_zip_bytes(folder: str | os.PathLike) -> bytes:
    """An export folder as zip bytes (the app's download button)."""
    import io
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for p in sorted(Path(folder).iterdir()):
            if p.is_file():
                z.write(p, arcname=f"{Path(folder).name}/{p.name}")
    return buf.getvalue()


def export_archive(bundle: Bundle | str | os.PathLike, fmt: str, *, quantize: str = "none",
                   check: bool = True) -> tuple[bytes, ExportResult]:
    """:func:`export_bundle` into a temporary folder, returned as zip bytes (a download) with its result.

    The zip holds one folder named ``<bundle>_<fmt>`` (and the quantization, if any).

    Raises
    ------
    ExportError
        As :func:`export_bundle`.
    """
    b = bundle if isinstance(bundle, Bundle) else load_bundle(bundle)
    name = f"{b.name}_{fmt}" + (f"_{quantize}" if quantize != "none" else "")
    with tempfile.TemporaryDirectory() as tmp:
        result = export_bundle(b, Path(tmp) / name, fmt=fmt, quantize=quantize, check=check)
        return export_zip_bytes(result.folder), result
