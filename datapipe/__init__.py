"""datapipe: a streaming input-pipeline engine for Python with tf.data's API.

Example::

    >>> import datapipe as dp
    >>> ds = dp.Dataset.range(8).shuffle(8, seed=0).map(lambda x: x * 2).batch(4)
    >>> [b.shape for b in ds]
    [(4,), (4,)]
"""

from datapipe import device, errors, execute, image, io, memory, state, testing
from datapipe.dataset.dataset import Dataset
from datapipe.dataset.iterator import Iterator
from datapipe.dataset.node import INFINITE as INFINITE_CARDINALITY, UNKNOWN as UNKNOWN_CARDINALITY
from datapipe.dataset.optional import Optional
from datapipe.dataset.parallelism import AUTOTUNE
from datapipe.dataset.sources.fixed_length import FixedLengthRecordDataset
from datapipe.dataset.sources.text_line import TextLineDataset
from datapipe.dataset.sources.tfrecord import TFRecordDataset
from datapipe.options import AutotuneOptions, OptimizationOptions, Options, ThreadingOptions
from datapipe.structure.convert import STRING as string  # noqa: N811 (tf.string spelling)
from datapipe.structure.spec import TensorSpec

__version__ = "0.1.0"

__all__ = [
    "AUTOTUNE",
    "AutotuneOptions",
    "INFINITE_CARDINALITY",
    "UNKNOWN_CARDINALITY",
    "Dataset",
    "FixedLengthRecordDataset",
    "Iterator",
    "OptimizationOptions",
    "Optional",
    "Options",
    "TFRecordDataset",
    "TensorSpec",
    "TextLineDataset",
    "ThreadingOptions",
    "__version__",
    "device",
    "errors",
    "execute",
    "image",
    "io",
    "memory",
    "state",
    "string",
    "testing",
]
