"""The export download: a bundle as ONNX or TFLite with its front end and classify.py, zipped."""

import streamlit as st

from audioclf.errors import AudioclfError
from pages._common import load_bundle_cached, queued


def _export(path: str, mtime: float, fmt: str):
    from audioclf.engine.export import export_archive

    return export_archive(load_bundle_cached(path, mtime), fmt)


def export_section(path: str, mtime: float, *, key: str) -> None:
    """Prepare on request (a conversion takes seconds), then offer the zip for download."""
    st.subheader("Take the model away")
    st.caption("One file from raw audio to probabilities (the features are inside), with classify.py, which "
               "runs it with numpy, soundfile, soxr and onnxruntime (ONNX) or ai-edge-litert (TFLite): no "
               "TensorFlow, no librosa, on a laptop, a Raspberry Pi or a phone.")
    fmt = st.radio("Format", ["onnx", "tflite"], horizontal=True, key=f"{key}_fmt")
    done = st.session_state.get(f"{key}_zip")
    if done is None or done[0] != (path, mtime, fmt):
        if not st.button(f"Prepare the {fmt.upper()} export", key=f"{key}_go"):
            return
        try:
            data, result = queued(_export, path, mtime, fmt, key=("export", path, mtime, fmt),
                                  label=f"Exporting to {fmt.upper()}…")
        except AudioclfError as exc:
            st.error(str(exc))
            return
        done = ((path, mtime, fmt), data, result)
        st.session_state[f"{key}_zip"] = done
    _, data, result = done
    st.download_button(f"Download {result.folder.name}.zip ({len(data) / 1e6:.1f} MB)", data,
                       file_name=f"{result.folder.name}.zip", mime="application/zip", key=f"{key}_dl")
    st.caption(f"Checked against this model on {len(result.clips)} clips: largest probability difference "
               f"{result.max_abs_diff:.1e}, same top class on {result.agreement:.0%}.")
