"""Deterministic InferenceIds: the same record gets the same id on retry, replay and rerun.

id = "<namespace>-<32 hex of blake2b(namespace, key columns)>", at most 64
printable ASCII characters, as the InferenceId header allows.
"""

from __future__ import annotations

import hashlib

import pyarrow as pa
import pyarrow.compute as pc

_SEPARATOR = "\x1f"


def record_ids(table: pa.Table, key_columns: list[str], namespace: str) -> pa.Array:
    """One id per row from the values of ``key_columns`` (nulls hash as empty)."""
    if table.num_rows == 0:
        return pa.array([], pa.string())
    parts = [pc.fill_null(pc.cast(table.column(c), pa.string()), "") for c in key_columns]
    joined = parts[0] if len(parts) == 1 else pc.binary_join_element_wise(*parts, _SEPARATOR)
    salt = namespace.encode()
    prefix = namespace + "-"
    return pa.array(
        [prefix + hashlib.blake2b(k.encode(), digest_size=16, key=salt[:64]).hexdigest() for k in joined.to_pylist()],
        pa.string(),
    )


def batch_id(ids: list[str], namespace: str) -> str:
    """The request-level id of a multi-record request: a digest of its records' ids."""
    digest = hashlib.blake2b(digest_size=16, key=namespace.encode()[:64])
    for record_id in ids:
        digest.update(record_id.encode())
        digest.update(b"\n")
    return f"{namespace}-b{digest.hexdigest()}"[:64]
