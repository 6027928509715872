"""Explanations drawn where the eye already is: on the input spectrogram, in the clip's seconds.

* :func:`overlay_figure` -- a heat map laid semi-transparently over a spectrogram, on the same x (seconds) and y
  (rows) coordinates;
* :func:`gate_overlay_figure` -- a CNN attention gate stretched to its window's input and overlaid;
* :func:`gradcam_figure` / :func:`backbone_cam_figure` -- Grad-CAM over a window's input (or a backbone window's
  log-mel input);
* :func:`attention_trace_rows` -- recurrent attention as lines in seconds, for the timeline.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..explanations.gradcam import upsample
from .plots import _ready

if TYPE_CHECKING:
    import plotly.graph_objects as go

    from ..engine.inference import Prediction
    from ..explanations.gradcam import AttentionSpans, BackboneCam, GradCam

__all__ = ["overlay_figure", "gate_overlay_figure", "gradcam_figure", "backbone_cam_figure", "window_image",
           "attention_traces"]

#: Transparent where the map is 0, opaque warm colours where it is high: the spectrogram shows through.
HEAT_SCALE = [[0.0, "rgba(255,255,0,0)"], [0.3, "rgba(255,200,0,0.25)"], [0.7, "rgba(255,80,0,0.6)"],
              [1.0, "rgba(220,0,0,0.8)"]]


def window_image(x: np.ndarray) -> np.ndarray:
    """One window as an image: (freq, time[, channels]) -> (freq, time), the first plane."""
    x = np.asarray(x)
    return x[..., 0] if x.ndim == 3 else x


def overlay_figure(base: np.ndarray, heat: np.ndarray, *, x: np.ndarray, y: np.ndarray | None = None,
                   title: str = "", heat_label: str = "heat", zmin: float = 0.0,
                   zmax: float | None = None) -> go.Figure:
    """A heat map over a spectrogram, both on the same coordinates.

    Parameters
    ----------
    base : np.ndarray [shape=(rows, columns)]
        The spectrogram (rows = frequency bins, low first).
    heat : np.ndarray [shape=(rows, columns)]
        The map, already on the spectrogram's grid.
    x : np.ndarray [shape=(columns,)]
        Seconds of each column.
    y : np.ndarray [shape=(rows,)], optional
        Row coordinates (default: the row index).
    zmin, zmax : float
        The heat's colour scale: transparent at ``zmin`` (default 0), most opaque at ``zmax`` (default: its maximum).
    """
    _ready()
    import plotly.graph_objects as go

    base, heat = np.asarray(base, np.float32), np.asarray(heat, np.float32)
    if base.shape != heat.shape:
        from ..errors import ParameterError

        raise ParameterError(f"the heat map {heat.shape} must have the spectrogram's shape {base.shape}")
    y = np.arange(base.shape[0]) if y is None else np.asarray(y)
    x = np.asarray(x, dtype=np.float64)
    fig = go.Figure()
    fig.add_trace(go.Heatmap(z=base, x=x, y=y, colorscale="Greys", reversescale=True, showscale=False,
                             name="input", hovertemplate="%{x:.3f} s, row %{y}: %{z:.2f}<extra>input</extra>"))
    top = float(zmax if zmax is not None else heat.max())
    fig.add_trace(go.Heatmap(z=heat, x=x, y=y, colorscale=HEAT_SCALE, zmin=float(zmin), zmax=max(top, float(zmin) + 1e-9),
                             colorbar={"title": {"text": heat_label}}, name=heat_label,
                             hovertemplate=f"%{{x:.3f}} s, row %{{y}}: %{{z:.2f}}<extra>{heat_label}</extra>"))
    fig.update_xaxes(title_text="time (s)")
    fig.update_yaxes(title_text="frequency (row, low to high)")
    fig.update_layout(title=title, height=340, margin={"l": 60, "r": 20, "t": 50, "b": 40})
    return fig


def _frame_times(pred: Prediction, window: int, columns: int, window_seconds: float) -> np.ndarray:
    """Seconds of each column of a window's input (frame k at start + k * window_seconds / columns)."""
    return float(pred.starts[window]) + np.arange(columns) * (window_seconds / columns)


def gate_overlay_figure(pred: Prediction, name: str, *, window: int, window_seconds: float) -> go.Figure:
    """A CNN attention gate stretched by its stride onto its window's input and laid over it.

    Parameters
    ----------
    pred : Prediction
        With ``inputs`` and the ``cnn`` attention map ``name``.
    window : int
    window_seconds : float
        The window's length (``bundle.pipeline.window_seconds``), to put the columns in seconds.
    """
    att = pred.attention[name]
    img = window_image(pred.inputs[window])  # (freq, time)
    gate = upsample(np.asarray(att.values[window], np.float32), img.shape)  # each cell over the bins it covers
    # Gates rarely shut (a sigmoid gate sits around 0.5-1): the scale spans this window's own range, so the
    # cells let through most stand out and the least open ones stay transparent.
    return overlay_figure(img, gate, x=_frame_times(pred, window, img.shape[1], window_seconds),
                          title=f"Attention gate {att.block} over window {window + 1}'s input "
                                f"(gate {gate.min():.2f} transparent to {gate.max():.2f} red)",
                          heat_label="gate", zmin=float(gate.min()), zmax=float(gate.max()))


def gradcam_figure(cam: GradCam, pred: Prediction, *, window: int, window_seconds: float | None) -> go.Figure:
    """Grad-CAM over the input of one window of a classified clip (spectrogram inputs; waveforms as a line).

    ``window_seconds`` None: the input's columns are not time (a summary matrix) and are drawn by index.
    """
    _ready()
    import plotly.graph_objects as go

    label = pred.classes[cam.class_index]
    title = f"Grad-CAM for '{label}' ({cam.prob:.0%}) at layer {cam.layer}, window {window + 1}"
    x = np.asarray(pred.inputs[window])
    if cam.heat.ndim == 1:  # a waveform: the heat under the samples
        t = _frame_times(pred, window, len(cam.heat), window_seconds or 1.0)
        fig = go.Figure([go.Scatter(x=t, y=x.reshape(-1), mode="lines", name="input", line={"color": "#888"}),
                         go.Scatter(x=t, y=cam.heat, mode="lines", name="Grad-CAM", yaxis="y2",
                                    line={"color": "#d62728"})])
        fig.update_layout(title=title, height=320, yaxis2={"overlaying": "y", "side": "right", "range": [0, 1]})
        return fig
    img = window_image(x)
    if window_seconds is None:
        fig = overlay_figure(img, cam.heat, x=np.arange(img.shape[1]), title=title, heat_label="Grad-CAM", zmax=1.0)
        return fig.update_xaxes(title_text="column")
    return overlay_figure(img, cam.heat, x=_frame_times(pred, window, img.shape[1], window_seconds), title=title,
                          heat_label="Grad-CAM", zmax=1.0)


def backbone_cam_figure(cam: BackboneCam, slot: int, classes: tuple[str, ...]) -> go.Figure:
    """Grad-CAM over one backbone window's log-mel input, in the clip's seconds."""
    mel, heat = cam.mels[slot], cam.heats[slot]  # (bands, frames)
    x = cam.starts[slot] + np.arange(mel.shape[1]) * cam.frame_s
    return overlay_figure(mel, heat, x=x, zmax=1.0, heat_label="Grad-CAM",
                          title=f"Grad-CAM for '{classes[cam.class_index]}' ({cam.prob:.0%}) at backbone layer "
                                f"{cam.layer}, backbone window {slot + 1}")


def attention_traces(spans: AttentionSpans) -> list[go.Scatter]:
    """Recurrent attention as one line per window, each step at the middle of the seconds it covers."""
    _ready()
    import plotly.graph_objects as go

    traces = []
    for w in np.unique(spans.window):
        sel = spans.window == w
        traces.append(go.Scatter(x=spans.centres[sel], y=spans.weights[sel], mode="lines+markers",
                                 marker={"size": 4}, name=f"window {w + 1}",
                                 hovertemplate="%{x:.2f} s: %{y:.2f} x an even share<extra></extra>"))
    return traces
