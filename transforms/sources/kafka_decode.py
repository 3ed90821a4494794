"""Kafka messages -> Arrow batches: the message columns, and values decoded (JSON object, CSV line, raw bytes).

Pure functions, unit-tested without a broker. A message whose value cannot be
decoded is not dropped: it comes back as a malformed row (message columns set,
value columns null) with the reason, and becomes a dead letter.
"""

from __future__ import annotations

import functools
import json
import operator
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pajson

from transforms.codecs.arrow_lines import newline_delimited

ValueFormat = Literal["json", "csv", "raw"]
ValueType = Literal["float64", "int64", "string", "bool"]

ARROW_TYPES: dict[str, pa.DataType] = {
    "float64": pa.float64(),
    "int64": pa.int64(),
    "string": pa.string(),
    "bool": pa.bool_(),
}
MESSAGE_FIELDS = [
    pa.field("kafka_topic", pa.string()),
    pa.field("kafka_partition", pa.int32()),
    pa.field("kafka_offset", pa.int64()),
    pa.field("kafka_timestamp", pa.timestamp("ms", tz="UTC")),
    pa.field("kafka_key", pa.binary()),
    pa.field("kafka_value", pa.binary()),
    pa.field("kafka_headers", pa.map_(pa.string(), pa.binary())),
]
MESSAGE_COLUMNS = [f.name for f in MESSAGE_FIELDS]
# The default InferenceId key: a replayed message gets the id it had the first time.
KAFKA_KEY_COLUMNS = ["kafka_topic", "kafka_partition", "kafka_offset"]


class Message(NamedTuple):
    """The parts of a consumed message the pipeline uses (picklable, unlike confluent's Message)."""

    topic: str
    partition: int
    offset: int
    timestamp_ms: int | None
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]] | None


_PARTS = tuple(operator.methodcaller(name) for name in ("topic", "partition", "offset", "key", "value", "headers"))
_TIMESTAMP = operator.methodcaller("timestamp")


@dataclass(frozen=True, kw_only=True)
class MessageBatch:
    """Consumed messages, column by column (the fields of :class:`Message`). Built from the client's messages by
    one C-level pass per column: no Python call or object per message on the read path."""

    topics: Sequence[str]
    partitions: Sequence[int]
    offsets: Sequence[int]
    timestamps_ms: Sequence[int | None]
    keys: Sequence[bytes | None]
    values: Sequence[bytes | None]
    headers: Sequence[list[tuple[str, bytes]] | None]

    def __len__(self) -> int:
        return len(self.offsets)

    def columns(self) -> list[Sequence[Any]]:
        return [self.topics, self.partitions, self.offsets, self.timestamps_ms, self.keys, self.values, self.headers]

    def head(self, n: int) -> MessageBatch:
        return MessageBatch.of_columns([column[:n] for column in self.columns()])

    @classmethod
    def of_columns(cls, columns: Sequence[Sequence[Any]]) -> MessageBatch:
        """From the columns in :class:`Message`'s field order."""
        topics, partitions, offsets, timestamps_ms, keys, values, headers = columns
        return cls(
            topics=topics,
            partitions=partitions,
            offsets=offsets,
            timestamps_ms=timestamps_ms,
            keys=keys,
            values=values,
            headers=headers,
        )

    @classmethod
    def of(cls, messages: Sequence[Message]) -> MessageBatch:
        return cls.of_columns(list(zip(*messages, strict=True)) if messages else [[] for _ in Message._fields])

    @classmethod
    def from_confluent(cls, messages: Sequence[Any]) -> MessageBatch:
        """confluent-kafka's messages (none an error) as columns."""
        topics, partitions, offsets, keys, values, headers = (list(map(part, messages)) for part in _PARTS)
        stamps = list(map(_TIMESTAMP, messages))  # (type, ms); type 0: the message has no timestamp
        timestamps: Sequence[int | None] = list(map(operator.itemgetter(1), stamps))
        if not all(map(operator.itemgetter(0), stamps)):
            timestamps = [ms if kind else None for kind, ms in stamps]
        return cls.of_columns([topics, partitions, offsets, timestamps, keys, values, headers])


class Malformed(NamedTuple):
    row: int
    reason: str


@dataclass(frozen=True)
class Decoded:
    table: pa.Table  # all messages, in order; value columns null where malformed
    malformed: list[Malformed]

    def split(self) -> tuple[pa.Table, pa.Table]:
        """(good rows, malformed rows)."""
        bad = {m.row for m in self.malformed}
        if not bad:
            return self.table, self.table.slice(0, 0)
        good_mask = pa.array([i not in bad for i in range(self.table.num_rows)])
        return self.table.filter(good_mask), self.table.take(sorted(bad))


def _convert(value: Any, kind: str) -> Any:
    if kind == "float64":
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise ValueError(f"expected a number, got {type(value).__name__}")
        return float(value)
    if kind == "int64":
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise ValueError(f"expected an integer, got {type(value).__name__}")
        return int(value)
    if kind == "bool":
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):  # CSV fields are text
            return value.strip().lower() == "true"
        if not isinstance(value, bool):
            raise ValueError(f"expected true/false, got {type(value).__name__}")
        return value
    text = value if isinstance(value, str) else json.dumps(value)
    text.encode("utf-8")  # a lone surrogate ("\\ud800" in JSON) cannot be stored: UnicodeEncodeError, a ValueError
    return text


class MessageDecoder:
    """Turns a batch of messages into one Arrow table with the message columns and the value columns."""

    def __init__(
        self, value_format: ValueFormat, value_columns: dict[str, ValueType], csv_delimiter: str = ","
    ) -> None:
        self.value_format = value_format
        self.value_columns = dict(value_columns) if value_format != "raw" else {}
        self.delimiter = csv_delimiter
        self.schema = pa.schema(
            [*MESSAGE_FIELDS, *(pa.field(n, ARROW_TYPES[t]) for n, t in self.value_columns.items())]
        )

    def _fields(self, value: bytes | None) -> list[Any]:
        if value is None:
            raise ValueError("the message has no value")
        text = value.decode("utf-8-sig")  # a leading byte-order mark is not part of the value
        names = list(self.value_columns)
        if self.value_format == "json":
            obj = json.loads(text)
            if not isinstance(obj, dict):
                raise ValueError(f"expected a JSON object, got {type(obj).__name__}")
            missing = [n for n in names if obj.get(n) is None]
            if missing:
                raise ValueError(f"missing fields {missing}")
            raw = [obj[n] for n in names]
        else:
            raw = text.rstrip("\r\n").split(self.delimiter)
            if len(raw) != len(names):
                raise ValueError(f"expected {len(names)} CSV fields, got {len(raw)}")
        return [_convert(v, self.value_columns[n]) for n, v in zip(names, raw, strict=True)]

    def decode(self, messages: MessageBatch) -> Decoded:
        arrays = [pa.array(values, f.type) for values, f in zip(messages.columns(), MESSAGE_FIELDS, strict=True)]
        decoded = None
        if self.value_columns and self.value_format == "json":
            decoded = json_values_in_arrow(
                arrays[MESSAGE_COLUMNS.index("kafka_value")], self.schema, list(self.value_columns)
            )
        columns, malformed = decoded or self.values_one_by_one(messages)
        return Decoded(pa.Table.from_arrays(arrays + columns, schema=self.schema), malformed)

    def values_one_by_one(self, messages: MessageBatch) -> tuple[list[pa.Array], list[Malformed]]:
        """The reference path: every message parsed alone, so each bad one is named with its reason."""
        columns: list[list[Any]] = [[] for _ in self.value_columns]
        malformed: list[Malformed] = []
        for i, value in enumerate(messages.values):
            try:
                values = self._fields(value) if self.value_columns else []
            except (ValueError, RecursionError) as exc:  # bad JSON or text; JSON nested deeper than the stack
                malformed.append(Malformed(i, f"{self.value_format} value: {exc}"[:512]))
                values = [None] * len(self.value_columns)
            for column, v in zip(columns, values, strict=True):
                column.append(v)
        types = self.value_columns.values()
        return [pa.array(c, ARROW_TYPES[t]) for c, t in zip(columns, types, strict=True)], malformed


def json_values_in_arrow(
    values: pa.Array, schema: pa.Schema, names: list[str]
) -> tuple[list[pa.Array], list[Malformed]] | None:
    """All JSON values parsed at once by Arrow, or None to take the reference path.

    Arrow's reader refuses every value the reference path would convert or refuse (a number
    as a string, a fraction for an integer, a non-object, ...); the batch then goes
    the reference way, so both paths give the same columns. Only missing fields are left to check.
    """
    if not len(values) or values.null_count:
        return None
    try:
        text, _ = newline_delimited(values.cast(pa.string()))  # the cast checks UTF-8; Arrow's JSON reader does not
    except pa.ArrowInvalid:
        return None
    fields = pa.schema([schema.field(n) for n in names])
    try:
        table = pajson.read_json(
            pa.BufferReader(text),
            read_options=pajson.ReadOptions(use_threads=False, block_size=max(len(text) + 1, 1 << 20)),
            parse_options=pajson.ParseOptions(
                explicit_schema=fields, unexpected_field_behavior="ignore", newlines_in_values=False
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    if table.num_rows != len(values):  # an empty value, or two objects in one
        return None
    columns = [table.column(n).combine_chunks() for n in names]
    nulls = [c.is_null() for c in columns]
    incomplete = functools.reduce(pc.or_, nulls)
    if not pc.any(incomplete).as_py():
        return columns, []
    malformed = []
    for i in pc.indices_nonzero(incomplete).to_pylist():  # rare: rows with a field missing
        absent = [n for n, null in zip(names, nulls, strict=True) if null[i].as_py()]
        malformed.append(Malformed(i, f"json value: missing fields {absent}"[:512]))
    return [pc.if_else(incomplete, pa.scalar(None, c.type), c) for c in columns], malformed
