"""The typed offset protocol between reader, sinks and committer."""

from transforms.core.offsets import PartitionRange


def test_partition_ranges_travel_as_text():
    rng = PartitionRange(topic="topic", partition=3, start=10, end=2**63 - 1)
    assert PartitionRange.decode(rng.encode()) == rng
