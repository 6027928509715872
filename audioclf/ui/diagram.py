"""A Graphviz DOT diagram of a functional Keras model (for ``st.graphviz_chart``; no graphviz binary needed)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

__all__ = ["model_dot"]


def _shape(layer: Any) -> str:
    try:
        shape = layer.output.shape
    except (AttributeError, ValueError):
        return ""
    return "×".join("?" if d is None else str(d) for d in tuple(shape)[1:])


def _parents(value: Any) -> Iterator[str]:
    """Names of the layers whose outputs feed a serialised call (``inbound_nodes`` of ``get_config()``)."""
    if isinstance(value, dict):
        if value.get("class_name") == "__keras_tensor__":
            yield value["config"]["keras_history"][0]
        else:
            for v in value.values():
                yield from _parents(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _parents(v)


def _edges(model: Any) -> list[tuple[str, str]]:
    """(parent, child) layer names from the model's public config; a Sequential model is a chain."""
    config = model.get_config()
    entries = config.get("layers", []) if isinstance(config, dict) else []
    if entries and all("inbound_nodes" in e for e in entries):  # a functional model
        return [(parent, e["name"]) for e in entries for parent in _parents(e["inbound_nodes"])]
    names = [layer.name for layer in model.layers]
    return list(zip(names, names[1:], strict=False))


def model_dot(model: Any, *, max_layers: int = 120) -> str:
    """Layers as boxes (name, type, output shape), edges as data flow, top to bottom.

    The edges come from ``model.get_config()`` (each layer's ``inbound_nodes``), the
    form Keras saves a model in. Big models (MobileNetV2 has 150+ layers) are cut
    after ``max_layers`` with a note, so the diagram stays readable.
    """
    layers = list(model.layers)
    node = {layer.name: f"n{i}" for i, layer in enumerate(layers[:max_layers])}  # DOT ids, whatever the names
    lines = ['digraph model {', 'rankdir=TB; node [shape=box, style="rounded,filled", fillcolor="#eef3fb", '
             'fontname="Helvetica", fontsize=10]; edge [color="#888888"];']
    for layer in layers[:max_layers]:
        kind = type(layer).__name__
        fill = "#fde9d9" if layer.name.startswith("attn_") else "#eef3fb"
        label = f"{layer.name}\\n{kind}" + (f"\\n{_shape(layer)}" if _shape(layer) else "")
        lines.append(f'{node[layer.name]} [label="{label}", fillcolor="{fill}"];')
    for parent, child in _edges(model):
        if parent in node and child in node:
            lines.append(f"{node[parent]} -> {node[child]};")
    if len(layers) > max_layers:
        lines.append(f'more [label="… {len(layers) - max_layers} more layers", shape=plaintext];')
    lines.append("}")
    return "\n".join(dict.fromkeys(lines))  # drop duplicate edges, keep order
