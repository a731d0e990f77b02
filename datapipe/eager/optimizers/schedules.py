"""Learning-rate schedules: the learning rate as a function of the optimizer step.

A schedule is called with the optimizer's ``iterations`` (the number of updates already
applied, starting at 0) and returns the learning rate as a Python float. The formulas
and the step convention are Keras' (``keras.optimizers.schedules``), checked against
TensorFlow 2.21 in ``tests/eager/test_optimizers.py``.

Example::

    >>> from datapipe.eager.optimizers import schedules
    >>> decay = schedules.ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5)
    >>> [round(decay(step), 4) for step in (0, 10, 20)]
    [0.1, 0.05, 0.025]
    >>> warm = schedules.CosineDecay(0.0, decay_steps=100, warmup_target=0.2, warmup_steps=10)
    >>> [round(warm(step), 4) for step in (0, 5, 10, 60, 110)]
    [0.0, 0.1, 0.2, 0.1, 0.0]
"""

from __future__ import annotations

import abc
import bisect
import itertools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from datapipe.errors import InvalidArgumentError, InvalidTypeError

__all__ = [
    "CosineDecay",
    "ExponentialDecay",
    "InverseTimeDecay",
    "LearningRateSchedule",
    "PiecewiseConstantDecay",
]


def _number(owner: str, name: str, value: Any, *, positive: bool = False,
            non_negative: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise InvalidTypeError(f"{owner}: {name} must be a number (got {value!r})")
    value = float(value)
    if not math.isfinite(value):
        raise InvalidArgumentError(f"{owner}: {name} must be finite (got {value})")
    if positive and value <= 0:
        raise InvalidArgumentError(f"{owner}: {name} must be > 0 (got {value})")
    if non_negative and value < 0:
        raise InvalidArgumentError(f"{owner}: {name} must be >= 0 (got {value})")
    return value


def _step(step: Any) -> float:
    """The step as a float (accepts ints, NumPy scalars, scalar tensors and variables)."""
    return float(np.asarray(step).reshape(()))


class LearningRateSchedule(abc.ABC):
    """Base class: ``schedule(step) -> float``; subclasses implement ``__call__`` and
    ``get_config`` (a subclass that forgets one fails when it is built)."""

    @abc.abstractmethod
    def __call__(self, step: Any) -> float:
        """The learning rate at ``step``."""

    @abc.abstractmethod
    def get_config(self) -> dict[str, Any]:
        """The constructor arguments, for ``from_config`` and checkpoints."""

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> LearningRateSchedule:
        return cls(**config)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class ExponentialDecay(LearningRateSchedule):
    """``initial_learning_rate * decay_rate ** (step / decay_steps)``.

    With ``staircase=True`` the exponent is floored, so the rate drops every
    ``decay_steps`` steps.
    """

    def __init__(self, initial_learning_rate: float, decay_steps: int, decay_rate: float,
                 staircase: bool = False) -> None:
        owner = "ExponentialDecay"
        self.initial_learning_rate = _number(owner, "initial_learning_rate",
                                             initial_learning_rate)
        self.decay_steps = _number(owner, "decay_steps", decay_steps, positive=True)
        self.decay_rate = _number(owner, "decay_rate", decay_rate)
        self.staircase = bool(staircase)

    def __call__(self, step: Any) -> float:
        p = _step(step) / self.decay_steps
        if self.staircase:
            p = math.floor(p)
        return self.initial_learning_rate * self.decay_rate ** p

    def get_config(self) -> dict[str, Any]:
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_steps": self.decay_steps, "decay_rate": self.decay_rate,
                "staircase": self.staircase}


class InverseTimeDecay(LearningRateSchedule):
    """``initial_learning_rate / (1 + decay_rate * step / decay_steps)`` (floored if staircase)."""

    def __init__(self, initial_learning_rate: float, decay_steps: int, decay_rate: float,
                 staircase: bool = False) -> None:
        owner = "InverseTimeDecay"
        self.initial_learning_rate = _number(owner, "initial_learning_rate",
                                             initial_learning_rate)
        self.decay_steps = _number(owner, "decay_steps", decay_steps, positive=True)
        self.decay_rate = _number(owner, "decay_rate", decay_rate, non_negative=True)
        self.staircase = bool(staircase)

    def __call__(self, step: Any) -> float:
        p = _step(step) / self.decay_steps
        if self.staircase:
            p = math.floor(p)
        return self.initial_learning_rate / (1.0 + self.decay_rate * p)

    def get_config(self) -> dict[str, Any]:
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_steps": self.decay_steps, "decay_rate": self.decay_rate,
                "staircase": self.staircase}


class PiecewiseConstantDecay(LearningRateSchedule):
    """``values[0]`` up to and including ``boundaries[0]``, then ``values[1]``, ...

    Step ``s`` gets ``values[i]`` where ``boundaries[i-1] < s <= boundaries[i]``, and
    ``values[-1]`` after the last boundary (Keras' convention).
    """

    def __init__(self, boundaries: Sequence[float], values: Sequence[float]) -> None:
        owner = "PiecewiseConstantDecay"
        boundaries = [_number(owner, "boundaries[]", b) for b in boundaries]
        values = [_number(owner, "values[]", v) for v in values]
        if len(values) != len(boundaries) + 1:
            raise InvalidArgumentError(
                f"{owner}: values must have one more element than boundaries "
                f"(got {len(values)} values and {len(boundaries)} boundaries)")
        if any(not b < a for b, a in itertools.pairwise(boundaries)):
            raise InvalidArgumentError(
                f"{owner}: boundaries must be strictly increasing (got {boundaries})")
        self.boundaries, self.values = boundaries, values

    def __call__(self, step: Any) -> float:
        return self.values[bisect.bisect_left(self.boundaries, _step(step))]

    def get_config(self) -> dict[str, Any]:
        return {"boundaries": list(self.boundaries), "values": list(self.values)}


class CosineDecay(LearningRateSchedule):
    """Cosine decay from the peak rate to ``alpha * peak`` over ``decay_steps``, with warmup.

    Without ``warmup_target`` the peak is ``initial_learning_rate``. With it, the rate
    first rises linearly from ``initial_learning_rate`` to ``warmup_target`` over
    ``warmup_steps``, then decays from ``warmup_target``. After the decay it stays at
    ``alpha * peak``.
    """

    def __init__(self, initial_learning_rate: float, decay_steps: int, alpha: float = 0.0,
                 warmup_target: float | None = None, warmup_steps: int = 0) -> None:
        owner = "CosineDecay"
        self.initial_learning_rate = _number(owner, "initial_learning_rate",
                                             initial_learning_rate)
        self.decay_steps = _number(owner, "decay_steps", decay_steps, non_negative=True)
        self.alpha = _number(owner, "alpha", alpha)
        self.warmup_target = (None if warmup_target is None
                              else _number(owner, "warmup_target", warmup_target))
        self.warmup_steps = _number(owner, "warmup_steps", warmup_steps, non_negative=True)

    def _decay(self, step: float, peak: float) -> float:
        fraction = step / self.decay_steps if self.decay_steps else 1.0
        cosine = 0.5 * (1.0 + math.cos(math.pi * fraction))
        return ((1.0 - self.alpha) * cosine + self.alpha) * peak

    def __call__(self, step: Any) -> float:
        step = _step(step)
        if self.warmup_target is None:
            return self._decay(min(step, self.decay_steps), self.initial_learning_rate)
        step = min(step, self.decay_steps + self.warmup_steps)
        if step < self.warmup_steps:
            fraction = step / self.warmup_steps
            return self.initial_learning_rate + (
                self.warmup_target - self.initial_learning_rate) * fraction
        return self._decay(step - self.warmup_steps, self.warmup_target)

    def get_config(self) -> dict[str, Any]:
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_steps": self.decay_steps, "alpha": self.alpha,
                "warmup_target": self.warmup_target, "warmup_steps": self.warmup_steps}
