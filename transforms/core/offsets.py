"""The offset protocol between the Kafka reader, the sinks and the committer, as typed messages.

The reader says which offsets a poll batch covers (:class:`Manifest`); each sink says which
offsets it has made durable (:class:`Acks`); the committer moves a partition's committed offset
only over batches every record of which is acknowledged. Between stages they travel as JSON
text keyed by partition, because Prism decodes only Beam's standard coders.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

END_OF_PARTITION = 2**63 - 1


class PartitionId(NamedTuple):
    topic: str
    partition: int

    @property
    def key(self) -> str:
        """The partition as the key of a keyed PCollection (the committer's state is per key)."""
        return json.dumps([self.topic, self.partition])

    @classmethod
    def from_key(cls, key: str) -> PartitionId:
        topic, partition = json.loads(key)
        return cls(topic, partition)


class PartitionRange(NamedTuple):
    """Offsets ``[start, end)`` of one partition; ``end`` is END_OF_PARTITION when streaming."""

    topic: str
    partition: int
    start: int
    end: int

    @property
    def id(self) -> PartitionId:
        return PartitionId(self.topic, self.partition)

    def encode(self) -> str:
        return json.dumps(list(self))

    @classmethod
    def decode(cls, text: str) -> PartitionRange:
        topic, partition, start, end = json.loads(text)
        return cls(topic=topic, partition=partition, start=start, end=end)


@dataclass(frozen=True)
class Manifest:
    """A poll batch covers every offset in ``[first, next)`` of one partition with ``records`` records."""

    first: int
    next: int
    records: int


@dataclass(frozen=True)
class Acks:
    """Offsets of one partition whose outputs a sink has made durable, as runs ``[start, stop)``: a table's
    offsets are mostly one run, so an acknowledgement costs the same for 1 record or 16,000."""

    runs: tuple[tuple[int, int], ...]

    @classmethod
    def of(cls, offsets: Iterable[int] | np.ndarray) -> Acks:
        unique = np.unique(np.asarray(offsets, dtype=np.int64))
        if not len(unique):
            return cls(())
        breaks = np.flatnonzero(np.diff(unique) != 1) + 1
        starts = unique[np.concatenate(([0], breaks))]
        stops = unique[np.concatenate((breaks - 1, [len(unique) - 1]))] + 1
        return cls(tuple(zip(starts.tolist(), stops.tolist(), strict=True)))

    def offsets(self) -> set[int]:
        return set(itertools.chain.from_iterable(range(start, stop) for start, stop in self.runs))


OffsetMessage = Manifest | Acks


def encode_offset_message(partition: PartitionId, message: OffsetMessage) -> tuple[str, str]:
    """(partition key, JSON text) for the committer."""
    if isinstance(message, Manifest):
        return partition.key, json.dumps({"manifest": [message.first, message.next, message.records]})
    return partition.key, json.dumps({"acks": message.runs})


def decode_offset_message(text: str) -> OffsetMessage:
    body = json.loads(text)
    if "manifest" in body:
        first, next_offset, records = body["manifest"]
        return Manifest(first, next_offset, records)
    return Acks(tuple((start, stop) for start, stop in body["acks"]))
