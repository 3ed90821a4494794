"""Kafka pieces that need no broker: value decoding, output messages, the offset ledger, config rules."""

import json

import pyarrow as pa
import pytest

from pipelines.config import JobConfig
from transforms.kafka_codec import Message, MessageDecoder, encode_rows
from transforms.kafka_io import Manifest, PartitionLedger, PartitionRange


def msg(offset: int, value: bytes | None, key: bytes | None = b"k") -> Message:
    return Message("t", 2, offset, 1_700_000_000_000, key, value, [("h", b"v")])


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
    decoded = decoder.decode(messages)
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
    from transforms.kafka_codec import _json_values

    decoder = MessageDecoder("json", COLUMNS)
    messages = [msg(i, v) for i, v in enumerate(values)]
    reference_columns, reference_malformed = decoder._values_one_by_one(messages)
    fast = _json_values(pa.array(values, pa.binary()), decoder.schema, list(COLUMNS))
    assert (fast is not None) == in_arrow
    if fast is not None:
        assert [c.to_pylist() for c in fast[0]] == [c.to_pylist() for c in reference_columns]
        assert fast[1] == reference_malformed
    decoded = decoder.decode(messages)  # either way, the same table
    assert decoded.table.select(list(COLUMNS)).columns == [pa.chunked_array([c]) for c in reference_columns]
    assert decoded.malformed == reference_malformed


def test_csv_lines_and_raw_values():
    csv = MessageDecoder("csv", {"a": "float64", "b": "string"}, csv_delimiter=";")
    decoded = csv.decode([msg(0, b"1.5;x\n"), msg(1, b"1;2;3"), msg(2, b"abc;y")])
    assert decoded.table.column("a").to_pylist() == [1.5, None, None]
    assert [m.row for m in decoded.malformed] == [1, 2]
    raw = MessageDecoder("raw", {"ignored": "float64"})
    decoded = raw.decode([msg(7, b"\x00\x01")])
    assert decoded.malformed == [] and decoded.table.column("kafka_value").to_pylist() == [b"\x00\x01"]
    assert "ignored" not in decoded.table.column_names


def test_csv_bool_fields_read_true_and_false():
    decoder = MessageDecoder("csv", {"ok": "bool", "x": "float64"})
    decoded = decoder.decode([msg(0, b"true,1"), msg(1, b"False,2"), msg(2, b"yes,3")])
    assert decoded.table.column("ok").to_pylist() == [True, False, None]
    assert [m.row for m in decoded.malformed] == [2]


def test_empty_batch_decodes_to_an_empty_table():
    decoder = MessageDecoder("json", {"x": "float64"})
    assert decoder.decode([]).table.num_rows == 0


def test_output_messages_keep_the_key_and_carry_id_and_variant_headers():
    table = pa.table(
        {
            "kafka_key": pa.array([b"k1", None]),
            "kafka_offset": [4, 5],
            "inference_id": ["id-4", "id-5"],
            "invoked_variant": ["variant-a", None],
            "payload": pa.array([b"\xff\xfe", b"ok"]),
        }
    )
    out = encode_rows(table)
    assert [m.key for m in out] == [b"k1", None]
    assert out[0].headers == [("inference_id", b"id-4"), ("invoked_variant", b"variant-a")]
    assert out[1].headers == [("inference_id", b"id-5")]
    body = json.loads(out[0].value)
    assert body["kafka_offset"] == 4 and "kafka_key" not in body
    assert body["payload"] == {"base64": "//4="} and json.loads(out[1].value)["payload"] == "ok"


def test_ledger_commits_only_contiguous_fully_written_batches():
    ledger = PartitionLedger(committed=10)
    ledger.add_manifest(Manifest(10, 13, 3))
    ledger.add_manifest(Manifest(13, 20, 2))  # a gap in offsets (compaction): 2 records cover 13..19
    ledger.add_acks([13, 19])  # the second batch is written first
    assert ledger.advance() is None  # ...but the first is not: nothing may be committed
    ledger.add_acks([10, 11])
    assert ledger.advance() is None
    ledger.add_acks([12])
    assert ledger.advance() == 20 and ledger.committed == 20


def test_ledger_accepts_acks_before_their_manifest_and_ignores_replays():
    ledger = PartitionLedger(committed=0)
    ledger.add_acks([0, 1])
    ledger.add_manifest(Manifest(0, 2, 2))
    assert ledger.advance() == 2
    ledger.add_manifest(Manifest(0, 2, 2))  # a retried bundle re-emits a committed batch
    ledger.add_acks([1])
    assert ledger.advance() is None and ledger.manifests == {} and ledger.early == set()


def test_ledger_without_a_start_takes_the_first_batch_it_sees():
    ledger = PartitionLedger()
    ledger.add_manifest(Manifest(5, 6, 1))
    ledger.add_acks([5, 5])  # a duplicate ack counts once
    assert ledger.advance() == 6


def test_partition_ranges_travel_as_text():
    rng = PartitionRange("topic", 3, 10, 2**63 - 1)
    assert PartitionRange.decode(rng.encode()) == rng


BASE = {
    "source": {
        "type": "kafka",
        "bootstrap_servers": "b:9092",
        "topic": "in",
        "group_id": "g",
        "value_columns": {"x": "float64"},
    },
    "endpoint": {"name": "e"},
    "invoke": {"feature_columns": ["x"]},
    "output": {"format": "kafka", "predictions": "p", "dead_letters": "d"},
}


def test_kafka_config_defaults_and_rules():
    config = JobConfig.model_validate(BASE)
    assert config.output_bootstrap_servers == "b:9092"
    assert config.report_location.endswith("report.json")
    streaming_to_files = {
        **BASE,
        "source": {**BASE["source"], "mode": "streaming"},
        "output": {"format": "parquet", "predictions": "p", "dead_letters": "d"},
    }
    with pytest.raises(ValueError, match="streaming Kafka source writes to Kafka"):
        JobConfig.model_validate(streaming_to_files)
    with pytest.raises(ValueError, match="needs value_columns"):
        JobConfig.model_validate({**BASE, "source": {**BASE["source"], "value_columns": {}}})
    with pytest.raises(ValueError, match="clash with the message columns"):
        JobConfig.model_validate({**BASE, "source": {**BASE["source"], "value_columns": {"kafka_offset": "int64"}}})


class FakeMessage:
    def __init__(self, offset: int) -> None:
        self._offset = offset

    def error(self):
        return None

    def offset(self) -> int:
        return self._offset

    def timestamp(self):
        return (1, 0)

    def topic(self) -> str:
        return "t"

    def partition(self) -> int:
        return 0

    def key(self):
        return None

    def value(self) -> bytes:
        return b"{}"

    def headers(self):
        return None


class TrickleConsumer:
    """Hands out one message per consume() call and lets `step` seconds pass on a fake clock."""

    def __init__(self, clock: list[float], step: float) -> None:
        self.clock, self.step, self.next, self.timeouts = clock, step, 0, []

    def consume(self, num: int, timeout: float):
        self.timeouts.append(timeout)
        self.clock[0] += min(self.step, timeout)
        if self.step > timeout:
            return []
        self.next += 1
        return [FakeMessage(self.next - 1)]


def test_a_batch_closes_at_max_wait_even_if_not_full():
    from transforms.kafka_io import poll_batch

    now = [0.0]
    consumer = TrickleConsumer(now, step=0.1)
    batch = poll_batch(consumer, max_records=500, max_wait_ms=450, stop_before=2**63 - 1, clock=lambda: now[0])
    assert [m.offset for m in batch] == [0, 1, 2, 3]  # 4 arrivals within 450 ms, then the batch closes
    assert now[0] <= 0.45 + 1e-9 and max(consumer.timeouts) <= 0.45


def test_a_batch_closes_when_full_or_at_the_end_of_its_range():
    from transforms.kafka_io import poll_batch

    now = [0.0]
    full = poll_batch(
        TrickleConsumer(now, 0.001), max_records=3, max_wait_ms=1000, stop_before=100, clock=lambda: now[0]
    )
    assert [m.offset for m in full] == [0, 1, 2]
    bounded = poll_batch(
        TrickleConsumer(now, 0.001), max_records=10, max_wait_ms=1000, stop_before=2, clock=lambda: now[0]
    )
    assert [m.offset for m in bounded] == [0, 1]


def test_coordinator_calls_are_repeated_while_the_coordinator_is_not_ready(monkeypatch):
    from confluent_kafka import KafkaError, KafkaException

    from transforms import kafka_io

    monkeypatch.setattr(kafka_io.time, "sleep", lambda s: None)
    answers = [KafkaException(KafkaError(KafkaError.NOT_COORDINATOR)), "committed"]

    def call():
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    assert kafka_io.until_coordinated(call, timeout=5) == "committed"

    def denied():
        raise KafkaException(KafkaError(KafkaError.TOPIC_AUTHORIZATION_FAILED))

    with pytest.raises(KafkaException):  # not a coordinator problem: raised at once
        kafka_io.until_coordinated(denied, timeout=5)


def test_a_new_cluster_id_never_reads_as_an_option():
    from local_kafka.broker import new_cluster_id

    ids = [new_cluster_id() for _ in range(2000)]  # ~31 of them would start with "-" if drawn unchecked
    assert all(len(i) == 22 and not i.startswith("-") for i in ids) and len(set(ids)) == 2000
