"""Arrow tables as JSON objects, one per row, rendered column by column in Arrow.

The JSON Lines sink and the Kafka producer write one JSON object per row, and the JSON request
serializers one array of features per record. A Python dict and ``json.dumps`` per row cost
more CPU than the endpoint calls for those rows (BENCHMARKS.md, codecs); here each
column becomes JSON text in a few vectorised passes and the rows are joined.

One convention for both outputs: NaN and infinities are ``null``; floats keep a ``.0`` when
integral (so readers see a float); binary values are their UTF-8 text, or ``{"base64": ...}``
when they are not UTF-8; timestamps are ISO-8601 (UTC with ``Z`` when the column has a time
zone); dates ``YYYY-MM-DD``. Nested types (lists, maps, structs) go through ``json`` per value.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from transforms.codecs.arrow_lines import newline_delimited

# Bytes a JSON string must escape; \n \r \t get their short escapes in Arrow, the rest per value.
# Searched over a column's whole data buffer at once (Arrow's regex kernels compile per call).
_NEEDS_ESCAPE = re.compile(rb'[\x00-\x1f"\\]')
_RARE_CONTROL = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f]")
_SHORT_ESCAPES = (("\\", "\\\\"), ('"', '\\"'), ("\n", "\\n"), ("\r", "\\r"), ("\t", "\\t"))


def _text(value: str | None) -> pa.Scalar:
    """A typed string scalar. pyarrow converts an untyped Python value after trying to import pandas,
    and without pandas installed it tries again on every call (a failed import scans sys.path): literals are
    passed typed."""
    return pa.scalar(value, pa.string())


_QUOTE, _EMPTY = _text('"'), _text("")


def json_objects(table: pa.Table) -> pa.Array:
    """One JSON object per row (a string array without nulls), keys in column order."""
    if table.num_columns == 0:
        return pa.array(["{}"] * table.num_rows, pa.string())
    keys = [json.dumps(name, ensure_ascii=False) + ":" for name in table.column_names]
    return _joined([c.combine_chunks() for c in table.columns], "{", keys, "}")


def json_arrays(columns: list[pa.Array]) -> pa.Array:
    """One JSON array per row, of the columns' values in order (at least one column)."""
    return _joined(columns, "[", [""] * len(columns), "]")


def _joined(columns: list[pa.Array], opening: str, labels: list[str], closing: str) -> pa.Array:
    parts: list[Any] = []
    for i, (label, values) in enumerate(zip(labels, columns, strict=True)):
        parts += [_text(("," if i else opening) + label), json_values(values)]
    return pc.binary_join_element_wise(*parts, _text(closing), _EMPTY)


def json_lines(table: pa.Table) -> bytes:
    """The table as JSON Lines: every row's object followed by a newline, in one buffer."""
    return newline_delimited(json_objects(table))[0]


def json_values(values: pa.Array) -> pa.Array:
    """Each value of one column as JSON text; a null is ``null``."""
    kind = values.type
    if pa.types.is_dictionary(kind):
        return json_values(values.dictionary_decode())
    if pa.types.is_boolean(kind):
        text = pc.if_else(values, _text("true"), _text("false"))
    elif pa.types.is_integer(kind) or pa.types.is_decimal(kind):
        text = values.cast(pa.string())
    elif pa.types.is_floating(kind):
        text = _floats(values)
    elif pa.types.is_string(kind) or pa.types.is_large_string(kind):
        text = _strings(values.cast(pa.string()))
    elif pa.types.is_binary(kind) or pa.types.is_large_binary(kind) or pa.types.is_fixed_size_binary(kind):
        text = _binaries(values.cast(pa.binary()))
    elif pa.types.is_timestamp(kind):
        text = _timestamps(values)
    elif pa.types.is_date(kind):
        text = _quote(values.cast(pa.date32()).cast(pa.string()))
    elif pa.types.is_null(kind):
        text = pa.nulls(len(values), pa.string())
    else:
        text = _per_value(values)
    return text.fill_null("null") if text.null_count else text


def _timestamps(values: pa.Array) -> pa.Array:
    """Formatted once per distinct instant: strftime is the slowest kernel here, and a batch's
    ``scored_at`` holds a few instants for thousands of rows."""
    distinct = values.dictionary_encode()
    instants = distinct.dictionary
    if instants.type.tz is None:
        text = pc.strftime(instants, format="%Y-%m-%dT%H:%M:%S")
    else:
        text = pc.strftime(instants.cast(pa.timestamp(instants.type.unit, "UTC")), format="%Y-%m-%dT%H:%M:%SZ")
    return _quote(text).take(distinct.indices)


def _quote(text: pa.Array) -> pa.Array:
    return pc.binary_join_element_wise(_QUOTE, text, _QUOTE, _EMPTY)


def _floats(values: pa.Array) -> pa.Array:
    if pa.types.is_float16(values.type):
        values = values.cast(pa.float32())
    text = values.cast(pa.string())  # shortest text that reads back exactly
    integral = pc.invert(pc.or_(pc.match_substring(text, "."), pc.match_substring(text, "e")))  # nan/inf go null
    text = pc.if_else(integral, pc.binary_join_element_wise(text, _text(".0"), _EMPTY), text)
    return pc.if_else(pc.is_finite(values), text, _text(None))


def _strings(text: pa.Array) -> pa.Array:
    data = text.buffers()[2] or b""  # every value's bytes (and perhaps some under nulls: harmless)
    if not _NEEDS_ESCAPE.search(data):
        return _quote(text)
    if _RARE_CONTROL.search(data):
        return _per_value(text)
    for raw, escaped in _SHORT_ESCAPES:
        text = pc.replace_substring(text, raw, escaped)
    return _quote(text)


def _binaries(values: pa.Array) -> pa.Array:
    try:
        return _strings(values.cast(pa.string()))  # the cast checks that every value is UTF-8
    except pa.ArrowInvalid:
        return _per_value(values)


def _per_value(values: pa.Array) -> pa.Array:
    """The slow path, for types and values the vectorised renderers leave out."""
    is_map = pa.types.is_map(values.type)
    return pa.array(
        [
            None if v is None else json.dumps(_plain(dict(v) if is_map else v), ensure_ascii=False, default=str)
            for v in values.to_pylist()
        ],
        pa.string(),
    )


def _plain(value: Any) -> Any:
    """A Python value from ``to_pylist`` as something ``json`` writes by our conventions."""
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return {"base64": base64.b64encode(value).decode("ascii")}
    if isinstance(value, float) and not np.isfinite(value):
        return None
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value
