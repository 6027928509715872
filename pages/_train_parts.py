"""The Train page's sections: each arranges widgets and calls the library."""

from __future__ import annotations

import streamlit as st

from audioclf.errors import AudioclfError
from pages._common import bundle_mtime, lesson, session_store
from pages._export import export_section

AUGMENTS = ["standard", "none", "light", "strong", "speech", "embedding"]
#: The dataset source radio's choices -> the kind of request (and marker) each one loads.
_SOURCE_KINDS = {"Synthetic": "synthetic", "Folder": "folder", "Upload": "zip", "Record": "record"}
_FROM_BACKBONE, _FROM_SCRATCH = "Start from a pretrained backbone", "Train an architecture from scratch"


@st.cache_data(max_entries=16, show_spinner="Reading the dataset…")
def _summary(dataset):
    from audioclf.datasets import summarize_dataset

    return summarize_dataset(dataset).to_dict()


def load_dataset_request(kind: str, arg) -> object:
    """The dataset a source request names: ``('synthetic', n)``, ``('folder', (path, esc10_only))``,
    ``('zip', bytes)`` or ``('record', RecordingSet)``."""
    from audioclf.datasets import SyntheticConfig, load_dataset, make_synthetic_dataset

    store = session_store()
    if kind == "synthetic":
        return make_synthetic_dataset(store.path / "synthetic" / str(arg),
                                      config=SyntheticConfig(clips_per_class=int(arg)))
    if kind == "folder":
        return load_dataset(arg[0], esc10_only=arg[1])
    if kind == "zip":
        path = store.path_for("zips", "dataset", suffix=".zip")
        path.write_bytes(arg)
        return load_dataset(path, extract_dir=store.path_for("datasets", "extracted"))
    return arg.to_dataset(store.path_for("datasets", "recordings"))


def _marker(request: tuple, zip_key) -> object:
    """What identifies a request's dataset, so it is loaded again only when it changed."""
    kind, arg = request
    if kind == "zip":
        return zip_key
    if kind == "record":  # a set changes its next_id on every new take, its counts and labels on the rest
        return kind, arg.next_id, arg.labels, arg.n_takes
    return kind, str(arg)[:200]


def dataset_section():
    """Choose and load a dataset; show its summary and a few clips per class. Returns the Dataset or None."""
    st.subheader("1. Dataset")
    source = st.radio("Source", ["Synthetic (built in)", "Folder on this machine", "Upload a zip", "Record clips"],
                      horizontal=True, key="tr_source")
    request = None
    if source.startswith("Synthetic"):
        n = st.slider("clips per class", 6, 40, 12, key="tr_synth_n")
        request = ("synthetic", n)
    elif source.startswith("Folder"):
        path = st.text_input("Folder or manifest CSV (ESC-50, ESC-10, FSDD or one folder per class)", key="tr_path")
        esc10 = st.checkbox("ESC-10 subset only (ESC-50 layouts)", key="tr_esc10")
        request = ("folder", (path.strip(), esc10)) if path.strip() else None
    elif source.startswith("Upload"):
        up = st.file_uploader("Zip of class folders", type=["zip"], key="tr_zip")
        request = ("zip", up.getvalue()) if up is not None else None
        key = ("zip", up.file_id) if up is not None else None
    else:
        from pages._recorder import recorder_section

        recs = recorder_section()
        request = ("record", recs) if recs is not None else None
    if request is not None:
        marker = _marker(request, key if request[0] == "zip" else None)
        if st.session_state.get("tr_ds_marker") != marker:
            try:
                with st.spinner("Loading the dataset…"):
                    st.session_state["tr_ds"] = load_dataset_request(*request)
                st.session_state["tr_ds_marker"] = marker
            except AudioclfError as exc:
                st.error(str(exc))
                return None
    ds, loaded = st.session_state.get("tr_ds"), st.session_state.get("tr_ds_marker")
    wanted = next(kind for word, kind in _SOURCE_KINDS.items() if source.startswith(word))
    if ds is None or loaded is None or loaded[0] != wanted:  # never train on a dataset from another source
        st.info("Record at least two classes, then press 'Use these recordings'." if wanted == "record"
                else "Choose a dataset to continue.")
        return None
    summary = _summary(ds)
    st.markdown(f"**{ds.name}** ({summary['kind']}): {summary['clips']} clips, {len(ds.classes)} classes, "
                f"{summary['total_seconds'] / 60:.1f} min of audio")
    st.dataframe({"class": list(summary["per_class"]), "clips": list(summary["per_class"].values())},
                 hide_index=True, height=min(400, 40 + 35 * len(ds.classes)))
    for w in summary.get("warnings", []):
        st.warning(w)
    with st.expander("Listen to a few clips per class"):
        for label in ds.classes[:12]:
            clips = [c for c in ds.clips if c.label == label][:2]
            cols = st.columns(len(clips) + 1)
            cols[0].markdown(f"**{label}**")
            for col, clip in zip(cols[1:], clips, strict=True):
                col.audio(str(clip.path))
    return ds


@st.cache_resource(max_entries=32, show_spinner=False)
def _model_info(name: str, attention: str | None):
    from audioclf.models import build_model
    from audioclf.ui.diagram import model_dot

    model = build_model(name, num_classes=10, attention=attention)
    return int(model.count_params()), model_dot(model)


def _backbone_choice(ds, defaults) -> tuple[str, str, bool]:
    """Which backbone and head, and whether to fine-tune: the defaults follow the dataset (``train_defaults``)."""
    from audioclf.backbones import TOP_BLOCKS, list_backbones
    from audioclf.engine.recipes import MLP_FROM_CLIPS
    from audioclf.models import HEADS

    specs = {s.name: s for s in list_backbones()}
    names = list(specs)
    default = defaults.backbone
    c = st.columns(2)
    name = c[0].selectbox("Backbone", names, index=names.index(default) if default in names else 0,
                          key=f"tr_backbone_{_dataset_key(ds)}", format_func=lambda n: f"{n}: {specs[n].title}")
    heads = list(HEADS)
    picked = defaults.head  # the library's choice for this much data
    head = c[1].selectbox("Head", heads, index=heads.index(picked), key=f"tr_head_{_dataset_key(ds)}",
                          help="linear: one softmax layer on the average, peak and spread of the embeddings, "
                               "fitted to convergence; mlp: one hidden layer first; attention: learned weights over time, shown "
                               f"on the Classify page. Preselected for this dataset: {picked} (linear below "
                               f"{MLP_FROM_CLIPS} training clips in a class, mlp from there on).")
    spec = specs[name]
    st.markdown(spec.description)
    st.caption(f"{spec.params:,} pretrained parameters, frozen; {spec.sample_rate} Hz, {spec.window_s:.2f}-s windows "
               f"every {spec.hop_s:.2f} s, {spec.embedding_dim} numbers each. Licence {spec.licence}: "
               f"{spec.citation}. Only the head is trained, so a few clips per class are enough.")
    top = TOP_BLOCKS.get(name)
    fine_tune = st.checkbox("Fine-tune the top block", value=False, key="tr_fine_tune", disabled=top is None,
                            help=f"Also train {top.description} ({top.params:,} parameters) from its pretrained "
                                 "weights, slowly. Can fit your sounds better with many clips per class; slower, "
                                 "and the model file carries the block." if top else "This backbone has none.")
    return name, head, fine_tune


def _dataset_key(ds) -> int:
    return hash((str(ds.root), len(ds.clips))) & 0xFFFFFF


def model_section(ds):
    """Choose a pretrained backbone and head, or an architecture; show what it is, its size and its layers.

    Returns ``(spec, attention, transfer)``: ``transfer`` is ``(backbone, head, fine_tune)`` or None.
    """
    from audioclf.engine.recipes import DEFAULT_MODEL, train_defaults
    from audioclf.models import get_model_spec, list_models
    st.subheader("2. Model")
    defaults = train_defaults(ds)  # small and recorded datasets start from a backbone
    start = st.radio("How to start", [_FROM_BACKBONE, _FROM_SCRATCH], index=0 if defaults.transfer else 1,
                     horizontal=True, key=f"tr_start_{_dataset_key(ds)}",
                     help="A backbone pretrained on large audio collections already knows what makes sounds "
                          "differ: the default for recorded and small datasets. From scratch teaches how each "
                          "architecture of the zoo sees sound, and needs more clips.")
    if start == _FROM_BACKBONE:
        from audioclf.models import HEADS

        backbone, head, fine_tune = _backbone_choice(ds, defaults)
        model, attention = HEADS[head]
        return get_model_spec(model), attention, (backbone, head, fine_tune)
    specs = [s for s in list_models() if s.input_kind != "embedding"]
    names = [s.name for s in specs]
    by_name = {s.name: s for s in specs}
    name = st.selectbox("Model", names, index=names.index(DEFAULT_MODEL), key="tr_model",
                        format_func=lambda n: f"{n} ({by_name[n].family}, {by_name[n].input_kind} input)")
    spec = by_name[name]
    st.markdown(spec.description)
    st.caption(f"Source: {spec.source}")
    attention = st.selectbox("Attention", [None, *spec.attention], key="tr_attention",
                             format_func=lambda a: "none" if a is None else a) if spec.attention else None
    params, dot = _model_info(spec.name, attention)
    st.caption(f"{params:,} parameters at the default input {tuple(spec.default_input_shape)} for 10 classes")
    with st.expander("Layer diagram"):
        st.graphviz_chart(dot)
    return spec, attention, None


def settings_section(spec, attention, ds, transfer=None):
    """Channels, window, epochs, batch size, learning rate, split and augmentation -> (TrainConfig, PipelineConfig)."""
    from audioclf.audio.augment import AUGMENT_PRESETS
    from audioclf.engine.recipes import (
        DEFAULT_MODEL,
        default_pipeline,
        make_recipe,
        quick_recipe,
        train_defaults,
        transfer_recipe,
    )
    from audioclf.features import channel_names
    st.subheader("3. Settings")
    if transfer is not None:
        base_cfg, base_pipe = transfer_recipe(transfer[0], head=transfer[1], fine_tune=transfer[2])
    else:
        base_cfg, base_pipe = quick_recipe() if spec.name == DEFAULT_MODEL else (None, default_pipeline(spec.name))
    key = ("_finetune" if transfer[2] else "_transfer") if transfer else ""  # a head's settings apart from the zoo's
    c = st.columns(4)
    epochs = c[0].number_input("epochs", 1, 300, base_cfg.epochs if base_cfg else 20, key=f"tr_epochs{key}")
    batch = c[1].number_input("batch size", 1, 256, base_cfg.batch_size if base_cfg else 32, key=f"tr_batch{key}")
    lr = c[2].number_input("learning rate", 1e-5, 0.5, base_cfg.learning_rate if base_cfg else 1e-3,
                           format="%.4f", key=f"tr_lr{key}")
    augments = [a for a in AUGMENTS if a in AUGMENT_PRESETS and (a == "embedding") == bool(transfer)] + ["none"]
    augments = list(dict.fromkeys(augments))
    base_aug = next((a for a in augments if base_cfg and AUGMENT_PRESETS[a] == base_cfg.augment), augments[0])
    augment = c[3].selectbox("augmentation", augments, index=augments.index(base_aug), key=f"tr_aug{key}",
                             help="light: time shift + noise; standard: shift, SpecAugment masks, mixup; strong: "
                                  "more of each; speech: standard + frequency warp and time stretch (new voices); "
                                  "embedding (heads on a backbone): the windows' order rolled, a little noise, mixup")
    if base_cfg is not None and base_cfg.solver == "lbfgs":
        st.caption("The linear head is fitted to convergence (a logistic regression): epochs, batch size, learning "
                   "rate and augmentation do not apply to it.")
    split = st.text_input("validation split (fold:K, group:NAME, split:test, ratio:R or none)",
                          train_defaults(ds).split, key=f"tr_split_{_dataset_key(ds)}",
                          help="Preselected as the CLI's train does without --split: the dataset's last fold, its "
                               "test split, or a stratified 20 %.")
    if transfer is not None:
        trim = st.checkbox("Trim each clip to its sound", value=base_pipe.preprocess.trim is not None,
                           key=f"tr_trim_{transfer[0]}",
                           help="Cut the room noise before and after the sound, in training and whenever the model "
                                "classifies (also exported and live). On by default for speech: spoken takes with a "
                                "second of noise around the word lost 17 points against the same words cut tight. "
                                "Off for sounds that fill the clip (rain, engines).")
        return make_recipe(backbone=transfer[0], head=transfer[1], fine_tune=transfer[2], augment=AUGMENT_PRESETS[augment],
                           training={"epochs": int(epochs), "batch_size": int(batch), "learning_rate": float(lr),
                                     "split": split.strip()}, trim=trim)
    channels = None
    kind = base_pipe.input_kind
    if kind in ("spectrogram", "multichannel"):
        options = [*channel_names(), "stft_magphase", "stft_realimag"]
        if kind == "spectrogram":
            channels = (st.selectbox("channel", channel_names(), index=channel_names().index(base_pipe.channels[0]),
                                     key="tr_channel"),)
        else:
            channels = tuple(st.multiselect("channels", options, default=list(base_pipe.channels), key="tr_channels"))
    frames = st.select_slider("window (frames)" if kind != "waveform" else "window (samples)",
                              options=sorted({base_pipe.window.length, 32, 64, 128}) if kind != "waveform"
                              else sorted({base_pipe.window.length, 8000, 16000, 30000}),
                              value=base_pipe.window.length, key="tr_window")
    shape = None
    if kind in ("spectrogram", "multichannel"):
        shape = (base_pipe.input_shape[0], frames)
    elif kind == "waveform":
        shape = (frames,)
    return make_recipe(model=None if base_cfg else spec.name, channels=channels, input_shape=shape,
                       augment=AUGMENT_PRESETS[augment],
                       training={"attention": attention, "epochs": int(epochs), "batch_size": int(batch),
                                 "learning_rate": float(lr), "split": split.strip()})


@st.cache_resource(show_spinner="Asking the Keras backend for its devices…")
def _device_report():
    from audioclf.engine.backend import local_device_count
    from audioclf.engine.device import device_info

    return device_info(), local_device_count()


def hardware_section() -> dict:
    """The device training will really use, precision and data-parallel devices -> TrainConfig fields."""
    info, n_local = _device_report()
    st.caption(f"Training device: **{info.describe()}**")
    if not info.usable:
        st.warning(f"{', '.join(info.system_gpus)} is present but unused: {info.reason}. Fix (then restart the app):")
        st.code(info.fix, language="bash")
    c = st.columns(2)
    precision = c[0].selectbox("precision", ["auto", "float32", "mixed"], key="tr_precision",
                               help="auto: mixed (float16 compute, float32 weights) on a GPU, float32 on a CPU. "
                                    "Mixed is about twice as fast on recent GPUs; on a CPU it would be slower.")
    devices = c[1].number_input("devices (data parallel)", 1, max(1, n_local), 1, key="tr_devices",
                                help=f"Split each batch over this many devices ({n_local} available to "
                                     f"{info.backend}); gradients are averaged, so the result equals one device.")
    return {"precision": precision, "devices": int(devices)}


def results_section(res, ds) -> None:
    """Confusion matrix, per-class scores, misclassified clips, save and download."""
    from audioclf.datasets import clip_id
    from audioclf.engine.bundle_zip import export_zip
    from audioclf.ui import confusion_figure

    ev = res.evaluation
    st.subheader("4. Results")
    note = " (stopped early: best model so far kept)" if res.stopped else ""
    st.success(f"Validation clip accuracy {ev.accuracy:.1%} after {res.epochs_run} epoch(s) in {res.seconds:.0f} s"
               + note)
    left, right = st.columns(2)
    left.plotly_chart(confusion_figure(ev.confusion, ev.labels), width="stretch", key="tr_confusion")
    d = ev.to_dict()
    per = d["per_class"]
    right.dataframe({"class": list(per), **{k: [round(v[k], 3) for v in per.values()] for k in
                                            ("precision", "recall", "f1")}}, hide_index=True)
    with left:
        lesson("confusion_matrix")
    with right:
        lesson("precision_recall_f1")
    wrong = ev.misclassified(top_k=3)
    if wrong:
        with st.expander(f"Misclassified clips ({len(wrong)})"):
            paths = {clip_id(c, ds.root): c.path for c in ds.clips}
            for m in wrong[:20]:
                st.markdown(f"`{m['clip']}`: true **{m['true']}**, predicted " +
                            ", ".join(f"{t['label']} {t['prob']:.0%}" for t in m["top"]))
                if m["clip"] in paths:
                    st.audio(str(paths[m["clip"]]))
    st.download_button("Download the model bundle (.zip)", export_zip(res.bundle_path), f"{res.config.model}.zip",
                       "application/zip", key="tr_download")
    st.caption("The model is also in this session's model store: use it on the Classify page.")
    export_section(str(res.bundle_path), bundle_mtime(res.bundle_path), key="tr_export")
