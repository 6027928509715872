"""The Classify page's explanation sections: attention on the input and Grad-CAM (widgets only)."""

from __future__ import annotations

import numpy as np
import streamlit as st

from audioclf.errors import AudioclfError
from audioclf.explanations.gradcam import BackboneCam
from audioclf.ui import attention_figure, backbone_cam_figure, gate_overlay_figure, gradcam_figure
from pages._common import data_key, lesson, load_bundle_cached, queued


def attention_section(pred, bundle, window: int) -> None:
    """One section per attention map: rnn weights are on the timeline, gates overlaid on the window's input."""
    for att_name, att in pred.attention.items():
        st.subheader(f"Attention: {att.kind} ({att.block})")
        st.caption(att.meaning)
        if att.kind == "rnn":
            st.caption("Drawn on the timeline above, under the spectrogram, in the clip's seconds.")
        elif att.kind == "cnn" and pred.inputs is not None and np.asarray(pred.inputs).ndim == 4:
            st.plotly_chart(gate_overlay_figure(pred, att_name, window=window,
                                                window_seconds=bundle.pipeline.window_seconds),
                            width="stretch", key=f"cl_att_{att_name}")
        else:
            head = 0
            if att.kind == "self" and att.values.shape[1] > 1:
                head = st.slider("Head", 1, att.values.shape[1], 1, key=f"cl_head_{att_name}") - 1
            st.plotly_chart(attention_figure(pred, att_name, window=window, head=head), width="stretch",
                            key=f"cl_att_{att_name}")
    if pred.attention:
        lesson("attention")


def _cam(path: str, mtime: float, data: bytes, name: str, pred, window: int, class_index: int):
    from audioclf.audio.io import load_audio
    from audioclf.explanations.gradcam import gradcam_for

    bundle = load_bundle_cached(path, mtime)
    y, _ = load_audio(data, sr=bundle.pipeline.sr, name=name)  # what a model on a backbone is explained over
    return gradcam_for(bundle, pred, y=y, window=window, class_index=class_index)


def gradcam_section(pred, path: str, mtime: float, data: bytes, name: str, window: int) -> None:
    """Grad-CAM of the chosen window for a picked class (default: the prediction), over its input.

    Computed only when asked for: it is a backward pass through the model (through the backbone too), several
    times the classification's own cost, and most visits never look at it.
    """
    st.subheader("Grad-CAM")
    if not st.toggle("Show Grad-CAM: which parts of the input raised a class's score", key="cl_cam_on",
                     help="Runs the model backwards once for the window and class you pick."):
        st.caption("Off: turn it on to see where in this window the model found its evidence.")
        return
    classes = list(pred.classes)
    picked = st.selectbox("Class to explain", classes, index=int(np.argmax(pred.probs)), key="cl_cam_class")
    c = classes.index(picked)
    try:
        cam = queued(_cam, path, mtime, data, name, pred, window, c,
                     key=("gradcam", path, mtime, data_key(data), name, window, c), label="Computing Grad-CAM…")
    except AudioclfError as exc:
        st.info(f"No Grad-CAM for this model: {exc}")
        return
    bundle = load_bundle_cached(path, mtime)
    if isinstance(cam, BackboneCam):  # a model on a backbone: one map per backbone window of this input
        k = len(cam.heats)
        best = int(np.argmax(cam.heats.reshape(k, -1).sum(axis=1)))
        slot = st.slider("Backbone window", 1, k, best + 1, key="cl_cam_slot",
                         help="The model reads several backbone windows at once; the default is the one "
                              "whose input raised the class's score most.") - 1 if k > 1 else 0
        st.plotly_chart(backbone_cam_figure(cam, slot, pred.classes), width="stretch", key="cl_cam")
    else:
        seconds = None if bundle.pipeline.input_kind == "summary" else bundle.pipeline.window_seconds
        st.plotly_chart(gradcam_figure(cam, pred, window=window, window_seconds=seconds), width="stretch",
                        key="cl_cam")
    lesson("gradcam")
