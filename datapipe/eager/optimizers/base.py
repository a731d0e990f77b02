"""``Optimizer``: the update loop shared by SGD, Adam, AdamW and RMSprop.

``apply_gradients([(grad, var), ...])`` runs, in Keras 3's order:

1. drop the pairs whose gradient is ``None`` (all ``None`` is an error);
2. clip: ``clipnorm`` (each gradient to that L2 norm), ``global_clipnorm`` (all
   gradients together, :func:`~datapipe.eager.optimizers.clipping.clip_by_global_norm`)
   or ``clipvalue`` (elementwise) — at most one of the three;
3. decoupled weight decay, when ``weight_decay`` is set: ``var -= var * wd * lr``;
4. the subclass' update rule (:meth:`Optimizer.update_step`) with the learning rate
   of this step (a float, or a schedule evaluated at ``iterations``);
5. ``iterations += 1``.

The arithmetic runs on the variables' backend arrays (NumPy or CuPy), outside any
tape, in the variables' dtype: float hyperparameters never upcast float32 weights.

State, for checkpoints: :meth:`Optimizer.variables` lists ``iterations``, the learning
rate (unless it is a schedule) and every slot variable, in a deterministic order —
variables in the order the optimizer first saw them, each followed by its slots in
:meth:`Optimizer.get_slot_names` order. Slot names are
``"<optimizer name>/<variable name>/<slot>"`` (e.g. ``"adam/dense/kernel/momentum"``).
To restore, :meth:`Optimizer.build` the optimizer on the model's trainable variables
(same order), then assign the saved values to ``optimizer.variables()``.

Example::

    >>> from datapipe import eager as tfe
    >>> from datapipe.eager.optimizers import SGD
    >>> w = tfe.Variable([1.0, 2.0], name="w")
    >>> opt = SGD(learning_rate=0.1, momentum=0.9)
    >>> _ = opt.apply_gradients([(tfe.constant([1.0, -1.0]), w)])
    >>> w.numpy().tolist(), int(opt.iterations.numpy())
    ([0.8999999761581421, 2.0999999046325684], 1)
    >>> [v.name for v in opt.variables()]
    ['sgd/iterations', 'sgd/learning_rate', 'sgd/w/momentum']
"""

from __future__ import annotations

import abc
import math
import warnings
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

from datapipe.eager import backend
from datapipe.eager.optimizers.clipping import _clip_array_by_norm, _global_norm_of_arrays
from datapipe.eager.optimizers.schedules import LearningRateSchedule
from datapipe.eager.tape import GradientTape
from datapipe.eager.variable import Variable
from datapipe.errors import FailedPreconditionError, InvalidArgumentError, InvalidTypeError

__all__ = ["Optimizer"]


def _positive_or_none(owner: str, name: str, value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise InvalidTypeError(f"{owner}: {name} must be a number or None (got {value!r})")
    value = float(value)
    if not value > 0 or not math.isfinite(value):
        raise InvalidArgumentError(f"{owner}: {name} must be a finite number > 0 (got {value})")
    return value


def _array_of(value: Any) -> Any:
    """The backend array of a Tensor/Variable, or ``value`` as a NumPy array."""
    array = getattr(value, "array", None)
    if array is not None:
        return array
    return np.asarray(value)


class Optimizer(abc.ABC):
    """Base class. Subclasses set ``_SLOTS``-like names via :meth:`get_slot_names` and
    implement :meth:`update_step`.

    Args:
        learning_rate: a float, a :class:`LearningRateSchedule`, or any callable taking
            the step (``iterations``) and returning the rate.
        weight_decay: decoupled weight decay coefficient (``var -= var * wd * lr``
            before each update), or None.
        clipnorm: clip each gradient to this L2 norm.
        clipvalue: clip each gradient elementwise to ``[-clipvalue, clipvalue]``.
        global_clipnorm: clip all gradients together to this global L2 norm.
        name: prefix of the optimizer's variable names.
    """

    def __init__(self, learning_rate: float | LearningRateSchedule | Callable[[Any], float],
                 weight_decay: float | None = None, clipnorm: float | None = None,
                 clipvalue: float | None = None, global_clipnorm: float | None = None,
                 name: str | None = None) -> None:
        owner = type(self).__name__
        self.name = name if name is not None else owner.lower()
        if not isinstance(self.name, str) or not self.name:
            raise InvalidArgumentError(f"{owner}: name must be a non-empty str (got {name!r})")
        self.clipnorm = _positive_or_none(owner, "clipnorm", clipnorm)
        self.clipvalue = _positive_or_none(owner, "clipvalue", clipvalue)
        self.global_clipnorm = _positive_or_none(owner, "global_clipnorm", global_clipnorm)
        given = [n for n, v in (("clipnorm", clipnorm), ("clipvalue", clipvalue),
                                ("global_clipnorm", global_clipnorm)) if v is not None]
        if len(given) > 1:
            raise InvalidArgumentError(
                f"{owner}: only one of clipnorm, clipvalue and global_clipnorm can be set "
                f"(got {', '.join(given)})")
        if weight_decay is not None:
            if isinstance(weight_decay, bool) or not isinstance(
                    weight_decay, (int, float, np.integer, np.floating)):
                raise InvalidTypeError(
                    f"{owner}: weight_decay must be a float or None (got {weight_decay!r})")
            if not weight_decay >= 0:
                raise InvalidArgumentError(
                    f"{owner}: weight_decay must be >= 0 (got {weight_decay})")
            weight_decay = float(weight_decay)
        self.weight_decay = weight_decay
        self._iterations = Variable(np.zeros((), np.int64), trainable=False,
                                    name=f"{self.name}/iterations")
        self._schedule: Callable[[Any], float] | None = None
        self._lr_variable: Variable | None = None
        self._set_learning_rate(learning_rate, initial=True)
        self._variables: list[Variable] = []
        self._index: dict[int, int] = {}
        self._slots: list[dict[str, Variable]] = []
        self._slot_names_used: set[str] = set()
        self._exclude_ids: set[int] = set()
        self._exclude_names: tuple[str, ...] = ()

    # -- learning rate ------------------------------------------------------------------
    def _set_learning_rate(self, value: Any, initial: bool = False) -> None:
        owner = type(self).__name__
        if isinstance(value, LearningRateSchedule) or (
                callable(value) and not isinstance(value, (int, float, np.number))):
            if not initial and self._schedule is None:
                raise InvalidTypeError(
                    f"{owner}: this optimizer was created with a float learning rate; "
                    f"it cannot be replaced by a schedule ({value!r})")
            self._schedule = value
            return
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer,
                                                             np.floating)):
            raise InvalidTypeError(
                f"{owner}: learning_rate must be a float or a LearningRateSchedule "
                f"(got {value!r})")
        if not value >= 0 or not math.isfinite(value):
            raise InvalidArgumentError(
                f"{owner}: learning_rate must be a finite number >= 0 (got {value})")
        if self._schedule is not None:
            raise InvalidTypeError(
                f"{owner}: this optimizer was created with the schedule {self._schedule!r}; "
                "its learning rate cannot be set to a float")
        if self._lr_variable is None:
            self._lr_variable = Variable(np.float32(value), trainable=False,
                                         name=f"{self.name}/learning_rate")
        else:
            self._lr_variable.assign(np.float32(value))

    @property
    def learning_rate(self) -> float:
        """The learning rate of the next update (a schedule is evaluated at ``iterations``)."""
        if self._schedule is not None:
            return float(self._schedule(self._step()))
        return float(self._lr_variable.numpy())

    @learning_rate.setter
    def learning_rate(self, value: float) -> None:
        self._set_learning_rate(value)

    @property
    def iterations(self) -> Variable:
        """The number of updates applied so far (an int64 scalar variable)."""
        return self._iterations

    def _step(self) -> int:
        return int(self._iterations.numpy())

    # -- slots ------------------------------------------------------------------------
    def get_slot_names(self) -> list[str]:
        """The names of the slots this optimizer keeps per variable, in order."""
        return []

    def _slot_initial(self, slot: str, var: Variable) -> Any:
        """The initial backend array of ``slot`` for ``var`` (zeros by default)."""
        xp = backend.namespace_of(var.array)
        return xp.zeros_like(var.array)

    def build(self, var_list: Iterable[Variable]) -> None:
        """Create the slots of every variable in ``var_list`` not seen before, in order."""
        slot_names = self.get_slot_names()
        for var in var_list:
            if not isinstance(var, Variable):
                raise InvalidTypeError(
                    f"{type(self).__name__}: can only optimize Variables (got {var!r})")
            if id(var) in self._index:
                continue
            if var.dtype.kind != "f":
                raise InvalidTypeError(
                    f"{type(self).__name__}: variable {var.name!r} has dtype {var.dtype}; "
                    "only floating variables can be optimized")
            base = var.name or f"variable_{len(self._variables)}"
            unique, n = base, 0
            while unique in self._slot_names_used:
                n += 1
                unique = f"{base}_{n}"
            self._slot_names_used.add(unique)
            self._index[id(var)] = len(self._variables)
            self._variables.append(var)
            self._slots.append({
                slot: Variable(self._slot_initial(slot, var), trainable=False,
                               name=f"{self.name}/{unique}/{slot}")
                for slot in slot_names})

    @property
    def built(self) -> bool:
        return bool(self._variables)

    def get_slot(self, var: Variable, slot_name: str) -> Variable:
        """The slot ``slot_name`` of ``var`` (error naming both when there is none)."""
        index = self._index.get(id(var))
        if index is None:
            raise InvalidArgumentError(
                f"{type(self).__name__}: variable {getattr(var, 'name', var)!r} has no slots: "
                "it was never passed to build() or apply_gradients()")
        slots = self._slots[index]
        if slot_name not in slots:
            raise InvalidArgumentError(
                f"{type(self).__name__}: no slot {slot_name!r} (slots: {list(slots)})")
        return slots[slot_name]

    def variables(self) -> list[Variable]:
        """Every state variable, in checkpoint order (see the module docstring)."""
        result = [self._iterations]
        if self._lr_variable is not None:
            result.append(self._lr_variable)
        for slots in self._slots:
            result.extend(slots.values())
        return result

    def exclude_from_weight_decay(self, var_list: Sequence[Variable] | None = None,
                                  var_names: Sequence[str] | None = None) -> None:
        """Exempt variables (or any whose name contains one of ``var_names``) from decay.

        Must be called before the optimizer is built, as in Keras.
        """
        if self.built:
            raise FailedPreconditionError(
                f"{type(self).__name__}: exclude_from_weight_decay() must be called before "
                "the optimizer is built (before the first apply_gradients)")
        self._exclude_ids = {id(v) for v in var_list or ()}
        self._exclude_names = tuple(var_names or ())

    def _decays(self, var: Variable) -> bool:
        if id(var) in self._exclude_ids:
            return False
        name = var.name or ""
        return not any(part in name for part in self._exclude_names)

    # -- updates ----------------------------------------------------------------------
    def apply_gradients(self, grads_and_vars: Iterable[tuple[Any, Variable]]) -> Variable:
        """Apply one update to every variable with a gradient; returns ``iterations``."""
        pairs = list(grads_and_vars)
        if not pairs:
            return self._iterations
        for pair in pairs:
            if not isinstance(pair, (tuple, list)) or len(pair) != 2:
                raise InvalidTypeError(
                    f"{type(self).__name__}.apply_gradients(): expected (gradient, variable) "
                    f"pairs (got {pair!r})")
        missing = [v.name for g, v in pairs if g is None]
        pairs = [(g, v) for g, v in pairs if g is not None]
        if not pairs:
            raise InvalidArgumentError(
                f"{type(self).__name__}.apply_gradients(): no gradient for any variable "
                f"({missing}): is the loss connected to them?")
        if missing:
            warnings.warn(f"{type(self).__name__}: no gradient for variables {missing}",
                          stacklevel=2)
        variables = [v for _, v in pairs]
        self.build(variables)
        grads = [self._gradient_array(g, v) for g, v in pairs]
        grads = self._clip(grads)
        lr = self.learning_rate
        step = self._step()
        if self.weight_decay:
            for var in variables:
                if self._decays(var):
                    array = var.array
                    var.assign_sub(array * (self.weight_decay * lr))
        for grad, var in zip(grads, variables):
            self.update_step(grad, var, self._slots[self._index[id(var)]], lr, step)
        self._iterations.assign_add(np.int64(1))
        return self._iterations

    def apply(self, grads: Sequence[Any], trainable_variables: Sequence[Variable]) -> Variable:
        """``apply_gradients(zip(grads, trainable_variables))`` (Keras 3's spelling)."""
        if len(grads) != len(trainable_variables):
            raise InvalidArgumentError(
                f"{type(self).__name__}.apply(): {len(grads)} gradients for "
                f"{len(trainable_variables)} variables")
        return self.apply_gradients(list(zip(grads, trainable_variables)))

    def _gradient_array(self, grad: Any, var: Variable) -> Any:
        array = _array_of(grad)
        if tuple(array.shape) != tuple(var.shape):
            raise InvalidArgumentError(
                f"{type(self).__name__}: gradient of shape {tuple(array.shape)} does not match "
                f"variable {var.name!r} of shape {tuple(var.shape)}")
        if array.dtype != var.dtype:
            array = array.astype(var.dtype)
        xp_var = backend.namespace_of(var.array)
        if backend.namespace_of(array) is not xp_var:
            array = xp_var.asarray(backend.to_numpy(array))
        return array

    def _clip(self, grads: list[Any]) -> list[Any]:
        if self.clipnorm is not None:
            return [_clip_array_by_norm(g, self.clipnorm) for g in grads]
        if self.global_clipnorm is not None:
            norm = _global_norm_of_arrays(grads)
            clip = self.global_clipnorm
            # tf/Keras: a non-finite global norm turns every gradient into NaN.
            scale = clip * min(1.0 / norm, 1.0 / clip) if norm else 1.0
            scale = scale + (norm - norm)
            return [g * g.dtype.type(scale) for g in grads]
        if self.clipvalue is not None:
            v = self.clipvalue
            return [backend.namespace_of(g).clip(g, -v, v) for g in grads]
        return grads

    @abc.abstractmethod
    def update_step(self, grad: Any, var: Variable, slots: dict[str, Variable], lr: float,
                    step: int) -> None:
        """Apply the rule to one variable: ``grad`` is a backend array of ``var``'s dtype,
        ``lr`` this step's learning rate, ``step`` the number of updates before this one."""

    def minimize(self, loss: Callable[[], Any], var_list: Sequence[Variable],
                 tape: Any = None) -> Variable:
        """Compute the gradients of ``loss()`` (a callable) with a tape and apply them.

        With ``tape``, ``loss`` may be the loss Tensor recorded on that tape.
        """
        var_list = list(var_list)
        if tape is None:
            if not callable(loss):
                raise InvalidTypeError(
                    f"{type(self).__name__}.minimize(): loss must be a callable when no "
                    f"tape is given (got {type(loss).__name__})")
            with GradientTape() as tape:
                loss = loss()
        elif callable(loss):
            with tape:
                loss = loss()
        grads = tape.gradient(loss, var_list)
        return self.apply_gradients(list(zip(grads, var_list)))

    # -- config -----------------------------------------------------------------------
    def get_config(self) -> dict[str, Any]:
        lr: Any = self._schedule if self._schedule is not None else self.learning_rate
        return {"name": self.name, "learning_rate": lr, "weight_decay": self.weight_decay,
                "clipnorm": self.clipnorm, "clipvalue": self.clipvalue,
                "global_clipnorm": self.global_clipnorm}

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name!r} learning_rate={self.learning_rate:g}>"
