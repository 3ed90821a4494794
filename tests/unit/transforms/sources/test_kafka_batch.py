"""A poll batch becomes good rows, dead letters for undecodable messages (counted), and a manifest."""

import pyarrow as pa

from transforms.core.offsets import Manifest, PartitionId
from transforms.core.rows import dead_letter_schema
from transforms.sources.kafka_batch import MALFORMED, DeadLetterSpec, ReaderSpec, decode_poll_batch
from transforms.sources.kafka_decode import KAFKA_KEY_COLUMNS, Message, MessageBatch, MessageDecoder


def spec() -> ReaderSpec:
    passthrough = pa.schema([pa.field("kafka_offset", pa.int64())])
    return ReaderSpec(
        conf={},
        decoder=MessageDecoder("json", {"x": "float64"}),
        dead_letters=DeadLetterSpec(
            passthrough_columns=["kafka_offset"],
            id_columns=KAFKA_KEY_COLUMNS,
            namespace="ns",
            endpoint_name="e",
            schema=dead_letter_schema(passthrough),
        ),
        max_records=10,
        max_wait_ms=100,
    )


def message(offset: int, value: bytes) -> Message:
    return Message(topic="in", partition=3, offset=offset, timestamp_ms=None, key=None, value=value, headers=None)


def test_malformed_messages_become_counted_dead_letters_and_the_manifest_covers_the_whole_batch():
    out = decode_poll_batch(
        spec(), MessageBatch.of([message(10, b'{"x": 1}'), message(11, b"nope"), message(13, b'{"x": 2}')]), 14
    )
    assert out.table is not None and out.table.column("x").to_pylist() == [1.0, 2.0]
    assert out.dead_letters is not None and out.dead_letters.column("kafka_offset").to_pylist() == [11]
    dead = out.dead_letters.to_pylist()[0]
    assert dead["error_class"] == MALFORMED and dead["payload"] == b"nope" and dead["attempts"] == 0
    assert out.stats is not None and out.stats.records_in == out.stats.dead_letters_out == 1
    assert out.partition == PartitionId("in", 3) and out.manifest == Manifest(10, 14, 3)


def test_a_clean_batch_has_no_dead_letters_and_no_stats_of_its_own():
    out = decode_poll_batch(spec(), MessageBatch.of([message(0, b'{"x": 1}')]), 1)
    assert out.dead_letters is None and out.stats is None and out.manifest == Manifest(0, 1, 1)
