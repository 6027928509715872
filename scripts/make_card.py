"""Turn a trained bundle plus its evaluations into a model card (``card.md``) and figures.

Used by ``scripts/build_pretrained.py``; it can also be run on its own::

    python scripts/make_card.py pretrained/esc10_sfc_dcnn --info build/esc10_sfc_dcnn.info.json

``--info`` is a JSON file with the story of the model (what it recognises, data
licence, command, timings, protocol results; see :func:`make_card`). The card
is written into the bundle folder together with ``confusion.png`` (and
``attention.png`` for attention models), ``model.keras`` loses its optimizer state
(not needed for inference; it would triple the file), and ``bundle.json`` gains
``metrics.headline`` (the card's headline metric) and ``metrics.check`` (a
cheap evaluation that ``tests/test_pretrained.py`` reproduces).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def confusion_png(path: Path, confusion: np.ndarray, labels: list[str], title: str) -> None:
    """Draw a confusion matrix (rows = true, columns = predicted) with counts in the cells."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(labels)
    fig, ax = plt.subplots(figsize=(1.0 + 0.55 * n, 0.8 + 0.5 * n), dpi=90)
    ax.imshow(confusion, cmap="Blues")
    ax.set_xticks(range(n), labels, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(n), labels, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=9)
    top = confusion.max() or 1
    for i in range(n):
        for j in range(n):
            if confusion[i, j]:
                ax.text(j, i, int(confusion[i, j]), ha="center", va="center", fontsize=7,
                        color="white" if confusion[i, j] > top / 2 else "black")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def attention_png(path: Path, bundle_dir: Path, clip: Path) -> str:
    """Plot the input spectrogram and an attention map of the window with the most contrast.

    Returns a one-line description for the card.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from audioclf.engine.bundle import load_bundle
    from audioclf.engine.inference import predict
    b = load_bundle(bundle_dir)
    p = predict(b, clip)
    if not p.attention or p.inputs is None:
        raise SystemExit(f"{bundle_dir} gave no attention map for {clip}")
    # The deepest block whose map still has some detail (at least 8 cells along time), else the most detailed.
    maps = sorted(p.attention.items())
    detailed = [(n, a) for n, a in maps if a.values.shape[-1] >= 8]
    name, amap = detailed[-1] if detailed else max(maps, key=lambda kv: kv[1].values[0].size)
    w = int(np.argmax(p.inputs.reshape(len(p.inputs), -1).std(axis=1)))  # the window with the most contrast
    spec = p.inputs[w, ..., 0]  # (freq, time)
    att = amap.values[w]
    if att.ndim == 1:  # rnn: (time,) -> a band over all frequencies
        att = np.broadcast_to(att[None, :], (8, att.shape[0]))
    fig, axes = plt.subplots(2, 1, figsize=(6, 4.6), dpi=90, sharex=True)
    t0, t1 = float(p.starts[w]), float(p.ends[w])
    axes[0].imshow(spec, origin="lower", aspect="auto", cmap="magma", extent=(t0, t1, 0, spec.shape[0]))
    axes[0].set_ylabel("mel bin")
    axes[0].set_title(f"{clip.name}: input (standardised log-mel), predicted '{p.label}'", fontsize=9)
    axes[1].imshow(att, origin="lower", aspect="auto", cmap="viridis", extent=(t0, t1, 0, spec.shape[0]))
    axes[1].set_ylabel("mel bin")
    axes[1].set_xlabel("time in the clip (s)")
    axes[1].set_title(f"attention '{name}' ({amap.kind}, block {amap.block}); bright = attended", fontsize=9)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    # How much attention falls on loud frames versus quiet ones: a number to back the picture.
    energy = spec.mean(axis=0)
    att_t = att.mean(axis=0)
    att_t = np.interp(np.linspace(0, 1, len(energy)), np.linspace(0, 1, len(att_t)), att_t)
    loud = energy > np.median(energy)
    ratio = float(att_t[loud].mean() / max(att_t[~loud].mean(), 1e-9)) if (~loud).any() else float("nan")
    gated = amap.kind == "cnn"  # cnn attention gates each cell; rnn/self attention weighs time steps
    what = "the mean gate" if gated else "the weight of each time step"
    text = (f"`attention.png`: clip `{clip.name}` (predicted **{p.label}**), window {w + 1} of {len(p.inputs)} "
            f"({t0:.2f}-{t1:.2f} s); top: the standardised log-mel input, bottom: {what} of attention "
            f"`{name}` stretched over the input. Mean attention on the louder half of the frames is "
            f"{ratio:.2f}x that on the quieter half.")
    # Up to 60 clips spread evenly through the clip's folder.
    folder_clips = sorted(p for p in clip.parent.iterdir() if p.suffix.lower() in (".wav", ".flac"))
    others = folder_clips[::max(1, len(folder_clips) // 60)][:60]
    rs = []
    for other in others:
        q = predict(b, other)
        amap_o = q.attention.get(name)
        if amap_o is None or q.inputs is None:
            continue
        for k in range(len(q.inputs)):
            e = q.inputs[k, ..., 0].mean(axis=0)
            a = amap_o.values[k]
            a = a.mean(axis=0) if a.ndim == 2 else a
            a = np.interp(np.linspace(0, 1, len(e)), np.linspace(0, 1, len(a)), a)
            if e.std() > 1e-6 and a.std() > 1e-6:
                rs.append(float(np.corrcoef(e, a)[0, 1]))
    if rs:
        text += (f" Over {len(rs)} windows of {len(others)} clips spread through the same folder, the correlation "
                 f"between a frame's loudness and the attention it gets has median r = {np.median(rs):.2f} "
                 f"(positive in {100 * np.mean(np.array(rs) > 0):.0f} % of windows): "
                 + (("the gates open where the sound is and close over silence." if gated else
                     "attention goes where the sound is and leaves the silence.") if np.median(rs) > 0.3 else
                    "attention leans towards the louder frames, but only weakly." if np.median(rs) > 0 else
                    "attention does not follow loudness."))
    return text


def strip_optimizer(folder: Path) -> None:
    """Re-save ``model.keras`` without the optimizer's state (Adam's moments triple the file); inference needs none."""
    import io
    import os
    import zipfile

    import h5py

    from audioclf.models import load_model_file

    path = folder / "model.keras"
    with zipfile.ZipFile(path) as zf, h5py.File(io.BytesIO(zf.read("model.weights.h5")), "r") as h5:
        if "optimizer" not in h5 or not len(h5["optimizer"].get("vars", {})):
            return  # already stripped: re-saving would only churn the file's bytes
    model = load_model_file(path)  # uncompiled: saving it keeps the weights only
    tmp = folder / "model.tmp.keras"
    model.save(tmp)
    os.replace(tmp, path)


def _per_class_table(per_class: dict[str, dict]) -> list[str]:
    rows = ["| class | precision | recall | F1 | clips |", "| --- | ---: | ---: | ---: | ---: |"]
    for label, s in per_class.items():
        rows.append(f"| {label} | {s['precision']:.3f} | {s['recall']:.3f} | {s['f1']:.3f} | {s['support']} |")
    return rows


def _confusion_table(confusion: list[list[int]], labels: list[str]) -> list[str]:
    short = [lab[:8] for lab in labels]
    rows = ["| true \\ predicted | " + " | ".join(short) + " |", "| --- |" + " ---: |" * len(labels)]
    for lab, row in zip(labels, confusion, strict=True):
        rows.append(f"| {lab} | " + " | ".join(str(int(v)) for v in row) + " |")
    return rows


def pooled(evaluations: list[dict], labels: list[str]) -> dict[str, Any]:
    """Sum the confusion matrices of several evaluations and recompute per-class scores."""
    from audioclf.engine.metrics import per_class_scores
    conf = np.sum([np.asarray(e["confusion"]) for e in evaluations], axis=0)
    true, pred = np.repeat(np.indices(conf.shape).reshape(2, -1), conf.ravel(), axis=1)  # one pair per clip
    s = per_class_scores(true, pred, len(labels))
    per_class = {lab: {"precision": float(s["precision"][k]), "recall": float(s["recall"][k]),
                       "f1": float(s["f1"][k]), "support": int(s["support"][k])} for k, lab in enumerate(labels)}
    return {"confusion": conf.tolist(), "per_class": per_class, "accuracy": float(np.trace(conf) / conf.sum())}


def make_card(bundle_dir: str | Path, info: dict[str, Any]) -> Path:
    """Write ``card.md`` (+ PNGs) into ``bundle_dir`` and set the headline and check metrics in ``bundle.json``.

    ``info`` keys: ``title``, ``summary``, ``data`` (markdown), ``limits`` (list of str), ``command``,
    ``train_seconds``, ``machine``, ``protocol`` (markdown), ``results`` (list of {protocol, accuracy, ...}),
    ``headline`` ({name, value, protocol}), ``pooled`` (an evaluation dict: confusion, per_class, labels),
    ``check`` ({protocol, data, split, accuracy}), optional ``attention_clip`` (a path) and ``notes``.
    """
    from audioclf.engine.bundle import load_bundle
    folder = Path(bundle_dir)
    strip_optimizer(folder)
    desc = json.loads((folder / "bundle.json").read_text(encoding="utf-8"))
    labels = list(desc["classes"])
    pipe = desc["pipeline"]
    arch = desc["architecture"]
    b = load_bundle(folder)
    params = int(b.model.count_params())
    size = sum(p.stat().st_size for p in folder.iterdir() if p.is_file())
    cfg = desc["training"].get("config", {})
    versions = desc.get("versions", {})
    optimiser = (f"AdamW (weight decay {cfg['weight_decay']})" if cfg.get("weight_decay") else "Adam") \
        + f" lr {cfg.get('learning_rate')} ({cfg.get('schedule')})" \
        + (f", label smoothing {cfg['label_smoothing']}" if cfg.get("label_smoothing") else "")
    pool = info["pooled"]
    confusion_png(folder / "confusion.png", np.asarray(pool["confusion"]), labels, pool.get("title", "confusion"))
    lines = [f"# {info['title']}", "", info["summary"], "",
             f"**Headline: {info['headline']['name']} = {info['headline']['value']:.4f}** "
             f"({info['headline']['protocol']}).", "",
             "## Classes", "", f"{len(labels)} classes, in the model's output order: "
             + ", ".join(f"`{c}`" for c in labels) + ".", "",
             "## Data and licence", "", info["data"], "",
             "## Preprocessing, channels and windowing", "",
             f"- Audio resampled to {pipe['sr']} Hz, mono, level `{pipe.get('level', 'peak')}` "
             f"(each clip scaled to full-scale peak first)" + ("." if pipe.get("level", "peak") == "peak" else "."),
             f"- Preprocess: {json.dumps(pipe['preprocess'])}.",
             f"- Input: {pipe['input_kind']} of shape {tuple(pipe['input_shape'])}; channels "
             + (f"{', '.join(pipe['channels'])}; features n_fft={pipe['features'].get('n_fft')}, "
                f"hop={pipe['features'].get('hop_length')}, n_mels={pipe['features'].get('n_mels')}, log scale "
                f"(dB, floor {pipe['features'].get('top_db')} dB below the peak)."
                if pipe["channels"] else
                f"none: the frozen `{pipe['backbone']}` backbone's window embeddings (`pretrained/backbones/`)."
                if pipe.get("backbone") else "- (the raw samples themselves, no spectrogram)."),
             f"- Windows of {pipe['window']['length']} "
             f"{ {'waveform': 'samples', 'embedding': 'backbone windows'}.get(pipe['input_kind'], 'frames')}"
             f", hop {pipe['window']['hop']}, short clips padded by `{pipe['window']['pad']}`; window "
             f"probabilities are averaged per clip (`{cfg.get('vote', 'mean')}` vote).",
             f"- Standardisation: `{pipe.get('normalize')}` statistics of the training windows (stored in the "
             "bundle).", "",
             "## Architecture", "",
             f"`{arch['name']}`" + (f" with `{arch['attention']}` attention" if arch.get("attention") else "")
             + f", options `{json.dumps(arch.get('options') or {})}`: **{params:,} parameters**, "
             f"bundle {size / 1e6:.1f} MB on disk.", "",
             "## Training", "",
             f"- Command (from the repository root): `{info['command']}`",
             f"- Optimisation: {cfg.get('epochs')} epochs, batch {cfg.get('batch_size')}, {optimiser}, "
             f"augmentation `{json.dumps(cfg.get('augment'))}`, seed {cfg.get('seed')}.",
             f"- Time: {info['train_seconds']:.0f} s for this final model on {info['machine']}.",
             f"- Library versions: {', '.join(f'{k} {v}' for k, v in versions.items())}.",
             # the day this bundle was trained (its own record), not the day the card was rewritten
             f"- Date: {desc['created'][:10]}.", "",
             "## Evaluation", "", info["protocol"], "",
             "| protocol | clip accuracy | clips | training time |", "| --- | ---: | ---: | ---: |"]
    for r in info["results"]:
        secs = f"{r['seconds']:.0f} s" if r.get("seconds") is not None else "-"
        lines.append(f"| {r['protocol']} | {r['accuracy']:.3f} | {r.get('clips', '-')} | {secs} |")
    lines += ["", f"Per class ({pool.get('title', 'pooled')}):", "", *_per_class_table(pool["per_class"]), "",
              f"Confusion matrix ({pool.get('title', 'pooled')}; rows = true, columns = predicted; also "
              "`confusion.png`):", "", *_confusion_table(pool["confusion"], labels), ""]
    check = info["check"]
    lines += ["### Reproducible check", "",
              f"{check['protocol']}: clip accuracy **{check['accuracy']:.4f}**. `tests/test_pretrained.py` "
              "re-runs it on the real data and expects the same figure within 1 point.", ""]
    if info.get("attention_clip"):
        text = attention_png(folder / "attention.png", folder, Path(info["attention_clip"]))
        lines += ["## Attention", "", "![attention](attention.png)", "", text, ""]
    lines += ["## Known limits", "", *[f"- {x}" for x in info["limits"]], ""]
    if info.get("notes"):
        lines += ["## Notes", "", info["notes"], ""]
    (folder / "card.md").write_text("\n".join(lines), encoding="utf-8")
    desc.setdefault("metrics", {})
    desc["metrics"]["headline"] = info["headline"]
    desc["metrics"]["check"] = check
    (folder / "bundle.json").write_text(json.dumps(desc, indent=2), encoding="utf-8")
    load_bundle(folder)  # still valid
    return folder / "card.md"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("bundle")
    p.add_argument("--info", required=True, help="JSON file with the card's story (see make_card)")
    args = p.parse_args(argv)
    info = json.loads(Path(args.info).read_text(encoding="utf-8"))
    print(make_card(args.bundle, info))
    return 0


if __name__ == "__main__":
    sys.exit(main())
