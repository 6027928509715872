"""Figure builders for the app: pure functions from arrays to plotly figures.

Nothing here imports streamlit, so every figure can be tested (and reused in a
notebook) without the app.
"""

from .embedding_plot import embedding_figure
from .overlays import attention_traces, backbone_cam_figure, gate_overlay_figure, gradcam_figure, overlay_figure
from .plots import (
    channels_figure,
    confusion_figure,
    envelope,
    waveform_figure,
)
from .results import (
    attention_figure,
    history_figure,
    input_pair_figure,
    subband_figure,
    timeline_figure,
    top_figure,
)
from .training_curves import live_figure

__all__ = ["embedding_figure", "live_figure", "channels_figure", "confusion_figure", "envelope", "waveform_figure",
           "attention_figure", "history_figure", "input_pair_figure", "subband_figure", "timeline_figure", "top_figure",
           "attention_traces", "backbone_cam_figure", "gate_overlay_figure", "gradcam_figure", "overlay_figure"]
