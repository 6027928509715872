"""Figures of what a model did: timeline, attention, reconstruction, sub-bands, training curves."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .plots import _ready

if TYPE_CHECKING:
    import plotly.graph_objects as go

    from ..engine.inference import Prediction
    from ..explanations.gradcam import AttentionSpans
    from ..features import ChannelData
__all__ = ["timeline_figure", "attention_figure", "input_pair_figure", "subband_figure", "history_figure",
           "top_figure"]


def _centres(pred: Prediction) -> np.ndarray:
    return (np.asarray(pred.starts) + np.asarray(pred.ends)) / 2


def top_figure(pred: Prediction, k: int = 5) -> go.Figure:
    """Horizontal bars of the clip's top-k classes."""
    _ready()
    import plotly.graph_objects as go

    top = pred.top(k)[::-1]
    fig = go.Figure(go.Bar(x=[p for _, p in top], y=[c for c, _ in top], orientation="h",
                           text=[f"{p:.1%}" for _, p in top], textposition="auto"))
    fig.update_xaxes(range=[0, 1], title_text="probability")
    fig.update_layout(height=60 + 34 * len(top), margin={"l": 110, "r": 20, "t": 20, "b": 40})
    return fig


def timeline_figure(pred: Prediction, spectrogram: ChannelData | None = None,
                    attention: AttentionSpans | None = None) -> go.Figure:
    """The clip's spectrogram, recurrent attention and a class × time heatmap of window probabilities, on one time axis.

    Each window's column spans its centre; the winning class per window is marked. With ``attention``
    (:func:`audioclf.explanations.gradcam.attention_spans`), a row between them draws each window's attention weights
    at the seconds each step covers (1 = an even share), zooming with the spectrogram.
    """
    _ready()
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    from .overlays import attention_traces

    titles = ((("Spectrogram",) if spectrogram is not None else ())
              + (("Attention over time",) if attention is not None else ()) + ("Per-window class probabilities",))
    heights = {"Spectrogram": 0.4, "Attention over time": 0.2, "Per-window class probabilities": 0.45}
    rows = len(titles)
    fig = make_subplots(rows=rows, cols=1, shared_xaxes=True, vertical_spacing=0.07,
                        row_heights=[heights[t] for t in titles] if rows > 1 else None, subplot_titles=titles)
    if spectrogram is not None:
        from .plots import display_grid

        z, times, row_step, _ = display_grid(spectrogram)  # long clips: at most MAX_HEATMAP_COLUMNS drawn
        fig.add_trace(go.Heatmap(z=z, x=times, y=np.arange(spectrogram.shape[0])[::row_step],
                                 colorscale="Viridis", showscale=False, hoverinfo="skip"), row=1, col=1)
        fig.update_yaxes(title_text=f"{spectrogram.name} bin", row=1, col=1)
    if attention is not None:
        row = titles.index("Attention over time") + 1
        for trace in attention_traces(attention):
            fig.add_trace(trace, row=row, col=1)
        fig.add_hline(y=1.0, line={"dash": "dot", "color": "#888"}, row=row, col=1)
        fig.update_yaxes(title_text="weight", rangemode="tozero", row=row, col=1)
    x = _centres(pred)
    # Cell edges: the first window's start, midpoints between window centres, the last window's end,
    # so each column covers the part of the clip its window is nearest to.
    edges = np.concatenate([[pred.starts[0]], (x[1:] + x[:-1]) / 2, [pred.ends[-1]]])
    probs = np.asarray(pred.window_probs).T  # (classes, windows)
    fig.add_trace(go.Heatmap(z=probs, x=edges, y=list(pred.classes), colorscale="Blues", zmin=0, zmax=1,
                             colorbar={"title": {"text": "prob"}, "len": 0.4, "y": 0.2},
                             hovertemplate="%{x:.2f} s, %{y}: %{z:.2f}<extra></extra>"), row=rows, col=1)
    winners = [pred.classes[i] for i in np.argmax(pred.window_probs, axis=1)]
    fig.add_trace(go.Scatter(x=x, y=winners, mode="markers", marker={"symbol": "x", "color": "#d62728", "size": 9},
                             name="winner", hovertemplate="%{x:.2f} s: %{y}<extra>winner</extra>"), row=rows, col=1)
    fig.update_xaxes(range=[0, max(pred.duration, float(np.max(pred.ends)))])
    fig.update_xaxes(title_text="time (s)", row=rows, col=1)
    fig.update_layout(height=260 + 24 * len(pred.classes) + (220 if spectrogram is not None else 0)
                      + (140 if attention is not None else 0), showlegend=False,
                      margin={"l": 110, "r": 20, "t": 40, "b": 40})
    return fig


def attention_figure(pred: Prediction, name: str, *, window: int = 0, head: int = 0) -> go.Figure:
    """One attention tensor drawn the way its kind reads.

    * ``rnn``: the weight of every step of every window, placed on the clip's time axis;
    * ``cnn``: the chosen window's input beside the gate map of that block;
    * ``self``: the chosen window's query × key matrix for one head.
    """
    _ready()
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    att = pred.attention[name]
    vals = np.asarray(att.values, dtype=np.float32)
    if att.kind == "rnn":
        fig = go.Figure()
        for w in range(len(vals)):
            t = np.linspace(pred.starts[w], pred.ends[w], vals.shape[1], endpoint=False)
            fig.add_trace(go.Scatter(x=t, y=vals[w], mode="lines", name=f"window {w + 1}",
                                     hovertemplate="%{x:.2f} s: %{y:.3f}<extra></extra>"))
        fig.update_xaxes(title_text="time (s)")
        fig.update_yaxes(title_text="attention weight")
        fig.update_layout(title=f"Attention over time ({att.block})", height=320, showlegend=len(vals) <= 8)
        return fig
    if att.kind == "self":
        m = vals[window, head]
        fig = go.Figure(go.Heatmap(z=m, colorscale="Magma", colorbar={"title": {"text": "weight"}},
                                   hovertemplate="query %{y}, key %{x}: %{z:.3f}<extra></extra>"))
        fig.update_yaxes(title_text="query step", autorange="reversed")
        fig.update_xaxes(title_text="key step")
        fig.update_layout(title=f"Self-attention, window {window + 1}, head {head + 1}", height=420)
        return fig
    fig = make_subplots(rows=1, cols=2, subplot_titles=("input", f"attention {att.block}"), horizontal_spacing=0.12)
    if pred.inputs is not None:
        x = np.asarray(pred.inputs[window])
        img = x[..., 0] if x.ndim == 3 else x
        fig.add_trace(go.Heatmap(z=img, colorscale="Viridis", showscale=False), row=1, col=1)
    fig.add_trace(go.Heatmap(z=vals[window], colorscale="Inferno", colorbar={"title": {"text": "gate"}}),
                  row=1, col=2)
    fig.update_yaxes(title_text="frequency (row)", row=1, col=1)
    fig.update_xaxes(title_text="time (frame)")
    fig.update_layout(height=360, margin={"l": 60, "r": 20, "t": 50, "b": 40})
    return fig


def input_pair_figure(a: np.ndarray, b: np.ndarray, *, titles: Sequence[str] = ("input", "reconstruction")) -> go.Figure:
    """Two (f, t[, c]) windows side by side on the same colour scale (e.g. jae's reconstruction)."""
    _ready()
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    a, b = (np.asarray(v)[..., 0] if np.asarray(v).ndim == 3 else np.asarray(v) for v in (a, b))
    lo, hi = float(min(a.min(), b.min())), float(max(a.max(), b.max()))
    fig = make_subplots(rows=1, cols=2, subplot_titles=tuple(titles), horizontal_spacing=0.08)
    fig.add_trace(go.Heatmap(z=a, zmin=lo, zmax=hi, colorscale="Viridis", showscale=False), row=1, col=1)
    fig.add_trace(go.Heatmap(z=b, zmin=lo, zmax=hi, colorscale="Viridis"), row=1, col=2)
    fig.update_layout(height=340, margin={"l": 40, "r": 20, "t": 40, "b": 30})
    return fig


def subband_figure(pred: Prediction, *, window: int = 0) -> go.Figure:
    """Each sub-band classifier's probabilities for one window (bands × classes), with the global one last."""
    _ready()
    import plotly.graph_objects as go

    sub = np.asarray(pred.extras["sub_probs"])[window]  # (bands, classes)
    z = np.vstack([sub, np.asarray(pred.window_probs)[window][None, :]])
    labels = [f"band {i + 1}" for i in range(len(sub))] + ["global"]
    fig = go.Figure(go.Heatmap(z=z, x=list(pred.classes), y=labels, colorscale="Blues", zmin=0, zmax=1,
                               hovertemplate="%{y}, %{x}: %{z:.2f}<extra></extra>"))
    fig.update_yaxes(autorange="reversed", title_text="low → high frequency")
    fig.update_layout(title=f"Sub-band predictions, window {window + 1}", height=120 + 30 * len(labels),
                      margin={"l": 90, "r": 20, "t": 50, "b": 80})
    return fig


def history_figure(history: Sequence[dict[str, Any]]) -> go.Figure:
    """Loss and accuracy per epoch for training and validation."""
    _ready()
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=1, cols=2, subplot_titles=("loss", "accuracy"))
    epochs = [h.get("epoch", i + 1) for i, h in enumerate(history)]
    for key, col, dash in (("loss", 1, None), ("val_loss", 1, "dot"), ("accuracy", 2, None),
                           ("val_accuracy", 2, "dot"), ("val_clip_accuracy", 2, "dash")):
        ys = [h.get(key) for h in history]
        if any(v is not None and np.isfinite(v) for v in ys):
            fig.add_trace(go.Scatter(x=epochs, y=ys, mode="lines+markers", name=key.replace("_", " "),
                                     line={"dash": dash}), row=1, col=col)
    fig.update_xaxes(title_text="epoch")
    fig.update_yaxes(range=[0, 1.02], row=1, col=2)
    fig.update_layout(height=320, margin={"l": 50, "r": 20, "t": 40, "b": 40})
    return fig
