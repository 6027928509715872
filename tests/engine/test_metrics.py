"""Clip votes and per-class scores (engine/metrics.py); score() against scikit-learn is in test_pipeline.py."""

from __future__ import annotations

import numpy as np
import pytest

from audioclf.engine.metrics import clip_probabilities, per_class_scores, score
from audioclf.errors import ParameterError


def test_clip_probabilities_mean_and_majority():
    probs = np.array([[0.9, 0.1], [0.4, 0.6], [0.4, 0.6], [0.2, 0.8]])
    clip_index = np.array([0, 0, 0, 2])  # clip 1 has no windows
    mean = clip_probabilities(probs, clip_index, 3)
    np.testing.assert_allclose(mean, [[17 / 30, 13 / 30], [0, 0], [0.2, 0.8]])
    majority = clip_probabilities(probs, clip_index, 3, vote="majority")
    np.testing.assert_allclose(majority[0], [1 / 3, 2 / 3], atol=1e-5)
    assert majority[1].tolist() == [0.0, 0.0]
    with pytest.raises(ParameterError, match="vote='max' must be one of mean, majority"):
        clip_probabilities(probs, clip_index, 3, vote="max")


def test_per_class_scores_known_answer():
    # class 2 never occurs and is never predicted: its row and column are zeros, its scores 0, not NaN
    s = per_class_scores(np.array([0, 0, 1, 1]), np.array([0, 1, 1, 1]), 3)
    assert s["confusion"].tolist() == [[1, 1, 0], [0, 2, 0], [0, 0, 0]]
    np.testing.assert_allclose(s["precision"], [1.0, 2 / 3, 0.0])
    np.testing.assert_allclose(s["recall"], [0.5, 1.0, 0.0])
    np.testing.assert_allclose(s["f1"], [2 / 3, 0.8, 0.0])
    assert s["support"].tolist() == [2, 2, 0]


def test_pooled_confusions_give_the_same_scores(rng):
    # scripts/make_card.py pools the confusion matrices of several folds and rescores them
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "scripts" / "make_card.py"
    spec = importlib.util.spec_from_file_location("make_card", path)
    make_card = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_card)
    evs = []
    for _ in range(3):
        true = rng.integers(0, 3, 30)
        probs = rng.dirichlet(np.ones(3), size=30)
        evs.append(score(probs, true, np.arange(30), labels=("a", "b", "c")))
    pooled = make_card.pooled([e.to_dict() for e in evs], ["a", "b", "c"])
    whole = score(np.concatenate([e.clip_probs for e in evs]), np.concatenate([e.clip_true for e in evs]),
                  np.arange(90), labels=("a", "b", "c"))
    assert pooled["confusion"] == whole.confusion.tolist()
    assert pooled["accuracy"] == pytest.approx(whole.accuracy)
    for k, label in enumerate("abc"):
        assert pooled["per_class"][label]["f1"] == pytest.approx(whole.f1[k])
