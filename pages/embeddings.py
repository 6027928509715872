"""Embeddings: every clip of a dataset as one point; clips that sound alike to the network sit together."""

import streamlit as st

from audioclf.errors import AudioclfError
from audioclf.explanations.embedding_map import selected_clip
from audioclf.ui import channels_figure, embedding_figure
from pages._common import bundle_mtime, load_bundle_cached, runs
from pages._train_parts import load_dataset_request

SOURCES = ["Synthetic (built in)", "Shared datasets", "Folder on this machine", "The Train page's dataset"]
COLOURS = {"class": "class", "fold": "fold", "speaker / group": "group", "predicted class": "predicted"}


@st.cache_data(max_entries=16, show_spinner="Embedding the clips and projecting them to 2-D…")
def clip_map(dataset, source: str, name: str, mtime: float, method: str):
    from audioclf.explanations.embedding_map import embedding_map

    if source == "backbone":
        return embedding_map(dataset, backbone=name, method=method)
    return embedding_map(dataset, bundle=load_bundle_cached(name, mtime), method=method)


@st.cache_data(max_entries=32, show_spinner=False)
def clip_view(path: str):
    from audioclf.audio.io import load_audio, to_wav_bytes
    from audioclf.features import FeatureConfig, compute_channels

    y, sr = load_audio(path, sr=22050)
    return to_wav_bytes(y, sr), compute_channels(y, sr, ["waveform", "mel"], config=FeatureConfig(n_mels=64))


def choose_dataset():
    from audioclf.explanations.embedding_map import data_datasets

    kind = st.radio("Dataset", SOURCES, horizontal=True, key="emb_source")
    request = None
    if kind == SOURCES[0]:
        request = ("synthetic", st.slider("clips per class", 6, 40, 12, key="emb_synth_n"))
    elif kind == SOURCES[1]:
        shared = data_datasets()
        if not shared:
            st.info("No datasets found: set AUDIOCLF_DATA to the folder that holds them.")
        else:
            name = st.selectbox("Dataset in $AUDIOCLF_DATA", list(shared), key="emb_shared")
            request = ("folder", (str(shared[name]), False))
    elif kind == SOURCES[2]:
        path = st.text_input("Folder or manifest CSV (ESC-50, ESC-10, FSDD or one folder per class)", key="emb_path")
        request = ("folder", (path.strip(), False)) if path.strip() else None
    else:
        if st.session_state.get("tr_ds") is None:
            st.info("Choose a dataset on the Train page first.")
        return st.session_state.get("tr_ds")
    if request is not None and st.session_state.get("emb_ds_marker") != request:
        with st.spinner("Loading the dataset…"):
            st.session_state["emb_ds"] = load_dataset_request(*request)
        st.session_state["emb_ds_marker"] = request
    return st.session_state.get("emb_ds") if request is not None else None


def choose_source() -> tuple[str, str, float] | None:
    from audioclf.backbones import list_backbones
    from audioclf.service.store import list_bundles

    kind = st.radio("Seen by", ["A pretrained backbone", "A model trained in this session", "A pretrained model"],
                    horizontal=True, key="emb_from")
    if kind.endswith("backbone"):
        specs = {s.name: s for s in list_backbones()}
        name = st.selectbox("Backbone", list(specs), key="emb_backbone",
                            format_func=lambda n: f"{n}: {specs[n].title}")
        return "backbone", name, 0.0
    options = [(r["name"], r["bundle"]) for r in runs()] if "session" in kind else \
        [(e.name, str(e.path)) for e in list_bundles()]
    if not options:
        st.info("Train a model on the Train page first." if "session" in kind else "No pretrained models installed.")
        return None
    _, path = st.selectbox("Model", options, format_func=lambda o: o[0], key="emb_model")
    return "bundle", path, bundle_mtime(path)


st.title("Embeddings: what the network hears")
st.caption("Each clip becomes one vector (a backbone's embedding, or a trained model's last hidden layer) and PCA "
           "or t-SNE draws the vectors in 2-D. Classes in tight, separate clouds are easy for a light classifier; "
           "overlapping clouds are where it will hesitate. Click a point to hear the clip.")
try:
    ds = choose_dataset()
    source = choose_source() if ds is not None else None
    if source is None:
        st.stop()
    c1, c2 = st.columns(2)
    method = c1.radio("Projection", ["pca", "tsne"], format_func={"pca": "PCA", "tsne": "t-SNE"}.get,
                      horizontal=True, key="emb_method")
    colours = [c for c in COLOURS if source[0] == "bundle" or COLOURS[c] != "predicted"]
    colour = COLOURS[c2.radio("Colour by", colours, horizontal=True, key="emb_colour")]
    emap = clip_map(ds, *source, method)
except AudioclfError as exc:
    st.error(str(exc))
    st.stop()

for path, message in emap.failed[:5]:
    st.warning(f"left out {path}: {message}")
fig = embedding_figure(emap, colour=colour)
event = st.plotly_chart(fig, on_select="rerun", selection_mode="points", key="emb_chart", width="stretch")
picked = selected_clip([t.customdata for t in fig.data], event.selection.points if event else [])
if picked is not None:
    st.session_state["emb_clip"] = emap.paths[picked]  # a path, not an index: it survives a new map
chosen = st.session_state.get("emb_clip")
if chosen in emap.paths:
    i = emap.paths.index(chosen)
    wav, channels = clip_view(str(emap.path(i)))
    note = f", predicted **{emap.predicted[i]}**" if emap.predicted is not None else ""
    st.markdown(f"**{chosen}**: class **{emap.labels[i]}**{note}")
    st.audio(wav, format="audio/wav")
    st.plotly_chart(channels_figure(channels), width="stretch", key="emb_clip_chart")
else:
    st.info("Click a point to play its clip and see its spectrogram.")
