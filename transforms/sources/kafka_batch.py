"""One poll batch -> what the reader emits: good rows, malformed rows as dead letters, their stats, a manifest."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pyarrow as pa

from transforms.core.errors import ErrorInfo
from transforms.core.ids import record_ids
from transforms.core.offsets import Manifest, PartitionId
from transforms.core.rows import dead_letter_rows
from transforms.core.stats import RunStats
from transforms.sources.kafka_decode import MessageBatch, MessageDecoder

MALFORMED = "MalformedRecord"


@dataclass(frozen=True, kw_only=True)
class DeadLetterSpec:
    """What a reader needs to turn undecodable messages into dead-letter rows."""

    passthrough_columns: list[str]
    id_columns: list[str]
    namespace: str
    endpoint_name: str
    schema: pa.Schema


@dataclass(frozen=True, kw_only=True)
class ReaderSpec:
    conf: dict[str, object]
    decoder: MessageDecoder
    dead_letters: DeadLetterSpec
    max_records: int
    max_wait_ms: int
    carry: bool = False  # exactly-once: dead letters and manifests ride with the table (CarriedBatch)


@dataclass(frozen=True, kw_only=True)
class PollOutputs:
    """A decoded poll batch; ``dead_letters`` and ``stats`` are None when every message decoded."""

    table: pa.Table | None
    dead_letters: pa.Table | None
    stats: RunStats | None
    partition: PartitionId
    manifest: Manifest


def decode_poll_batch(spec: ReaderSpec, messages: MessageBatch, next_offset: int) -> PollOutputs:
    """Decode one poll batch (non-empty, of one partition) covering offsets up to ``next_offset``."""
    decoded = spec.decoder.decode(messages)
    good, bad = decoded.split()
    dead_letters = stats = None
    if bad.num_rows:
        dl = spec.dead_letters
        ids = record_ids(bad, dl.id_columns, dl.namespace)
        now = dt.datetime.now(dt.UTC)
        rows = [
            dead_letter_rows(
                passthrough=bad.select(dl.passthrough_columns).slice(i, 1),
                ids=ids.slice(i, 1),
                payloads=[messages.values[m.row] or b""],
                info=ErrorInfo(error_class=MALFORMED, code="Undecodable", message=m.reason, retryable=False),
                attempts=0,
                endpoint=dl.endpoint_name,
                schema=dl.schema,
                now=now,
            )
            for i, m in enumerate(decoded.malformed)
        ]
        dead_letters = pa.concat_tables(rows)
        # The invoke step counts the rows it scores; the malformed ones are counted here.
        stats = RunStats(records_in=bad.num_rows, dead_letters_out=bad.num_rows)
        stats.dead_letters_by_class[MALFORMED] += bad.num_rows
    return PollOutputs(
        table=good if good.num_rows else None,
        dead_letters=dead_letters,
        stats=stats,
        partition=PartitionId(messages.topics[0], messages.partitions[0]),
        manifest=Manifest(messages.offsets[0], next_offset, len(messages)),
    )
