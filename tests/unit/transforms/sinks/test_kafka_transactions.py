"""The exactly-once sink's logic without a broker: a bundle's stretch per partition, checked complete."""

from __future__ import annotations

import pyarrow as pa
import pytest

from transforms.core.offsets import Manifest, PartitionId, encode_offset_message
from transforms.sinks.kafka_transactions import (
    DEAD_LETTERS,
    MANIFESTS,
    PREDICTIONS,
    BundleOutputs,
    IncompleteStretch,
    transactional_id,
)


def rows(offsets: list[int], partition: int = 0) -> pa.Table:
    n = len(offsets)
    return pa.table({"kafka_topic": ["in"] * n, "kafka_partition": [partition] * n, "kafka_offset": offsets})


def manifest(first: int, next_offset: int, records: int, partition: int = 0) -> tuple[str, tuple[str, str]]:
    return MANIFESTS, encode_offset_message(PartitionId("in", partition), Manifest(first, next_offset, records))


def test_a_bundle_gives_one_stretch_per_partition_with_every_output():
    outputs = BundleOutputs()
    outputs.add(*manifest(10, 14, 4))
    outputs.add(PREDICTIONS, pa.concat_tables([rows([10, 11]), rows([7], partition=1)]))
    outputs.add(DEAD_LETTERS, rows([12, 13]))
    outputs.add(*manifest(14, 16, 2))
    outputs.add(PREDICTIONS, rows([14, 15]))
    outputs.add(*manifest(7, 8, 1, partition=1))
    stretches = {s.partition.partition: s for s in outputs.stretches()}
    assert (stretches[0].first, stretches[0].end, stretches[1].first, stretches[1].end) == (10, 16, 7, 8)
    assert sum(t.num_rows for _, t in stretches[0].rows) == 6 and [tag for tag, _ in stretches[1].rows] == [PREDICTIONS]


@pytest.mark.parametrize(
    "adds",
    [
        [manifest(10, 14, 4), (PREDICTIONS, rows([10, 11, 12]))],  # a record without an output
        [manifest(10, 12, 2), manifest(13, 14, 1), (PREDICTIONS, rows([10, 11, 13]))],  # a gap between batches
        [(PREDICTIONS, rows([10]))],  # outputs whose batch was not read in this bundle
    ],
)
def test_an_incomplete_stretch_fails_the_bundle_rather_than_commit_over_records(adds):
    outputs = BundleOutputs()
    for tag, value in adds:
        outputs.add(tag, value)
    with pytest.raises(IncompleteStretch):
        outputs.stretches()


def test_one_transactional_id_per_input_partition_of_the_group():
    assert transactional_id("g", PartitionId("in", 2)) == "smscore-g-in-2"
    assert transactional_id("g", PartitionId("in", 2)) != transactional_id("g", PartitionId("in", 3))
