"""Listen: the microphone classified continuously in the browser (Classify, Train's "Try it"), and Explore's live
spectrogram. The component is web/component; the server's part is audioclf.service.listen."""

import base64

import streamlit as st
import streamlit.components.v1 as components

from audioclf.errors import AudioclfError, ExportError
from audioclf.service.listen import (
    COMPONENT_DIR,
    KEEP_S,
    PEAK_S,
    classify_chunk,
    display_params,
    live_hop,
    prepare,
    runtime_missing,
)
from pages._common import load_bundle_cached, queued, work_queue

_component = components.declare_component("audioclf_listen", path=str(COMPONENT_DIR))
_HEIGHT = 520
CHUNK_S = 2.0  # the server fallback sends a chunk this often


def _prepare(path: str, mtime: float):
    return prepare(load_bundle_cached(path, mtime), path)


def _chunk(path: str, mtime: float, data: bytes, start: float, seq: int) -> dict:
    return classify_chunk(load_bundle_cached(path, mtime), data, start=start, seq=seq, queue=work_queue())


def _live_model(path: str, mtime: float):
    """(LiveModel or None, note): None with the reason when the model must be classified on the server."""
    missing = runtime_missing()
    if missing:
        return None, f"This model is classified on the server: {missing}."
    try:
        return queued(_prepare, path, mtime, key=("listen-export", path, mtime),
                      label="Preparing the model for the browser (once per model)…"), None
    except ExportError as exc:
        return None, (f"This model cannot run in the browser ({exc}), so the server classifies what the "
                      f"microphone hears, a chunk every {CHUNK_S:.0f} s: slower to answer, and it costs the "
                      "server work for every listener.")


def listen_section(path: str, mtime: float, *, key: str, on_keep=None) -> None:
    """The Listen view of one model; on Stop, the last 30 s offered as a clip to download, classify, or (with
    ``on_keep=(class names, add(label, wav))``) add as a take of a recorded class."""
    bundle = load_bundle_cached(path, mtime)
    model, note = _live_model(path, mtime)
    sr = bundle.pipeline.sr
    args = {"classes": list(bundle.classes), "sample_rate": sr, "display": display_params(sr),
            "peak_s": PEAK_S, "keep_s": KEEP_S, "note": ""}
    if model is not None:
        hop, hop_s = live_hop(model.spec)
        args.update(mode="classify", model_url=model.url, spec=model.spec, live_hop=hop, live_hop_s=hop_s,
                    chunk_s=0, chunk_len_s=0)
        st.caption(f"Runs in this browser: the exported model ({model.bytes / 1e6:.1f} MB) classifies a window of "
                   f"{model.spec['window_samples'] / sr:.2f} s every {hop_s:.2f} s; the server does no work "
                   "while you listen. Each window is scaled to the loudest sound of the last "
                   f"{PEAK_S:.0f} s, as a recording of them would be.")
    else:
        st.info(note, icon=":material/dns:")
        results = st.session_state.setdefault(f"{key}_results", [])
        args.update(mode="server", model_url=None, spec=None, live_hop=0, live_hop_s=CHUNK_S, chunk_s=CHUNK_S,
                    chunk_len_s=max(CHUNK_S, bundle.pipeline.window_seconds), results=results[-20:])
    value = _component(key=key, default=None, height=_HEIGHT, **args)
    if isinstance(value, dict) and value.get("event") == "chunk" and model is None:
        _server_chunk(path, mtime, key, value)
    _keep(key, value)
    kept = st.session_state.get(f"{key}_kept")
    if kept is not None:
        _kept_clip(key, kept, on_keep)


def _keep(key: str, value) -> None:
    """Store the clip a Stop sent back; a newer Stop replaces it (and the classification asked of the older)."""
    if not (isinstance(value, dict) and value.get("event") == "stopped"):
        return
    stop = f"{value.get('sid', '')}-{value.get('stops', 0)}"  # this page's n-th Stop
    old = st.session_state.get(f"{key}_kept")
    if old is None or old[0] != stop:
        st.session_state.pop(f"{key}_classify", None)
        st.session_state[f"{key}_kept"] = (stop, base64.b64decode(value["wav"]), value.get("seconds", 0))


def _server_chunk(path: str, mtime: float, key: str, value: dict) -> None:
    results = st.session_state.setdefault(f"{key}_results", [])
    seq, sid = int(value.get("seq", -1)), str(value.get("sid", ""))
    if any(r["seq"] == seq and r.get("sid") == sid for r in results):
        return
    try:
        data = base64.b64decode(value["wav"])
        res = queued(_chunk, path, mtime, data, float(value.get("start", 0.0)), seq,
                     key=("listen-chunk", path, mtime, sid, seq), label="Classifying what the microphone heard…")
    except (AudioclfError, KeyError, ValueError) as exc:
        res = {"seq": seq, "start": float(value.get("start", 0.0)), "error": f"a chunk could not be classified: {exc}"}
    results.append({**res, "sid": sid})
    del results[:-50]
    st.rerun()  # hand the result to the component


def _kept_clip(key: str, kept: tuple, on_keep, *, classify: bool = True) -> None:
    stops, wav, seconds = kept
    st.subheader("The last seconds you heard")
    st.caption(f"The last {seconds:.1f} s before Stop, at the model's rate.")
    st.audio(wav, format="audio/wav")
    name = f"listen_{stops}.wav"
    cols = st.columns(3)
    cols[0].download_button("Download the clip", wav, file_name=name, mime="audio/wav", key=f"{key}_dl_{stops}")
    if classify and cols[1].button("Classify it as a clip", key=f"{key}_classify_{stops}"):
        st.session_state[f"{key}_classify"] = (wav, name)
    if on_keep is not None:  # (class names, add(label, wav)): the recorder's classes
        labels, add = on_keep
        label = cols[2].selectbox("Add it as a take of", labels, key=f"{key}_add_to_{stops}")
        if cols[2].button(f"Add it to {label}", key=f"{key}_add_{stops}"):
            add(label, wav)


def kept_for_classify(key: str):
    """(wav bytes, name) when the person asked to classify the kept clip, else None."""
    return st.session_state.get(f"{key}_classify")


def live_spectrogram(sr: int, config, *, key: str) -> None:
    """Explore: the microphone's log-mel as it arrives, with the same settings (and code) as Listen's."""
    args = {"mode": "spectrogram", "classes": [], "sample_rate": int(sr), "display": display_params(sr, config),
            "peak_s": PEAK_S, "keep_s": KEEP_S, "model_url": None, "spec": None, "live_hop": 0, "live_hop_s": 1,
            "chunk_s": 0, "chunk_len_s": 0, "note": ""}
    value = _component(key=key, default=None, height=330, **args)
    _keep(key, value)
    kept = st.session_state.get(f"{key}_kept")
    if kept is not None:
        _kept_clip(key, kept, None, classify=False)
