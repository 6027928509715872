"""The model diagram's boxes and edges (ui/diagram.py)."""

from __future__ import annotations

import re

import pytest

keras = pytest.importorskip("keras")

from audioclf.ui.diagram import model_dot  # noqa: E402


def _edges(dot: str) -> set[tuple[str, str]]:
    names = dict(re.findall(r'^(n\d+) \[label="([^\\"]+)', dot, flags=re.M))
    return {(names[a], names[b]) for a, b in re.findall(r"^(n\d+) -> (n\d+);", dot, flags=re.M)}


def test_functional_edges_follow_the_data():
    inputs = keras.Input((8,), name="x")
    a = keras.layers.Dense(4, name="a")(inputs)
    b = keras.layers.Dense(4, name="attn_b")(inputs)
    joined = keras.layers.Concatenate(name="joined")([a, b])
    inner = keras.Sequential([keras.Input((8,)), keras.layers.Dense(2, name="inner_dense")], name="inner")
    out = keras.layers.Add(name="out")([inner(joined), keras.layers.Dense(2, name="skip")(joined)])
    dot = model_dot(keras.Model(inputs, out))
    assert _edges(dot) == {("x", "a"), ("x", "attn_b"), ("a", "joined"), ("attn_b", "joined"),
                           ("joined", "inner"), ("joined", "skip"), ("inner", "out"), ("skip", "out")}
    assert 'label="attn_b\\nDense\\n4", fillcolor="#fde9d9"' in dot  # attention layers stand out
    assert dot.startswith("digraph model {") and dot.endswith("}")


def test_sequential_is_a_chain_and_big_models_are_cut():
    model = keras.Sequential([keras.Input((3,))] + [keras.layers.Dense(3, name=f"d{i}") for i in range(5)])
    assert _edges(model_dot(model)) == {("d0", "d1"), ("d1", "d2"), ("d2", "d3"), ("d3", "d4")}
    cut = model_dot(model, max_layers=3)
    assert _edges(cut) == {("d0", "d1"), ("d1", "d2")} and "… 2 more layers" in cut
