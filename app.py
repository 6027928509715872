"""audioclf: the Streamlit app's router and Home page.

Run with ``make run`` (or ``streamlit run app.py`` inside the project's venv).
Home must open fast: it imports neither TensorFlow nor librosa.
"""

import streamlit as st

from audioclf.service.serving import warm_start

st.set_page_config(page_title="audioclf", page_icon=":material/graphic_eq:", layout="wide")
# Once per server process, in the background: the default Classify model loaded and run on a real clip, so the
# first classification does not pay for it (scripts/serve.py, which `make run` uses, starts it with the server).
warm_start()


def home() -> None:
    from audioclf.engine import sysinfo
    from audioclf.engine.device import quick_device_info
    from audioclf.ui.tables import pretrained_table

    st.title("audioclf: see how sound becomes a prediction")
    st.markdown(
        "Upload or record a clip, clean it up, and look at every feature channel a model can use — waveform, "
        "zero-crossing rate, energy, STFT magnitude and phase, mel, MFCC, GFCC, CQT, chroma — side by side on "
        "one time axis. Then train a model from the reference zoo on a small dataset, or classify a clip with a "
        "pretrained one and watch its per-window predictions and attention."
    )
    cols = st.columns(len(PAGES))
    for col, page in zip(cols, PAGES, strict=True):
        with col:
            st.page_link(page, label=page.title, icon=page.icon)
            st.caption(DESCRIPTIONS[page.title])
    device = quick_device_info()  # package metadata + nvidia-smi: no framework import, Home stays fast
    st.subheader("This installation")
    c1, c2 = st.columns(2)
    c1.metric("Keras backend", device.backend)
    c2.metric("Device for training", f"GPU: {device.name}" if device.kind == "gpu" else "CPU",
              help="What the Keras backend will train on (the Train page asks the backend itself).")
    if not device.usable:
        st.warning(f"{', '.join(device.system_gpus)} is present but training would run on the CPU: "
                   f"{device.reason}. To train on the GPU, run:")
        st.code(device.fix, language="bash")
    with st.expander("Library versions"):
        versions = sysinfo.library_versions()
        st.table({"library": list(versions), "version": list(versions.values())})
    st.subheader("Pretrained models")
    table = pretrained_table()
    if table:
        st.dataframe(table, hide_index=True, width="stretch")
    else:
        st.info("No pretrained models are installed yet. Train one on the Train page.")


PAGES = [
    st.Page("pages/explore.py", title="Explore", icon=":material/search:"),
    st.Page("pages/train.py", title="Train", icon=":material/model_training:"),
    st.Page("pages/classify.py", title="Classify", icon=":material/label:"),
    st.Page("pages/compare.py", title="Compare", icon=":material/compare:"),
    st.Page("pages/embeddings.py", title="Embeddings", icon=":material/scatter_plot:"),
]
DESCRIPTIONS = {
    "Explore": "Load a clip, denoise it, split silences and view every feature channel.",
    "Train": "Choose a dataset and an architecture, train with live curves, inspect the errors.",
    "Classify": "Pick a model, give it a clip, see its per-window predictions and attention.",
    "Compare": "Trained models side by side; two clips or two settings on the same channels.",
    "Embeddings": "A dataset's clips as points, as a backbone or your model hears them; click one to listen.",
}

nav = st.navigation([st.Page(home, title="Home", icon=":material/home:", default=True), *PAGES])
nav.run()
