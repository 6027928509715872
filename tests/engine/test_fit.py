"""audioclf.engine._fit: the batches data-parallel replicas split evenly, without changing the loss."""

from __future__ import annotations

import numpy as np
import pytest

from audioclf.audio.augment import AUGMENT_PRESETS
from audioclf.engine._fit import TrainBatches


def _batches(n: int, *, multiple: int, weights: np.ndarray | None = None, outputs=("probs",)) -> TrainBatches:
    x = np.arange(n, dtype=np.float32)[:, None, None] * np.ones((1, 4, 3), np.float32)  # (n, 4, 3), row i holds i
    return TrainBatches(x, np.arange(n) % 3, n_classes=3, batch_size=8, output_names=outputs,
                        input_kind="spectrogram", augment=AUGMENT_PRESETS["none"], sample_weights=weights, seed=0,
                        multiple=multiple)


def _mean_loss(batch: tuple) -> float:
    """Keras' 'sum_over_batch_size': the weighted per-window losses summed, divided by the rows."""
    x, _targets, w = batch
    per_window = x.reshape(len(x), -1)[:, 0] ** 2  # any per-window loss
    return float(np.sum(w * per_window) / len(x))


def test_one_device_batches_are_unchanged():
    b = _batches(13, multiple=1)
    x, targets = b[1]
    assert len(b) == 2 and x.shape == (5, 4, 3) and set(targets) == {"probs"}


@pytest.mark.parametrize("multiple", [2, 3, 4])
def test_an_uneven_batch_is_filled_with_weightless_copies(multiple):
    b = _batches(13, multiple=multiple, outputs=("probs", "reconstruction"))
    real = b.x[b.order[8:]]  # the 5 windows of the last batch
    x, targets, w = b[1]
    size = -(-5 // multiple) * multiple
    assert x.shape[0] == size and all(len(t) == size for t in targets.values())
    np.testing.assert_array_equal(x[:5], real)
    np.testing.assert_array_equal(x[5:], real[:size - 5])  # copies of the first windows
    np.testing.assert_array_equal(targets["reconstruction"], x)
    np.testing.assert_array_equal(w[5:], 0.0)
    # The loss over the padded batch is the mean over its real windows, as on one device.
    assert _mean_loss((x, targets, w)) == pytest.approx(float(np.mean(real.reshape(5, -1)[:, 0] ** 2)), rel=1e-6)


def test_even_batches_get_unit_weights_and_class_weights_are_kept():
    x, _targets, w = _batches(16, multiple=2)[0]
    assert x.shape[0] == 8
    np.testing.assert_array_equal(w, 1.0)
    weights = np.linspace(0.5, 2.0, 13).astype(np.float32)
    b = _batches(13, multiple=2, weights=weights)
    x, _targets, w = b[1]
    real = b.order[8:]
    np.testing.assert_allclose(w[:5], weights[real] * 6 / 5, rtol=1e-6)
    assert w[5] == 0.0
    assert _mean_loss((x, _targets, w)) == pytest.approx(float(np.sum(weights[real] * real ** 2) / 5), rel=1e-6)


def test_the_batches_are_endless_and_each_epoch_shows_every_window_once():
    b = _batches(13, multiple=1)
    assert b.num_batches is None and len(b) == 2  # Keras keeps one iterator: fit(steps_per_epoch=len(b))
    seen = []
    for epoch in range(3):
        rows = np.concatenate([b[epoch * len(b) + i][0][:, 0, 0] for i in range(len(b))]).astype(int)
        assert sorted(rows.tolist()) == list(range(13))  # every window once per epoch
        np.testing.assert_array_equal(rows, b.epoch_order(epoch))
        seen.append(rows)
    assert not np.array_equal(seen[0], seen[1]) and not np.array_equal(seen[1], seen[2])  # reshuffled
    # The order depends on the seed and the epoch only, not on which batches were asked for before.
    again = _batches(13, multiple=1)
    np.testing.assert_array_equal(again[2 * len(again)][0][:, 0, 0].astype(int), seen[2][:8])
    np.testing.assert_array_equal(again[0][0][:, 0, 0].astype(int), seen[0][:8])


@pytest.mark.parametrize(("steps", "expected"), [(1, 1), (3, 3), (20, 20), (64, 32), (150, 30), (151, 1)])
def test_steps_per_call_divide_the_epoch(steps, expected):
    from audioclf.engine._fit import execution_steps

    assert execution_steps(steps) == expected and steps % expected == 0
    assert execution_steps(steps, backend="jax") == expected
    assert execution_steps(steps, backend="torch") == 1  # Keras' torch trainer takes one step per call only


def _tensorflow():
    import keras

    if keras.backend.backend() != "tensorflow":
        pytest.skip("keras_input builds a tf.data pipeline on TensorFlow only")


@pytest.mark.parametrize("weighted", [False, True])
def test_the_tf_data_input_gives_the_batches_of_the_py_dataset(weighted):
    from audioclf.engine._fit import keras_input

    _tensorflow()
    weights = np.linspace(0.5, 2.0, 13).astype(np.float32) if weighted else None
    b = _batches(13, multiple=1, weights=weights, outputs=("probs", "reconstruction"))
    ds = keras_input(b, 3)
    assert ds is not b
    got = list(ds.as_numpy_iterator())
    assert len(got) == 3 * len(b)  # 3 epochs of 2 batches, the last of each 5 windows
    for i, batch in enumerate(got):
        want = b[i]
        assert len(batch) == len(want) == (3 if weighted else 2)
        np.testing.assert_array_equal(batch[0], want[0])
        assert set(batch[1]) == set(want[1]) == {"probs", "reconstruction"}
        for k in want[1]:
            np.testing.assert_array_equal(batch[1][k], want[1][k])
        if weighted:
            np.testing.assert_array_equal(batch[2], want[2])


def test_the_py_dataset_stays_where_a_batch_is_drawn_or_split_or_too_big(monkeypatch):
    import audioclf.engine._fit as fit_module
    from audioclf.engine._fit import keras_input

    _tensorflow()
    augmented = TrainBatches(np.zeros((13, 4, 3), np.float32), np.arange(13) % 3, n_classes=3, batch_size=8,
                             output_names=("probs",), input_kind="spectrogram", augment=AUGMENT_PRESETS["standard"],
                             sample_weights=None, seed=0)
    assert augmented.augment.active and keras_input(augmented, 3) is augmented  # drawn per batch
    split = _batches(13, multiple=2)
    assert keras_input(split, 3) is split  # replicas: batches padded per device
    small = _batches(13, multiple=1)
    monkeypatch.setattr(fit_module, "TF_DATA_BYTES", small.x.nbytes)
    assert keras_input(small, 3) is small  # more than the cap would be copied
