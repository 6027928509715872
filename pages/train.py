"""Train: a dataset, an architecture, live progress, then the scores and a saved bundle."""

import dataclasses

import streamlit as st

from audioclf.errors import AudioclfError
from pages._common import session_store
from pages._recorder import try_it_section
from pages._train_parts import dataset_section, hardware_section, model_section, results_section, settings_section
from pages._training_job import live_view

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
if st.button("Train", type="primary", disabled=job is not None and job.snapshot().active, key="tr_start"):
    from audioclf.service.jobs import TrainingJob

    out = session_store().path_for("bundles", f"{transfer[0]}_{spec.name}" if transfer else spec.name)
    st.session_state["train_job"] = job = TrainingJob(ds, config=config, pipeline=pipeline, out=out).start()
    st.session_state["train_recorded"] = False

# Redrawn every second while the job waits or trains, and not at all once it has ended.
interval = job.snapshot().poll_interval if job is not None else None
st.session_state["tr_live"] = interval is not None
st.fragment(live_view, run_every=interval)()
snap = job.snapshot() if job is not None else None
if snap is not None and snap.state == "done":
    results_section(snap.result, ds)
    try_it_section(snap.result)
