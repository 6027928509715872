"""The Train page's recorder (classes, takes, background noise, zip export/import) and its "Try it" box."""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from audioclf.audio.preprocess import TrimConfig
from audioclf.datasets.recordings import BACKGROUND, BACKGROUND_HELP, RecordingSet
from audioclf.engine.openset import unknown_message
from audioclf.errors import AudioclfError
from pages._common import AUDIO_TYPES, bundle_mtime, data_key, load_bundle_cached, queued, session_store

_SET, _NONCE, _MSG = "tr_recset", "tr_rec_nonce", "tr_rec_msg"


def recordings() -> RecordingSet:
    """This session's recorded takes (a new, empty set at first)."""
    return st.session_state.setdefault(_SET, RecordingSet())


def _apply(change: Callable[[RecordingSet], RecordingSet], done: str = "") -> None:
    """Apply a change to the set; a refused change keeps the set and shows why. Then redraw."""
    try:
        st.session_state[_SET] = change(recordings())
        st.session_state[_MSG] = ("success", done) if done else None
    except AudioclfError as exc:
        st.session_state[_MSG] = ("error", str(exc))
    st.session_state[_NONCE] = st.session_state.get(_NONCE, 0) + 1  # every recorder starts empty again
    st.rerun()


def _class_box(rs: RecordingSet, label: str, nonce: int) -> None:
    takes = rs.takes(label)
    with st.container(border=True):
        st.markdown(f"**{label}**: {len(takes)} take(s), {sum(t.seconds for t in takes):.1f} s")
        if label == BACKGROUND:
            st.caption(BACKGROUND_HELP)
        clip = st.audio_input(f"Record a take of {label}", key=f"tr_rec_{label}_{nonce}")
        if clip is not None:
            _apply(lambda s: s.add_take(label, clip.getvalue()))
        for take in takes:
            c = st.columns([5, 1])
            c[0].audio(take.data, format="audio/wav")
            if c[1].button("Delete", key=f"tr_del_{take.id}", help=f"delete this {take.seconds:.1f}-s take"):
                _apply(lambda s, i=take.id: s.remove_take(label, i))
        with st.expander(f"Rename or remove {label}"):
            new = st.text_input("New name", key=f"tr_rename_{label}")
            merge = st.checkbox("If a class has that name, merge the takes into it", key=f"tr_merge_{label}")
            c = st.columns(2)
            if c[0].button("Rename", key=f"tr_do_rename_{label}") and new.strip():
                _apply(lambda s: s.rename_class(label, new, merge=merge), f"renamed {label!r} to {new.strip()!r}")
            if c[1].button("Remove the class and its takes", key=f"tr_remove_{label}"):
                _apply(lambda s: s.remove_class(label))


def _save_and_load(rs: RecordingSet) -> None:
    with st.expander("Save or load recordings (zip of class folders)"):
        st.download_button("Export the recordings (.zip)", rs.to_zip(), "recordings.zip", "application/zip",
                           key="tr_rec_export", disabled=not rs.n_takes)
        up = st.file_uploader("Import a zip exported earlier (replaces the takes above)", type=["zip"],
                              key="tr_rec_import")
        if up is not None and st.session_state.get("tr_rec_imported") != up.file_id:
            st.session_state["tr_rec_imported"] = up.file_id
            workdir = session_store().path_for("imports", "recordings")
            _apply(lambda s: RecordingSet.from_zip(up.getvalue(), workdir=workdir, max_takes=s.max_takes,
                                                   max_seconds=s.max_seconds), f"imported {up.name}")


def recorder_section() -> RecordingSet | None:
    """Classes and takes; returns the set when "Use these recordings" is pressed, else None."""
    rs, nonce = recordings(), st.session_state.get(_NONCE, 0)
    msg = st.session_state.pop(_MSG, None)
    if msg:
        getattr(st, msg[0])(msg[1])
    st.caption(f"{rs.n_takes} of {rs.max_takes} takes, {rs.total_seconds / 60:.1f} of {rs.max_seconds / 60:g} min "
               "of recordings in this session. Several short takes per class (1-3 s) teach more than one long one. "
               "For spoken words, pick the speech backbone under Model: it trims each take to the word (86 % of "
               "digits from takes with 2 s of quiet room noise around the word, 67 % without the trim, measured); "
               f"in a loud room, stop right after the word, since the trim keeps noise within "
               f"{TrimConfig().within_peak_db:g} dB of the voice.")
    c = st.columns([3, 1, 2], vertical_alignment="bottom")
    new = c[0].text_input("New class name", key="tr_new_class")
    if c[1].button("Add class", key="tr_add_class") and new.strip():
        _apply(lambda s: s.add_class(new))
    if c[2].button(f"Add a '{BACKGROUND}' class", key="tr_add_bg", disabled=BACKGROUND in rs.labels,
                   help=BACKGROUND_HELP):
        _apply(RecordingSet.add_background_class)
    for label in rs.labels:
        _class_box(rs, label, nonce)
    _save_and_load(rs)
    used = st.session_state.get("tr_rec_used")
    if not rs.ready:
        st.caption("Add at least two classes and record at least one take of each (three or more is better).")
    elif used is not None and used != rs:
        st.warning("The recordings changed since they were loaded: press 'Use these recordings' to train on them.")
    if st.button("Use these recordings", key="tr_use_recs", disabled=not rs.ready):
        st.session_state["tr_rec_used"] = rs
        return rs
    return None


def try_it_section(res) -> None:
    """Classify a new recording or upload with the model just trained: its class and top probabilities."""
    st.subheader("5. Try it")
    nonce = st.session_state.get(_NONCE, 0)
    if st.radio("Try it", ["Record or upload a clip", "Listen (live)"], horizontal=True, key="tr_try_mode",
                label_visibility="collapsed") == "Listen (live)":
        from pages._listen import kept_for_classify, listen_section

        path = str(res.bundle_path)
        rs = recordings()
        listen_section(path, bundle_mtime(path), key="tr_listen",
                       on_keep=(rs.labels, lambda label, wav: _apply(lambda s: s.add_take(label, wav),
                                                                      f"added the clip to {label!r}"))
                       if rs.labels else None)
        kept = kept_for_classify("tr_listen")
        if kept is None:
            return
        _try_classify(res, kept[0])
        return
    c = st.columns(2)
    rec = c[0].audio_input("Record something new", key=f"tr_try_rec_{nonce}")
    up = c[1].file_uploader("…or upload a clip", type=AUDIO_TYPES, key="tr_try_up")
    source = rec if rec is not None else up
    if source is None:
        st.caption("The model never heard this clip: a fair check of what it learned.")
        return
    _try_classify(res, source.getvalue())


def _try_classify(res, data: bytes) -> None:
    path = str(res.bundle_path)
    try:
        from audioclf.engine.inference import predict

        bundle = load_bundle_cached(path, bundle_mtime(path))
        p = queued(predict, bundle, data, key=("try", path, data_key(data)), label="Classifying…")
    except AudioclfError as exc:
        st.error(str(exc))
        return
    st.metric("Predicted class", "none of these" if p.unknown else p.label)
    if p.unknown:
        st.warning(unknown_message(p.label, p.open_set))  # the closest class and why, as on Classify
    top = p.top(min(5, len(p.classes)))
    st.dataframe({"class": [k for k, _ in top], "probability": [round(v, 3) for _, v in top]}, hide_index=True,
                 key="tr_try_top")
