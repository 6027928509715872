"""Explore: load a clip, clean it up and look at every feature channel on one time axis."""

import streamlit as st

from audioclf.audio.io import load_audio, to_wav_bytes
from audioclf.audio.preprocess import DenoiseConfig, PreprocessConfig, SplitConfig, TrimConfig, preprocess
from audioclf.datasets.examples import opening_example
from audioclf.errors import AudioclfError
from audioclf.features import FeatureConfig, compute_channels, list_channels
from audioclf.ui import channels_figure, waveform_figure
from audioclf.ui.tables import describe_channels
from pages._common import clip_picker, data_key, queued
from pages._listen import live_spectrogram

DEFAULT_CHANNELS = ["waveform", "rms", "stft_mag", "mel", "mfcc", "chroma_stft"]


@st.cache_data(max_entries=16, show_spinner=False)
def load_clip(data: bytes, name: str, sr: int | None):
    return load_audio(data, sr=sr, name=name)


@st.cache_data(max_entries=16, show_spinner="Cleaning up the clip…")
def run_preprocess(y, sr: int, config: dict):
    return preprocess(y, sr, config=PreprocessConfig.from_dict(config), allow_silent=True)


def run_features(y, sr: int, names: tuple[str, ...], config: dict):
    return compute_channels(y, sr, list(names), config=FeatureConfig.from_dict(config))


st.title("Explore a clip")
with st.expander("Analysis parameters"):
    c = st.columns(6)
    sr_choice = c[0].selectbox("sample rate", ["22050", "16000", "8000", "44100", "native"], key="ex_sr")
    n_fft = c[1].selectbox("n_fft", [512, 1024, 2048, 4096], index=2, key="ex_nfft")
    hop = c[2].selectbox("hop", [128, 256, 512, 1024], index=2, key="ex_hop")
    n_mels = c[3].number_input("n_mels", 16, 256, 128, key="ex_nmels")
    n_mfcc = c[4].number_input("n_mfcc", 8, 64, 40, key="ex_nmfcc")
    fmin = c[5].number_input("fmin (Hz)", 0, 4000, 0, key="ex_fmin")
    fmax = st.number_input("fmax (Hz, 0 = half the sample rate)", 0, 48000, 0, key="ex_fmax")
sr = None if sr_choice == "native" else int(sr_choice)

if st.toggle("Live spectrogram from the microphone", key="ex_live"):
    try:
        live_sr = sr or 22050
        live_cfg = FeatureConfig(n_fft=n_fft, hop_length=hop, n_mels=int(n_mels), fmin=float(fmin),
                                 fmax=float(fmax) or None)
        live_cfg.fmax_for(live_sr)
        live_spectrogram(live_sr, live_cfg, key="ex_listen")
    except AudioclfError as exc:
        st.error(str(exc))

opening = opening_example()  # a real recording; the synthesized clips stay in the list
data, name = clip_picker("ex", default_example=opening.id if opening else "tone_440")
if data is None:
    st.info("Choose an example, upload a file or record a clip to begin.")
    st.stop()

try:
    y, sr = load_clip(data, name, sr)
    fcfg = FeatureConfig(n_fft=n_fft, hop_length=hop, n_mels=int(n_mels), n_mfcc=min(int(n_mfcc), int(n_mels)),
                         fmin=float(fmin), fmax=float(fmax) or None)
    fcfg.fmax_for(sr)
except AudioclfError as exc:
    st.error(str(exc))
    st.stop()
st.caption(f"{name}: {len(y) / sr:.2f} s at {sr} Hz")
st.audio(to_wav_bytes(y, sr), format="audio/wav")

st.subheader("Clean up")
c1, c2 = st.columns(2)
denoise_cfg = split_cfg = None
with c1:
    if st.toggle("Spectral-gating denoise", key="ex_denoise"):
        mode = st.radio("noise", ["non-stationary", "stationary"], horizontal=True, key="ex_nmode")
        strength = st.slider("strength", 0.0, 1.0, 1.0, 0.05, key="ex_strength")
        profile = st.radio("noise profile from", ["the whole clip", "a time range"], horizontal=True, key="ex_prof")
        rng = None
        if profile == "a time range":
            rng = st.slider("noise-only range (s)", 0.0, len(y) / sr, (0.0, min(0.5, len(y) / sr)), key="ex_range")
        try:
            denoise_cfg = DenoiseConfig(stationary=mode == "stationary" or rng is not None, prop_decrease=strength,
                                        noise_range=rng if rng and rng[1] > rng[0] else None)
        except AudioclfError as exc:
            st.error(str(exc))
trim_cfg = None
with c2:
    trim_default = TrimConfig()
    if st.toggle("Trim to the sound", key="ex_trim",
                 help="What the speech backbone's pipeline does to every take: cut the noise before and after the "
                      f"sound (frames {trim_default.above_floor_db:g} dB over the take's own noise floor, or within "
                      f"{trim_default.within_peak_db:g} dB of its loudest), {trim_default.pad_s:g} s kept on each "
                      "side."):
        trim_cfg = TrimConfig(above_floor_db=float(st.slider("dB over the noise floor", 3, 40,
                                                             int(trim_default.above_floor_db), key="ex_trim_db")))
    if st.toggle("Split on silence", key="ex_split"):
        split_cfg = SplitConfig(top_db=st.slider("top_db (dB below the peak)", 10, 80, 30, key="ex_topdb"))
pre_cfg = PreprocessConfig(denoise=denoise_cfg, split=split_cfg, trim=trim_cfg)
try:
    pre = run_preprocess(y, sr, pre_cfg.to_dict())
except AudioclfError as exc:
    st.error(str(exc))
    st.stop()
if denoise_cfg or split_cfg or trim_cfg:
    intervals = None if pre.intervals is None else pre.intervals / sr
    st.plotly_chart(waveform_figure(y, sr, intervals_s=intervals, processed=pre.y, title="Before and after"),
                    width="stretch", key="ex_before_after")
    if split_cfg is not None and pre.intervals is not None and len(pre.intervals) == 0:
        st.warning("No sound found: the whole clip is below the silence threshold, so nothing was removed.")
    st.audio(to_wav_bytes(pre.y, sr), format="audio/wav")
    st.download_button("Download processed audio (WAV)", to_wav_bytes(pre.y, sr), "processed.wav", "audio/wav")

st.subheader("Feature channels")
names = st.multiselect("Channels", [c.name for c in list_channels()], default=DEFAULT_CHANNELS, key="ex_channels")
if not names:
    st.info("Pick at least one channel.")
    st.stop()
try:
    config = fcfg.to_dict()
    chans = queued(run_features, pre.y, sr, tuple(names), config, label="Computing features…",
                   key=("features", data_key(pre.y.tobytes()), sr, tuple(names), tuple(sorted(config.items()))))
except AudioclfError as exc:
    st.error(str(exc))
    st.stop()
left, right = st.columns([3, 1])
left.plotly_chart(channels_figure(chans), width="stretch", key="ex_channels_fig")
with right:
    for title, text in describe_channels(names):
        st.markdown(f"**{title}**")
        st.caption(text)
from audioclf.service.downloads import channels_npz_bytes  # noqa: E402  (only needed once features exist)

st.download_button("Download features (.npz)", channels_npz_bytes(chans, sr=sr), "features.npz",
                   "application/octet-stream")
