"""The offset ledger: a partition's offset moves only over batches every record of which is durable."""

from transforms.core.offsets import Manifest
from transforms.sinks.offset_ledger import PartitionLedger


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
