"""Request bodies: a batch's records encoded once, vectorised over Arrow.

A batch is encoded once into one buffer with per-record offsets; a request body
is a slice of it, and a record's own payload (for its dead letter) is only cut
out when needed. No per-row Python objects on the happy path for CSV.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from transforms.codecs.arrow_lines import newline_delimited
from transforms.codecs.json_rows import json_arrays
from transforms.core.settings import InvokeSettings

_NEWLINE = ord("\n")
_NO_POSITIONS = pa.array([], pa.int64())
_COMMA = ord(",")


@dataclass(frozen=True, kw_only=True)
class EncodedRecords:
    """Records laid end to end: record ``i`` is ``buffer[offsets[i]:offsets[i + 1]]``."""

    buffer: bytes | bytearray  # bodies are cut from it as bytes
    offsets: np.ndarray  # int64, len = records + 1
    prefix: bytes = b""
    suffix: bytes = b""
    trim: int = 0  # bytes dropped from the end of a joined slice (a trailing separator)
    refused: dict[int, str] = field(default_factory=dict)  # rows the serializer cannot carry -> why

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def body(self, start: int, stop: int) -> bytes:
        end = int(self.offsets[stop]) - self.trim
        return b"".join((self.prefix, memoryview(self.buffer)[int(self.offsets[start]) : end], self.suffix))

    def body_size(self, start: int, stop: int) -> int:
        return int(self.offsets[stop] - self.offsets[start]) - self.trim + len(self.prefix) + len(self.suffix)

    def record(self, i: int) -> bytes:
        """One record alone, as it would be sent in a single-record request."""
        return self.body(i, i + 1)


def _line_offsets(buffer: bytes | bytearray, expected: int) -> np.ndarray:
    ends = np.flatnonzero(np.frombuffer(buffer, dtype=np.uint8) == _NEWLINE) + 1
    if len(ends) != expected:
        raise ValueError(f"encoded {len(ends)} lines for {expected} records; a feature value contains a newline")
    return np.concatenate(([0], ends)).astype(np.int64)


def _finite_float_matrix(table: pa.Table) -> np.ndarray | None:
    """The table as one row-major float64 matrix, when every column is float64, null-free and finite."""
    if not all(pa.types.is_float64(c.type) and not c.null_count for c in table.columns):
        return None
    # The values buffers as they are: to_numpy() would first try to import pandas (see json_rows._text).
    arrays = [c.combine_chunks() for c in table.columns]
    matrix = np.column_stack([np.frombuffer(a.buffers()[1], np.float64, len(a), a.offset * 8) for a in arrays])
    return matrix if np.isfinite(matrix).all() else None


def _float_csv(matrix: np.ndarray) -> tuple[bytearray, np.ndarray]:
    """Finite float64 rows as CSV lines, numbers in their shortest round-trip form, and the lines' offsets.

    One orjson call formats every value as one flat JSON array, faster than Arrow's CSV writer
    (BENCHMARKS.md); the commas that end a row then become line breaks in place, and their positions are
    the line offsets, so the buffer is neither searched again nor copied per row.
    """
    rows, width = matrix.shape
    if not rows:
        return bytearray(), np.zeros(1, np.int64)
    flat = orjson.dumps(matrix.ravel(), option=orjson.OPT_SERIALIZE_NUMPY)
    text = bytearray(memoryview(flat)[1:])  # "[" dropped; the closing "]" becomes the last line's break
    del flat
    cells = np.frombuffer(text, np.uint8)
    ends = np.flatnonzero(cells == _COMMA)[width - 1 :: width]
    cells[ends] = _NEWLINE
    cells[-1] = _NEWLINE
    offsets = np.empty(rows + 1, np.int64)
    offsets[0], offsets[1:rows], offsets[rows] = 0, ends + 1, len(text)
    return text, offsets


def _csv_text(table: pa.Table) -> tuple[bytes, dict[int, str]]:
    """One CSV line per row through Arrow's writer (any type, nulls, NaN/inf), no header; and the refused rows.

    Text that CSV cannot carry unquoted (a comma, quote or line break; bytes that are not UTF-8) refuses
    its row alone: the row is written empty and never sent.
    """
    refused: dict[int, str] = {}
    columns = []
    for name, column in zip(table.column_names, table.columns, strict=True):
        values = _as_text(column.combine_chunks(), name, refused)
        if pa.types.is_string(values.type) or pa.types.is_large_string(values.type):
            unsafe = pc.fill_null(pc.match_substring_regex(values, r'[,"\r\n]'), False)
            for row in pc.indices_nonzero(unsafe).to_pylist():
                refused.setdefault(row, f"feature {name!r} holds a comma, quote or line break: CSV cannot carry it")
            values = pc.if_else(unsafe, pa.scalar("", values.type), values)
        columns.append(values)
    out = io.BytesIO()
    options = pacsv.WriteOptions(include_header=False, quoting_style="none")
    pacsv.write_csv(pa.Table.from_arrays(columns, names=table.column_names), out, write_options=options)
    return out.getvalue(), refused


def _as_text(values: pa.Array, name: str, refused: dict[int, str]) -> pa.Array:
    """Binary features as UTF-8 text (a value that is not UTF-8 refuses its row); other columns as they are."""
    if pa.types.is_dictionary(values.type):
        values = values.dictionary_decode()
    if not (pa.types.is_binary(values.type) or pa.types.is_large_binary(values.type)):
        return values
    try:
        return values.cast(pa.string())
    except pa.ArrowInvalid:  # rare: find the rows that are not UTF-8
        texts: list[str | None] = []
        for row, value in enumerate(values.to_pylist()):
            try:
                texts.append(None if value is None else value.decode("utf-8"))
            except UnicodeDecodeError:
                refused.setdefault(row, f"feature {name!r} is not UTF-8 text")
                texts.append("")
        return pa.array(texts, pa.string())


def _json_rows(table: pa.Table) -> tuple[pa.Array, dict[int, str]]:
    """Each row's features as a JSON array (text quoted and escaped, a null as ``null``), and the
    refused rows: NaN and infinities, in a float column or nested in a list, map or struct, which JSON
    cannot carry (``null`` would change the record)."""
    refused: dict[int, str] = {}
    columns = []
    for name, column in zip(table.column_names, table.columns, strict=True):
        values = _as_text(column.combine_chunks(), name, refused)
        for row in _non_finite_rows(values):
            refused.setdefault(row, f"feature {name!r} holds NaN or infinity: JSON cannot carry it")
        columns.append(values)
    return json_arrays(columns), refused


def _non_finite_rows(values: pa.Array) -> list[int]:
    """Rows holding NaN or an infinity anywhere in them: a float, or one nested in lists, maps, structs."""
    return pc.unique(_non_finite_positions(values)).to_pylist()


def _non_finite_positions(values: pa.Array) -> pa.Array:
    """Positions (int64) of ``values`` with a NaN or an infinity at any depth; a null value holds none."""
    kind = values.type
    if pa.types.is_floating(kind):
        return pc.indices_nonzero(pc.invert(pc.fill_null(pc.is_finite(values), True))).cast(pa.int64())
    if pa.types.is_struct(kind):
        inner = [_non_finite_positions(field) for field in values.flatten()]  # flatten() applies the struct's nulls
        return pa.concat_arrays(inner) if inner else _NO_POSITIONS
    if pa.types.is_map(kind):  # Arrow's list kernels abort the process on a map: read it as a list of entries
        lists = pa.ListArray.from_arrays(values.offsets, values.values)
    elif pa.types.is_list(kind) or pa.types.is_large_list(kind) or pa.types.is_fixed_size_list(kind):
        lists = values
    else:
        return _NO_POSITIONS
    found = pc.take(pc.list_parent_indices(lists), _non_finite_positions(pc.list_flatten(lists))).cast(pa.int64())
    return pc.filter(found, pc.take(values.is_valid(), found))  # entries under a null map are not sent


def encode(table: pa.Table, settings: InvokeSettings) -> EncodedRecords:
    """Encode every record of ``table`` with the configured serializer."""
    n = table.num_rows
    if settings.serializer == "raw":
        return _encode_raw(table.column(settings.raw_column))
    features = table.select(settings.feature_columns)
    matrix = _finite_float_matrix(features)
    if settings.serializer == "csv" or matrix is not None:
        csv: bytes | bytearray
        refused: dict[int, str] = {}
        if matrix is not None:
            csv, offsets = _float_csv(matrix)
        else:
            csv, refused = _csv_text(features) if n else (b"", {})
            offsets = _line_offsets(csv, n)
        if settings.serializer == "csv":
            return EncodedRecords(buffer=csv, offsets=offsets, refused=refused)
        # Finite float64 features: the JSON forms wrap each CSV line in brackets, two more bytes per
        # record, by one replace over the whole buffer ("a\nb\n" -> "[a],[b],[") instead of a row each.
        wrapped = offsets + 2 * np.arange(n + 1, dtype=np.int64)
        separator = b"],[" if settings.serializer == "json" else b"]\n["
        rows = b"[" + csv.replace(b"\n", separator)[:-1] if n else b""
    else:
        arrays, refused = _json_rows(features)
        rows, wrapped = newline_delimited(arrays, b"," if settings.serializer == "json" else b"\n")
    if settings.serializer == "json":
        return EncodedRecords(
            buffer=rows, offsets=wrapped, prefix=b'{"instances": [', suffix=b"]}", trim=1, refused=refused
        )
    return EncodedRecords(buffer=rows, offsets=wrapped, refused=refused)


def _encode_raw(column: pa.ChunkedArray) -> EncodedRecords:
    """Each value followed by a newline: the body, and where each record starts in it.

    A value's own final line break is dropped first: a dead letter's ``payload`` (a single-record
    body, ``1.5,2.0\n``) replays as the record it was, not as a record and a blank line. An empty
    or null value is refused: a blank line in a multi-record body is a record to some models and
    none to others, and the count of predictions would no longer match.
    """
    values = column.combine_chunks()
    if pa.types.is_string(values.type) or pa.types.is_large_string(values.type):
        values = values.cast(pa.binary() if pa.types.is_string(values.type) else pa.large_binary())
    if values.null_count:
        values = pc.fill_null(values, b"")
    values = pc.replace_substring_regex(values, r"\r?\n\z", b"")
    lengths = pc.binary_length(values)
    empty = pc.indices_nonzero(pc.equal(lengths, pa.scalar(0, lengths.type))).to_pylist()
    joined, offsets = newline_delimited(values)
    return EncodedRecords(
        buffer=joined, offsets=offsets, trim=1, refused=dict.fromkeys(empty, "raw_column holds an empty body")
    )
