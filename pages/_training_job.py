"""The Train page's live view of a training job: queue position, progress, Stop, curves, and the finished run."""

from __future__ import annotations

import streamlit as st

from pages._common import runs


def _record(res) -> None:
    """Add a finished run to this session's list (the Compare page reads it)."""
    runs().append({"name": f"{res.config.model}-{len(runs()) + 1}", "bundle": str(res.bundle_path),
                   "model": res.config.model, "attention": res.config.attention,
                   "channels": ", ".join(res.pipeline.channels) or res.pipeline.input_kind,
                   "accuracy": res.accuracy, "seconds": res.seconds, "params": int(res.model.count_params()),
                   "epochs": res.epochs_run, "stopped": res.stopped, "confusion": res.evaluation.confusion,
                   "labels": list(res.classes)})


def _progress(snap) -> None:
    ev = snap.last
    frac = 0.0
    if ev is not None and ev.phase == "features" and ev.total:
        frac, text = ev.done / ev.total * 0.2, f"Computing features: {ev.done}/{ev.total} clips"
    elif ev is not None and ev.epochs:
        frac = 0.2 + 0.8 * ((ev.epoch - 1) + (ev.batch / ev.batches if ev.batches else 1)) / ev.epochs
        text = f"Epoch {ev.epoch}/{ev.epochs}, batch {ev.batch}/{ev.batches}"
    else:
        text = (ev.message or ev.phase) if ev is not None else "Starting…"
    st.progress(min(max(frac, 0.0), 1.0), text=text)
    if ev is not None:
        eta = "…" if ev.eta != ev.eta else f"{ev.eta:.0f} s"
        st.caption(f"elapsed {ev.elapsed:.0f} s · time left about {eta}")


def live_view() -> None:
    """The body of the page's live fragment: redrawn every second while the job waits or trains."""
    from audioclf.service.jobs import TRAINING_QUEUE
    from audioclf.ui.training_curves import live_figure

    job = st.session_state.get("train_job")
    if job is None:
        return
    snap = job.snapshot()
    if snap.state == "queued":
        n = snap.ahead
        st.info(f"Waiting for {n} other training job{'s' if n != 1 else ''} to finish first (this server trains "
                f"{TRAINING_QUEUE.slots} at a time); training starts by itself.", icon=":material/hourglass_top:")
    elif snap.state == "running":
        _progress(snap)
    if snap.active:
        label = "Cancel" if snap.state == "queued" else "Stop (keep the best model so far)"
        if st.button(label, disabled=snap.stop_requested, key="tr_stop"):
            job.stop()
    if snap.history or snap.batches:
        st.plotly_chart(live_figure(snap), width="stretch", key="tr_curves")
    if snap.state == "failed":
        st.error(snap.error)
    elif snap.state == "withdrawn":
        st.info(f"Training {snap.error}.")
    elif snap.state == "done" and not st.session_state.get("train_recorded"):
        st.session_state["train_recorded"] = True
        _record(snap.result)
    if not snap.active and st.session_state.get("tr_live"):
        st.session_state["tr_live"] = False
        st.rerun()  # the whole page: the results appear and this view stops redrawing itself
