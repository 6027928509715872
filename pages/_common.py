"""Widgets and session state shared by the pages (the only app module besides the pages themselves)."""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import Any

import streamlit as st

from audioclf.audio import synth
from audioclf.audio.io import to_wav_bytes
from audioclf.datasets.examples import Example, list_examples
from audioclf.service import serving
from audioclf.service.session import SessionStore
from audioclf.service.workqueue import WorkQueue

AUDIO_TYPES = ["wav", "flac", "ogg", "mp3"]


def _keep_tensorflow_warm() -> None:
    """Stop Streamlit from resetting Keras after every script run of every session.

    Streamlit 1.67 ends each run with ``keras.backend.clear_session()``: a full garbage collection (0.3 s of CPU
    with every other session's thread stalled) and TensorFlow's kernel cache emptied, which makes the next
    classification in any session three times slower (measured: 0.30 s instead of 0.09 s). The app needs neither:
    loaded models are shared on purpose and training builds its models in its own thread. Matplotlib's figures
    are still closed, as Streamlit does. ``tests/service/test_concurrency.py`` checks that this hook still exists.
    """
    from streamlit.runtime.scriptrunner import script_runner

    def close_figures() -> None:
        if "matplotlib.pyplot" in sys.modules:
            sys.modules["matplotlib.pyplot"].close("all")

    script_runner._clean_problem_modules = close_figures


_keep_tensorflow_warm()


def session_store() -> SessionStore:
    """This browser session's private scratch folder (deleted when the session ends)."""
    if "store" not in st.session_state:
        st.session_state["store"] = SessionStore()
    return st.session_state["store"]


def runs() -> list[dict]:
    """Models trained in this session, newest last."""
    return st.session_state.setdefault("runs", [])


def _example_options() -> dict[str, str]:
    """Example id -> label: the real clips first, then the synthesized ones."""
    real = {e.id: f"Real: {e.title}" for e in list_examples()}
    return real | {k: f"Synthetic: {title}" for k, (title, _) in synth.EXAMPLES.items()}


def clip_picker(prefix: str, *, label: str = "Clip", default_example: str = "tone_440",
                task: str | None = None) -> tuple[bytes | None, str]:
    """Example / upload / record: returns the clip's bytes and a display name (None when nothing is chosen).

    ``task`` is the dataset the current model knows (e.g. ``"fsdd"``): a real example of another
    dataset left selected from an earlier model is replaced by ``default_example``.
    """
    source = st.radio(label, ["Example", "Upload", "Record"], horizontal=True, key=f"{prefix}_source")
    if source == "Example":
        options = _example_options()
        names = list(options)
        current = picked_example(prefix)
        if task and current is not None and current.dataset != task and default_example in names:
            st.session_state[f"{prefix}_example"] = default_example
        ex = st.selectbox("Example", names, index=names.index(default_example) if default_example in names else 0,
                          format_func=options.__getitem__, key=f"{prefix}_example")
        real = picked_example(prefix)
        if real is not None:
            st.caption(f"Source: {real.credit}")
            return real.path.read_bytes(), real.path.name
        return to_wav_bytes(synth.example(ex, 22050), 22050), f"{ex}.wav"
    if source == "Upload":
        up = st.file_uploader("Audio file (WAV, FLAC, OGG, MP3)", type=AUDIO_TYPES, key=f"{prefix}_upload")
        return (up.getvalue(), Path(up.name).name) if up is not None else (None, "")
    rec = st.audio_input("Record from your microphone", key=f"{prefix}_record")
    return (rec.getvalue(), "recording.wav") if rec is not None else (None, "")


def picked_example(prefix: str) -> Example | None:
    """The real example chosen in :func:`clip_picker` ``prefix``, if one is."""
    if st.session_state.get(f"{prefix}_source") != "Example":
        return None
    chosen = st.session_state.get(f"{prefix}_example")
    return next((e for e in list_examples() if e.id == chosen), None)


@st.cache_resource(max_entries=8, show_spinner="Loading the model…")
def load_bundle_cached(path: str, mtime: float):
    """One loaded copy of a bundle per (folder, modification time), shared by all sessions and with the
    server's warm start (:mod:`audioclf.service.serving`: a model being loaded there is waited for, not loaded again)."""
    return serving.models().get(path, mtime)


def bundle_mtime(path: str | Path) -> float:
    return (Path(path) / "bundle.json").stat().st_mtime


def work_queue() -> WorkQueue:
    """The server's one queue for heavy work (:func:`audioclf.service.serving.work_queue`)."""
    return serving.work_queue()


def data_key(data: bytes) -> str:
    """A short name for a clip's bytes (queue and cache keys)."""
    return hashlib.sha256(data).hexdigest()


def queued(fn: Callable[..., Any], *args: Any, key: Hashable, label: str) -> Any:
    """``fn(*args)`` through the server's work queue; while it waits, the page says for how many requests."""
    notice = st.empty()

    def waiting(ahead: int) -> None:
        notice.info(f"Waiting for {ahead} other request{'s' if ahead != 1 else ''} to finish first "
                    f"(this server runs {work_queue().slots} at a time)…", icon=":material/hourglass_top:")

    try:
        with st.spinner(label):
            return work_queue().run(fn, *args, key=key, on_wait=waiting)
    finally:
        notice.empty()


def lesson(key: str) -> None:
    """The teaching text ``key`` (:mod:`audioclf.ui.texts`) in a closed "What am I looking at?" expander."""
    from audioclf.ui.texts import get_lesson

    found = get_lesson(key)
    with st.expander(f"What am I looking at? {found.title}"):
        st.markdown(found.text)
