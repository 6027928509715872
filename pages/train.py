"""Train: a dataset, an architecture, live progress, then the scores and a saved bundle."""

import dataclasses

import streamlit as st

from audioclf.errors import AudioclfError
from pages._common import runs, session_store
from pages._train_parts import dataset_section, hardware_section, model_section, results_section, settings_section

st.title("Train a model")
st.caption("Pick a dataset, an architecture and a few settings; training runs in the background, "
           "so you can watch it and stop it at any time (the best model so far is kept).")

ds = dataset_section()
if ds is None:
    st.stop()
spec, attention, transfer = model_section(ds)
try:
    config, pipeline = settings_section(spec, attention, ds, transfer)
    config = dataclasses.replace(config, **hardware_section())
except AudioclfError as exc:
    st.error(str(exc))
    st.stop()

job = st.session_state.get("train_job")
running = job is not None and job.snapshot().state == "running"
if st.button("Train", type="primary", disabled=running, key="tr_start"):
    from audioclf.jobs import TrainingJob

    out = session_store().path_for("bundles", f"{transfer[0]}_{spec.name}" if transfer else spec.name)
    st.session_state["train_job"] = TrainingJob(ds, config=config, pipeline=pipeline, out=out).start()
    st.session_state["train_recorded"] = False
    job = st.session_state["train_job"]


@st.fragment(run_every=1.0)
def progress_view() -> None:
    from audioclf.ui import history_figure

    job = st.session_state.get("train_job")
    if job is None:
        return
    snap = job.snapshot()
    ev = snap.last
    if snap.state == "running":
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
        if st.button("Stop (keep the best model so far)", disabled=snap.stop_requested, key="tr_stop"):
            job.stop()
    if snap.history:
        st.plotly_chart(history_figure(snap.history), width="stretch", key="tr_curves")
    if snap.state == "failed":
        st.error(snap.error)
    elif snap.state == "done" and not st.session_state.get("train_recorded"):
        st.session_state["train_recorded"] = True
        res = snap.result
        runs().append({"name": f"{res.config.model}-{len(runs()) + 1}", "bundle": str(res.bundle_path),
                       "model": res.config.model, "attention": res.config.attention,
                       "channels": ", ".join(res.pipeline.channels) or res.pipeline.input_kind,
                       "accuracy": res.accuracy, "seconds": res.seconds, "params": int(res.model.count_params()),
                       "epochs": res.epochs_run, "stopped": res.stopped, "confusion": res.evaluation.confusion,
                       "labels": list(res.classes)})
        st.rerun()


progress_view()
job = st.session_state.get("train_job")
if job is not None and job.snapshot().state == "done":
    results_section(job.snapshot().result, ds)
