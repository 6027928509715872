"""The linear head fitted to convergence, and "none of these" calibrated out of fold."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from audioclf.datasets import SyntheticConfig, make_synthetic_dataset
from audioclf.engine.convex import clip_folds, fit_linear, out_of_fold_probs, pooled, set_head_weights
from audioclf.errors import ModelError, ParameterError


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("AUDIOCLF_CACHE", str(tmp_path_factory.getbasetemp() / "audioclf-cache"))


def _few_shot(rng, n_classes=4, per_class=3, windows=2, k=3, dim=16, spread=0.3):
    """Clips of ``n_classes`` well-separated classes, ``windows`` inputs each of (k, dim)."""
    centres = rng.normal(size=(n_classes, dim)) * 3
    x, labels, clips = [], [], []
    for c in range(n_classes):
        for i in range(per_class):
            for _ in range(windows):
                x.append(centres[c] + spread * rng.normal(size=(k, dim)))
                labels.append(c)
                clips.append(c * per_class + i)
    return np.array(x), np.array(labels), np.array(clips)


def test_pooled_is_mean_then_max():
    x = np.arange(24, dtype=float).reshape(2, 3, 4)
    np.testing.assert_array_equal(pooled(x), np.concatenate([x.mean(1), x.max(1)], 1))
    with pytest.raises(ParameterError, match=r"\(n, windows, dim\)"):
        pooled(np.zeros((3, 4)))


def test_pooled_with_the_spread_is_numpys_std():
    x = np.random.default_rng(1).normal(size=(2, 3, 4))
    np.testing.assert_allclose(pooled(x, "mean_max_std"),
                               np.concatenate([x.mean(1), x.max(1), x.std(1)], 1), atol=1e-9)
    # identical windows: a spread of (nearly) zero, not NaN
    assert np.all(pooled(np.ones((1, 3, 4)), "mean_max_std")[:, 8:] < 1e-5)
    with pytest.raises(ParameterError, match="pooling='median' must be one of mean_max, mean_max_std"):
        pooled(x, "median")


@pytest.mark.parametrize("pooling", ["mean_max", "mean_max_std"])
def test_fit_fits_a_separable_few_shot_set_perfectly(rng, pooling):
    x, labels, clips = _few_shot(rng, per_class=1)  # one clip per class
    fit = fit_linear(x, labels, clips, n_classes=4, pooling=pooling)
    assert (fit.predict(x).argmax(1) == labels).all()
    np.testing.assert_allclose(fit.predict(x).sum(1), 1.0)
    x_new, labels_new, _ = _few_shot(np.random.default_rng(99), per_class=2)
    # new clips of the same classes (other centres): nothing to learn from them, but the fit is a probability model
    assert fit.predict(x_new).shape == (len(x_new), 4)


def test_fit_is_scikit_learns_logistic_regression(rng):
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    x, labels, clips = _few_shot(rng, per_class=4, windows=1, spread=2.0)
    fit = fit_linear(x, labels, clips, n_classes=4, c=0.5)
    feats = pooled(x)
    scaler = StandardScaler().fit(feats)
    ref = LogisticRegression(C=0.5, max_iter=5000, tol=1e-8).fit(scaler.transform(feats), labels)
    np.testing.assert_allclose(fit.predict(x), ref.predict_proba(scaler.transform(feats)), atol=2e-3)


def test_the_spread_pooling_averages_the_logits_of_two_probes(rng):
    """``mean_max_std``: the product of a mean+max probe and a mean+max+std probe, each scikit-learn's."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    x, labels, clips = _few_shot(rng, per_class=4, windows=1, spread=2.0)
    fit = fit_linear(x, labels, clips, n_classes=4, c=0.5, pooling="mean_max_std")
    assert fit.pooling == "mean_max_std" and fit.kernel.shape == (48, 4)
    logits = []
    for feats in (pooled(x), pooled(x, "mean_max_std")):
        scaler = StandardScaler().fit(feats)
        ref = LogisticRegression(C=0.5, max_iter=5000, tol=1e-8).fit(scaler.transform(feats), labels)
        logits.append(ref.decision_function(scaler.transform(feats)))
    z = (logits[0] + logits[1]) / 2
    expected = np.exp(z - z.max(1, keepdims=True))
    np.testing.assert_allclose(fit.predict(x), expected / expected.sum(1, keepdims=True), atol=3e-3)
    # the averaged kernel is not the first probe's alone on the mean and max
    only_first = fit_linear(x, labels, clips, n_classes=4, c=0.5)
    assert not np.allclose(fit.kernel[:32], only_first.kernel)


def test_every_clip_weighs_the_same(rng):
    """A clip cut into many windows does not outweigh a clip of one window."""
    x, labels, clips = _few_shot(rng, n_classes=2, per_class=2, windows=1)
    many = np.concatenate([x, np.repeat(x[:1], 9, axis=0)])  # clip 0 now has 10 windows
    fit_a = fit_linear(x, labels, clips, n_classes=2)
    fit_b = fit_linear(many, np.concatenate([labels, np.repeat(labels[:1], 9)]),
                       np.concatenate([clips, np.repeat(clips[:1], 9)]), n_classes=2)
    np.testing.assert_allclose(fit_a.predict(x), fit_b.predict(x), atol=1e-3)


def test_binary_and_missing_classes(rng):
    x, labels, clips = _few_shot(rng, n_classes=2, per_class=2)
    fit = fit_linear(x, labels, clips, n_classes=3)  # class 2 has no clip
    probs = fit.predict(x)
    assert probs.shape == (len(x), 3) and (probs[:, 2] < 1e-9).all()
    assert (probs.argmax(1) == labels).all()
    with pytest.raises(ParameterError, match="at least 2 classes"):
        fit_linear(x[labels == 0], labels[labels == 0], clips[labels == 0], n_classes=2)
    with pytest.raises(ParameterError, match="c=0 must be a positive number"):
        fit_linear(x, labels, clips, n_classes=2, c=0)


def test_the_keras_head_computes_the_fit(rng):
    from audioclf.engine.inference import model_outputs
    from audioclf.models import build_model

    x, labels, clips = _few_shot(rng, k=3, dim=16)
    fit = fit_linear(x, labels, clips, n_classes=4)
    model = build_model("head_linear", input_shape=(3, 16), num_classes=4)
    set_head_weights(model, fit)
    np.testing.assert_allclose(model_outputs(model, x.astype(np.float32))["probs"], fit.predict(x), atol=1e-5)
    with pytest.raises(ParameterError, match="head_linear on the same inputs"):
        set_head_weights(build_model("head_linear", input_shape=(3, 16), num_classes=5), fit)
    # with the spread: the Keras layers compute numpy's pooling, and a head of the other pooling refuses the fit
    spread = fit_linear(x, labels, clips, n_classes=4, pooling="mean_max_std")
    model = build_model("head_linear", input_shape=(3, 16), num_classes=4, pooling="mean_max_std")
    set_head_weights(model, spread)
    np.testing.assert_allclose(model_outputs(model, x.astype(np.float32))["probs"], spread.predict(x), atol=1e-5)
    with pytest.raises(ParameterError, match="with the same pooling"):
        set_head_weights(build_model("head_linear", input_shape=(3, 16), num_classes=4), spread)
    with pytest.raises(ModelError, match="pooling='median'"):
        build_model("head_linear", input_shape=(3, 16), num_classes=4, pooling="median")


def test_out_of_fold_scores_never_see_their_clip(rng):
    x, labels, clips = _few_shot(rng, per_class=5, windows=3)
    clip_labels = np.array([labels[clips == c][0] for c in range(clips.max() + 1)])
    folds = clip_folds(clip_labels, folds=5)
    assert sorted(np.bincount(folds)) == [4, 4, 4, 4, 4]  # every fold holds one clip of every class
    seen = []

    def fit_predict(train, test):
        assert not set(clips[train]) & set(clips[test])  # no clip on both sides
        seen.append(set(clips[test]))
        return fit_linear(x[train], labels[train], clips[train], n_classes=4).predict(x[test])

    probs = out_of_fold_probs(fit_predict, clips, folds)
    assert set().union(*seen) == set(clips) and len(seen) == 5
    assert probs.shape == (len(x), 4) and (probs.argmax(1) == labels).mean() > 0.9
    assert clip_folds(np.array([0, 0, 1]), folds=5) is None  # a class with a single clip: nothing to hold out
    # with groups (speakers), whole groups go to a fold, whatever the classes
    by_group = clip_folds(np.array([0, 1, 0, 1, 0, 1]), folds=5, groups=["a", "a", "b", "b", "c", "c"])
    assert sorted(set(by_group)) == [0, 1, 2] and by_group[0] == by_group[1] and by_group[2] == by_group[3]
    assert clip_folds(np.array([0, 1]), groups=["a", "a"]) is None  # one group, one clip a class: no folds
    assert clip_folds(np.array([0, 1, 2]), groups=["a", "b", "c"]) is None  # a class in a single group
    assert len(set(clip_folds(np.array([0, 0, 1, 1]), groups=["a", None, "b", "c"]))) == 2  # a clip without a group
    assert np.bincount(clip_folds(np.array([0, 0, 1, 1, 1]), folds=5)).tolist() == [3, 2]  # k = 2
    # more groups than the smallest class has clips (4 clips a class, each its own recording): k = 4, not 5
    small = clip_folds(np.repeat([0, 1, 2], 4), folds=5, groups=[f"g{i}" for i in range(12)])
    assert sorted(set(small)) == [0, 1, 2, 3]


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    root = tmp_path_factory.mktemp("synthetic")
    return make_synthetic_dataset(root, config=SyntheticConfig(clips_per_class=5, classes=("tone", "clicks",
                                                                                           "noise_band"),
                                                               sr=16000, max_duration=1.5))


@pytest.mark.slow
def test_split_none_calibrates_out_of_fold(synthetic, tmp_path):
    """With every clip used for training, 'none of these' is calibrated on out-of-fold scores, not on them."""
    from audioclf.engine.bundle import load_bundle
    from audioclf.engine.extract import extract_dataset
    from audioclf.engine.metrics import clip_probabilities
    from audioclf.engine.openset import (
        calibrate,
        centroid_distance,
        out_of_fold_distances,
        out_of_fold_sequence_distances,
        sequence_centroids,
    )
    from audioclf.engine.recipes import make_recipe
    from audioclf.engine.train import train
    from audioclf.features.normalization import fit_stats

    config, pipeline = make_recipe(backbone="speech", training={"split": "none"}, dataset=synthetic)
    assert (config.model, config.solver) == ("head_linear", "lbfgs")
    res = train(synthetic, config=config, pipeline=pipeline, out=tmp_path / "b")
    assert res.epochs_run == 1 and res.accuracy == 1.0
    bundle = load_bundle(tmp_path / "b")
    cal = bundle.open_set
    assert cal.source == "out-of-fold" and cal.clips == len(synthetic)

    # The same thresholds, computed here from models that never saw the clip they score.
    ex = extract_dataset(synthetic, config=pipeline, cache=True)
    x = fit_stats(ex.x, input_kind="embedding").apply(ex.x)
    clip_labels = ex.clip_labels
    folds = clip_folds(clip_labels, seed=config.seed, groups=[c.group for c in ex.clips])
    pooling = config.model_options["pooling"]
    assert pooling == "mean_max_std"
    oof = out_of_fold_probs(lambda tr, te: fit_linear(x[tr], ex.labels[tr], ex.clip_index[tr], n_classes=3,
                                                      pooling=pooling).predict(x[te]), ex.clip_index, folds)
    clip_oof = clip_probabilities(oof, ex.clip_index, len(ex.clips))
    means = np.stack([ex.x[ex.clip_index == i].mean(axis=(0, 1)) for i in range(len(ex.clips))])
    # the speech pipeline trims its takes, so a third rank compares the windows one by one, also out of fold
    assert pipeline.preprocess.trim is not None
    seq_oof = out_of_fold_sequence_distances(ex.x, ex.clip_index, clip_labels, folds)
    expected = calibrate(clip_oof, clip_labels, train_embeddings=means, train_labels=clip_labels,
                         val_distances=out_of_fold_distances(means, clip_labels, folds),
                         confidence_quantile=0.01, joint_quantile=0.05,
                         sequence_centroids=sequence_centroids(ex.x, ex.labels, 3), val_sequence_distances=seq_oof)
    assert cal.confidence == pytest.approx(expected.confidence, abs=1e-4)
    assert cal.distance == pytest.approx(expected.distance, abs=1e-4)
    # confidence and distance judged together, against the out-of-fold clips' own values
    assert cal.joint == pytest.approx(expected.joint, abs=1e-6) and cal.joint_quantile == 0.05
    right = clip_oof.argmax(axis=1) == clip_labels
    assert np.allclose(cal.reference_confidences, np.sort(clip_oof.max(axis=1)[right]), atol=1e-6)
    assert np.allclose(cal.reference_distances, np.sort(out_of_fold_distances(means, clip_labels, folds)[right]),
                       atol=1e-6)
    assert np.allclose(cal.reference_sequences, np.sort(seq_oof[right]), atol=1e-6)
    assert np.allclose(cal.sequence_centroids, expected.sequence_centroids, atol=1e-6)
    assert cal.sequence_distance == pytest.approx(expected.sequence_distance, abs=1e-6)
    assert cal.scaled_distance is None  # the scaled test is off by default (engine.train)
    # In-sample scores would have been stricter: the model is surer of the clips it learned.
    in_sample = calibrate(res.evaluation.clip_probs, res.evaluation.clip_true)
    assert in_sample.confidence > cal.confidence
    assert float(np.quantile(centroid_distance(means, cal.centroids), 0.95)) <= cal.distance + 1e-6

    # The thresholds load and judge the same after a save and load.
    again = type(cal).from_dict(cal.to_dict(), n_classes=3)
    probs, inputs = res.evaluation.clip_probs[0], ex.x[ex.clip_index == 0]
    assert again.judge(probs, inputs=inputs) == cal.judge(probs, inputs=inputs)
    assert "sequence_rank" in cal.judge(probs, inputs=inputs)
    assert again.source == "out-of-fold"


@pytest.mark.slow
def test_a_single_clip_per_class_is_not_calibrated(synthetic, tmp_path):
    from audioclf.datasets import Dataset
    from audioclf.engine.recipes import make_recipe
    from audioclf.engine.train import train

    one = Dataset(name="one each", root=synthetic.root, kind=synthetic.kind, classes=synthetic.classes,
                  clips=tuple(next(c for c in synthetic.clips if c.label == k) for k in synthetic.classes))
    config, pipeline = make_recipe(backbone="speech", training={"split": "none"}, dataset=one)
    train(one, config=config, pipeline=pipeline, out=tmp_path / "b")
    from audioclf.engine.bundle import load_bundle

    bundle = load_bundle(tmp_path / "b")
    assert bundle.open_set is None
    assert any("at least 2 takes" in n for n in bundle.description["training"]["notes"])


def test_default_head_follows_the_training_side(synthetic):
    from audioclf.datasets import Dataset
    from audioclf.engine.recipes import MLP_FROM_CLIPS, default_head, make_recipe

    assert default_head(synthetic, "none") == "linear"
    clips = tuple(dataclasses.replace(c, path=c.path.with_name(f"{i}_{c.path.name}"), group=None, fold=None)
                  for i in range(MLP_FROM_CLIPS) for c in synthetic.clips)
    big = Dataset(name="big", root=synthetic.root, kind=synthetic.kind, classes=synthetic.classes, clips=clips)
    assert default_head(big, "none") == "mlp"
    assert default_head(big, "ratio:0.9") == "linear"  # 90 % of each class held out: 10 clips left
    config, _ = make_recipe(backbone="speech", training={"split": "none"}, dataset=big)
    assert (config.model, config.solver, config.augment.mixup) == ("head_mlp", "adam", 0.0)
    config, _ = make_recipe(backbone="speech", head="linear", dataset=big)  # asked for: kept
    assert config.solver == "lbfgs"
    config, _ = make_recipe(backbone="speech", head="linear", fine_tune=True)  # fine-tuning trains by Adam
    assert config.solver == "adam"


def test_lbfgs_is_for_the_linear_head_only():
    from audioclf.engine.config import TrainConfig

    with pytest.raises(ModelError, match="solver='lbfgs' fits the linear head"):
        TrainConfig(model="head_mlp", solver="lbfgs").check_model()
    with pytest.raises(ParameterError, match="solver="):
        TrainConfig(solver="sgd")
    with pytest.raises(ParameterError, match="c=-1"):
        TrainConfig(model="head_linear", solver="lbfgs", c=-1)


@pytest.mark.slow
def test_a_stop_request_during_calibration_ends_it_and_says_so(synthetic, tmp_path):
    """The out-of-fold trainings of a head trained by Adam obey Stop too; the model is kept, uncalibrated."""
    import threading

    from audioclf.engine.bundle import load_bundle
    from audioclf.engine.recipes import make_recipe
    from audioclf.engine.train import train

    stop = threading.Event()

    def progress(ev):
        if ev.kind == "phase" and "calibrating" in (ev.message or ""):
            stop.set()

    config, pipeline = make_recipe(backbone="speech", head="mlp", training={"split": "none", "epochs": 3})
    res = train(synthetic, config=config, pipeline=pipeline, out=tmp_path / "b", progress=progress, stop=stop)
    assert stop.is_set() and not res.stopped and res.epochs_run == 3  # the head itself trained to the end
    bundle = load_bundle(tmp_path / "b")
    assert bundle.open_set is None
    assert any("stopped while calibrating" in n for n in bundle.description["training"]["notes"])


def test_a_head_trained_by_adam_is_calibrated_on_two_trainings_and_five_distance_folds(synthetic, tmp_path,
                                                                                      monkeypatch):
    """Split none, mlp head: two out-of-fold trainings (one training's worth of time in all) give its scores;
    the distances to the class centroids, which need no training, keep five folds."""
    import dataclasses

    import audioclf.engine.convex as convex
    import audioclf.engine.openset as openset
    from audioclf.engine.bundle import load_bundle
    from audioclf.engine.recipes import make_recipe
    from audioclf.engine.train import ADAM_OOF_FOLDS, DISTANCE_FOLDS, train

    seen: dict = {}
    real_probs, real_dist = convex.out_of_fold_probs, openset.out_of_fold_distances

    def probs(fit_predict, clip_index, folds):
        seen["model folds"] = len(set(folds.tolist()))
        calls = []
        out = real_probs(lambda tr, te: calls.append(len(tr)) or fit_predict(tr, te), clip_index, folds)
        seen["trainings"] = len(calls)
        return out

    def dists(means, labels, folds, **kw):
        seen["distance folds"] = len(set(np.asarray(folds).tolist()))
        return real_dist(means, labels, folds, **kw)

    monkeypatch.setattr(convex, "out_of_fold_probs", probs)
    monkeypatch.setattr(openset, "out_of_fold_distances", dists)
    config, pipeline = make_recipe(backbone="speech", head="mlp", training={"split": "none", "epochs": 2},
                                   dataset=synthetic)
    train(synthetic, config=dataclasses.replace(config, batch_size=8), pipeline=pipeline, out=tmp_path / "b")
    assert ADAM_OOF_FOLDS == 2 and DISTANCE_FOLDS == 5
    assert seen == {"model folds": 2, "trainings": 2, "distance folds": 5}
    assert load_bundle(tmp_path / "b").open_set.source == "out-of-fold"
