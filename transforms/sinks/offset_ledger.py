"""Which offsets of a partition may be committed: every record of a contiguous stretch is durable in an output.

Pure logic, unit-tested without a broker or a runner; the committer keeps one ledger per partition.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc

from transforms.core.offsets import Acks, Manifest, OffsetMessage, PartitionId, encode_offset_message


def acks(table: pa.Table) -> Iterator[tuple[str, str]]:
    """The encoded :class:`Acks` of each partition the rows of ``table`` came from (none for non-Kafka rows)."""
    if "kafka_offset" not in table.column_names:
        return
    topics, partitions = pc.unique(table.column("kafka_topic")), pc.unique(table.column("kafka_partition"))
    if len(topics) == 1 and len(partitions) == 1:  # a table from one poll batch: no grouping
        offsets = table.column("kafka_offset").to_numpy()
        yield encode_offset_message(PartitionId(topics[0].as_py(), partitions[0].as_py()), Acks.of(offsets))
        return
    grouped = table.group_by(["kafka_topic", "kafka_partition"]).aggregate([("kafka_offset", "list")])
    for topic, partition, offsets in zip(
        grouped.column("kafka_topic").to_pylist(),
        grouped.column("kafka_partition").to_pylist(),
        grouped.column("kafka_offset_list").to_pylist(),
        strict=True,
    ):
        yield encode_offset_message(PartitionId(topic, partition), Acks.of(offsets))


@dataclass(kw_only=True)
class PartitionLedger:
    """Which poll batches of one partition are fully written; what may be committed next."""

    committed: int | None = None
    manifests: dict[int, Manifest] = field(default_factory=dict)  # by first offset
    acked: dict[int, set[int]] = field(default_factory=dict)  # manifest first -> offsets written
    early: set[int] = field(default_factory=set)  # offsets acked before their manifest arrived

    def add(self, message: OffsetMessage) -> None:
        if isinstance(message, Manifest):
            self.add_manifest(message)
        else:
            self.add_acks(message)

    def add_manifest(self, m: Manifest) -> None:
        if m.first in self.manifests or (self.committed is not None and m.next <= self.committed):
            return  # a replayed batch
        self.manifests[m.first] = m
        mine = {o for o in self.early if m.first <= o < m.next}
        self.early -= mine
        self.acked.setdefault(m.first, set()).update(mine)

    def add_acks(self, acks: Acks) -> None:
        pending = acks.offsets()  # set operations over ranges: no Python step per offset
        for first, m in self.manifests.items():
            if not pending:
                return
            mine = pending.intersection(range(m.first, m.next))
            if mine:
                self.acked[first].update(mine)
                pending -= mine
        if pending and self.committed is not None:
            pending.difference_update(range(min(pending), self.committed))  # replays of committed batches
        self.early |= pending

    def advance(self) -> int | None:
        """The new offset to commit, if the complete batches from the last commit on moved it."""
        moved = None
        while self.manifests:
            head = self.manifests[min(self.manifests)]
            if self.committed is not None and head.first != self.committed:
                break  # a gap: an earlier batch has not been seen yet
            if len(self.acked.get(head.first, ())) < head.records:
                break
            del self.manifests[head.first]
            self.acked.pop(head.first, None)
            self.committed = moved = head.next
        return moved
