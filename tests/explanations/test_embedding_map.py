"""The embedding explorer: projection, maps from a backbone and from a trained model, the scatter figure."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from audioclf.datasets import Dataset, SyntheticConfig, make_synthetic_dataset
from audioclf.errors import DatasetError, ParameterError
from audioclf.explanations.embedding_map import EmbeddingMap, data_datasets, embedding_map, project, selected_clip
from audioclf.ui import embedding_figure

CLASSES = ("tone", "noise_band", "chirp")


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    config = SyntheticConfig(clips_per_class=4, classes=CLASSES, n_folds=2, max_duration=1.0)
    return make_synthetic_dataset(tmp_path_factory.mktemp("synth"), config=config)


@pytest.fixture(scope="module")
def cache_env(tmp_path_factory):
    # The engine's embedding cache follows $AUDIOCLF_CACHE: keep the tests out of the user's cache.
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AUDIOCLF_CACHE", str(tmp_path_factory.mktemp("cache")))
        yield


def _map(predicted=None, **kw) -> EmbeddingMap:
    fields = {"points": np.arange(8.0).reshape(4, 2), "labels": ("a", "a", "b", "b"),
              "paths": ("a/1.wav", "a/2.wav", "b/1.wav", "b/2.wav"), "folds": (1, 2, 1, None),
              "groups": ("s1", None, "s2", "s2"), "predicted": predicted, "root": "/data", "source": "backbone:x",
              "method": "pca", "explained": (0.9, 0.1)}
    fields.update(kw)
    return EmbeddingMap(**fields)


# --- projection -------------------------------------------------------------------------------------------


def test_pca_matches_the_svd_and_is_deterministic(rng):
    basis = rng.normal(size=(2, 6))
    v = rng.normal(size=(40, 2)) * [5.0, 1.0] @ basis + 0.01 * rng.normal(size=(40, 6))
    points, explained = project(v)
    centred = v - v.mean(axis=0)
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    reference = centred @ vt[:2].T
    # the same axes up to sign; the sign rule makes each axis' largest loading positive
    np.testing.assert_allclose(np.abs(points), np.abs(reference), rtol=1e-6, atol=1e-9)
    for k in range(2):
        assert vt[k][np.abs(vt[k]).argmax()] * np.sign(points[:, k] @ reference[:, k]) > 0
    np.testing.assert_allclose(explained, (s[:2] ** 2) / (s ** 2).sum(), rtol=1e-6)
    assert sum(explained) > 0.99
    again, _ = project(v.copy())
    np.testing.assert_array_equal(points, again)


def test_pca_of_one_dimensional_vectors_pads_a_zero_axis():
    points, _ = project(np.array([[1.0], [2.0], [4.0]]))
    assert points.shape == (3, 2)
    np.testing.assert_allclose(np.abs(points[:, 0]), np.abs([-4 / 3, -1 / 3, 5 / 3]))
    np.testing.assert_allclose(points[:, 1], 0.0, atol=1e-12)


def test_tsne_is_deterministic_and_separates_clusters(rng):
    v = np.concatenate([rng.normal(size=(15, 8)), rng.normal(size=(15, 8)) + 20.0])
    a, explained = project(v, method="tsne", seed=3)
    b, _ = project(v, method="tsne", seed=3)
    assert a.shape == (30, 2) and explained == ()
    np.testing.assert_array_equal(a, b)
    ca, cb = a[:15].mean(axis=0), a[15:].mean(axis=0)
    spread = max(np.linalg.norm(a[:15] - ca, axis=1).max(), np.linalg.norm(a[15:] - cb, axis=1).max())
    assert np.linalg.norm(ca - cb) > spread


@pytest.mark.parametrize(("vectors", "kw", "match"), [
    (np.zeros((5, 3)), {"method": "umap"}, "method='umap' must be one of pca, tsne"),
    (np.zeros((2, 3)), {}, "n >= 3"),
    (np.zeros(6), {}, r"shape \(6,\)"),
    (np.array([[0.0, 1.0], [np.nan, 0.0], [1.0, 1.0]]), {}, "NaN or infinite"),
    (np.zeros((5, 3)), {"method": "tsne", "perplexity": 5}, "perplexity=5 must be between 0 and the number"),
])
def test_project_rejects_bad_input(vectors, kw, match):
    with pytest.raises(ParameterError, match=match):
        project(vectors, **kw)


# --- the map ----------------------------------------------------------------------------------------------


def test_colour_fields_and_marks():
    m = _map(predicted=("a", "b", "b", "a"))
    assert m.colour_values("class") == ["a", "a", "b", "b"]
    assert m.colour_values("fold") == ["fold 1", "fold 2", "fold 1", "none"]
    assert m.colour_values("group") == ["s1", "none", "s2", "s2"]
    assert m.colour_values("predicted") == ["a", "b", "b", "a"]
    assert m.misclassified.tolist() == [False, True, False, True]
    assert str(m.path(2)).replace("\\", "/").endswith("/data/b/1.wav")
    plain = _map()
    assert plain.misclassified.tolist() == [False] * 4
    with pytest.raises(ParameterError, match="needs a map made from a trained model"):
        plain.colour_values("predicted")
    with pytest.raises(ParameterError, match="colour by 'speaker'"):
        plain.colour_values("speaker")


def test_embedding_map_checks_its_arguments(dataset, tmp_path):
    with pytest.raises(ParameterError, match="exactly one of backbone"):
        embedding_map(dataset)
    with pytest.raises(ParameterError, match="exactly one of backbone"):
        embedding_map(dataset, backbone="speech", bundle=tmp_path)
    with pytest.raises(ParameterError, match="method='umap'"):
        embedding_map(dataset, backbone="speech", method="umap")
    with pytest.raises(ParameterError, match="must be an audioclf Dataset"):
        embedding_map([1, 2, 3], backbone="speech")
    tiny = Dataset(name="tiny", root=dataset.root, kind=dataset.kind, clips=dataset.clips[:2],
                   classes=dataset.classes)
    with pytest.raises(DatasetError, match="'tiny' has 2 clip"):
        embedding_map(tiny, backbone="speech")


def test_unknown_backbone_is_a_typed_error(dataset):
    from audioclf.errors import BackboneError

    with pytest.raises(BackboneError, match="nope"):
        embedding_map(dataset, backbone="nope")


def test_missing_bundle_is_a_typed_error(dataset, tmp_path):
    from audioclf.errors import BundleError

    with pytest.raises(BundleError):
        embedding_map(dataset, bundle=tmp_path / "missing")


# --- figure and selection ---------------------------------------------------------------------------------


def test_figure_has_one_point_per_clip_and_marks_errors():
    m = _map(predicted=("a", "b", "b", "a"))
    fig = embedding_figure(m, colour="class")
    assert [t.name for t in fig.data] == ["a", "b"]
    assert sum(len(t.x) for t in fig.data) == 4
    shown = {int(i): (t.marker.symbol[k], t.hovertext[k]) for t in fig.data for k, i in enumerate(t.customdata)}
    assert sorted(shown) == [0, 1, 2, 3]
    assert [shown[i][0] for i in range(4)] == ["circle", "x", "circle", "x"]
    assert "a/2.wav" in shown[1][1] and "predicted b" in shown[1][1]
    for t in fig.data:  # each point sits at its clip's coordinates
        np.testing.assert_array_equal(np.c_[t.x, t.y], m.points[np.asarray(t.customdata)])
    by_fold = embedding_figure(m, colour="fold")
    assert [t.name for t in by_fold.data] == ["fold 1", "fold 2", "none"]
    assert "2 misclassified" in fig.layout.title.text


def test_selected_clip_reads_the_trace_indices():
    m = _map()
    fig = embedding_figure(m, colour="fold")
    customdata = [t.customdata for t in fig.data]
    # trace 0 is "fold 1": clips 0 and 2; its second point is clip 2
    assert selected_clip(customdata, [{"curve_number": 0, "point_index": 1}]) == 2
    assert selected_clip(customdata, [{"curve_number": 2, "point_number": 0}]) == 3
    assert selected_clip(customdata, []) is None
    assert selected_clip(customdata, [{"curve_number": 9, "point_index": 0}]) is None


def test_data_datasets_lists_recognised_folders(tmp_path, dataset):
    (tmp_path / "empty").mkdir()
    (tmp_path / "synth").symlink_to(dataset.root, target_is_directory=True)
    (tmp_path / "notes.txt").write_text("x")
    assert data_datasets(tmp_path) == {"synth": tmp_path / "synth"}
    assert data_datasets(tmp_path / "absent") == {}


# --- with real networks -----------------------------------------------------------------------------------


def test_backbone_map_is_deterministic_and_complete(dataset, tmp_path):
    from audioclf.backbones import embed_dataset, get_backbone

    m = embedding_map(dataset, backbone="speech", cache=tmp_path)
    assert m.points.shape == (len(dataset), 2) and m.dim == 96 and m.source == "backbone:speech"
    assert m.labels == tuple(c.label for c in dataset.clips)
    assert m.paths == tuple(c.path.relative_to(dataset.root).as_posix() for c in dataset.clips)
    assert m.folds == tuple(c.fold for c in dataset.clips) and m.groups == tuple(c.group for c in dataset.clips)
    assert m.predicted is None and not m.misclassified.any()
    assert m.path(0) == dataset.clips[0].path
    # the points are the PCA of the mean window embeddings
    pooled = embed_dataset(dataset, get_backbone("speech"), cache=tmp_path).pooled("mean")
    np.testing.assert_allclose(m.points, project(pooled)[0], rtol=1e-5, atol=1e-6)
    again = embedding_map(dataset, backbone="speech", cache=tmp_path)
    np.testing.assert_array_equal(m.points, again.points)
    tsne = embedding_map(dataset, backbone="speech", method="tsne", cache=tmp_path)
    assert tsne.points.shape == (len(dataset), 2) and tsne.explained == ()


@pytest.mark.slow
def test_bundle_map_marks_what_the_model_gets_wrong(dataset, tmp_path, cache_env):
    from audioclf.engine.evaluate import evaluate_bundle
    from audioclf.engine.recipes import transfer_recipe
    from audioclf.engine.train import train

    config, pipeline = transfer_recipe("speech", epochs=20)
    train(dataset, config=dataclasses.replace(config, split="none"), pipeline=pipeline, out=tmp_path / "b",
          cache=tmp_path / "features")
    truth = embedding_map(dataset, bundle=tmp_path / "b", cache=tmp_path / "features")
    right = [i for i, (p, t) in enumerate(zip(truth.predicted, truth.labels, strict=True)) if p == t]
    assert right, f"the tiny model got no clip right: {truth.predicted}"
    # one clip the model gets right, relabelled: the prediction stays, so the map must mark it
    i = right[0]
    other = next(c for c in dataset.classes if c != dataset.clips[i].label)
    clips = list(dataset.clips)
    clips[i] = dataclasses.replace(clips[i], label=other)
    relabelled = Dataset(name="relabelled", root=dataset.root, kind=dataset.kind, clips=tuple(clips),
                         classes=dataset.classes)
    m = embedding_map(relabelled, bundle=tmp_path / "b", cache=tmp_path / "features")
    assert m.points.shape == (len(dataset), 2) and m.source == "model:b"
    # predictions agree with the engine's own evaluation of the bundle (mean vote over windows)
    ev = evaluate_bundle(tmp_path / "b", relabelled, cache=tmp_path / "features")
    labels = ev.labels
    assert m.predicted == tuple(labels[k] for k in ev.clip_probs.argmax(axis=1))
    assert m.misclassified.tolist() == [p != t for p, t in zip(m.predicted, m.labels, strict=True)]
    assert m.predicted == truth.predicted
    assert m.misclassified[i] and m.predicted[i] == dataset.clips[i].label
    fig = embedding_figure(m, colour="class")
    symbols = {int(i): t.marker.symbol[k] for t in fig.data for k, i in enumerate(t.customdata)}
    assert sorted(k for k, s in symbols.items() if s == "x") == np.flatnonzero(m.misclassified).tolist()
