"""The request plan of one Arrow batch: records encoded once, their InferenceIds, and request ranges.

A request is a contiguous range of the batch within ``max_records`` and ``max_payload_bytes``;
records whose per-record InvokeEndpoint fields differ never share one, and a record the
serializer refused (or that has no id) stands in a range of its own and is never sent.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from transforms.codecs.requests import EncodedRecords, encode
from transforms.core.ids import batch_id, record_ids
from transforms.core.settings import InvokeSettings

Range = tuple[int, int]


@dataclass(frozen=True)
class EncodeFailed:
    """The serializer could not encode the batch at all; every record is refused with ``reason``."""

    reason: str


@dataclass(frozen=True, kw_only=True)
class BatchPlan:
    """A batch ready to invoke. ``refused`` holds records never sent (the encoder's, and those without an id)."""

    table: pa.Table
    passthrough: pa.Table
    ids: pa.Array
    encoded: EncodedRecords | EncodeFailed
    ranges: list[Range]
    refused: dict[int, str]

    def refusal(self, start: int) -> str | None:
        """Why the range starting at ``start`` is not sent, or None (a refused record is alone in its range)."""
        if isinstance(self.encoded, EncodeFailed):
            return self.encoded.reason
        return self.refused.get(start)

    def payloads(self, start: int, stop: int) -> list[bytes]:
        """Each record's own body, for its dead letter; empty for a record never encoded."""
        encoded = self.encoded
        if isinstance(encoded, EncodeFailed):
            return [b""] * (stop - start)
        return [b"" if i in encoded.refused else encoded.record(i) for i in range(start, stop)]


def runs_of_equal_rows(table: pa.Table, columns: list[str]) -> list[Range]:
    """[start, stop) ranges of consecutive rows with equal values in ``columns`` (null equals null)."""
    n = table.num_rows
    if not columns or n < 2:
        return [(0, n)]
    change = np.zeros(n - 1, dtype=bool)
    for name in columns:
        values = table.column(name).combine_chunks()
        before, after = values.slice(0, n - 1), values.slice(1)
        differ = pc.fill_null(pc.not_equal(before, after), False)
        one_null = pc.xor(pc.is_null(before), pc.is_null(after))
        change |= pc.or_(differ, one_null).to_numpy(zero_copy_only=False)
    bounds = [0, *(np.flatnonzero(change) + 1).tolist(), n]
    return list(itertools.pairwise(bounds))


def apart(ranges: list[Range], refused: dict[int, str]) -> list[Range]:
    """The request ranges with each refused record taken out into a range of its own, never sent."""
    if not refused:
        return ranges
    out: list[Range] = []
    for start, stop in ranges:
        for row in sorted(r for r in refused if start <= r < stop):
            if start < row:
                out.append((start, row))
            out.append((row, row + 1))
            start = row + 1
        if start < stop:
            out.append((start, stop))
    return out


class BatchPlanner:
    """Plans the requests of each batch under one job's invoke settings."""

    def __init__(self, settings: InvokeSettings, key_columns: list[str]) -> None:
        self.settings = settings
        self.key_columns = settings.id_columns or key_columns
        self.per_record = settings.fields.per_record_columns()

    def plan(self, table: pa.Table) -> BatchPlan:
        if self.per_record:
            table = table.sort_by([(c, "ascending") for c in self.per_record.values()])
        passthrough = table.select(self.settings.passthrough_columns)
        ids, missing = self._ids(table)
        try:
            encoded = encode(table, self.settings)
        except (ValueError, pa.ArrowException) as exc:
            failed = EncodeFailed(f"cannot encode records: {exc}")
            return BatchPlan(
                table=table, passthrough=passthrough, ids=ids, encoded=failed, ranges=[(0, table.num_rows)], refused={}
            )
        refused = {**missing, **encoded.refused}
        ranges = apart(self._ranges(table, encoded), refused)
        return BatchPlan(table=table, passthrough=passthrough, ids=ids, encoded=encoded, ranges=ranges, refused=refused)

    def request_id(self, plan: BatchPlan, start: int, stop: int) -> str:
        """The record's own id for one record; a batch id naming the range for several."""
        first = plan.ids[start].as_py()
        if stop - start == 1:
            return str(first)
        return batch_id(first, plan.ids[stop - 1].as_py(), stop - start, self.settings.id_namespace)

    def overrides(self, plan: BatchPlan, start: int) -> dict[str, str]:
        """The per-record InvokeEndpoint fields of a range (equal over it: see :func:`runs_of_equal_rows`)."""
        return {
            param: value
            for param, col in self.per_record.items()
            if (value := plan.table.column(col)[start].as_py()) is not None
        }

    def _ids(self, table: pa.Table) -> tuple[pa.Array, dict[int, str]]:
        """Each record's InferenceId, and the records that have none (a null in ``inference_id_column``)."""
        column = self.settings.inference_id_column
        if not column:
            return record_ids(table, self.key_columns, self.settings.id_namespace), {}
        ids = table.column(column).combine_chunks().cast(pa.string())
        missing = pc.indices_nonzero(ids.is_null()).to_pylist() if ids.null_count else []
        return pc.fill_null(ids, ""), dict.fromkeys(missing, f"inference_id_column {column!r} holds no id")

    def _ranges(self, table: pa.Table, encoded: EncodedRecords) -> list[Range]:
        """Contiguous request ranges within max_records, max_payload_bytes and per-record field groups."""
        limit = self.settings.max_payload_bytes - len(encoded.prefix) - len(encoded.suffix)
        per_request = self.settings.records_per_request
        ranges: list[Range] = []
        for group_start, group_stop in runs_of_equal_rows(table, list(self.per_record.values())):
            start = group_start
            while start < group_stop:
                stop = min(start + per_request, group_stop)
                fits = (
                    int(np.searchsorted(encoded.offsets, encoded.offsets[start] + limit + encoded.trim, side="right"))
                    - 1
                )
                stop = max(start + 1, min(stop, fits))
                ranges.append((start, stop))
                start = stop
        return ranges
