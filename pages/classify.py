"""Classify: a model, a clip, and what the model heard window by window."""

import streamlit as st

from audioclf.datasets.examples import list_examples, trained_on
from audioclf.engine.openset import calibration_note, unknown_message
from audioclf.errors import AudioclfError
from audioclf.explanations.gradcam import attention_spans
from audioclf.service.store import card_parts, list_bundles, read_json
from audioclf.ui import input_pair_figure, subband_figure, timeline_figure, top_figure
from pages._classify_parts import attention_section, gradcam_section
from pages._common import (
    bundle_mtime,
    clip_picker,
    data_key,
    lesson,
    load_bundle_cached,
    picked_example,
    queued,
    runs,
    session_store,
    work_queue,
)
from pages._export import export_section
from pages._listen import kept_for_classify, listen_section


def classify(path: str, mtime: float, data: bytes, name: str):
    from audioclf.engine.inference import load_clip
    from audioclf.features import FeatureConfig, compute_channels
    from audioclf.service.serving import classify as classify_clip

    bundle = load_bundle_cached(path, mtime)
    clip = load_clip(bundle, data, name=name)  # decoded once: for the mel display and for the model
    mel = compute_channels(clip.y, bundle.pipeline.sr, ["mel"], config=FeatureConfig(n_mels=64))["mel"]
    # the model's network calls are shared with other sessions' clips that arrive at the same time
    pred = classify_clip(bundle, clip, queue=work_queue())
    return pred, mel


st.title("Classify a clip")
choice = st.radio("Model", ["Pretrained", "Trained in this session", "Upload a bundle"], horizontal=True,
                  key="cl_model_source")
path = None
if choice == "Pretrained":
    entries = list_bundles()
    if entries:
        e = st.selectbox("Pretrained model", entries, key="cl_pretrained",
                         format_func=lambda e: f"{e.name}: {e.architecture} on {e.dataset or '?'}")
        path = str(e.path)
    else:
        st.info("No pretrained models are installed.")
elif choice == "Trained in this session":
    if runs():
        r = st.selectbox("Model", runs(), format_func=lambda r: r["name"], key="cl_run")
        path = r["bundle"]
    else:
        st.info("Train a model on the Train page first.")
else:
    up = st.file_uploader("Bundle (.zip exported by audioclf)", type=["zip"], key="cl_bundle_upload")
    if up is not None:
        from audioclf.engine.bundle_zip import import_zip
        key = f"bundle-{up.file_id}"
        try:
            if key not in st.session_state:
                st.session_state[key] = str(import_zip(up.getvalue(), session_store().path_for("bundles", up.name)).path)
            path = st.session_state[key]
        except AudioclfError as exc:
            st.error(str(exc))
if path is None:
    st.stop()
parts = card_parts(path)
if parts:
    with st.expander("Model card"):
        for kind, text, image in parts:
            if kind == "image":
                st.image(str(image), caption=text or image.name)
            else:
                st.markdown(text)

description = read_json(path)
dataset = (description.get("training") or {}).get("dataset", {}).get("name")
fitting = [e.id for e in list_examples() if e.dataset == dataset]
if st.radio("Mode", ["A clip", "Listen (live)"], horizontal=True, key="cl_mode") == "Listen (live)":
    listen_section(path, bundle_mtime(path), key="cl_listen")
    kept = kept_for_classify("cl_listen")
    if kept is None:
        st.stop()
    data, name = kept
else:
    data, name = clip_picker("cl", default_example=fitting[0] if fitting else "syllables", task=dataset)
if data is None:
    st.info("Choose an example, upload a file or record a clip.")
    st.stop()
try:
    mtime = bundle_mtime(path)
    pred, mel = queued(classify, path, mtime, data, name, key=("classify", path, mtime, data_key(data), name),
                       label="Classifying…")
except AudioclfError as exc:
    st.error(str(exc))
    st.stop()

st.audio(data)
example = picked_example("cl")
if example is not None and trained_on(example, description):
    st.caption(f"This clip is from the training data of this model ({example.dataset}): a right answer here "
               "shows the model learned it, not that it generalises. Try a clip of your own too.")
bundle = load_bundle_cached(path, mtime)
calibration = bundle.open_set
if calibration is not None:
    limit = st.slider("Answer 'none of these' below this confidence", 0.0, 1.0, float(calibration.confidence),
                      0.001, format="%.3f", key=f"cl_unknown_{path}", help=calibration_note(calibration))
    pred = pred.judged(limit, calibration)
left, right = st.columns([1, 2])
with left:
    if pred.unknown:
        st.metric("Prediction", "none of these")
        st.warning(unknown_message(pred.label, pred.open_set))
    else:
        st.metric("Prediction", pred.label)
    st.caption(f"{pred.probs.max():.0%} probability, averaged over the windows")
    st.plotly_chart(top_figure(pred), width="stretch", key="cl_top")
    st.caption(f"{name}: {len(pred.window_probs)} window(s), {pred.seconds * 1000:.0f} ms "
               f"(features {pred.timings.get('features', 0) * 1000:.0f} ms, model "
               f"{pred.timings.get('model', 0) * 1000:.0f} ms)")
    for note in pred.notes:
        st.info(note)
    if calibration is not None or bundle.pipeline.input_kind == "embedding":
        lesson("embeddings_unknown")
    lesson("windows_padding")
rnn = next((k for k, a in pred.attention.items() if a.kind == "rnn"), None)
spans = attention_spans(pred, rnn, pipeline=bundle.pipeline) if rnn else None
with right:
    st.plotly_chart(timeline_figure(pred, mel, attention=spans), width="stretch", key="cl_timeline")
    lesson("timeline")

n = len(pred.window_probs)
window = st.slider("Window to inspect", 1, n, 1, key="cl_window") - 1 if n > 1 else 0
attention_section(pred, bundle, window)
if "reconstruction" in pred.extras and pred.inputs is not None:
    st.subheader("What the autoencoder rebuilt")
    st.plotly_chart(input_pair_figure(pred.inputs[window], pred.extras["reconstruction"][window]),
                    width="stretch", key="cl_recon")
if "sub_probs" in pred.extras:
    st.subheader("What each frequency band voted")
    st.plotly_chart(subband_figure(pred, window=window), width="stretch", key="cl_subbands")
gradcam_section(pred, path, mtime, data, name, window)
export_section(path, mtime, key="cl_export")
