"""A Graphviz DOT diagram of a functional Keras model (for ``st.graphviz_chart``; no graphviz binary needed)."""

from __future__ import annotations

from typing import Any

__all__ = ["model_dot"]


def _shape(layer: Any) -> str:
    try:
        shape = layer.output.shape
    except (AttributeError, ValueError):
        return ""
    return "×".join("?" if d is None else str(d) for d in tuple(shape)[1:])


def model_dot(model: Any, *, max_layers: int = 120) -> str:
    """Layers as boxes (name, type, output shape), edges as data flow, top to bottom.

    Big models (MobileNetV2 has 150+ layers) are cut after ``max_layers`` with a note,
    so the diagram stays readable.
    """
    layers = list(model.layers)
    shown = {id(layer) for layer in layers[:max_layers]}
    lines = ['digraph model {', 'rankdir=TB; node [shape=box, style="rounded,filled", fillcolor="#eef3fb", '
             'fontname="Helvetica", fontsize=10]; edge [color="#888888"];']
    for layer in layers[:max_layers]:
        kind = type(layer).__name__
        fill = "#fde9d9" if layer.name.startswith("attn_") else "#eef3fb"
        label = f"{layer.name}\\n{kind}" + (f"\\n{_shape(layer)}" if _shape(layer) else "")
        lines.append(f'"{id(layer)}" [label="{label}", fillcolor="{fill}"];')
    for layer in layers[:max_layers]:
        for node in getattr(layer, "_inbound_nodes", []):
            for tensor in getattr(node, "input_tensors", []):
                parent = getattr(getattr(tensor, "_keras_history", None), "operation", None)
                if parent is not None and id(parent) in shown:
                    lines.append(f'"{id(parent)}" -> "{id(layer)}";')
    if len(layers) > max_layers:
        lines.append(f'more [label="… {len(layers) - max_layers} more layers", shape=plaintext];')
    lines.append("}")
    return "\n".join(dict.fromkeys(lines))  # drop duplicate edges, keep order
