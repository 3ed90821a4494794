"""Many Arrow strings as one newline-delimited buffer: request bodies, JSON Lines, Kafka values."""

from __future__ import annotations

import itertools

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


def _data(values: pa.Array) -> tuple[bytes, np.ndarray]:
    """A string or binary array's values back to back (one copy), and the n + 1 offsets (from 0)."""
    large = pa.types.is_large_binary(values.type) or pa.types.is_large_string(values.type)
    offsets = np.frombuffer(values.buffers()[1], dtype=np.int64 if large else np.int32)
    offsets = offsets[values.offset : values.offset + len(values) + 1]
    data = values.buffers()[2]
    if data is None or not len(values):
        return b"", np.zeros(len(values) + 1, np.int64)
    start = int(offsets[0])
    return data.slice(start, int(offsets[-1]) - start).to_pybytes(), (offsets - start).astype(np.int64)


def newline_delimited(values: pa.Array, separator: bytes = b"\n") -> tuple[bytes, np.ndarray]:
    """Each value followed by ``separator``, back to back, and the n + 1 offsets where values start (from 0).

    ``values`` is a string or binary array (large or not) without nulls. The joined array's
    data buffer already holds the lines in order, so only the final bytes are copied.
    """
    return _data(pc.binary_join_element_wise(values, pa.scalar(b"", values.type), pa.scalar(separator, values.type)))


def values_as_bytes(values: pa.Array) -> list[bytes | None]:
    """A string or binary array's values as Python bytes: slices of one copy of the data buffer,
    far cheaper than ``to_pylist()``, which boxes each value as an Arrow scalar first."""
    if values.null_count or not len(values):
        return values.cast(pa.binary()).to_pylist()
    data, offsets = _data(values)
    return [data[a:b] for a, b in itertools.pairwise(offsets.tolist())]
