"""Optimizers, schedules and clipping: textbook NumPy update rules, and TF/Keras 2.21's numbers.

Every optimizer runs four steps on two variables and is compared with a float64 NumPy
implementation of the published rule written out below. ``TF_RESULTS`` holds what
Keras 3.15 / TensorFlow 2.21 computed for the same inputs (recorded once); the
``tfdata``-marked tests recompute them live when tensorflow is installed.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from datapipe import eager as tfe
from datapipe.eager import optimizers
from datapipe.eager.optimizers import (
    SGD,
    Adam,
    AdamW,
    RMSprop,
    clip_by_global_norm,
    clip_by_norm,
    global_norm,
    schedules,
)
from datapipe.errors import FailedPreconditionError, InvalidArgumentError, InvalidTypeError

W0 = np.array([[0.5, -1.25, 2.0], [0.75, 0.0, -0.5]], np.float32)
B0 = np.array([0.1, -0.3], np.float32)
GRADS = [np.array([[0.1, -0.2, 0.3], [0.05, 0.4, -0.6]], np.float32),
         np.array([[-0.3, 0.1, 0.2], [0.5, -0.1, 0.0]], np.float32),
         np.array([[0.2, 0.2, -0.1], [-0.4, 0.3, 0.25]], np.float32),
         np.array([[1.5, -2.0, 0.7], [0.1, 0.9, -1.2]], np.float32)]
BIAS_GRADS = [np.array([0.5, -0.25], np.float32), np.array([0.0, 1.0], np.float32),
              np.array([-0.75, 0.5], np.float32), np.array([2.0, -1.5], np.float32)]


# -- textbook rules (float64) -------------------------------------------------------------


def sgd_rule(lr, momentum=0.0, nesterov=False):
    def step(w, g, state, t):
        if momentum == 0:
            return w - lr * g
        v = state.get("v", np.zeros_like(w))
        v = momentum * v - lr * g
        state["v"] = v
        return w + (momentum * v - lr * g if nesterov else v)
    return step


def adam_rule(lr, b1=0.9, b2=0.999, eps=1e-7, amsgrad=False, wd=0.0):
    def step(w, g, state, t):  # t = 1, 2, ...
        w = w - w * wd * lr
        m = b1 * state.get("m", 0.0) + (1 - b1) * g
        v = b2 * state.get("v", 0.0) + (1 - b2) * g * g
        state["m"], state["v"] = m, v
        if amsgrad:
            v = np.maximum(state.get("vhat", 0.0), v)
            state["vhat"] = v
        m_hat = m / (1 - b1 ** t)
        v_hat = v / (1 - b2 ** t)
        # Keras folds the bias corrections into the step size, which moves epsilon by a
        # factor sqrt(1 - b2 ** t): the same formula written as Kingma & Ba's
        # m_hat / (sqrt(v_hat) + eps_hat) with eps_hat = eps / sqrt(1 - b2 ** t).
        return w - lr * m_hat / (np.sqrt(v_hat) + eps / math.sqrt(1 - b2 ** t))
    return step


def rmsprop_rule(lr, rho=0.9, momentum=0.0, eps=1e-7, centered=False):
    def step(w, g, state, t):
        ms = rho * state.get("ms", 0.0) + (1 - rho) * g * g
        state["ms"] = ms
        denom = ms + eps
        if centered:
            mg = rho * state.get("mg", 0.0) + (1 - rho) * g
            state["mg"] = mg
            denom = ms - mg * mg + eps
        inc = lr * g / np.sqrt(denom)
        if momentum:
            mom = momentum * state.get("mom", 0.0) + inc
            state["mom"] = mom
            return w - mom
        return w - inc
    return step


def run_reference(rule, clip=None):
    params = [W0.astype(np.float64), B0.astype(np.float64)]
    states = [{}, {}]
    for t, grads in enumerate(zip(GRADS, BIAS_GRADS), start=1):
        grads = [g.astype(np.float64) for g in grads]
        if clip is not None:
            grads = clip(grads)
        params = [rule(p, g, s, t) for p, g, s in zip(params, grads, states)]
    return params


def run_ours(opt):
    w, b = tfe.Variable(W0, name="w"), tfe.Variable(B0, name="b")
    for g, gb in zip(GRADS, BIAS_GRADS):
        opt.apply_gradients([(tfe.constant(g), w), (tfe.constant(gb), b)])
    return [w.numpy(), b.numpy()]


def per_variable_clip(norm):
    return lambda grads: [g * norm / max(np.linalg.norm(g), norm) for g in grads]


def global_clip(norm):
    def clip(grads):
        total = math.sqrt(sum(float((g * g).sum()) for g in grads))
        return [g * norm / max(total, norm) for g in grads]
    return clip


CASES = {
    "sgd": (lambda: SGD(0.1), sgd_rule(0.1), None),
    "sgd_momentum": (lambda: SGD(0.1, momentum=0.9), sgd_rule(0.1, 0.9), None),
    "sgd_nesterov": (lambda: SGD(0.1, momentum=0.9, nesterov=True),
                     sgd_rule(0.1, 0.9, nesterov=True), None),
    "adam": (lambda: Adam(0.01), adam_rule(0.01), None),
    "adam_amsgrad": (lambda: Adam(0.01, amsgrad=True), adam_rule(0.01, amsgrad=True), None),
    "adamw": (lambda: AdamW(0.01, weight_decay=0.1), adam_rule(0.01, wd=0.1), None),
    "rmsprop": (lambda: RMSprop(0.01), rmsprop_rule(0.01), None),
    "rmsprop_momentum": (lambda: RMSprop(0.01, momentum=0.5), rmsprop_rule(0.01, momentum=0.5),
                         None),
    "rmsprop_centered": (lambda: RMSprop(0.01, centered=True),
                         rmsprop_rule(0.01, centered=True), None),
    "rmsprop_centered_momentum": (lambda: RMSprop(0.01, momentum=0.5, centered=True),
                                  rmsprop_rule(0.01, momentum=0.5, centered=True), None),
    "sgd_clipnorm": (lambda: SGD(0.1, clipnorm=0.5), sgd_rule(0.1), per_variable_clip(0.5)),
    "sgd_global_clipnorm": (lambda: SGD(0.1, global_clipnorm=0.5), sgd_rule(0.1),
                            global_clip(0.5)),
    "sgd_clipvalue": (lambda: SGD(0.1, clipvalue=0.25), sgd_rule(0.1),
                      lambda gs: [np.clip(g, -0.25, 0.25) for g in gs]),
    "sgd_weight_decay": (lambda: SGD(0.1, weight_decay=0.5),
                         lambda w, g, s, t: w - w * 0.5 * 0.1 - 0.1 * g, None),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_update_rule_matches_textbook_numpy_over_four_steps(case):
    make, rule, clip = CASES[case]
    ours = run_ours(make())
    expected = run_reference(rule, clip)
    for got, want in zip(ours, expected):
        assert got.dtype == np.float32
        np.testing.assert_allclose(got, want, rtol=2e-5, atol=2e-6)


# -- TensorFlow / Keras' own numbers --------------------------------------------------------

#: W0 after the four GRADS, as Keras 3.15 on TensorFlow 2.21 computed it (one variable).
TF_RESULTS = {
    "sgd_momentum": [[0.35891, -1.04632, 1.79163], [0.663305, -0.25746, -0.22116]],
    "sgd_nesterov": [[0.223019, -0.876688, 1.702467], [0.6469744, -0.381714, -0.094044]],
    "adam": [[0.4890784, -1.2346479, 1.9675225], [0.7294061, -0.0291469, -0.4749623]],
    "adam_amsgrad": [[0.4890784, -1.2346479, 1.9675225], [0.7294061, -0.0291469, -0.4749657]],
    "adamw": [[0.4871017, -1.2296879, 1.9595894], [0.7264575, -0.0291008, -0.473011]],
    "rmsprop": [[0.4500911, -1.2239519, 1.9307175], [0.7019519, -0.0716454, -0.4530482]],
    "rmsprop_centered_momentum": [[0.4326403, -1.2142752, 1.8853701],
                                  [0.654084, -0.1112223, -0.4271969]],
    "sgd_clipnorm": [[0.4768119, -1.2280487, 1.9619741], [0.7372578, -0.0553094, -0.4628451]],
    "adam_expdecay": [[0.4913941, -1.2375656, 1.9778142], [0.7332696, -0.0194095, -0.4819745]],
}

OURS_FOR_TF = {
    "sgd_momentum": lambda: SGD(0.1, momentum=0.9),
    "sgd_nesterov": lambda: SGD(0.1, momentum=0.9, nesterov=True),
    "adam": lambda: Adam(0.01),
    "adam_amsgrad": lambda: Adam(0.01, amsgrad=True),
    "adamw": lambda: AdamW(0.01, weight_decay=0.1),
    "rmsprop": lambda: RMSprop(0.01),
    "rmsprop_centered_momentum": lambda: RMSprop(0.01, momentum=0.5, centered=True),
    "sgd_clipnorm": lambda: SGD(0.1, clipnorm=0.5),
    "adam_expdecay": lambda: Adam(schedules.ExponentialDecay(0.01, 2, 0.5)),
}


def _run_single(opt):
    w = tfe.Variable(W0)
    for g in GRADS:
        opt.apply_gradients([(tfe.constant(g), w)])
    return w.numpy()


@pytest.mark.parametrize("case", sorted(TF_RESULTS))
def test_update_rule_matches_recorded_keras_numbers(case):
    np.testing.assert_allclose(_run_single(OURS_FOR_TF[case]()), TF_RESULTS[case],
                               rtol=1e-5, atol=1e-6)


@pytest.mark.tfdata
def test_update_rules_match_live_keras():
    tf = pytest.importorskip("tensorflow", reason="the TensorFlow reference (bench extra)")
    keras = pytest.importorskip("keras", reason="the Keras reference (bench extra)")
    live = {
        "sgd_momentum": keras.optimizers.SGD(0.1, momentum=0.9),
        "sgd_nesterov": keras.optimizers.SGD(0.1, momentum=0.9, nesterov=True),
        "adam": keras.optimizers.Adam(0.01),
        "adam_amsgrad": keras.optimizers.Adam(0.01, amsgrad=True),
        "adamw": keras.optimizers.AdamW(0.01, weight_decay=0.1),
        "rmsprop": keras.optimizers.RMSprop(0.01),
        "rmsprop_centered_momentum": keras.optimizers.RMSprop(0.01, momentum=0.5,
                                                              centered=True),
        "sgd_clipnorm": keras.optimizers.SGD(0.1, clipnorm=0.5),
        "adam_expdecay": keras.optimizers.Adam(
            keras.optimizers.schedules.ExponentialDecay(0.01, 2, 0.5)),
    }
    for case, opt in live.items():
        v = tf.Variable(W0)
        for g in GRADS:
            opt.apply_gradients([(tf.constant(g), v)])
        np.testing.assert_allclose(_run_single(OURS_FOR_TF[case]()), v.numpy(), rtol=1e-5,
                                   atol=1e-6, err_msg=case)


# -- schedules ---------------------------------------------------------------------------

SCHEDULE_CASES = [
    (lambda: schedules.ExponentialDecay(0.1, 10, 0.5), [0, 5, 10, 15, 25],
     [0.1, 0.0707106813788414, 0.05, 0.0353553406894207, 0.01767767034471035]),
    (lambda: schedules.ExponentialDecay(0.1, 10, 0.5, staircase=True), [0, 5, 10, 15, 25],
     [0.1, 0.1, 0.05, 0.05, 0.025]),
    (lambda: schedules.PiecewiseConstantDecay([10, 20], [1.0, 0.5, 0.1]),
     [0, 10, 11, 20, 21, 100], [1.0, 1.0, 0.5, 0.5, 0.1, 0.1]),
    (lambda: schedules.CosineDecay(0.1, 100, alpha=0.1), [0, 25, 50, 100, 150],
     [0.1, 0.08681981265544891, 0.055, 0.01, 0.01]),
    (lambda: schedules.CosineDecay(0.0, 100, alpha=0.1, warmup_target=0.2, warmup_steps=10),
     [0, 5, 10, 60, 110, 200], [0.0, 0.1, 0.2, 0.11, 0.02, 0.02]),
]


@pytest.mark.parametrize(("make", "steps", "expected"), SCHEDULE_CASES)
def test_schedules_match_keras_values(make, steps, expected):
    """Values recorded from keras.optimizers.schedules (TF 2.21)."""
    schedule = make()
    np.testing.assert_allclose([schedule(s) for s in steps], expected, rtol=1e-6)


def test_schedule_is_evaluated_at_the_optimizer_iterations():
    opt = SGD(schedules.PiecewiseConstantDecay([1], [1.0, 0.5]))
    w = tfe.Variable([0.0])
    lrs = []
    for _ in range(3):
        lrs.append(opt.learning_rate)
        opt.apply_gradients([(tfe.constant([1.0]), w)])
    assert lrs == [1.0, 1.0, 0.5]
    np.testing.assert_allclose(w.numpy(), [-2.5])


def test_schedule_arguments_are_validated():
    with pytest.raises(InvalidArgumentError, match="one more element"):
        schedules.PiecewiseConstantDecay([1, 2], [1.0])
    with pytest.raises(InvalidArgumentError, match="strictly increasing"):
        schedules.PiecewiseConstantDecay([2, 1], [1.0, 2.0, 3.0])
    with pytest.raises(InvalidArgumentError, match=r"decay_steps must be > 0 \(got 0.0\)"):
        schedules.ExponentialDecay(0.1, 0, 0.5)
    with pytest.raises(InvalidTypeError, match="decay_rate must be a number"):
        schedules.ExponentialDecay(0.1, 10, "fast")


# -- clipping -------------------------------------------------------------------------------


def test_clip_by_norm_matches_tf():
    x = [[3.0, 4.0], [6.0, 8.0]]
    np.testing.assert_allclose(clip_by_norm(x, 5.0).numpy(),
                               [[1.341640830039978, 1.7888543605804443],
                                [2.683281660079956, 3.5777087211608887]], rtol=1e-6)
    np.testing.assert_allclose(clip_by_norm(x, 5.0, axes=[1]).numpy(), [[3, 4], [3, 4]])
    assert clip_by_norm([0.0, 0.0], 5.0).numpy().tolist() == [0.0, 0.0]
    assert clip_by_norm([0.3, 0.4], 5.0).numpy().tolist() == pytest.approx([0.3, 0.4])


def test_clip_by_global_norm_matches_tf_and_keeps_none():
    clipped, norm = clip_by_global_norm([[3.0, 4.0], None, [[1.0, 2.0]]], 2.0)
    assert clipped[1] is None
    np.testing.assert_allclose(clipped[0].numpy(), [1.095445156097412, 1.4605934619903564],
                               rtol=1e-6)
    np.testing.assert_allclose(clipped[2].numpy(), [[0.3651483654975891, 0.7302967309951782]],
                               rtol=1e-6)
    assert float(norm) == pytest.approx(5.4772257804870605)
    assert float(global_norm([[3.0], None, [4.0]])) == 5.0


def test_clip_by_global_norm_of_an_infinite_norm_gives_nan_like_tf():
    clipped, norm = clip_by_global_norm([[np.inf, 1.0]], 2.0)
    assert math.isinf(float(norm))
    assert np.isnan(clipped[0].numpy()).all()


def test_clipping_rejects_bad_arguments():
    with pytest.raises(InvalidArgumentError, match=r"clip_norm must be > 0 \(got -1.0\)"):
        clip_by_norm([1.0], -1.0)
    with pytest.raises(InvalidTypeError, match="must be a list or tuple"):
        clip_by_global_norm(np.ones(3, np.float32), 1.0)
    with pytest.raises(InvalidTypeError, match="floating"):
        clip_by_norm([1, 2], 1.0)
    with pytest.raises(InvalidArgumentError, match="axis 2 is out of range"):
        clip_by_norm([[1.0]], 1.0, axes=2)


# -- state, slots, API -------------------------------------------------------------------------


def test_slots_are_named_and_ordered_deterministically():
    w, b = tfe.Variable(W0, name="dense/kernel"), tfe.Variable(B0, name="dense/bias")
    opt = Adam(0.01, amsgrad=True)
    assert opt.get_slot_names() == ["momentum", "velocity", "velocity_hat"]
    opt.apply_gradients([(GRADS[0], w), (BIAS_GRADS[0], b)])
    assert [v.name for v in opt.variables()] == [
        "adam/iterations", "adam/learning_rate",
        "adam/dense/kernel/momentum", "adam/dense/kernel/velocity",
        "adam/dense/kernel/velocity_hat",
        "adam/dense/bias/momentum", "adam/dense/bias/velocity", "adam/dense/bias/velocity_hat"]
    assert all(not v.trainable for v in opt.variables())
    np.testing.assert_allclose(opt.get_slot(w, "momentum").numpy(), 0.1 * GRADS[0], rtol=1e-6)
    with pytest.raises(InvalidArgumentError, match="no slot 'rms'"):
        opt.get_slot(w, "rms")
    with pytest.raises(InvalidArgumentError, match="never passed"):
        opt.get_slot(tfe.Variable([1.0], name="other"), "momentum")


def test_slot_names_of_each_optimizer():
    assert SGD().get_slot_names() == []
    assert SGD(momentum=0.9).get_slot_names() == ["momentum"]
    assert RMSprop().get_slot_names() == ["velocity"]
    assert RMSprop(momentum=0.5, centered=True).get_slot_names() == [
        "velocity", "momentum", "average_gradient"]


def test_duplicate_variable_names_get_distinct_slot_names():
    a, b = tfe.Variable([1.0], name="w"), tfe.Variable([2.0], name="w")
    opt = SGD(0.1, momentum=0.5)
    opt.build([a, b])
    assert [v.name for v in opt.variables()[2:]] == ["sgd/w/momentum", "sgd/w_1/momentum"]


def test_restoring_optimizer_variables_continues_the_same_trajectory():
    """Save variables() after two steps, load them into a fresh built optimizer: same result."""
    w = tfe.Variable(W0, name="w")
    opt = Adam(0.01)
    for g in GRADS[:2]:
        opt.apply_gradients([(g, w)])
    saved = [v.numpy().copy() for v in opt.variables()]
    saved_w = w.numpy().copy()
    for g in GRADS[2:]:
        opt.apply_gradients([(g, w)])
    w2 = tfe.Variable(saved_w, name="w")
    opt2 = Adam(0.01)
    opt2.build([w2])
    for var, value in zip(opt2.variables(), saved):
        var.assign(value)
    assert int(opt2.iterations.numpy()) == 2
    for g in GRADS[2:]:
        opt2.apply_gradients([(g, w2)])
    np.testing.assert_array_equal(w2.numpy(), w.numpy())


def test_none_gradients_are_skipped_with_a_warning_and_all_none_is_an_error():
    a, b = tfe.Variable([1.0], name="a"), tfe.Variable([1.0], name="b")
    opt = SGD(0.5)
    with pytest.warns(UserWarning, match=r"no gradient for variables \['b'\]"):
        opt.apply_gradients([([1.0], a), (None, b)])
    assert a.numpy().tolist() == [0.5] and b.numpy().tolist() == [1.0]
    with pytest.raises(InvalidArgumentError, match="no gradient for any variable"):
        opt.apply_gradients([(None, a)])


def test_gradient_shape_mismatch_names_the_variable():
    w = tfe.Variable(W0, name="dense/kernel")
    with pytest.raises(InvalidArgumentError,
                       match=r"gradient of shape \(3,\) does not match variable "
                             r"'dense/kernel' of shape \(2, 3\)"):
        SGD().apply_gradients([(np.ones(3, np.float32), w)])


def test_float32_stays_float32_and_float64_variables_work():
    w32 = tfe.Variable(np.ones(3, np.float32))
    w64 = tfe.Variable(np.ones(3, np.float64))
    opt = Adam(0.1)
    opt.apply_gradients([(np.full(3, 0.5, np.float64), w32), (np.full(3, 0.5), w64)])
    assert w32.dtype == np.float32 and w64.dtype == np.float64
    assert opt.get_slot(w32, "velocity").dtype == np.float32
    np.testing.assert_allclose(w64.numpy(), 0.9, rtol=1e-6)


def test_only_one_clipping_option_and_hyperparameters_are_validated():
    with pytest.raises(InvalidArgumentError, match="only one of clipnorm, clipvalue"):
        SGD(clipnorm=1.0, global_clipnorm=1.0)
    with pytest.raises(InvalidArgumentError, match=r"clipnorm must be a finite number > 0"):
        SGD(clipnorm=0.0)
    with pytest.raises(InvalidArgumentError, match=r"momentum must be a float in \[0, 1\]"):
        SGD(momentum=1.5)
    with pytest.raises(InvalidArgumentError, match="beta_1 must be a float"):
        Adam(beta_1=1.0)
    with pytest.raises(InvalidArgumentError, match="rho must be"):
        RMSprop(rho=-0.1)
    with pytest.raises(InvalidTypeError, match="learning_rate must be a float"):
        SGD(learning_rate="fast")
    with pytest.raises(InvalidArgumentError, match="weight_decay must be a float"):
        AdamW(weight_decay=None)
    with pytest.raises(InvalidTypeError, match="only floating variables"):
        SGD().apply_gradients([([1], tfe.Variable([1]))])


def test_learning_rate_can_be_changed_between_steps():
    w = tfe.Variable([1.0])
    opt = SGD(0.5)
    opt.apply_gradients([([1.0], w)])
    opt.learning_rate = 0.25
    assert opt.learning_rate == 0.25
    opt.apply_gradients([([1.0], w)])
    assert w.numpy().tolist() == [0.25]
    with pytest.raises(InvalidTypeError, match="cannot be replaced by a schedule"):
        opt.learning_rate = schedules.ExponentialDecay(0.1, 1, 0.5)
    scheduled = SGD(schedules.ExponentialDecay(0.1, 1, 0.5))
    with pytest.raises(InvalidTypeError, match="cannot be set to a float"):
        scheduled.learning_rate = 0.1


def test_weight_decay_exclusions():
    w, bias = tfe.Variable([1.0], name="dense/kernel"), tfe.Variable([1.0], name="dense/bias")
    opt = AdamW(0.1, weight_decay=0.5)
    opt.exclude_from_weight_decay(var_names=["bias"])
    opt.apply_gradients([([0.0], w), ([0.0], bias)])
    assert w.numpy().tolist() == [0.949999988079071] and bias.numpy().tolist() == [1.0]
    with pytest.raises(FailedPreconditionError, match="before the optimizer is built"):
        opt.exclude_from_weight_decay(var_names=["kernel"])


def test_minimize_takes_a_loss_callable():
    w = tfe.Variable([3.0])
    opt = SGD(0.25)
    for _ in range(2):
        opt.minimize(lambda: tfe.reduce_sum(w * w), [w])
    assert w.numpy().tolist() == [0.75]


def test_get_resolves_names():
    assert isinstance(optimizers.get("adam"), Adam)
    assert isinstance(optimizers.get("RMSprop"), RMSprop)
    opt = SGD()
    assert optimizers.get(opt) is opt
    with pytest.raises(InvalidArgumentError, match="unknown optimizer 'adagrad'"):
        optimizers.get("adagrad")


def test_a_subclass_without_its_rule_fails_when_built():
    """Optimizer and LearningRateSchedule are abstract: a subclass that forgets
    update_step / __call__ fails at construction, not at the first training step."""
    from datapipe.eager.optimizers.base import Optimizer
    from datapipe.eager.optimizers.schedules import LearningRateSchedule

    class NoRule(Optimizer):
        pass

    class NoCall(LearningRateSchedule):
        def get_config(self):
            return {}

    with pytest.raises(TypeError, match="update_step"):
        NoRule(learning_rate=0.1)
    with pytest.raises(TypeError, match="__call__"):
        NoCall()
