"""The offset ledger: a partition's offset moves only over batches every record of which is durable."""

from transforms.core.offsets import Acks, Manifest, PartitionId, decode_offset_message, encode_offset_message
from transforms.sinks.offset_ledger import PartitionLedger, acks


def test_ledger_commits_only_contiguous_fully_written_batches():
    ledger = PartitionLedger(committed=10)
    ledger.add_manifest(Manifest(10, 13, 3))
    ledger.add_manifest(Manifest(13, 20, 2))  # a gap in offsets (compaction): 2 records cover 13..19
    ledger.add_acks(Acks.of([13, 19]))  # the second batch is written first
    assert ledger.advance() is None  # ...but the first is not: nothing may be committed
    ledger.add_acks(Acks.of([10, 11]))
    assert ledger.advance() is None
    ledger.add_acks(Acks.of([12]))
    assert ledger.advance() == 20 and ledger.committed == 20


def test_ledger_accepts_acks_before_their_manifest_and_ignores_replays():
    ledger = PartitionLedger(committed=0)
    ledger.add_acks(Acks.of([0, 1]))
    ledger.add_manifest(Manifest(0, 2, 2))
    assert ledger.advance() == 2
    ledger.add_manifest(Manifest(0, 2, 2))  # a retried bundle re-emits a committed batch
    ledger.add_acks(Acks.of([1]))
    assert ledger.advance() is None and ledger.manifests == {} and ledger.early == set()


def test_ledger_without_a_start_takes_the_first_batch_it_sees():
    ledger = PartitionLedger()
    ledger.add_manifest(Manifest(5, 6, 1))
    ledger.add_acks(Acks.of([5, 5]))  # a duplicate ack counts once
    assert ledger.advance() == 6


def test_acks_travel_as_runs_of_offsets():
    acks = Acks.of([9, 3, 4, 5, 7, 7])
    assert acks.runs == ((3, 6), (7, 8), (9, 10)) and acks.offsets() == {3, 4, 5, 7, 9}
    _, text = encode_offset_message(PartitionId("t", 0), acks)
    assert decode_offset_message(text) == acks and Acks.of([]).runs == ()


def test_a_table_s_acks_are_one_message_per_partition_it_came_from():
    import pyarrow as pa

    table = pa.table(
        {
            "kafka_topic": ["t", "t", "t", "t"],
            "kafka_partition": pa.array([0, 1, 0, 0], pa.int32()),
            "kafka_offset": pa.array([5, 9, 6, 8], pa.int64()),
        }
    )
    by_key = {key: decode_offset_message(text) for key, text in acks(table)}
    assert by_key == {
        PartitionId("t", 0).key: Acks(((5, 7), (8, 9))),
        PartitionId("t", 1).key: Acks(((9, 10),)),
    }
    one = dict(acks(table.slice(0, 1)))
    assert [decode_offset_message(text) for text in one.values()] == [Acks(((5, 6),))]
