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


def test_reasons_name_each_threshold_crossed_with_the_decimals_that_tell_them_apart():
    from audioclf.engine.openset import reasons

    verdict = {"unknown": True, "confidence": 0.9996, "confidence_threshold": 0.9998, "distance": 0.3,
               "distance_threshold": 0.5}
    assert reasons(verdict) == ["confidence 99.96 %, below this model's threshold of 99.98 %"]
    verdict.update(confidence=0.99995, distance=0.51234)
    assert reasons(verdict) == ["distance to the nearest known class 0.51, beyond this model's threshold of 0.50"]
    assert reasons({"unknown": False}) == []


def test_unknown_message_names_the_closest_class_and_why():
    from audioclf.engine.openset import unknown_message

    msg = unknown_message("dog", {"unknown": True, "confidence": 0.4, "confidence_threshold": 0.6,
                                  "distance": 0.8, "distance_threshold": 0.5})
    assert msg == ("This clip seems to be none of the classes this model knows (closest: dog; confidence 40.0 %, "
                   "below this model's threshold of 60.0 %; distance to the nearest known class 0.80, beyond this "
                   "model's threshold of 0.50).")
    assert unknown_message("dog", {}) == "This clip seems to be none of the classes this model knows (closest: dog)."


@pytest.mark.parametrize(("source", "words"), [
    ("validation", "40 held-out validation clips"),
    ("out-of-fold", "40 training clips scored out of fold"),
    ("training", "40 training clips themselves (an older model: too strict)"),
])
def test_calibration_note_says_where_the_threshold_comes_from(source, words):
    from audioclf.engine.openset import calibration_note

    zoo = OpenSetCalibration(confidence=0.7, clips=40, source=source)
    assert calibration_note(zoo).startswith(f"Calibrated on {words}")
    assert "95% of the clips the model got right" in calibration_note(zoo) and "backbone" not in calibration_note(zoo)
    head = OpenSetCalibration(confidence=0.7, distance=0.4, centroids=np.eye(2), clips=40, source=source,
                              confidence_quantile=0.01)
    assert "99% of the clips" in calibration_note(head) and "far from every class" in calibration_note(head)


def _offset_world(rng, n=30, dim=16):
    """Embeddings like a backbone's: a large offset common to every sound, half the dimensions varying widely
    within every class (recording, loudness), the classes apart in a few quiet ones."""
    offset = np.full(dim, 10.0)
    spread = np.where(np.arange(dim) >= dim // 2, 3.0, 0.1)
    centres = np.zeros((3, dim))
    centres[0, 0] = centres[1, 1] = centres[2, 2] = 1.0

    def draw(centre, k):
        return offset + centre + spread * rng.standard_normal((k, dim))

    train = np.concatenate([draw(c, n) for c in centres])
    labels = np.repeat(np.arange(3), n)
    val = np.concatenate([draw(c, n) for c in centres])
    foreign = draw(centres[0], n)
    foreign[:, 0] -= 1.0
    foreign[:, 5] += 1.5  # a sound of another kind: apart in a quiet dimension no known class uses
    return train, labels, val, foreign


def test_scaled_distance_catches_what_the_common_offset_hides(rng):
    from audioclf.engine.openset import scaled_centroid_distance

    train, labels, val, foreign = _offset_world(rng)
    probs = np.eye(3)[labels] * 0.9 + 0.1 / 3
    cal = calibrate(probs, labels, train_embeddings=train, train_labels=labels, val_embeddings=val,
                    quantile=0.02, scaled_quantile=0.03)
    # The threshold is the scaled distances' quantile of the validation clips.
    d = scaled_centroid_distance(val, cal.center, cal.scale, cal.scaled_centroids)
    assert cal.scaled_distance == pytest.approx(np.quantile(d, 0.97))
    assert cal.scaled_quantile == 0.03
    sure = probs[0]  # as sure as every known clip: only the distances can refuse
    raw = [cal.judge(sure, f) for f in foreign]
    # The raw cosine distance hardly sees the foreign clips (the offset rules it); the scaled one refuses them.
    assert np.mean([r["distance"] > r["distance_threshold"] for r in raw]) < 0.5
    assert np.mean([r["scaled_distance"] > r["scaled_distance_threshold"] for r in raw]) > 0.9
    assert np.mean([r["unknown"] for r in raw]) > 0.9
    assert np.mean([cal.judge(p, v)["unknown"] for p, v in zip(probs, val, strict=True)]) < 0.15


def test_scaled_distance_ignores_the_units_of_each_dimension(rng):
    from audioclf.engine.openset import embedding_scale, scaled_centroid_distance, scaled_centroids

    train, labels, val, _ = _offset_world(rng)
    units = rng.uniform(0.01, 100.0, size=train.shape[1])
    dists = []
    for t, v in ((train, val), (train * units, val * units)):
        center, scale = embedding_scale(t)
        dists.append(scaled_centroid_distance(v, center, scale, scaled_centroids(t, labels, center, scale)))
    np.testing.assert_allclose(dists[0], dists[1], atol=1e-9)


def test_scaled_calibration_round_trips_and_judges_like_classify_py(rng):
    from audioclf.engine import export_runner
    from audioclf.engine.openset import reasons

    train, labels, val, foreign = _offset_world(rng)
    probs = np.eye(3)[labels] * 0.9 + 0.1 / 3
    cal = calibrate(probs, labels, train_embeddings=train, train_labels=labels, val_embeddings=val,
                    quantile=0.02, scaled_quantile=0.03, confidence_quantile=0.01)
    again = OpenSetCalibration.from_dict(cal.to_dict(), n_classes=3)
    for e in (*val[:5], *foreign[:5]):
        p = np.array([0.8, 0.15, 0.05])
        mine, theirs = cal.judge(p, e), export_runner.judge(cal.to_dict(), p, e)
        assert again.judge(p, e)["unknown"] == mine["unknown"] == theirs["unknown"]
        assert theirs["scaled_distance"] == pytest.approx(mine["scaled_distance"], abs=1e-5)
    verdict = cal.judge(np.array([0.8, 0.15, 0.05]), foreign[0])
    assert any("on the training clips' scale" in line for line in reasons(verdict))
    bad = {**cal.to_dict(), "scale": [0.0] * train.shape[1]}
    with pytest.raises(ParameterError, match="scales positive"):
        OpenSetCalibration.from_dict(bad, n_classes=3)
    old = {k: v for k, v in cal.to_dict().items() if k not in ("scaled_distance", "center", "scale",
                                                                 "scaled_centroids", "scaled_quantile")}
    assert OpenSetCalibration.from_dict(old, n_classes=3).scaled_distance is None  # bundles made before it


def _joint_calibration(rng, n=200, *, together=False):
    """A joint calibration on ``n`` right clips of 3 classes: confidences in (0.5, 1), distances in (0, 0.4);
    ``together``: the less sure the farther, as on real clips."""
    centres = np.eye(3, 8)
    labels = np.arange(n) % 3
    probs = np.full((n, 3), 0.0)
    tops = rng.uniform(0.5, 1.0, n)
    probs[np.arange(n), labels] = tops
    probs[np.arange(n), (labels + 1) % 3] = 1.0 - tops
    dists = rng.uniform(0.0, 0.4, n)
    if together:
        dists = np.clip(0.8 * (1.0 - tops) + rng.normal(scale=0.02, size=n), 0.0, 0.4)
    return calibrate(probs, labels, train_embeddings=centres[labels], train_labels=labels, val_distances=dists,
                     source="out-of-fold", joint_quantile=0.05), tops, dists


def _at_distance(centroid, d):
    """An embedding at cosine distance ``d`` (< 1) from the unit vector ``centroid`` (the first axis)."""
    e = np.zeros(8)
    e[0], e[7] = 1.0 - d, np.sqrt(1.0 - (1.0 - d) ** 2)
    return e


def test_joint_test_refuses_a_clip_a_little_unsure_and_a_little_far(rng):
    """Each number alone within its edge, the pair rarer than 5 % of the known clips: unknown, and why."""
    from audioclf.engine.openset import joint_ranks, reasons, unknown_message

    cal, tops, dists = _joint_calibration(rng)
    assert np.array_equal(cal.reference_confidences, np.sort(tops))
    assert np.array_equal(cal.reference_distances, np.sort(dists))
    # the calibration clips themselves: about 5 % refused, as the quantile says
    refused = [np.prod(joint_ranks(cal.reference_confidences, cal.reference_distances, t, d)) < cal.joint
               for t, d in zip(tops, dists, strict=True)]
    assert 0.03 <= np.mean(refused) <= 0.05 + 1 / len(tops)

    top, d = float(np.quantile(tops, 0.08)), float(np.quantile(dists, 0.92))  # 8 % as unsure, 8 % as far
    assert top > cal.confidence and d < cal.distance  # neither edge crossed: the two tests apart would keep it
    verdict = cal.judge(np.array([top, 1.0 - top, 0.0]), _at_distance(cal.centroids[0], d))
    assert verdict["unknown"] is True
    assert verdict["joint"] == pytest.approx(verdict["confidence_rank"] * verdict["distance_rank"])
    assert verdict["confidence_rank"] == pytest.approx(0.08, abs=0.02)
    assert verdict["distance_rank"] == pytest.approx(0.08, abs=0.02)
    [why] = reasons(verdict)
    assert why.startswith(f"confidence {top * 100:.1f} % (") and "were as unsure) and distance to the nearest " \
        "known class" in why and "below this model's threshold of" in why
    assert why in unknown_message("a", verdict)
    # sure and near: known
    assert cal.judge(np.array([0.99, 0.01, 0.0]), _at_distance(cal.centroids[0], 0.01))["unknown"] is False


def test_joint_edges_are_what_one_number_alone_must_cross(rng):
    cal, tops, dists = _joint_calibration(rng)
    near, sure = _at_distance(cal.centroids[0], 0.0), np.array([0.999, 0.001, 0.0])
    below = cal.confidence - 1e-6
    assert cal.judge(np.array([below, 1 - below, 0.0]), near)["unknown"] is True
    assert cal.judge(np.array([cal.confidence, 1 - cal.confidence, 0.0]), near)["unknown"] is False
    assert cal.judge(sure, _at_distance(cal.centroids[0], cal.distance + 1e-4))["unknown"] is True
    assert cal.judge(sure, _at_distance(cal.centroids[0], cal.distance - 1e-4))["unknown"] is False


def test_joint_calibration_round_trips_judges_like_classify_py_and_follows_the_slider(rng):
    from audioclf.engine import export_runner

    cal, tops, dists = _joint_calibration(rng)
    again = OpenSetCalibration.from_dict(cal.to_dict(), n_classes=3)
    assert again.joint == cal.joint and again.joint_quantile == 0.05
    flips = 0
    for _ in range(60):
        top = float(rng.uniform(0.34, 1.0))
        probs = np.array([top, (1 - top) / 2, (1 - top) / 2])
        emb = _at_distance(cal.centroids[0], float(rng.uniform(0.0, 0.6)))
        want = cal.judge(probs, emb)
        assert again.judge(probs, emb) == pytest.approx(want)
        got = export_runner.judge(cal.to_dict(), probs, emb)
        assert got["unknown"] == want["unknown"] and got["joint"] == pytest.approx(want["joint"])
        flips += want["unknown"]
        # the slider: its calibrated value changes nothing, 0 refuses nothing, higher refuses at least as much
        assert cal.judge(probs, emb, confidence=cal.confidence) == want
        assert cal.judge(probs, emb, confidence=0.0)["unknown"] is False
        assert cal.judge(probs, emb, confidence=0.9)["unknown"] >= want["unknown"]
    assert 0 < flips < 60
    bad = cal.to_dict()
    del bad["reference_distances"]
    with pytest.raises(ParameterError, match="needs reference_confidences and reference_distances"):
        OpenSetCalibration.from_dict(bad, n_classes=3)
    bad = {**cal.to_dict(), "reference_confidences": [0.9, 0.5]}
    with pytest.raises(ParameterError, match="sorted"):
        OpenSetCalibration.from_dict(bad, n_classes=3)


def test_calibration_note_of_a_joint_calibration_says_both_count_together(rng):
    from audioclf.engine.openset import calibration_note

    cal, _, _ = _joint_calibration(rng)
    note = calibration_note(cal)
    assert note.startswith("Calibrated on 200 training clips scored out of fold")
    assert "together rarer than 95% of those clips" in note and "however near it is" in note


def test_a_few_dozen_clips_still_refuse_a_sure_clip_far_beyond_every_known_one(rng):
    """With 40 clips no rank among them is below 1/41, under the product's threshold: the ranks' tails beyond the
    references keep the edges finite, so a clip far away is refused however sure (and one very unsure however near)."""
    cal, tops, dists = _joint_calibration(rng, n=40, together=True)
    assert cal.joint < 1 / 41
    assert 0.0 < cal.confidence < tops.min() and dists.max() < cal.distance < 1.0
    sure, near = np.array([tops.max(), 1 - tops.max(), 0.0]), _at_distance(cal.centroids[0], 0.0)
    assert cal.judge(sure, _at_distance(cal.centroids[0], cal.distance + 1e-3))["unknown"] is True
    assert cal.judge(sure, _at_distance(cal.centroids[0], cal.distance - 1e-3))["unknown"] is False
    # the confidence edge, in its tail below the least sure reference clip, is what the ranks say it is
    from audioclf.engine.openset import joint_ranks

    assert joint_ranks(cal.reference_confidences, cal.reference_distances, cal.confidence - 1e-3, 0.0)[0] < cal.joint
    assert joint_ranks(cal.reference_confidences, cal.reference_distances, cal.confidence + 1e-3, 0.0)[0] > cal.joint
    assert cal.judge(sure, near)["unknown"] is False


def _sequence_world(rng, n=60, k=4, dim=8):
    """Three classes, each a course of K windows; n clips (one input each) along them with a little noise. A
    'tree' clip is class 0's windows in reverse order: the same mean embedding, another course."""
    from audioclf.engine.openset import out_of_fold_distances, out_of_fold_sequence_distances, sequence_centroids

    courses = rng.normal(size=(3, k, dim))
    labels = np.arange(n) % 3
    x = courses[labels] + rng.normal(scale=0.15, size=(n, k, dim))
    means = x.mean(axis=1)
    folds = np.arange(n) % 5
    probs = np.full((n, 3), 0.02)
    probs[np.arange(n), labels] = rng.uniform(0.8, 0.96, n)
    cal = calibrate(probs, labels, train_embeddings=means, train_labels=labels, source="out-of-fold",
                    val_distances=out_of_fold_distances(means, labels, folds), joint_quantile=0.05,
                    sequence_centroids=sequence_centroids(x, labels, 3),
                    val_sequence_distances=out_of_fold_sequence_distances(x, np.arange(n), labels, folds))
    return cal, courses, x


def test_sequence_rank_refuses_a_clip_with_a_known_mean_but_another_course_over_time(rng):
    """'tree' against 'three': the mean embedding of the windows is the class's, the windows one by one are not."""
    from audioclf.engine.openset import reasons

    cal, courses, _ = _sequence_world(rng)
    assert cal.sequence_centroids.shape == (3, 4 * 8) and np.all(np.diff(cal.reference_sequences) >= 0)
    sure = np.array([0.95, 0.03, 0.02])
    known = courses[0][None] + rng.normal(scale=0.15, size=(1, 4, 8))
    reversed_course = courses[0][::-1][None]
    assert cal.judge(sure, inputs=known)["unknown"] is False
    verdict = cal.judge(sure, inputs=reversed_course)
    assert verdict["unknown"] is True
    assert verdict["distance_rank"] > 0.5  # its mean is near class 0: the centroid alone would keep it
    assert verdict["sequence_distance"] > verdict["sequence_distance_threshold"]
    assert cal.judge(sure, clip_embedding(reversed_course))["unknown"] is False  # without its windows
    [why] = reasons(verdict)
    assert why.startswith("its course over time (window by window) ") and "beyond this model's threshold" in why
    # a clip of several inputs: the nearest of them counts
    assert cal.judge(sure, inputs=np.concatenate([reversed_course, known]))["sequence_distance"] == \
        pytest.approx(cal.judge(sure, inputs=known)["sequence_distance"])


def test_sequence_calibration_round_trips_and_judges_like_classify_py(rng):
    from audioclf.engine import export_runner

    cal, courses, _ = _sequence_world(rng)
    again = OpenSetCalibration.from_dict(cal.to_dict(), n_classes=3)
    assert again.sequence_distance == cal.sequence_distance
    assert np.array_equal(again.reference_sequences, cal.reference_sequences)
    flips = 0
    for i in range(40):
        top = float(rng.uniform(0.5, 0.99))
        probs = np.array([top, 1 - top - 0.01, 0.01])
        inputs = courses[i % 3][None] + rng.normal(scale=0.1 + i / 40, size=(2, 4, 8))
        want = cal.judge(probs, inputs=inputs)
        assert again.judge(probs, inputs=inputs) == pytest.approx(want, rel=1e-4, abs=1e-6)  # centroids to 1e-6
        got = export_runner.judge(cal.to_dict(), probs, inputs.mean(axis=(0, 1)), inputs)
        assert got["unknown"] == want["unknown"] and got["joint"] == pytest.approx(want["joint"], rel=1e-4)
        assert got["sequence_rank"] == pytest.approx(want["sequence_rank"], rel=1e-4)
        flips += want["unknown"]
    assert 0 < flips < 40
    bad = {**cal.to_dict(), "sequence_centroids": cal.to_dict()["sequence_centroids"][:2]}
    with pytest.raises(ParameterError, match="one finite row per class"):
        OpenSetCalibration.from_dict(bad, n_classes=3)
    bad = cal.to_dict()
    del bad["reference_sequences"]
    with pytest.raises(ParameterError, match="need reference_sequences"):
        OpenSetCalibration.from_dict(bad, n_classes=3)


def test_out_of_fold_sequence_distances_never_see_the_clip_itself(rng):
    """Each clip's sequence distance is to the mean sequences of the other folds: changing a clip moves no other
    clip of its fold, and its own distance is what the other folds' centroids give."""
    from audioclf.engine.openset import out_of_fold_sequence_distances, sequence_centroids, sequence_distances

    n, labels, folds = 30, np.arange(30) % 3, np.arange(30) % 5
    x = rng.normal(size=(n, 4, 8))
    index = np.repeat(np.arange(n), 2)  # two inputs per clip
    inputs = np.stack([x, x + rng.normal(scale=0.5, size=x.shape)], axis=1).reshape(2 * n, 4, 8)
    base = out_of_fold_sequence_distances(inputs, index, labels, folds)
    rest = folds[index] != 0
    cents = sequence_centroids(inputs[rest], labels[index[rest]], 3)
    own = [sequence_distances(inputs[index == i], cents).min() for i in np.flatnonzero(folds == 0)]
    assert np.allclose(base[folds == 0], own)
    moved = inputs.copy()
    moved[index == 0] *= -3.0  # clip 0, fold 0
    after = out_of_fold_sequence_distances(moved, index, labels, folds)
    same_fold = (folds == 0) & (np.arange(n) != 0)
    assert np.allclose(after[same_fold], base[same_fold]) and not np.allclose(after[folds != 0], base[folds != 0])


def test_predict_json_keeps_the_significant_digits_of_a_small_product_of_ranks():
    """A joint product of 0.00047 against a threshold of 0.00051 must not read 0.0 against 0.0 in predict --json."""
    from audioclf.engine.export_runner import verdict_number

    assert verdict_number(0.000470722) == 0.000471 and verdict_number(0.000512) == 0.000512
    assert verdict_number(0.9543) == 0.954 and verdict_number(0.0) == 0.0 and verdict_number(12.3456) == 12.346
