"""``Dataset.prefetch``: produce elements ahead on a background thread.

A worker thread pulls *chunks* from the input (``input.next_many(k)``) and hands each
chunk to the consumer as one item of the native ring buffer (``datapipe._native.ring``);
the consumer moves whole chunks into a local deque that ``__next__`` pops from, so
the per-element cost on either side is a list append/pop, not a ring hand-off.
Exceptions travel through the ring as values (``_Raised``) and are re-raised in the
consumer with their original traceback; the worker keeps going after an error, exactly
as the sequential pipeline would.

Bounds: ``buffer_size`` counts elements. A fixed size ``B`` uses chunks of
``k = clamp(B // 4, 1, 64)`` elements and a ring of ``B // k`` chunks, so at most about
``2 * B + k`` elements exist ahead of the consumer (ring, the consumer's local deque, the
chunk in the worker's hand). ``prefetch(AUTOTUNE)`` registers a ``Tunable``
(``autotuned_buffer=True``) and re-reads ``tunable.buffer_size`` before every chunk:
its ring has four slots of ``buffer_size // 4`` elements each (at least one). Like
tf.data's prefetch autotuner, it also doubles its own buffer each time the consumer
finds it empty, while the buffer holds under 4 MiB (autotune may change it later,
within the RAM budget).

Checkpoints reflect what the consumer took, not what the worker produced: the worker
holds ``_Worker.lock`` only while it pulls from the input, so ``get_state`` can take
the lock, snapshot the input's state and move every chunk produced but not yet
consumed into the consumer side (``produced`` and ``taken`` count elements). The state
is then "input position + those elements", and a restored iterator yields them first.

The thread starts with the first element (never when the pipeline is built or the
iterator created), is named ``datapipe-prefetch[...]-N``, and stops on ``close()``,
when the iterator is garbage collected, or when the consumer breaks out of its loop
and drops the iterator.

Example::

    >>> import datapipe as dp
    >>> [int(x) for x in dp.Dataset.range(4).map(lambda x: x * x).prefetch(2)]
    [0, 1, 4, 9]
"""

from __future__ import annotations

import collections
import itertools
import threading
import weakref
from typing import Any

import numpy as np

from datapipe._native import ring as ring_module
from datapipe._native.ring_errors import RingClosed
from datapipe.dataset.node import (
    DatasetIterator,
    DatasetNode,
    IteratorContext,
    Tunable,
    check_state,
)
from datapipe.dataset.parallelism import AUTOTUNE
from datapipe.dataset.stage_stats import now_ns
from datapipe.dataset.transformations.parallel_runner import drain_into, element_nbytes
from datapipe.errors import InvalidArgumentError, InvalidTypeError

__all__ = ["DEFAULT_AUTOTUNE_BUFFER", "MAX_AUTOTUNE_BUFFER", "PrefetchIterator",
           "check_prefetch_buffer",
           "PrefetchNode"]

#: Buffer size (elements) ``prefetch(AUTOTUNE)`` starts with.
DEFAULT_AUTOTUNE_BUFFER = 8
#: The most elements an autotuned prefetch buffers.
MAX_AUTOTUNE_BUFFER = 1024
# Ring slots of an autotuned prefetch (its chunks are buffer_size // slots elements).
_AUTOTUNE_SLOTS = 4
# Largest chunk of a fixed-size prefetch.
_FIXED_CHUNK_MAX = 64
# A starving autotuned prefetch doubles its buffer only while it holds less than this.
_SELF_GROW_BYTES = 4 << 20
# Seconds to wait for a worker to stop before giving up on it (it is a daemon thread).
_JOIN_TIMEOUT = 30.0


class _End:
    """Marks the end of the input in the ring."""


class _Raised:
    """An exception raised by the input, carried through the ring as a value."""

    __slots__ = ("exc",)

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


_END = _End()


def check_prefetch_buffer(buffer_size: Any, where: str, autotune_size: int
                          ) -> tuple[int, bool]:
    """``(size, autotuned)`` for a prefetching stage's ``buffer_size``: an int >= 0, or
    AUTOTUNE / -1 / None (as tf.data), which start at ``autotune_size``."""
    if isinstance(buffer_size, bool) or not (
            buffer_size is None or buffer_size is AUTOTUNE
            or isinstance(buffer_size, (int, np.integer))):
        raise InvalidTypeError(
            f"{where}: buffer_size must be an int or AUTOTUNE (got {buffer_size!r})")
    if buffer_size is None or buffer_size is AUTOTUNE or buffer_size == -1:
        return autotune_size, True
    if buffer_size < 0:
        raise InvalidArgumentError(
            f"{where}: buffer_size must be >= 0 or AUTOTUNE (got {buffer_size})")
    return int(buffer_size), False


class PrefetchNode(DatasetNode):
    """Runs its input ``buffer_size`` elements ahead on a background thread."""

    kind = "prefetch"

    def __init__(self, input: DatasetNode, buffer_size: Any, name: str | None = None) -> None:
        super().__init__((input,), name=name)
        #: buffer_size, and whether it is autotuned (AUTOTUNE, -1 or None, as tf.data).
        self.buffer_size, self.autotune = check_prefetch_buffer(
            buffer_size, "prefetch()", DEFAULT_AUTOTUNE_BUFFER)

    def compute_cardinality(self) -> int:
        return self.inputs[0].cardinality()

    def compute_element_spec(self) -> Any:
        return self.inputs[0].element_spec

    def make_iterator(self, ctx: IteratorContext) -> DatasetIterator:
        if self.buffer_size == 0:  # tf.data: prefetch(0) prefetches nothing
            return self.inputs[0].make_iterator(ctx)
        return PrefetchIterator(self, ctx)


def _fixed_chunk(buffer_size: int) -> int:
    return max(1, min(_FIXED_CHUNK_MAX, buffer_size // 4))


class _Worker:
    """The producer side. Holds no reference to the consumer, so the consumer can be
    garbage collected (which stops the worker through a finalizer)."""

    def __init__(self, upstream: DatasetIterator, tunable: Tunable, autotune: bool,
                 thread_name: str) -> None:
        self.upstream = upstream
        self.tunable = tunable
        self.autotune = autotune
        if autotune:
            slots = _AUTOTUNE_SLOTS
            self.chunk = 0  # re-read from tunable.buffer_size before every chunk
        else:
            self.chunk = _fixed_chunk(tunable.buffer_size)
            slots = max(1, tunable.buffer_size // self.chunk)
        self.ring = ring_module.Ring(slots)
        self.lock = threading.Lock()
        self.produced = 0  # elements (and errors) put or being put; guarded by lock
        self.stopping = False
        # Set when the consumer was collected on this worker's own thread (a GC pass
        # inside the input): the input is in use below us, so we close it on the way out.
        self.close_upstream_on_exit = False
        self.thread = threading.Thread(target=self.run, name=thread_name, daemon=True)

    def run(self) -> None:
        try:
            self._run()
        finally:
            if self.close_upstream_on_exit:
                self.upstream.close()

    def _run(self) -> None:
        upstream, ring, lock, tunable = self.upstream, self.ring, self.lock, self.tunable
        stats = tunable.stats
        next_many = upstream.next_many
        autotune = self.autotune
        size = self.chunk
        while True:
            if autotune:
                size = max(1, tunable.buffer_size // _AUTOTUNE_SLOTS)
            with lock:
                if self.stopping:
                    return
                start = now_ns()
                try:
                    item = next_many(size)
                    count = len(item)
                except BaseException as exc:  # travels to the consumer, re-raised there
                    # As a value, not put_error: the consumer must tell an element's
                    # error from a signal (Ctrl-C) raised while it waits on the ring.
                    item = _Raised(exc)
                    count = 1
                else:
                    if not count:
                        item = _END
                self.produced += count
                # Prefetch computes nothing itself: time in the input is input wait.
                stats.input_wait_ns += now_ns() - start
            if count and item.__class__ is list:
                stats.produced += count
                nbytes = element_nbytes(item[0]) * count
                stats.bytes_produced += nbytes
                tunable.element_bytes = nbytes // count
            try:
                ring.put(item)
            except RingClosed:
                return
            if item is _END:
                return
            # Hold nothing while pulling the next chunk: an error's traceback reaches
            # the consumer's frames, which must be free to go when dropped.
            item = None

    def stop(self) -> None:
        """Close the ring (waking the worker) and wait for the thread to end."""
        self.stopping = True
        self.ring.close()
        if self.thread.ident is not None and self.thread is not threading.current_thread():
            self.thread.join(_JOIN_TIMEOUT)


def _count(item: Any) -> int:
    """Elements (and errors) a ring item stands for."""
    return len(item) if item.__class__ is list else item is not _END


_from_lists = itertools.chain.from_iterable


def _take_into(dest: collections.deque, ring: Any, max_items: int) -> None:
    """``dest.extend(ring.get_many(max_items))`` with no Python frame in between, so a
    pending signal (KeyboardInterrupt) can only be raised before anything is taken
    (inside the ring's wait) or after the items are stored."""
    dest.extend(_from_lists(map(ring.get_many, (max_items,))))


def _shutdown(worker_box: list) -> None:
    """Finalizer: stop the worker and close the input. Must not reference the consumer."""
    worker = worker_box[0]
    if worker is not None:
        worker.stop()
        if worker.thread is threading.current_thread():
            worker.close_upstream_on_exit = True
        else:
            worker.upstream.close()


class PrefetchIterator(DatasetIterator):
    """The consumer side: takes chunks from the ring into a local deque.

    ``_local`` holds elements ready to return; ``_pending`` holds ring items (chunks,
    ``_Raised``, ``_END``) taken from the ring but not yet opened, in order.
    """

    def __init__(self, node: PrefetchNode, ctx: IteratorContext) -> None:
        super().__init__(node, ctx)
        upstream = node.inputs[0].make_iterator(ctx)
        self.inputs = [upstream]
        self._autotune = node.autotune
        stats = ctx.stage_stats(node)
        stats.tunable = node.autotune
        max_buffer = MAX_AUTOTUNE_BUFFER if node.autotune else node.buffer_size
        # Registered in ctx.tunables when the thread starts (AUTOTUNE only): the
        # pipeline's tuner thread starts with the first registration.
        self._tunable = Tunable(stats, 1, 1, node.buffer_size, max_buffer,
                                autotuned_buffer=node.autotune)
        self._registered = False
        self._stats = stats
        self._local: collections.deque = collections.deque()
        self._popleft = self._local.popleft
        self._pending: collections.deque = collections.deque()
        self._taken = 0   # elements (and errors) opened from _pending
        self._started = False
        self._exhausted = False
        self._box: list = [self._new_worker(upstream)]
        self._finalizer = weakref.finalize(self, _shutdown, self._box)

    def _new_worker(self, upstream: DatasetIterator) -> _Worker:
        worker = _Worker(upstream, self._tunable, self._autotune,
                         self.ctx.thread_name(self.node.stage))
        self._slots = worker.ring.capacity
        self._stats.buffer_capacity = self._tunable.buffer_size
        return worker

    def _refill(self) -> None:
        """Move at least one ring item into ``_pending`` (blocks)."""
        worker = self._box[0]
        if not self._started:
            if self.closed:
                raise StopIteration
            self._started = True
            if self._autotune and not self._registered:
                self._registered = True
                self.ctx.tunables.append(self._tunable)
            worker.thread.start()
        ring = worker.ring
        stats = self._stats
        # The ring's items go straight into ``_pending`` from C (_take_into): a Ctrl-C
        # that lands as get_many returns is raised after they are stored, not lost.
        if not len(ring):  # the consumer starves: it will wait
            if self._autotune:
                self._grow()
            start = now_ns()
            try:
                _take_into(self._pending, ring, self._slots)
            except RingClosed:
                raise StopIteration from None
            finally:
                stats.output_wait_ns += now_ns() - start
        else:
            try:
                _take_into(self._pending, ring, self._slots)
            except RingClosed:
                raise StopIteration from None
        stats.buffer_fill = len(ring)

    def _grow(self) -> None:
        tunable = self._tunable
        size = tunable.buffer_size
        if size < tunable.max_buffer_size and size * tunable.element_bytes < _SELF_GROW_BYTES:
            tunable.set_buffer_size(size * 2)
            self._stats.buffer_capacity = tunable.buffer_size

    def _open(self) -> bool:
        """Open the next pending item: elements into ``_local`` (True), or raise / end."""
        item = self._pending.popleft()
        self._taken += _count(item)
        if item.__class__ is list:
            self._local.extend(item)
            return True
        if item is _END:
            self._exhausted = True
            self._pending.clear()
            raise StopIteration
        raise item.exc

    def __next__(self) -> Any:
        try:
            return self._popleft()
        except IndexError:
            pass
        while True:
            if self._pending:
                self._open()
                return self._popleft()
            if self._exhausted:
                raise StopIteration
            self._refill()

    def next_many(self, count: int) -> list:
        out: list = []
        local = self._local
        while True:
            if drain_into(out, local, count):
                return out
            pending = self._pending
            if pending:
                if pending[0].__class__ is not list and out:
                    return out  # an error or the end: the next call meets it
                try:
                    self._open()
                except StopIteration:
                    return out
                continue
            if self._exhausted:
                return out
            try:
                self._refill()
            except StopIteration:
                return out

    def get_state(self) -> dict[str, Any]:
        worker = self._box[0]
        with worker.lock:  # the worker is not inside next_many(upstream) now
            upstream_state = worker.upstream.get_state()
            taken = self._taken + sum(_count(item) for item in self._pending)
            while taken < worker.produced:  # it may still be putting the last one
                try:
                    item = worker.ring.get()
                except RingClosed:
                    break
                taken += _count(item)
                self._pending.append(item)
        # Errors cannot be saved; a restored iterator continues after them.
        buffered = list(self._local)
        for item in self._pending:
            if item.__class__ is list:
                buffered.extend(item)
        return {"input": upstream_state, "buffer": buffered, "exhausted": self._exhausted}

    def set_state(self, state: dict[str, Any]) -> None:
        check_state(state, self.node, ("input", "buffer"))
        old = self._box[0]
        old.stop()
        upstream = old.upstream
        upstream.set_state(state["input"])
        self._box[0] = self._new_worker(upstream)
        self._started = False
        self._taken = 0
        self._exhausted = bool(state.get("exhausted", False))
        self._pending.clear()
        self._local.clear()
        self._local.extend(state["buffer"])

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self._local.clear()
        self._pending.clear()
        self._finalizer()  # stops the worker, then closes the input
