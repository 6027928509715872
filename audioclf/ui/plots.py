"""Plotly figures for waveforms, feature channels and results."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # plotly is imported lazily: the CLI never needs it
    import plotly.graph_objects as go

    from ..features import ChannelData

__all__ = ["envelope", "waveform_figure", "channels_figure", "confusion_figure", "display_grid",
           "MAX_HEATMAP_ROWS", "MAX_HEATMAP_COLUMNS"]

_KEPT_FILL = "rgba(46, 160, 67, 0.18)"


def _ready() -> None:
    """Finish importing pandas before plotly looks for it.

    plotly's validators pick pandas out of ``sys.modules`` without the import
    lock; while another app session's thread is still importing pandas they see
    a half-initialised module and fail (seen: "partially initialized module
    'pandas' has no attribute 'Series'"). A real import waits for the lock.
    """
    import pandas  # noqa: F401
_MAX_POINTS = 4000


def envelope(y: np.ndarray, sr: int, *, max_points: int = _MAX_POINTS) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Min/max envelope of ``y`` for drawing: (times, lower, upper), at most ``max_points`` each.

    A plot of a 5-minute clip at 22 kHz would send 6.6 M points to the browser;
    per-bucket min and max keep every peak visible with a few thousand.
    """
    y = np.asarray(y, dtype=np.float32)
    n = len(y)
    if n == 0:
        return np.zeros(0), np.zeros(0), np.zeros(0)
    if n <= max_points:
        t = np.arange(n) / sr
        return t, y, y
    bucket = int(np.ceil(n / max_points))
    pad = (-n) % bucket
    padded = np.pad(y, (0, pad), mode="edge").reshape(-1, bucket)
    t = (np.arange(padded.shape[0]) * bucket + bucket / 2) / sr
    return t, padded.min(axis=1), padded.max(axis=1)


def _add_envelope(fig: go.Figure, y: np.ndarray, sr: int, *, row: int | None = None, name: str = "waveform",
                  color: str = "#1f77b4") -> None:
    _ready()
    import plotly.graph_objects as go

    t, lo, hi = envelope(y, sr)
    kw = {"row": row, "col": 1} if row else {}
    # Plain Scatter, not Scattergl: WebGL traces do not draw fill="tonexty".
    fig.add_trace(go.Scatter(x=t, y=hi, mode="lines", line={"width": 1, "color": color}, name=name,
                             showlegend=False, hoverinfo="skip"), **kw)
    fig.add_trace(go.Scatter(x=t, y=lo, mode="lines", line={"width": 1, "color": color}, fill="tonexty",
                             name=name, showlegend=False, hovertemplate="%{x:.3f} s<extra></extra>"), **kw)


def waveform_figure(
    y: np.ndarray,
    sr: int,
    *,
    intervals_s: np.ndarray | Sequence[Sequence[float]] | None = None,
    title: str = "Waveform",
    processed: np.ndarray | None = None,
    height: int = 260,
) -> go.Figure:
    """Waveform envelope, optionally with kept intervals shaded and a processed version below.

    Parameters
    ----------
    y : np.ndarray [shape=(n,)]
    intervals_s : array-like [shape=(k, 2)], optional
        Non-silent intervals in seconds, shaded green.
    processed : np.ndarray [shape=(m,)], optional
        The clip after preprocessing, drawn in a second row for before/after.
    """
    _ready()
    from plotly.subplots import make_subplots

    rows = 2 if processed is not None else 1
    fig = make_subplots(rows=rows, cols=1, shared_xaxes=False, vertical_spacing=0.12,
                        subplot_titles=("before", "after") if rows == 2 else None)
    _add_envelope(fig, y, sr, row=1)
    if processed is not None:
        _add_envelope(fig, processed, sr, row=2, color="#2ca02c")
    for a, b in np.asarray(intervals_s if intervals_s is not None else [], dtype=float).reshape(-1, 2):
        fig.add_vrect(x0=a, x1=b, fillcolor=_KEPT_FILL, line_width=0, row=1, col=1)
    fig.update_yaxes(range=[-1.05, 1.05], title_text="amplitude")
    fig.update_xaxes(title_text="time (s)", row=rows, col=1)
    fig.update_layout(title=title, height=height * rows, margin={"l": 60, "r": 20, "t": 50, "b": 40})
    return fig


#: A heatmap row is at most ~230 px tall and a page ~1300 px wide: more cells than this cannot be seen, but each
#: one costs the server JSON and every browser parsing and painting (a 5-s STFT alone is 1025 x 216 cells).
MAX_HEATMAP_ROWS = 256
MAX_HEATMAP_COLUMNS = 2000


def _merge(z: np.ndarray, axis: int, k: int, how: str) -> np.ndarray:
    """Groups of ``k`` neighbours along ``axis`` merged: ``max``, ``mean`` or ``first`` (the last group may be short)."""
    z = np.asarray(z)
    if k <= 1:
        return z
    starts = np.arange(0, z.shape[axis], k)
    if how == "first":
        return np.take(z, starts, axis=axis)
    if how == "max":
        return np.maximum.reduceat(z, starts, axis=axis)
    sizes = np.diff(np.append(starts, z.shape[axis])).astype(float)
    shape = [1] * z.ndim
    shape[axis] = len(starts)
    return np.add.reduceat(z.astype(float), starts, axis=axis) / sizes.reshape(shape)


def _step(n: int, limit: int) -> int:
    return max(1, int(np.ceil(n / limit)))


def display_grid(ch: ChannelData, *, max_rows: int = MAX_HEATMAP_ROWS,
                 max_columns: int = MAX_HEATMAP_COLUMNS) -> tuple[np.ndarray, np.ndarray, int, int]:
    """A channel's display values cut to at most ``max_rows x max_columns`` cells, for drawing only.

    Neighbouring bins and frames are merged: the peak of the group for dB and magnitude scales (a narrow
    harmonic stays visible), the mean for the others, every k-th for phase (an angle has no peak or mean).
    The features the models and the downloads use are not touched.

    Returns
    -------
    z : np.ndarray [shape=(rows, columns)]
    times : np.ndarray [shape=(columns,)]
        Each drawn column's time (the mean of its frames' times; the first frame's for phase).
    row_step, column_step : int
        How many bins / frames each drawn cell merges (1: none).
    """
    z = np.asarray(ch.model_input())
    how = "first" if ch.name == "stft_phase" else "max" if ch.scale == "db" or "magnitude" in ch.units else "mean"
    row_step, col_step = _step(z.shape[0], max_rows), _step(z.shape[1], max_columns)
    z = _merge(_merge(z, 0, row_step, how), 1, col_step, how).astype(np.float32)
    times = _merge(np.asarray(ch.times, dtype=float), 0, col_step, "first" if how == "first" else "mean")
    return z, times, row_step, col_step


def _heatmap_y(ch: ChannelData) -> tuple[np.ndarray | list[str], str, dict]:
    """Y values, axis title and extra axis settings for one channel.

    The STFT's bins are evenly spaced in Hz, so they get a Hz axis. Mel, CQT and
    gammatone bins are spaced the way hearing is, so each bin gets an equal row
    (bin index) with tick labels in Hz -- on a Hz axis their low bins would be
    squashed into a sliver, hiding exactly what those scales are for.
    """
    if ch.bin_labels is not None:
        return list(ch.bin_labels), "", {}
    if ch.bin_kind == "hz" and ch.name.startswith("stft"):
        return ch.bins, "Hz", {}
    if ch.bin_kind == "hz":
        idx = np.arange(len(ch.bins))
        ticks = np.unique(np.linspace(0, len(idx) - 1, 7).round().astype(int))
        text = [f"{ch.bins[k] / 1000:.1f}k" if ch.bins[k] >= 1000 else f"{ch.bins[k]:.0f}" for k in ticks]
        return idx, "Hz", {"tickmode": "array", "tickvals": ticks.tolist(), "ticktext": text}
    return ch.bins, "index", {}


def channels_figure(channels: Mapping[str, ChannelData], *, row_height: int = 230,
                    colorscale: str = "Viridis") -> go.Figure:
    """All channels stacked on one shared, zoom-synchronised time axis.

    One-row channels (ZCR, RMS, centroid …) are lines; the waveform envelope is a
    band; the rest are heatmaps in their display scale (dB where it applies), each
    with its own colour bar and units.
    """
    _ready()
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    items = list(channels.values())
    n = max(1, len(items))
    spacing = min(0.06, 0.3 / n)
    fig = make_subplots(rows=n, cols=1, shared_xaxes=True, vertical_spacing=spacing,
                        subplot_titles=[f"{c.title}" for c in items] or None)
    for i, ch in enumerate(items, start=1):
        shown = ch.model_input()
        unit = "dB" if ch.scale == "db" else ch.units
        if ch.name == "waveform":
            fig.add_trace(go.Scatter(x=ch.times, y=ch.values[1], mode="lines", line={"width": 1, "color": "#1f77b4"},
                                     showlegend=False, name="max"), row=i, col=1)
            fig.add_trace(go.Scatter(x=ch.times, y=ch.values[0], mode="lines", line={"width": 1, "color": "#1f77b4"},
                                     fill="tonexty", showlegend=False, name="min"), row=i, col=1)
            fig.update_yaxes(title_text=unit.split(" ")[0], row=i, col=1)
            continue
        if shown.shape[0] == 1:
            # SVG lines up to 20 000 points; WebGL beyond. A WebGL context costs the browser seconds where there
            # is no GPU (software rendering: a classroom's laptops, headless browsers) and is not needed here.
            trace = go.Scatter if len(ch.times) <= 20_000 else go.Scattergl
            fig.add_trace(trace(x=ch.times, y=shown[0], mode="lines", showlegend=False, name=ch.title,
                                       hovertemplate=f"%{{x:.3f}} s: %{{y:.4g}} {unit}<extra></extra>"),
                          row=i, col=1)
            fig.update_yaxes(title_text=unit, row=i, col=1)
            continue
        z, times, row_step, col_step = display_grid(ch)
        yvals, ytitle, ytype = _heatmap_y(ch)
        if row_step > 1:  # the merged rows' labels, Hz or indices (Hz tick labels stay on their indices)
            yvals = (list(yvals)[::row_step] if isinstance(yvals, list)
                     else _merge(np.asarray(yvals, dtype=float), 0, row_step,
                                 "first" if ch.name == "stft_phase" else "mean"))
        if row_step > 1 or col_step > 1:
            merged = " x ".join(p for p in (f"{row_step} bins" if row_step > 1 else "",
                                            f"{col_step} frames" if col_step > 1 else "") if p)
            fig.layout.annotations[i - 1].text = f"{ch.title} (drawn merging {merged} per cell)"
        # Colour bars sit beside their own row: y is the row's centre in paper coordinates.
        domain = fig.layout[f"yaxis{'' if i == 1 else i}"].domain
        fig.add_trace(
            go.Heatmap(
                z=z, x=times, y=yvals, colorscale="Twilight" if ch.name == "stft_phase" else colorscale,
                colorbar={"title": {"text": unit, "side": "right"}, "len": (domain[1] - domain[0]) * 0.95,
                          "y": (domain[0] + domain[1]) / 2, "yanchor": "middle", "thickness": 12},
                hovertemplate=f"%{{x:.3f}} s, %{{y}}: %{{z:.3g}} {unit}<extra></extra>",
            ),
            row=i, col=1,
        )
        fig.update_yaxes(title_text=ytitle, row=i, col=1, **ytype)
    fig.update_xaxes(title_text="time (s)", row=n, col=1)
    fig.update_layout(height=row_height * n + 80, margin={"l": 70, "r": 30, "t": 40, "b": 40},
                      hovermode="closest")
    return fig


def confusion_figure(confusion: np.ndarray | Sequence[Sequence[int]], labels: Sequence[str], *,
                     title: str = "Confusion matrix") -> go.Figure:
    """A confusion matrix heatmap: rows are true classes, columns predicted ones."""
    _ready()
    import plotly.graph_objects as go

    cm = np.asarray(confusion)
    fig = go.Figure(go.Heatmap(z=cm, x=list(labels), y=list(labels), colorscale="Blues", text=cm,
                               texttemplate="%{text}", hovertemplate="true %{y}, predicted %{x}: %{z}<extra></extra>"))
    fig.update_yaxes(autorange="reversed", title_text="true")
    fig.update_xaxes(title_text="predicted")
    side = max(320, 38 * len(labels) + 140)
    fig.update_layout(title=title, height=side, margin={"l": 90, "r": 20, "t": 50, "b": 80})
    return fig
