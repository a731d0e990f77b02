"""Losses (values vs NumPy, reductions, gradients, bad input) and streaming metrics."""

from __future__ import annotations

import numpy as np
import pytest

from datapipe import eager as tfe
from datapipe.eager import losses, metrics
from datapipe.eager.gradcheck import check_gradients
from datapipe.errors import InvalidArgumentError, InvalidTypeError

RNG = np.random.default_rng(7)
LOGITS = RNG.standard_normal((6, 4)).astype(np.float32) * 3
LABELS = np.array([0, 3, 1, 2, 3, 0])


def softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def one_hot(labels, depth=4):
    return np.eye(depth, dtype=np.float32)[labels]


# -- losses against NumPy ---------------------------------------------------------------------


def test_sparse_categorical_crossentropy_from_logits_and_probabilities():
    expected = -np.log(softmax(LOGITS.astype(np.float64))[np.arange(6), LABELS])
    loss = losses.SparseCategoricalCrossentropy(from_logits=True)(LABELS, LOGITS)
    assert loss.dtype == np.float32 and loss.shape == ()
    assert float(loss) == pytest.approx(expected.mean(), rel=1e-5)
    probs = softmax(LOGITS)
    assert float(losses.SparseCategoricalCrossentropy()(LABELS, probs)) == pytest.approx(
        expected.mean(), rel=1e-4)
    trailing = losses.SparseCategoricalCrossentropy(from_logits=True)(LABELS[:, None], LOGITS)
    assert float(trailing) == pytest.approx(float(loss))
    float_labels = losses.SparseCategoricalCrossentropy(from_logits=True)(
        LABELS.astype(np.float32), LOGITS)
    assert float(float_labels) == pytest.approx(float(loss))


def test_probabilities_are_clipped_so_a_zero_probability_gives_a_finite_loss():
    probs = np.array([[1.0, 0.0]], np.float32)
    value = float(losses.SparseCategoricalCrossentropy()([1], probs))
    assert value == pytest.approx(-np.log(1e-7), rel=1e-3)


def test_categorical_crossentropy_with_label_smoothing():
    y = one_hot(LABELS)
    smoothed = y * 0.8 + 0.2 / 4
    log_p = np.log(softmax(LOGITS.astype(np.float64)))
    expected = -(smoothed * log_p).sum(-1).mean()
    cce = losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.2)
    assert float(cce(y, LOGITS)) == pytest.approx(expected, rel=1e-5)
    from_probs = losses.CategoricalCrossentropy()(y, softmax(LOGITS) * 3)  # renormalised
    assert float(from_probs) == pytest.approx(-(y * log_p).sum(-1).mean(), rel=1e-4)


def test_binary_crossentropy_from_logits_and_probabilities():
    x = RNG.standard_normal((5, 3)).astype(np.float32) * 4
    z = (RNG.random((5, 3)) > 0.5).astype(np.float32)
    p = 1 / (1 + np.exp(-x.astype(np.float64)))
    expected = -(z * np.log(p) + (1 - z) * np.log(1 - p)).mean()
    assert float(losses.BinaryCrossentropy(from_logits=True)(z, x)) == pytest.approx(
        expected, rel=1e-5)
    assert float(losses.BinaryCrossentropy()(z, p.astype(np.float32))) == pytest.approx(
        expected, rel=1e-4)
    huge = float(losses.BinaryCrossentropy(from_logits=True)([[1.0]], [[-200.0]]))
    assert huge == pytest.approx(200.0)  # stable: no overflow to inf


def test_mean_squared_error_and_rank_squeezing():
    a, b = RNG.standard_normal((4, 3)).astype(np.float32), RNG.standard_normal((4, 3))
    assert float(losses.MeanSquaredError()(b, a)) == pytest.approx(((a - b) ** 2).mean(),
                                                                   rel=1e-5)
    column = losses.MeanSquaredError()(np.arange(4.0), np.arange(4.0)[:, None] + 1)
    assert float(column) == pytest.approx(1.0)


def test_reductions_and_sample_weights_follow_keras():
    weights = np.array([1.0, 0.0, 2.0, 1.0, 0.5, 0.0], np.float32)
    per_example = losses.SparseCategoricalCrossentropy(from_logits=True, reduction="none")(
        LABELS, LOGITS).numpy()
    assert per_example.shape == (6,)
    weighted = losses.SparseCategoricalCrossentropy(from_logits=True)(LABELS, LOGITS,
                                                                       sample_weight=weights)
    assert float(weighted) == pytest.approx((per_example * weights).sum() / 6, rel=1e-5)
    summed = losses.SparseCategoricalCrossentropy(from_logits=True, reduction="sum")(
        LABELS, LOGITS)
    assert float(summed) == pytest.approx(per_example.sum(), rel=1e-5)
    column_weights = losses.SparseCategoricalCrossentropy(from_logits=True)(
        LABELS, LOGITS, sample_weight=weights[:, None])
    assert float(column_weights) == pytest.approx(float(weighted))
    empty = losses.SparseCategoricalCrossentropy(from_logits=True)(
        np.zeros(0, np.int32), np.zeros((0, 4), np.float32))
    assert float(empty) == 0.0
    with pytest.raises(InvalidArgumentError, match=r"sample_weight of shape \(5,\) does not "
                                                   r"match the per-example losses of shape \(6,\)"):
        losses.SparseCategoricalCrossentropy(from_logits=True)(LABELS, LOGITS,
                                                               sample_weight=weights[:5])
    with pytest.raises(InvalidArgumentError, match="reduction must be one of"):
        losses.MeanSquaredError(reduction="mean_of_means")


def test_cross_entropy_gradient_is_softmax_minus_one_hot_over_batch():
    logits = tfe.constant(LOGITS)
    with tfe.GradientTape() as tape:
        tape.watch(logits)
        loss = losses.SparseCategoricalCrossentropy(from_logits=True)(LABELS, logits)
    grad = tape.gradient(loss, logits).numpy()
    np.testing.assert_allclose(grad, (softmax(LOGITS) - one_hot(LABELS)) / 6, atol=1e-6)
    with tfe.GradientTape() as tape:
        tape.watch(logits)
        loss = losses.MeanSquaredError()(np.zeros((6, 4), np.float32), logits)
    np.testing.assert_allclose(tape.gradient(loss, logits).numpy(), 2 * LOGITS / 24, rtol=1e-5)


@pytest.mark.parametrize("name", ["sparse_categorical_crossentropy", "categorical_crossentropy",
                                  "binary_crossentropy", "mean_squared_error"])
def test_loss_gradients_match_finite_differences(name):
    y = {"sparse_categorical_crossentropy": LABELS[:3],
         "categorical_crossentropy": one_hot(LABELS[:3]).astype(np.float64),
         "binary_crossentropy": (LOGITS[:3] > 0).astype(np.float64),
         "mean_squared_error": np.ones((3, 4))}[name]
    loss = losses.get(name)
    check_gradients(lambda p: loss(y, tfe.sigmoid(p)), [LOGITS[:3].astype(np.float64)])


@pytest.mark.tfdata
def test_losses_match_keras():
    pytest.importorskip("tensorflow", reason="the TensorFlow reference (bench extra)")
    keras = pytest.importorskip("keras", reason="the Keras reference (bench extra)")
    y = one_hot(LABELS)
    x = LOGITS
    pairs = [
        (keras.losses.SparseCategoricalCrossentropy(from_logits=True)(LABELS, x),
         losses.SparseCategoricalCrossentropy(from_logits=True)(LABELS, x)),
        (keras.losses.SparseCategoricalCrossentropy()(LABELS, softmax(x)),
         losses.SparseCategoricalCrossentropy()(LABELS, softmax(x))),
        (keras.losses.CategoricalCrossentropy(label_smoothing=0.1)(y, softmax(x)),
         losses.CategoricalCrossentropy(label_smoothing=0.1)(y, softmax(x))),
        (keras.losses.BinaryCrossentropy(from_logits=True)(y, x),
         losses.BinaryCrossentropy(from_logits=True)(y, x)),
        (keras.losses.BinaryCrossentropy()(y, softmax(x)),
         losses.BinaryCrossentropy()(y, softmax(x))),
        (keras.losses.MeanSquaredError()(y, x), losses.MeanSquaredError()(y, x)),
        (keras.losses.SparseCategoricalCrossentropy(from_logits=True)(
            LABELS, x, sample_weight=np.arange(6.0)),
         losses.SparseCategoricalCrossentropy(from_logits=True)(
             LABELS, x, sample_weight=np.arange(6.0))),
    ]
    for theirs, ours in pairs:
        assert float(ours) == pytest.approx(float(theirs), rel=1e-5)


# -- bad input --------------------------------------------------------------------------------


def test_labels_out_of_range_name_the_label_and_the_number_of_classes():
    with pytest.raises(InvalidArgumentError,
                       match=r"label 4 is out of range for 4 classes \(labels must be in "
                             r"\[0, 4\)\)"):
        losses.SparseCategoricalCrossentropy(from_logits=True)([0, 4, 1, 2, 3, 0], LOGITS)
    with pytest.raises(InvalidArgumentError, match="label -1 is out of range for 4 classes"):
        losses.SparseCategoricalCrossentropy()([0, -1, 1, 2, 3, 0], softmax(LOGITS))
    with pytest.raises(InvalidArgumentError, match="must be integer class indices"):
        losses.SparseCategoricalCrossentropy()(LABELS + 0.5, softmax(LOGITS))


def test_shape_mismatches_name_both_shapes():
    with pytest.raises(InvalidArgumentError,
                       match=r"y_true \(6, 2\), y_pred \(6, 4\)"):
        losses.SparseCategoricalCrossentropy(from_logits=True)(np.zeros((6, 2), np.int32),
                                                               LOGITS)
    with pytest.raises(InvalidArgumentError,
                       match=r"same shape: y_true \(6, 3\), y_pred \(6, 4\)"):
        losses.CategoricalCrossentropy()(np.zeros((6, 3)), LOGITS)
    with pytest.raises(InvalidArgumentError, match=r"y_true \(5, 4\), y_pred \(6, 4\)"):
        losses.MeanSquaredError()(np.zeros((5, 4)), LOGITS)
    with pytest.raises(InvalidTypeError, match="y_pred must be a floating tensor"):
        losses.MeanSquaredError()(np.zeros((2,)), np.zeros((2,), np.int32))


def test_get_by_name_and_callables():
    assert isinstance(losses.get("mse"), losses.MeanSquaredError)
    assert losses.get("sparse_categorical_crossentropy").name == "sparse_categorical_crossentropy"
    wrapped = losses.get(losses.mean_squared_error)
    assert float(wrapped([[1.0]], [[3.0]])) == 4.0
    with pytest.raises(InvalidArgumentError, match="unknown loss 'hinge'"):
        losses.get("hinge")


# -- metrics -----------------------------------------------------------------------------------


def test_sparse_categorical_accuracy_accumulates_over_batches():
    acc = metrics.SparseCategoricalAccuracy()
    predictions = softmax(LOGITS)
    acc.update_state(LABELS[:4], predictions[:4])
    acc.update_state(LABELS[4:, None], tfe.constant(predictions[4:]))
    expected = (predictions.argmax(-1) == LABELS).mean()
    assert acc.result() == pytest.approx(expected)
    assert acc.name == "sparse_categorical_accuracy"
    acc.reset_state()
    assert acc.result() == 0.0


def test_categorical_binary_and_plain_accuracy():
    predictions = softmax(LOGITS)
    cat = metrics.CategoricalAccuracy()
    cat.update_state(one_hot(LABELS), predictions)
    assert cat.result() == pytest.approx((predictions.argmax(-1) == LABELS).mean())
    binary = metrics.BinaryAccuracy(threshold=0.5)
    binary.update_state([[1.0], [0.0], [1.0]], [[0.9], [0.6], [0.2]])
    assert binary.result() == pytest.approx(1 / 3)
    plain = metrics.Accuracy()
    plain.update_state([1, 2, 3, 4], [1, 2, 0, 4])
    assert plain.result() == 0.75


def test_mean_with_sample_weights_and_state_round_trip():
    mean = metrics.Mean(name="loss")
    mean.update_state(tfe.constant(2.0))
    mean.update_state([4.0, 10.0], sample_weight=[1.0, 0.0])
    assert mean.result() == pytest.approx(3.0)
    mean.update_state([[1.0, 3.0]], sample_weight=[2.0])  # rows averaged first (Keras)
    assert mean.result() == pytest.approx((2 + 4 + 2 * 2) / 4)
    state = mean.get_state()
    other = metrics.Mean()
    other.set_state(state)
    assert other.result() == mean.result()
    assert mean(6.0) == pytest.approx((10 + 6) / 5)  # __call__ updates and returns
    with pytest.raises(InvalidArgumentError, match="a state is a dict"):
        other.set_state({"total": 1.0})


def test_metric_shape_errors_and_lookup():
    with pytest.raises(InvalidArgumentError,
                       match=r"y_true \(6, 2\), y_pred \(6, 4\)"):
        metrics.SparseCategoricalAccuracy().update_state(np.zeros((6, 2)), LOGITS)
    with pytest.raises(InvalidArgumentError, match=r"y_true \(6, 3\), y_pred \(6, 4\)"):
        metrics.CategoricalAccuracy().update_state(np.zeros((6, 3)), LOGITS)
    assert isinstance(metrics.get("sparse_categorical_accuracy"),
                      metrics.SparseCategoricalAccuracy)
    with pytest.raises(InvalidArgumentError, match="unknown metric 'f1'"):
        metrics.get("f1")
    sparse = metrics.accuracy_for_loss(losses.SparseCategoricalCrossentropy())
    assert isinstance(sparse, metrics.SparseCategoricalAccuracy) and sparse.name == "accuracy"
    assert isinstance(metrics.accuracy_for_loss("categorical_crossentropy"),
                      metrics.CategoricalAccuracy)
    assert isinstance(metrics.accuracy_for_loss("mse"), metrics.Accuracy)
