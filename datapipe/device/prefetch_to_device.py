"""``prefetch_to_device(device, buffer_size=1)``: batches land on the device ahead of use.

Apply it last (``ds.apply(prefetch_to_device("gpu"))``, or the façade's
``ds.prefetch_to_device("gpu")``): it is the hand-off from the input pipeline to the
training step.

On a GPU, a background thread (``datapipe-prefetch_to_device[gpu:N]-K``) pulls each
element from the input, stages it into a pinned host buffer reused across batches
(:mod:`datapipe.device.staging`) and copies it with one ``cudaMemcpyAsync`` on its own
*non-blocking* stream (one that does not synchronize with the legacy default stream).
An event recorded after that copy travels with the element; ``__next__`` makes the
consumer's current stream wait for it (``stream.wait_event``, no host wait), so the
copy of batch k+1 runs on the copy engine while the consumer's kernels run on batch k.
Up to ``buffer_size`` copied batches wait in the queue, plus one being copied.

Memory safety across the two streams: a batch's device memory is allocated in the
*consumer's* stream arena of CuPy's memory pool, so once the consumer drops a batch,
only work ordered on the consumer stream can reuse it. The copy stream writes into it,
so before each copy it waits for an event recorded on the consumer stream when the
block was allocated: memory the consumer freed can never be overwritten while kernels
it queued earlier still read it. (Because the copy for batch k+1 is issued when
batch k-1 is handed over, this wait does not cost the overlap.) If you compute on
other streams than the one current when you call ``next``, order them yourself.

On the CPU nothing is copied: the transformation is a ``prefetch(buffer_size)`` (the
same thread, bounds and state), so a training loop can always end its pipeline with
``prefetch_to_device(device)`` and pick the device at run time. Copying into reused
host buffers would only add a copy, and would overwrite batches the consumer still
holds.

Resume: the state is the prefetch's — the input's position plus the host values of the
elements taken from the input but not yet returned (being copied, or waiting on the
device), ``{"input", "buffer", "exhausted"}`` in both modes, so a checkpoint saved on a
GPU machine resumes on a CPU-only one and back. A restored iterator copies the buffered
elements again before reading its input.

Differences from ``tf.data.experimental.prefetch_to_device``: the cardinality is the
input's (tf reports UNKNOWN, an artifact of its implementation); asking for a GPU where
there is none is an error (tf silently runs on the CPU); ``buffer_size`` 0 means 1 on
a GPU (the lookahead is the point) and no prefetch on the CPU, as in tf.

Example::

    >>> import datapipe as dp
    >>> from datapipe.device import prefetch_to_device
    >>> ds = dp.Dataset.range(6).batch(2).apply(prefetch_to_device("cpu"))
    >>> [b.tolist() for b in ds]
    [[0, 1], [2, 3], [4, 5]]
"""

from __future__ import annotations

import collections
import contextlib
import threading
import weakref
from collections.abc import Callable
from typing import Any

from datapipe.dataset.node import (
    DatasetIterator,
    DatasetNode,
    IteratorContext,
    as_node,
    check_state,
    wrap_node,
)
from datapipe.dataset.transformations.prefetch import (
    DEFAULT_AUTOTUNE_BUFFER,
    PrefetchIterator,
    check_prefetch_buffer,
)
from datapipe.device.copy import stage_and_copy
from datapipe.device.devices import Device, check_available, cupy_module, parse_device
from datapipe.device.staging import StagingPool, spec_nbytes
from datapipe.errors import FailedPreconditionError

__all__ = ["PrefetchToDeviceIterator", "PrefetchToDeviceNode", "prefetch_to_device"]

#: Device batches a GPU prefetch with ``buffer_size=AUTOTUNE`` keeps ready.
GPU_AUTOTUNE_BUFFER = 2
# Pinned staging buffers per running iterator: one being written while the previous
# one's copy runs; a third gives slack when the host side is bursty.
_STAGING_BUFFERS = 3
# Seconds to wait for a worker to stop before giving up on it (it is a daemon thread).
_JOIN_TIMEOUT = 30.0
# The consumer re-checks the worker's health this often while waiting.
_POLL = 0.5


class PrefetchToDeviceNode(DatasetNode):
    """Copies its input's elements to ``device``, ``buffer_size`` elements ahead."""

    kind = "prefetch_to_device"

    def __init__(self, input: DatasetNode, device: str | Device, buffer_size: Any = 1,
                 name: str | None = None) -> None:
        super().__init__((input,), name=name)
        what = "prefetch_to_device()"
        self.device = parse_device(device, what)
        #: Elements buffered ahead (on a GPU: copied batches waiting, at least 1), and
        #: whether that size is automatic (AUTOTUNE, -1 or None, as tf.data).
        self.buffer_size, self.autotune = check_prefetch_buffer(
            buffer_size, what,
            GPU_AUTOTUNE_BUFFER if self.device.is_gpu else DEFAULT_AUTOTUNE_BUFFER)
        # Fail when the pipeline is built, not at its first batch: a clear error early.
        check_available(self.device, what)

    def stage_label(self) -> str | None:
        return self.name if self.name is not None else str(self.device)

    def compute_cardinality(self) -> int:
        return self.inputs[0].cardinality()

    def compute_element_spec(self) -> Any:
        # Host spec of the leaves (on a GPU, CuPy arrays of the same shapes and dtypes).
        return self.inputs[0].element_spec

    def make_iterator(self, ctx: IteratorContext) -> DatasetIterator:
        if not self.device.is_gpu:
            if self.buffer_size == 0:  # tf.data: prefetch(0) prefetches nothing
                return self.inputs[0].make_iterator(ctx)
            # A plain prefetch: it reads only inputs, autotune, buffer_size and stage.
            return PrefetchIterator(self, ctx)  # type: ignore[arg-type]
        return PrefetchToDeviceIterator(self, ctx)


def prefetch_to_device(device: str | Device, buffer_size: Any = 1) -> Callable[[Any], Any]:
    """A ``Dataset.apply`` transformation copying elements to ``device`` ahead of use.

    ``tf.data.experimental.prefetch_to_device``'s signature; see the module docstring.
    The device is checked when the transformation is applied.
    """
    parse_device(device, "prefetch_to_device()")  # a bad name fails here, not at apply

    def _apply(dataset: Any) -> Any:
        return wrap_node(PrefetchToDeviceNode(as_node(dataset, "prefetch_to_device() input"),
                                              device, buffer_size))

    return _apply


# ----------------------------------------------------------------------------- GPU side


class _Ready:
    """A copied element and the event its consumer must wait for (None: nothing copied)."""

    __slots__ = ("element", "event")

    def __init__(self, element: Any, event: Any) -> None:
        self.element = element
        self.event = event


class _Raised:
    """An exception for the consumer; ``taken`` when it replaces an element of ``ahead``
    (the element's copy failed), so the consumer drops that element from the state."""

    __slots__ = ("exc", "taken")

    def __init__(self, exc: BaseException, taken: bool) -> None:
        self.exc = exc
        self.taken = taken


_END = object()


class _DeviceWorker:
    """The producer thread. Holds no reference to the consumer (so that one can be
    garbage collected, which stops this through a finalizer)."""

    def __init__(self, upstream: DatasetIterator, device: Device, capacity: int,
                 pool: StagingPool, thread_name: str, replay: list) -> None:
        self.upstream = upstream
        self.device = device
        self.capacity = max(1, capacity)
        self.pool = pool
        #: Held while touching ``upstream``, ``ahead`` and ``replay`` (get_state takes it).
        self.lock = threading.Lock()
        #: Guards ``ready``; the consumer waits on it for items, the worker for room.
        self.cond = threading.Condition()
        self.ready: collections.deque = collections.deque()
        #: Host values of the elements taken from upstream/replay but not yet returned.
        self.ahead: collections.deque = collections.deque()
        #: Restored elements (from a state) to copy before reading upstream.
        self.replay: collections.deque = collections.deque(replay)
        #: The consumer's current stream, updated by the consumer at every ``next``.
        self.consumer_stream: Any = None
        #: The non-blocking stream the copies run on (created by the thread).
        self.copy_stream: Any = None
        self.stopping = False
        self.thread = threading.Thread(target=self.run, name=thread_name, daemon=True)

    def run(self) -> None:
        try:
            cupy = cupy_module("prefetch_to_device()")
            with cupy.cuda.Device(self.device.index):
                self.copy_stream = cupy.cuda.Stream(non_blocking=True)
                self._loop(cupy)
        except BaseException as exc:  # set-up failure (CUDA): report it, then end
            self._put(_Raised(exc, taken=False))
            self._put(_END)

    def _loop(self, cupy: Any) -> None:
        upstream, pool, copy_stream = self.upstream, self.pool, self.copy_stream
        while True:
            with self.lock:
                if self.stopping:
                    return
                if self.replay:
                    host = self.replay.popleft()
                    self.ahead.append(host)
                    item = None
                else:
                    try:
                        host = upstream.__next__()
                    except StopIteration:
                        item = _END
                    except BaseException as exc:  # travels to the consumer, raised there
                        item = _Raised(exc, taken=False)
                    else:
                        self.ahead.append(host)
                        item = None
            if item is None:
                try:
                    element, event = stage_and_copy(cupy, host, pool, self.consumer_stream,
                                                    copy_stream)
                    item = _Ready(element, event)
                except BaseException as exc:  # a failed copy (out of memory...)
                    item = _Raised(exc, taken=True)
            host = None
            if not self._put(item) or item is _END:
                return
            # Hold nothing while pulling the next one: a consumer that drops its batch
            # must free it, and an error's traceback must not pin its frames.
            item = element = event = None

    def _put(self, item: Any) -> bool:
        """Queue ``item`` once there is room; False if stopping."""
        cond = self.cond
        with cond:
            while len(self.ready) >= self.capacity and not self.stopping:
                cond.wait()
            if self.stopping:
                return False
            self.ready.append(item)
            cond.notify_all()
        return True

    def stop(self) -> None:
        """Make the thread end (after its current element) and wait for it."""
        self.stopping = True
        with self.cond:
            self.cond.notify_all()
        if self.thread.ident is not None and self.thread is not threading.current_thread():
            self.thread.join(_JOIN_TIMEOUT)
        self.ready.clear()


def _shutdown(box: list, pool: StagingPool) -> None:
    """Finalizer: stop the worker, close the input, free pinned buffers."""
    worker = box[0]
    if worker is not None:
        worker.stop()
        worker.upstream.close()
    # At interpreter exit CUDA may be torn down already: then there is nothing to wait for.
    with contextlib.suppress(Exception):
        pool.close()


def _known_nbytes(node: DatasetNode) -> int:
    """Staging size from ``node``'s element spec when it is known already (an earlier
    ``element_spec`` call computed it); 0 otherwise: the pool then sizes itself from the
    first element. Never starts a probe run of the input just to size a buffer."""
    if not node._element_spec_known:
        return 0
    return spec_nbytes(node.element_spec) or 0


class PrefetchToDeviceIterator(DatasetIterator):
    """The consumer side on a GPU: returns copied elements, ordering its stream after
    their copies."""

    def __init__(self, node: PrefetchToDeviceNode, ctx: IteratorContext) -> None:
        super().__init__(node, ctx)
        upstream = node.inputs[0].make_iterator(ctx)
        self.inputs = [upstream]
        self._cupy = cupy_module("prefetch_to_device()")
        self._device = node.device
        self._capacity = max(1, node.buffer_size)
        self.pool = StagingPool(self._cupy, _STAGING_BUFFERS, _known_nbytes(node.inputs[0]))
        self._started = False
        self._exhausted = False
        self._box: list = [self._new_worker(upstream, [])]
        self._finalizer = weakref.finalize(self, _shutdown, self._box, self.pool)

    def _new_worker(self, upstream: DatasetIterator, replay: list) -> _DeviceWorker:
        return _DeviceWorker(upstream, self._device, self._capacity, self.pool,
                             self.ctx.thread_name(self.node.stage), replay)

    @property
    def copy_stream(self) -> Any:
        """The worker's non-blocking copy stream (None before the first element)."""
        return self._box[0].copy_stream

    def __next__(self) -> Any:
        if self._exhausted or self.closed:
            raise StopIteration
        cupy = self._cupy
        worker = self._box[0]
        with cupy.cuda.Device(self._device.index):
            stream = cupy.cuda.get_current_stream()
            worker.consumer_stream = stream
            if not self._started:
                self._started = True
                worker.thread.start()
            cond = worker.cond
            with cond:
                while not worker.ready:
                    cond.wait(_POLL)
                    if not worker.ready and not worker.thread.is_alive():
                        raise FailedPreconditionError(
                            f"{self.node.stage}: the copy thread ended unexpectedly")
                item = worker.ready.popleft()
                cond.notify_all()
            if item.__class__ is _Ready:
                worker.ahead.popleft()
                if item.event is not None:
                    stream.wait_event(item.event)
                return item.element
        if item is _END:
            self._exhausted = True
            raise StopIteration
        if item.taken:
            worker.ahead.popleft()
        raise item.exc

    def get_state(self) -> dict[str, Any]:
        worker = self._box[0]
        with worker.lock:  # the worker is not between upstream and ahead now
            upstream_state = worker.upstream.get_state()
            buffered = list(worker.ahead) + list(worker.replay)
        return {"input": upstream_state, "buffer": buffered, "exhausted": self._exhausted}

    def set_state(self, state: dict[str, Any]) -> None:
        check_state(state, self.node, ("input", "buffer"))
        old = self._box[0]
        old.stop()
        upstream = old.upstream
        upstream.set_state(state["input"])
        self._box[0] = self._new_worker(upstream, list(state["buffer"]))
        self._started = False
        self._exhausted = bool(state.get("exhausted", False))

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self._finalizer()  # stops the worker, closes the input, frees pinned memory
