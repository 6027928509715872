"""Compare: this session's trained models side by side, and two clips or two settings on the same channels."""

import streamlit as st

from audioclf.audio.io import load_audio
from audioclf.errors import AudioclfError
from audioclf.features import FeatureConfig, channel_names, compute_channels
from audioclf.ui import channels_figure, confusion_figure
from pages._common import clip_picker, runs


@st.cache_data(max_entries=16, show_spinner="Computing features…")
def features(data: bytes, name: str, sr: int, names: tuple[str, ...], config: dict):
    y, sr = load_audio(data, sr=sr, name=name)
    return compute_channels(y, sr, list(names), config=FeatureConfig.from_dict(config))


st.title("Compare")
tab_runs, tab_clips = st.tabs(["Trained models", "Clips and settings"])
with tab_runs:
    if not runs():
        st.info("Models you train on the Train page appear here, side by side.")
    else:
        st.dataframe([{"run": r["name"], "model": r["model"] + (f" + {r['attention']}" if r["attention"] else ""),
                       "channels": r["channels"], "clip accuracy": f"{r['accuracy']:.1%}",
                       "training time (s)": round(r["seconds"], 1), "parameters": r["params"], "epochs": r["epochs"]}
                      for r in runs()], hide_index=True, width="stretch")
        cols = st.columns(2)
        for i, r in enumerate(runs()):
            cols[i % 2].plotly_chart(confusion_figure(r["confusion"], r["labels"], title=r["name"]),
                                     width="stretch", key=f"cmp_cm_{i}")

with tab_clips:
    names = st.multiselect("Channels", channel_names(), default=["mel", "mfcc"], key="cmp_channels")
    sides = st.columns(2)
    for side, col in zip("AB", sides, strict=True):
        with col:
            st.markdown(f"**{side}**")
            data, name = clip_picker(f"cmp{side}", default_example="tone_440" if side == "A" else "chirp")
            with st.expander("settings"):
                n_fft = st.selectbox("n_fft", [512, 1024, 2048, 4096], index=2, key=f"cmp{side}_nfft")
                hop = st.selectbox("hop", [128, 256, 512, 1024], index=2, key=f"cmp{side}_hop")
                n_mels = st.number_input("n_mels", 16, 256, 128, key=f"cmp{side}_nmels")
                sr = st.selectbox("sample rate", [22050, 16000, 8000, 44100], key=f"cmp{side}_sr")
            if data is None or not names:
                st.info("Choose a clip and at least one channel.")
                continue
            try:
                cfg = FeatureConfig(n_fft=n_fft, hop_length=hop, n_mels=int(n_mels), n_mfcc=min(40, int(n_mels)))
                chans = features(data, name, sr, tuple(names), cfg.to_dict())
            except AudioclfError as exc:
                st.error(str(exc))
                continue
            st.audio(data)
            st.plotly_chart(channels_figure(chans, row_height=200), width="stretch", key=f"cmp{side}_fig")
