"""'None of these': calibration of the confidence and centroid-distance thresholds."""

from __future__ import annotations

import numpy as np
import pytest

from audioclf.engine.openset import OpenSetCalibration, calibrate, centroid_distance, clip_embedding
from audioclf.errors import ParameterError


def test_confidence_threshold_is_the_quantile_of_right_answers():
    probs = np.array([[0.9, 0.1], [0.3, 0.7], [0.55, 0.45], [0.2, 0.8], [0.95, 0.05]])
    labels = np.array([0, 1, 1, 1, 0])  # the third clip is wrong and must not lower the threshold
    cal = calibrate(probs, labels, quantile=0.25)
    assert cal.confidence == pytest.approx(np.quantile([0.9, 0.7, 0.8, 0.95], 0.25))
    assert cal.distance is None and cal.centroids is None and cal.clips == 5
    assert cal.judge(np.array([0.5, 0.5]))["unknown"] is True
    assert cal.judge(np.array([0.99, 0.01]))["unknown"] is False
    assert cal.judge(np.array([0.6, 0.4]), confidence=0.5)["unknown"] is False  # the slider overrides


def test_centroid_distance_flags_a_clip_far_from_every_class(rng):
    centres = np.eye(3, 8) * 5
    train = np.concatenate([c + 0.3 * rng.standard_normal((20, 8)) for c in centres])
    tl = np.repeat(np.arange(3), 20)
    val = np.concatenate([c + 0.3 * rng.standard_normal((10, 8)) for c in centres])
    vl = np.repeat(np.arange(3), 10)
    probs = np.eye(3)[vl] * 0.9 + 0.1 / 3
    cal = calibrate(probs, vl, train_embeddings=train, train_labels=tl, val_embeddings=val)
    assert cal.centroids.shape == (3, 8) and np.allclose(np.linalg.norm(cal.centroids, axis=1), 1, atol=1e-6)
    assert 0 < cal.distance < 0.2
    stranger = np.zeros(8)
    stranger[6] = 5.0  # orthogonal to every class: cosine distance 1
    sure = np.array([0.99, 0.005, 0.005])
    verdict = cal.judge(sure, stranger)
    assert verdict["unknown"] is True and verdict["distance"] == pytest.approx(1.0, abs=0.1)
    assert cal.judge(sure, centres[0])["unknown"] is False
    assert centroid_distance(centres[:1], cal.centroids)[0] < 0.01


def test_round_trip_and_bad_values():
    cal = OpenSetCalibration(confidence=0.4, distance=0.3, centroids=np.eye(2, 4, dtype=np.float32), clips=7)
    again = OpenSetCalibration.from_dict(cal.to_dict(), n_classes=2)
    assert again.confidence == 0.4 and again.distance == 0.3 and np.allclose(again.centroids, cal.centroids)
    with pytest.raises(ParameterError, match="one finite row per class"):
        OpenSetCalibration.from_dict(cal.to_dict(), n_classes=3)
    with pytest.raises(ParameterError, match=r"confidence threshold 1.5 must be a number in \[0, 1\]"):
        OpenSetCalibration.from_dict({"confidence": 1.5}, n_classes=2)
    with pytest.raises(ParameterError, match="quantile"):
        calibrate(np.ones((2, 2)) / 2, np.array([0, 1]), quantile=0.7)
    with pytest.raises(ParameterError, match="one label per clip"):
        calibrate(np.ones((2, 2)) / 2, np.array([0]))
    assert clip_embedding(np.ones((3, 4, 5))).shape == (5,)
