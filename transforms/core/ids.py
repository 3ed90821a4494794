"""Deterministic InferenceIds: the same record gets the same id on retry, replay and rerun.

id = "<namespace>-<32 hex digits>": a 128-bit hash of the record's key columns, seeded by the
namespace; at most 64 printable ASCII characters, as the InferenceId header allows.

The hash runs over a whole Arrow batch at once in NumPy (two independent 64-bit FNV-1a lanes,
each finished with the splitmix64 mixer), because a per-row Python hash would be the largest cost on
the hot path. It identifies records; it is not meant to resist an adversary.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

_SEPARATOR = "\x1f"
_FNV_PRIME = np.uint64(0x100000001B3)
_M1, _M2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)
# Byte value -> its two hex digits, as the two bytes of one uint16 (one lookup per byte).
_HEX_PAIRS = np.frombuffer("".join(f"{b:02x}" for b in range(256)).encode(), dtype=np.uint16)


def _seeds(namespace: str) -> tuple[np.uint64, np.uint64]:
    digest = hashlib.blake2b(namespace.encode(), digest_size=16).digest()
    return np.uint64(int.from_bytes(digest[:8], "big")), np.uint64(int.from_bytes(digest[8:], "big"))


def _mix(h: np.ndarray) -> np.ndarray:
    h = (h ^ (h >> np.uint64(30))) * _M1
    h = (h ^ (h >> np.uint64(27))) * _M2
    return h ^ (h >> np.uint64(31))


def _hash128(keys: pa.Array, namespace: str) -> np.ndarray:
    """(n, 2) uint64: per row, two FNV-1a lanes over the key's bytes, seeded and finished per lane."""
    n = len(keys)
    offsets = np.frombuffer(keys.buffers()[1], dtype=np.int32, count=n + 1, offset=keys.offset * 4).astype(np.int64)
    data_buffer = keys.buffers()[2]
    data = np.frombuffer(data_buffer, dtype=np.uint8) if data_buffer is not None else np.zeros(1, np.uint8)
    if data.size == 0:
        data = np.zeros(1, np.uint8)
    starts, lengths = offsets[:-1], offsets[1:] - offsets[:-1]
    seed_a, seed_b = _seeds(namespace)
    lanes: np.ndarray = np.empty((n, 2), dtype=np.uint64)
    lanes[:, 0], lanes[:, 1] = seed_a, seed_b
    with np.errstate(over="ignore"):
        for pos in range(int(lengths.max(initial=0))):
            active = lengths > pos
            byte = data[np.minimum(starts + pos, data.size - 1)].astype(np.uint64)[:, None]
            lanes = np.where(active[:, None], (lanes ^ byte) * _FNV_PRIME, lanes)
        lanes ^= lengths.astype(np.uint64)[:, None]
        return _mix(lanes)


def _hex_ids(lanes: np.ndarray, namespace: str) -> pa.Array:
    """``<namespace>-<32 hex digits>`` per row, written straight into one fixed-width byte matrix."""
    n = len(lanes)
    prefix = np.frombuffer(f"{namespace}-".encode(), dtype=np.uint8)
    digits = lanes.astype(">u8").view(np.uint8).reshape(n, 16)
    start, width = len(prefix), len(prefix) + 32
    cells = np.empty((n, width), dtype=np.uint8)
    cells[:, :start] = prefix
    cells[:, start:] = _HEX_PAIRS[digits].view(np.uint8)
    offsets = np.arange(0, width * n + 1, width, dtype=np.int32)
    return pa.Array.from_buffers(pa.string(), n, [None, pa.py_buffer(offsets), pa.py_buffer(cells)])


def record_ids(table: pa.Table, key_columns: list[str], namespace: str) -> pa.Array:
    """One id per row from the values of ``key_columns`` (nulls hash as empty)."""
    if table.num_rows == 0:
        return pa.array([], pa.string())
    parts = [pc.fill_null(pc.cast(table.column(c), pa.string()), "") for c in key_columns]
    joined = parts[0] if len(parts) == 1 else pc.binary_join_element_wise(*parts, _SEPARATOR)
    keys = joined.combine_chunks() if isinstance(joined, pa.ChunkedArray) else joined
    return _hex_ids(_hash128(keys.cast(pa.string()), namespace), namespace)


def batch_id(first_id: str, last_id: str, records: int, namespace: str) -> str:
    """The request-level id of a multi-record request: its first and last record ids and its size.

    Requests are contiguous ranges of a deterministic batch, so these three name the range.
    """
    digest = hashlib.blake2b(f"{first_id}\n{last_id}\n{records}".encode(), digest_size=16, key=namespace.encode()[:64])
    return f"{namespace}-b{digest.hexdigest()}"[:64]
