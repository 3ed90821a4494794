"""Offset commits that make Kafka delivery at-least-once: an offset moves only past durable outputs.

Streaming: a stateful DoFn per partition reads the reader's manifests and every sink's acks
(:mod:`transforms.sinks.offset_ledger`) and commits contiguously. Bounded: once every output
is published, each captured range's end is committed.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import apache_beam as beam
from apache_beam.coders import coders
from apache_beam.transforms import userstate

from transforms.core.kafka_group import commit, commit_offsets
from transforms.core.offsets import PartitionId, PartitionRange, decode_offset_message
from transforms.sinks.offset_ledger import PartitionLedger

log = logging.getLogger(__name__)

_LEDGER = userstate.ReadModifyWriteStateSpec("ledger", coders.PickleCoder())
_LEDGER_PARAM = beam.DoFn.StateParam(_LEDGER)


class _CommitFn(beam.DoFn):
    """Per partition (stateful): commit the offset up to which every record has been written.

    A bundle's ledgers move in state as elements arrive; their offsets go to Kafka in one synchronous commit
    when the bundle finishes, before the runner persists that state, so a failed commit fails the bundle and
    its elements are counted again."""

    def __init__(self, conf: dict[str, Any], starts: dict[str, int]) -> None:
        self.conf = conf
        self.starts = starts

    def setup(self) -> None:
        from confluent_kafka import Consumer

        self._consumer = Consumer(self.conf)

    def start_bundle(self) -> None:
        self._moved: dict[str, int] = {}

    def process(self, element: tuple[str, str], ledger: Any = _LEDGER_PARAM) -> None:
        key, text = element
        state = ledger.read() or PartitionLedger(committed=self.starts.get(key))
        state.add(decode_offset_message(text))
        moved = state.advance()
        ledger.write(state)
        if moved is not None:
            self._moved[key] = moved

    def finish_bundle(self) -> None:
        moved = [(PartitionId.from_key(key), offset) for key, offset in self._moved.items()]
        commit(self._consumer, moved)
        for partition, offset in moved:
            log.info("committed %s[%d] at offset %d", partition.topic, partition.partition, offset)

    def teardown(self) -> None:
        consumer = getattr(self, "_consumer", None)
        if consumer is not None:
            consumer.close()


class CommitWhenWritten(beam.PTransform):
    """Streaming: manifests + acks from every sink -> offsets committed per partition, contiguously."""

    def __init__(self, conf: dict[str, Any], ranges: list[PartitionRange]) -> None:
        super().__init__()
        self.conf = conf
        self.starts = {r.id.key: r.start for r in ranges}

    def expand(self, pcolls: tuple[beam.PCollection, ...]) -> beam.PCollection:
        return (
            pcolls
            | beam.Flatten()
            | "Typed" >> beam.Map(lambda kv: kv).with_output_types(tuple[str, str])
            | beam.ParDo(_CommitFn(self.conf, self.starts))
        )


class _CommitRangesFn(beam.DoFn):
    def __init__(self, conf: dict[str, Any], ranges: list[PartitionRange]) -> None:
        self.conf = conf
        self.ranges = ranges

    def process(self, _done: Any) -> Iterator[int]:
        commit_offsets(self.conf, [(r.id, r.end) for r in self.ranges if r.end > r.start])
        yield len(self.ranges)


class CommitAtEnd(beam.PTransform):
    """Bounded: once every sink has finished (``done`` fires once), commit each range's end offset."""

    def __init__(self, conf: dict[str, Any], ranges: list[PartitionRange]) -> None:
        super().__init__()
        self._fn = _CommitRangesFn(conf, ranges)

    def expand(self, done: beam.PCollection) -> beam.PCollection:
        return done | beam.ParDo(self._fn)
