"""A streaming read call claims a poll batch's offsets with one claim, and emits only what it claimed."""

from apache_beam.io.restriction_trackers import OffsetRange, OffsetRestrictionTracker

from transforms.sources.kafka_read import claim


def test_one_claim_covers_a_batch_inside_the_restriction():
    tracker = OffsetRestrictionTracker(OffsetRange(10, 100))
    assert claim(tracker, [10, 11, 13]) == 3  # a gap (compaction, a transaction marker) is fine
    assert tracker.current_restriction() == OffsetRange(10, 100) and tracker.try_claim(14)


def test_a_batch_past_a_checkpoint_emits_only_the_offsets_before_it():
    tracker = OffsetRestrictionTracker(OffsetRange(10, 100))
    tracker.try_claim(10)
    tracker.try_split(0)  # a checkpoint: this call now owns [10, 11)
    assert claim(tracker, [11, 12]) == 0
    other = OffsetRestrictionTracker(OffsetRange(10, 12))
    assert claim(other, [10, 11, 12, 13]) == 2
