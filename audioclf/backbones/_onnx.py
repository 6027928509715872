"""Read speech_embedding's convolutions out of its ONNX graph (conversion time only; needs ``onnx``)."""

from __future__ import annotations

import os

import numpy as np

from ..errors import BackboneError

__all__ = ["speech_convs_from_onnx"]


def speech_convs_from_onnx(path: str | os.PathLike) -> list[tuple[np.ndarray, np.ndarray | None]]:
    """The ``Conv`` nodes of ``embedding_model.onnx`` in graph order: ``(kernel, bias or None)``.

    Checks every node against the architecture :data:`~audioclf.backbones.networks.SPEECH_LAYERS`
    describes (kernel size, padding, leaky slope, clamp value), so a different graph is refused
    instead of silently mis-converted.
    """
    import onnx
    from onnx import numpy_helper

    from .networks import SPEECH_LAYERS

    graph = onnx.load(os.fspath(path)).graph
    inits = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    convs: list[tuple[np.ndarray, np.ndarray | None]] = []
    for node in graph.node:
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        if node.op_type == "Conv":
            kernel, pad_freq, channels, _ = SPEECH_LAYERS[len(convs)]
            w = inits[node.input[1]]
            pads = list(attrs.get("pads", [0, 0, 0, 0]))
            if (w.shape[0] != channels or tuple(w.shape[2:]) != kernel
                    or pads != ([0, 1, 0, 1] if pad_freq else [0, 0, 0, 0]) or list(attrs["strides"]) != [1, 1]):
                raise BackboneError(f"ONNX conv {len(convs)} ({w.shape}, pads {pads}) does not match speech_embedding")
            convs.append((w, inits[node.input[2]] if len(node.input) > 2 else None))
        elif node.op_type == "LeakyRelu" and not np.isclose(attrs["alpha"], 0.2):
            raise BackboneError(f"ONNX LeakyRelu slope {attrs['alpha']} is not 0.2")
        elif node.op_type == "Max" and not np.allclose(inits[node.input[1]], -0.4):
            raise BackboneError("ONNX activation floor is not -0.4")
        elif node.op_type not in ("Conv", "LeakyRelu", "Max", "MaxPool", "Reshape"):
            raise BackboneError(f"unexpected ONNX op {node.op_type} in speech_embedding")
    if len(convs) != len(SPEECH_LAYERS):
        raise BackboneError(f"ONNX graph has {len(convs)} convolutions; speech_embedding has {len(SPEECH_LAYERS)}")
    return convs
