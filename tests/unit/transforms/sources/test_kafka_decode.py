"""Kafka values decoded to Arrow columns; a bad value is a malformed row with its reason, never dropped."""

import pyarrow as pa
import pytest

from transforms.sources.kafka_decode import Message, MessageBatch, MessageDecoder, json_values_in_arrow


def msg(offset: int, value: bytes | None, key: bytes | None = b"k") -> Message:
    return Message(
        topic="t",
        partition=2,
        offset=offset,
        timestamp_ms=1_700_000_000_000,
        key=key,
        value=value,
        headers=[("h", b"v")],
    )


def test_json_values_decode_and_bad_ones_are_reported_not_dropped():
    decoder = MessageDecoder("json", {"id": "int64", "x": "float64"})
    messages = [
        msg(0, b'{"id": 1, "x": 0.5}'),
        msg(1, b"{not json"),
        msg(2, b'{"id": 3}'),
        msg(3, b"[1, 2]"),
        msg(4, b'{"id": 5, "x": "7"}'),
        msg(5, b'{"id": 6, "x": true}'),
        msg(6, None),
    ]
    decoded = decoder.decode(MessageBatch.of(messages))
    assert decoded.table.num_rows == 7
    assert [m.row for m in decoded.malformed] == [1, 2, 3, 5, 6]
    assert "missing fields ['x']" in decoded.malformed[1].reason
    good, bad = decoded.split()
    assert good.column("id").to_pylist() == [1, 5]
    assert good.column("x").to_pylist() == [0.5, 7.0]
    assert bad.column("kafka_offset").to_pylist() == [1, 2, 3, 5, 6]
    assert good.column("kafka_headers").to_pylist()[0] == [("h", b"v")]


COLUMNS = {"id": "int64", "x": "float64", "name": "string", "ok": "bool"}


CLEAN = [
    b'{"id": 1, "x": 0.5, "name": "a", "ok": true}',
    b'{"ok": false, "name": "\\u00fc \\"q\\"", "x": 2, "id": -3, "extra": {"nested": [1]}}',
    b'{"id": 4, "x": 1e-300, "name": "", "ok": true}',
]


@pytest.mark.parametrize(
    ("values", "in_arrow"),
    [
        (CLEAN, True),
        ([*CLEAN, b'{"id": 5, "name": "no x", "ok": true}', b'{"id": 6, "x": null, "name": "b", "ok": false}'], True),
        ([*CLEAN, b'{"id": 7, "x": "7.5", "name": "c", "ok": true}'], False),  # a number as a string
        ([*CLEAN, b'{"id": 8.5, "x": 1, "name": "c", "ok": true}'], False),  # a fraction for an integer
        ([*CLEAN, b'{"id": 9, "x": 1, "name": 12, "ok": true}'], False),  # a number for a string
        ([*CLEAN, b'{"id": 9, "x": 1, "name": "d", "ok": 1}'], False),  # a number for a bool
        ([*CLEAN, b"[1, 2]"], False),
        ([*CLEAN, b"{not json"], False),
        ([*CLEAN, b'{"id": 1, "x": 1, "name": "\xff", "ok": true}'], False),  # not UTF-8
        ([*CLEAN, b'{\n"id": 1, "x": 1, "name": "e", "ok": true}'], True),  # a value over two lines
        ([*CLEAN, b'{"id": 1, "x": 1, "name": "e", "ok": true}\n{"id": 2}'], False),  # two objects in one value
        ([*CLEAN, b""], False),
        ([*CLEAN, None], False),
        ([b"\xef\xbb\xbf" + CLEAN[0], *CLEAN], True),  # a byte-order mark first
        ([*CLEAN, b"\xef\xbb\xbf" + CLEAN[0]], False),  # ...and later in the batch
        ([*CLEAN, b'{"id": 9, "x": 1, "name": "\\ud800", "ok": true}'], False),  # a lone surrogate
        ([*CLEAN, b"[" * 100_000 + b"]" * 100_000], False),  # deeper than Python's stack
    ],
)
def test_json_values_parsed_in_arrow_match_parsing_one_by_one(values, in_arrow):
    """Arrow takes a batch only when it would decode it exactly as the one-by-one reference path."""

    decoder = MessageDecoder("json", COLUMNS)
    messages = [msg(i, v) for i, v in enumerate(values)]
    reference_columns, reference_malformed = decoder.values_one_by_one(MessageBatch.of(messages))
    fast = json_values_in_arrow(pa.array(values, pa.binary()), decoder.schema, list(COLUMNS))
    assert (fast is not None) == in_arrow
    if fast is not None:
        assert [c.to_pylist() for c in fast[0]] == [c.to_pylist() for c in reference_columns]
        assert fast[1] == reference_malformed
    decoded = decoder.decode(MessageBatch.of(messages))  # either way, the same table
    assert decoded.table.select(list(COLUMNS)).columns == [pa.chunked_array([c]) for c in reference_columns]
    assert decoded.malformed == reference_malformed


def test_csv_lines_and_raw_values():
    csv = MessageDecoder("csv", {"a": "float64", "b": "string"}, csv_delimiter=";")
    decoded = csv.decode(MessageBatch.of([msg(0, b"1.5;x\n"), msg(1, b"1;2;3"), msg(2, b"abc;y")]))
    assert decoded.table.column("a").to_pylist() == [1.5, None, None]
    assert [m.row for m in decoded.malformed] == [1, 2]
    raw = MessageDecoder("raw", {"ignored": "float64"})
    decoded = raw.decode(MessageBatch.of([msg(7, b"\x00\x01")]))
    assert decoded.malformed == [] and decoded.table.column("kafka_value").to_pylist() == [b"\x00\x01"]
    assert "ignored" not in decoded.table.column_names


def test_csv_bool_fields_read_true_and_false():
    decoder = MessageDecoder("csv", {"ok": "bool", "x": "float64"})
    decoded = decoder.decode(MessageBatch.of([msg(0, b"true,1"), msg(1, b"False,2"), msg(2, b"yes,3")]))
    assert decoded.table.column("ok").to_pylist() == [True, False, None]
    assert [m.row for m in decoded.malformed] == [2]


def test_empty_batch_decodes_to_an_empty_table():
    decoder = MessageDecoder("json", {"x": "float64"})
    assert decoder.decode(MessageBatch.of([])).table.num_rows == 0


class ClientMessage:
    """confluent-kafka's Message surface: one method per part."""

    def __init__(self, offset: int, timestamp: tuple[int, int]) -> None:
        self._offset, self._timestamp = offset, timestamp

    def topic(self) -> str:
        return "t"

    def partition(self) -> int:
        return 2

    def offset(self) -> int:
        return self._offset

    def timestamp(self) -> tuple[int, int]:
        return self._timestamp

    def key(self) -> bytes:
        return b"k"

    def value(self) -> bytes:
        return b"{}"

    def headers(self) -> list[tuple[str, bytes]]:
        return [("h", b"v")]


def test_client_messages_become_the_columns_of_the_same_messages():
    batch = MessageBatch.from_confluent([ClientMessage(0, (1, 1_700_000_000_000)), ClientMessage(1, (1, 7))])
    expected = MessageBatch.of([msg(0, b"{}"), msg(1, b"{}")._replace(timestamp_ms=7)])
    assert [list(c) for c in batch.columns()] == [list(c) for c in expected.columns()]
    unstamped = MessageBatch.from_confluent([ClientMessage(0, (1, 5)), ClientMessage(1, (0, -1))])
    assert list(unstamped.timestamps_ms) == [5, None]  # type 0: the message has no timestamp
    assert list(unstamped.head(1).offsets) == [0] and len(unstamped.head(1)) == 1
