"""The exactly-once sink's logic without a broker: a bundle's stretch per partition, checked complete."""

from __future__ import annotations

import threading

import pyarrow as pa
import pytest

from transforms.core.offsets import Manifest, PartitionId, encode_offset_message
from transforms.sinks import kafka_transactions
from transforms.sinks.kafka_transactions import (
    DEAD_LETTERS,
    MANIFESTS,
    PREDICTIONS,
    BundleOutputs,
    IncompleteStretch,
    ProducerWedged,
    transact_fencing,
    transactional_id,
    with_deadline,
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


def test_a_call_past_its_deadline_is_reported_wedged_and_others_return_or_raise_as_they_would():
    release = threading.Event()
    with pytest.raises(ProducerWedged, match="send_offsets did not return within 0 s"):
        with_deadline(release.wait, 0.05, "send_offsets")
    release.set()
    assert with_deadline(lambda: 7, 5, "x") == 7
    with pytest.raises(KeyError):
        with_deadline(lambda: {}["k"], 5, "x")


class FakeProducers:
    """The registry's contract: get() makes a producer when there is none for the id, drop() forgets it."""

    def __init__(self) -> None:
        self.made: list[str] = []
        self.current: dict[str, str] = {}

    def get(self, _conf, tid):
        if tid not in self.current:
            self.made.append(f"{tid}#{len(self.made)}")
            self.current[tid] = self.made[-1]
        return self.current[tid]

    def drop(self, tid):
        self.current.pop(tid, None)


def run_with(monkeypatch, outcomes):
    """transact_fencing where each transact() call takes the next outcome: a count, or an exception to raise."""
    calls = []

    def transact(producer, _consumer, _stretch, _topics):
        calls.append(producer)
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    monkeypatch.setattr(kafka_transactions, "transact", transact)
    producers = FakeProducers()
    try:
        return transact_fencing(producers, {}, "t", None, None, {}), calls, producers  # type: ignore[arg-type]
    except Exception as exc:
        return exc, calls, producers


def test_a_wedged_producer_is_replaced_once_and_the_transaction_runs_again(monkeypatch):
    produced, calls, producers = run_with(monkeypatch, [ProducerWedged("stuck"), 12])
    assert produced == 12 and calls == ["t#0", "t#1"] and producers.current == {"t": "t#1"}


def test_a_second_wedge_or_another_failure_drops_the_producer_and_fails_the_bundle(monkeypatch):
    failed, calls, producers = run_with(monkeypatch, [ProducerWedged("stuck"), ProducerWedged("again")])
    assert isinstance(failed, ProducerWedged) and calls == ["t#0", "t#1"] and not producers.current
    failed, calls, producers = run_with(monkeypatch, [RuntimeError("fenced")])
    assert isinstance(failed, RuntimeError) and calls == ["t#0"] and not producers.current


def test_a_bundles_new_producers_are_made_together_and_each_id_once(monkeypatch):
    together = threading.Barrier(3, timeout=10)  # broken, and the test failed, unless three inits overlap
    made = []

    def initialized_producer(_conf, tid):
        made.append(tid)
        together.wait()
        return f"producer of {tid}"

    monkeypatch.setattr(kafka_transactions, "initialized_producer", initialized_producer)
    producers = kafka_transactions.Producers()
    producers.prepare({}, ["a", "b", "c"])
    assert sorted(made) == ["a", "b", "c"]
    producers.prepare({}, ["a", "b", "c"])  # made already: nothing is made again
    assert producers.get({}, "b") == "producer of b" and len(made) == 3


def test_two_threads_asking_for_one_new_id_get_one_producer(monkeypatch):
    release = threading.Event()
    made = []

    def initialized_producer(_conf, tid):
        made.append(tid)
        release.wait(10)
        return object()

    monkeypatch.setattr(kafka_transactions, "initialized_producer", initialized_producer)
    producers = kafka_transactions.Producers()
    got = []
    threads = [threading.Thread(target=lambda: got.append(producers.get({}, "a"))) for _ in range(2)]
    for thread in threads:
        thread.start()
    release.set()
    for thread in threads:
        thread.join(10)
    assert made == ["a"] and len(got) == 2 and got[0] is got[1]
