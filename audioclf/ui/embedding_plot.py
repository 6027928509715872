"""The embedding explorer's scatter plot: one point per clip, hover names the file."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .plots import _ready

if TYPE_CHECKING:
    import plotly.graph_objects as go

    from ..explanations.embedding_map import EmbeddingMap

__all__ = ["embedding_figure"]

_AXES = {"pca": ("PC 1", "PC 2"), "tsne": ("t-SNE 1", "t-SNE 2")}


def embedding_figure(emap: EmbeddingMap, *, colour: str = "class", height: int = 560) -> go.Figure:
    """A scatter of ``emap``'s clips, one trace (and legend entry) per colour value.

    Each trace's ``customdata`` holds its clips' indices into ``emap`` (what
    :func:`audioclf.explanations.embedding_map.selected_clip` reads back from a selection). Clips a
    model gets wrong are drawn as an ``x``, with the prediction in their hover text.

    Parameters
    ----------
    emap : EmbeddingMap
    colour : {'class', 'fold', 'group', 'predicted'}
    height : int

    Raises
    ------
    ParameterError
        Unknown colour field (see :meth:`EmbeddingMap.colour_values`).
    """
    _ready()
    import plotly.graph_objects as go

    values = emap.colour_values(colour)
    wrong = emap.misclassified
    fig = go.Figure()
    for value in sorted(set(values), key=lambda v: (v == "none", v)):
        idx = np.array([i for i, v in enumerate(values) if v == value], dtype=np.int64)
        hover = []
        for i in idx:
            text = f"<b>{emap.paths[i]}</b><br>class {emap.labels[i]}"
            if emap.folds[i] is not None:
                text += f" · fold {emap.folds[i]}"
            if emap.groups[i] is not None:
                text += f" · {emap.groups[i]}"
            if emap.predicted is not None:
                text += f"<br>predicted {emap.predicted[i]}" + (" ✗" if wrong[i] else " ✓")
            hover.append(text)
        fig.add_trace(go.Scatter(
            x=emap.points[idx, 0], y=emap.points[idx, 1], mode="markers", name=value, customdata=idx.tolist(),
            hovertext=hover, hovertemplate="%{hovertext}<extra></extra>",
            marker={"size": [12 if wrong[i] else 8 for i in idx],
                    "symbol": ["x" if wrong[i] else "circle" for i in idx], "line": {"width": 0}}))
    xa, ya = _AXES.get(emap.method, ("x", "y"))
    if emap.explained:
        xa, ya = (f"{xa} ({emap.explained[0]:.0%} of variance)", f"{ya} ({emap.explained[1]:.0%})")
    n_wrong = int(wrong.sum())
    title = f"{len(emap)} clips, {emap.source}, {emap.method.upper() if emap.method == 'pca' else 't-SNE'}"
    if emap.predicted is not None:
        title += f" · {n_wrong} misclassified (x)"
    fig.update_layout(title=title, height=height, legend_title_text=colour, hovermode="closest",
                      margin={"l": 60, "r": 20, "t": 50, "b": 50}, dragmode="pan")
    fig.update_xaxes(title_text=xa, zeroline=False)
    fig.update_yaxes(title_text=ya, zeroline=False)
    return fig
