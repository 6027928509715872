"""The browser's port of classify.py (web/component/src/frontend.js, onnxruntime-web) against export_runner.

Each model kind's export (frames, a waveform, a backbone's blocks) runs in node through the same JavaScript the
Listen view uses; its window probabilities, window times and embedding must be export_runner's.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from audioclf.datasets.examples import load_example
from audioclf.engine import export_runner
from audioclf.service.store import list_bundles
from tests.web.node import need_node, run_node

pytestmark = pytest.mark.slow
CLIPS = ("esc10_helicopter", "fsdd_three_george")  # 5 s (many windows, a tail) and 0.4 s (shorter than a window)


@pytest.fixture(scope="module", params=["fsdd_sfc_dcnn", "fsdd_soundnet", "fsdd_speech"])
def exported(request, tmp_path_factory):
    need_node()
    from audioclf.engine.export import export_bundle

    entry = next((e for e in list_bundles() if e.name == request.param), None)
    if entry is None:
        pytest.skip(f"pretrained model {request.param} is not installed")
    out = tmp_path_factory.mktemp("live") / request.param
    export_bundle(entry.path, out, fmt="onnx", check=False)
    return out


@pytest.mark.parametrize("clip", CLIPS)
def test_js_classifies_a_clip_as_classify_py(exported, clip, tmp_path):
    model, spec = export_runner.load(exported)
    y, _ = load_example(clip, sr=spec["sample_rate"])
    src = tmp_path / "y.f32"
    y.astype(np.float32).tofile(src)
    js = json.loads(run_node("classify_check.mjs", str(exported), str(src)))
    ref = export_runner.classify_samples(model, spec, y)
    assert np.asarray(js["probs"]).shape == ref["probs"].shape
    assert float(np.max(np.abs(np.asarray(js["probs"]) - ref["probs"]))) < 1e-4
    np.testing.assert_allclose(js["starts"], ref["starts"], atol=1e-9)
    np.testing.assert_allclose(js["ends"], ref["ends"], atol=1e-9)
    assert js["padded"] == [bool(p) for p in ref["padded"]]
    if ref["embedding"] is not None:
        assert float(np.max(np.abs(np.asarray(js["embedding"]) - ref["embedding"]))) < 1e-3
    else:
        assert js["embedding"] is None


def _recording_level(model, spec: dict, y: np.ndarray) -> dict:
    """The clip's own level as classify.py computes it: its peak, and the dB peak that floors its decibels."""
    fe = spec["frontend"]
    peak = float(np.max(np.abs(y)))
    yl = export_runner.peak_level(y)
    clip_peak: list[float] = []
    if fe["kind"] == "frames" and fe["floors"]:
        frames = export_runner.frame(yl, fe["n_fft"], fe["hop"], center=True)[:1 + len(yl) // fe["hop"]]
        clip_peak = export_runner._clip_peak(model, frames, fe["window_frames"], {}, fe["floors"])[0].tolist()
    elif fe["kind"] == "blocks" and fe["floors"]:
        frames = export_runner.frame(yl, fe["n_fft"], fe["hop"], center=fe["center"])
        k = fe["window_frames"]
        every = {"slot_mask": np.ones((1, k), np.float32), "slot_fill": np.zeros((1, 1), np.float32)}
        clip_peak = export_runner._clip_peak_blocks(model, frames, k, every, fe)[0].tolist()
    return {"peak": peak, "clipPeak": clip_peak}


def _with_trim(exported, tmp_path, trim):
    """The same export with labels.json's ``trim`` set to ``trim`` (None: a model from before the trim). The trim
    lies outside the graph, so any export can be run either way."""
    import shutil

    spec = json.loads((exported / "labels.json").read_text())
    if spec.get("trim") == trim:
        return exported
    out = tmp_path / ("trimmed" if trim else "untrimmed")
    shutil.copytree(exported, out)
    (out / "labels.json").write_text(json.dumps({**spec, "trim": trim}))
    return out


def _stream(spec, tmp_path):
    sr = spec["sample_rate"]
    parts = [load_example(c, sr=sr)[0] for c in ("esc10_rooster", "fsdd_three_george", "fsdd_nine_theo")]
    y = np.concatenate([0.5 * p / np.abs(p).max() for p in parts]).astype(np.float32)
    src = tmp_path / "y.f32"
    y.tofile(src)
    return y, src


def test_live_windows_of_a_trimming_model_are_clips_of_their_own(exported, tmp_path):
    """A model that trims each take to its sound hears each live window as a clip of its own: trimmed to the word
    in it and scaled to its own peak, as classify.py classifies a recording of just that window."""
    from audioclf.audio.preprocess import TrimConfig
    from audioclf.service.listen import live_hop

    if json.loads((exported / "labels.json").read_text())["frontend"]["kind"] != "blocks":
        pytest.skip("the trim is the speech backbone's default; its frames are blocks")
    exported = _with_trim(exported, tmp_path, TrimConfig().to_dict())
    model, spec = export_runner.load(exported)
    y, src = _stream(spec, tmp_path)
    hop, _ = live_hop(spec)
    live = json.loads(run_node("live_check.mjs", str(exported), str(src), str(hop)))
    n, unit = spec["window_samples"], spec["frontend"]["hop_samples"]
    assert len(live) >= 5
    for w in live:
        a = w["w"] * hop * unit
        ref = export_runner.classify_samples(model, spec, y[a:a + n])
        assert float(np.max(np.abs(np.asarray(w["probs"]) - ref["probs"].mean(axis=0)))) < 1e-4, w["w"]
        verdict = export_runner.judge(spec["open_set"], ref["probs"].mean(axis=0), ref["embedding"], ref["sequences"])
        assert w["unknown"] == verdict["unknown"], w["w"]
        if (spec["open_set"] or {}).get("sequence_centroids") is not None:  # the windows one by one, alike
            assert w["sequence_rank"] == pytest.approx(verdict["sequence_rank"], rel=1e-3, abs=1e-6), w["w"]


def test_live_stream_cuts_predicts_windows(exported, tmp_path):
    """Samples pushed in chunks of 1024, as the AudioWorklet sends them: every live window at one of predict's
    starts sees predict's frames (given the recording's level), so its probabilities are classify.py's."""
    from audioclf.service.listen import live_hop

    exported = _with_trim(exported, tmp_path, None)
    model, spec = export_runner.load(exported)
    y, src = _stream(spec, tmp_path)
    hop, _ = live_hop(spec)
    level = _recording_level(model, spec, y)
    live = json.loads(run_node("live_check.mjs", str(exported), str(src), str(hop), json.dumps(level)))
    ref = export_runner.classify_samples(model, spec, y)
    by_start = {round(w["start"] * 1000): w for w in live}
    whole = [(s, p) for s, p, pad in zip(ref["starts"], ref["probs"], ref["padded"], strict=True) if not pad]
    assert len(whole) >= 5
    for s, p in whole:
        w = by_start[round(s * 1000)]
        assert float(np.max(np.abs(np.asarray(w["probs"]) - p))) < 1e-4, s
    assert len(live) >= len(whole)  # windows between predict's starts (a finer live hop) come on top


def test_js_none_of_these_is_classify_pys(tmp_path, rng):
    """The open-set verdict (confidence, raw and scaled centroid distances, the two together) on random cases near
    each threshold."""
    need_node()
    d = 16
    cases = []
    for i in range(40):
        centroids = rng.normal(size=(3, d))
        open_set = {"confidence": 0.5, "centroids": centroids.tolist(), "distance": 0.3}
        if i % 2:  # the newer bundles' second test
            open_set.update(center=rng.normal(size=d).tolist(), scale=rng.uniform(0.5, 2.0, d).tolist(),
                            scaled_centroids=rng.normal(size=(3, d)).tolist(), scaled_distance=0.4)
        if i % 3 == 0:  # confidence and distance judged together (bundles since 2026-12-07)
            open_set.update(joint=0.02, reference_confidences=np.sort(rng.uniform(0.3, 1.0, 50)).tolist(),
                            reference_distances=np.sort(rng.uniform(0.0, 0.8, 50)).tolist())
        probs = rng.dirichlet(np.ones(4) * (0.3 + i / 10))
        # two inputs of K = 4 windows around the class's sequence; their mean is the clip's embedding
        seq = np.repeat(centroids[i % 3][None, None], 4, axis=1) + rng.normal(scale=0.1 + i / 20, size=(2, 4, d))
        emb = seq.mean(axis=(0, 1))
        if i % 6 == 0:  # the third rank, window by window (trimmed pipelines since 2026-12-07)
            open_set.update(sequence_centroids=rng.normal(size=(3, 4 * d)).tolist(), sequence_distance=0.5,
                            reference_sequences=np.sort(rng.uniform(0.2, 1.0, 50)).tolist())
            if i == 12:  # a clip on a class's sequence
                seq = np.asarray(open_set["sequence_centroids"][0]).reshape(1, 4, d)
        cases.append({"open_set": open_set, "probs": probs.tolist(), "embedding": emb.tolist(),
                      "sequences": [{"data": seq.ravel().tolist(), "dims": list(seq.shape)}]})
    cases.append({"open_set": None, "probs": [0.2, 0.8], "embedding": None})
    src = tmp_path / "cases.json"
    src.write_text(json.dumps(cases))
    got = json.loads(run_node("judge_check.mjs", str(src)))
    want = [export_runner.judge(c["open_set"], np.asarray(c["probs"]),
                                None if c["embedding"] is None else np.asarray(c["embedding"]),
                                None if "sequences" not in c else np.reshape(c["sequences"][0]["data"],
                                                                             c["sequences"][0]["dims"]))
            for c in cases]
    assert [g.get("unknown") for g in got] == [w.get("unknown") for w in want]
    assert len({g["unknown"] for g in got[:-1]}) == 2  # both verdicts occur
    thirds = [w for w in want if "sequence_rank" in w]
    assert len(thirds) == 7 and len({w["unknown"] for w in thirds}) == 2  # the third rank judged both ways
    for g, w in zip(got, want, strict=True):
        assert g.keys() == w.keys()
        for k, v in w.items():
            assert g[k] == pytest.approx(v, abs=1e-9), k


def test_js_trims_a_take_where_classify_py_does(tmp_path, rng):
    """The trim to the sound (labels.json ``trim``) on takes of every kind: a word in noise, a tight clip, silence,
    steady noise, a click; the browser keeps the same samples as export_runner.trim_bounds."""
    need_node()
    from audioclf.audio.preprocess import TrimConfig

    sr = 8000
    cases = []
    for i in range(24):
        n = int(rng.integers(1, 3 * sr))
        y = rng.normal(0, [0.0, 1e-4, 3e-3, 3e-2][i % 4], n)
        if i % 3 and n > 10:  # a 'word' somewhere, of random length and level
            a = int(rng.integers(0, n - 1))
            b = min(n, a + int(rng.integers(1, sr)))
            y[a:b] += rng.uniform(0.05, 0.8) * np.sin(np.arange(b - a) * rng.uniform(0.05, 0.5))
        if i % 5 == 0:
            y[int(rng.integers(0, n))] += 0.9  # a click
        trim = TrimConfig(above_floor_db=float(rng.choice([10.0, 15.0])), pad_s=float(rng.choice([0.0, 0.1]))).to_dict()
        cases.append({"y": y.astype(np.float32).tolist(), "sr": sr, "trim": trim})
    cases.append({"y": [0.0] * 100, "sr": sr, "trim": TrimConfig().to_dict()})
    src = tmp_path / "cases.json"
    src.write_text(json.dumps(cases))
    got = json.loads(run_node("trim_check.mjs", str(src)))
    want = [list(export_runner.trim_bounds(np.asarray(c["y"], np.float32), sr, **c["trim"])) for c in cases]
    assert got == want
    assert sum(b - a < len(c["y"]) for (a, b), c in zip(want, cases, strict=True)) >= 8  # most takes are cut
