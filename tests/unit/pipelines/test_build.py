import pyarrow as pa

from pipelines.build import RunContext, reader_consumer_config, transaction_warmup
from pipelines.config import KafkaSource
from transforms.core.offsets import PartitionId, PartitionRange

SOURCE = {"bootstrap_servers": "b:9092", "topic": "t", "group_id": "g", "value_columns": {"f0": "float64"}}


def source(**changes: object) -> KafkaSource:
    return KafkaSource.model_validate({"type": "kafka", **SOURCE, **changes})


def test_a_streams_fetches_wait_for_a_batch_worth_of_bytes_or_a_fifth_of_max_wait() -> None:
    conf = reader_consumer_config(source(mode="streaming", max_wait_ms=500))
    assert conf["fetch.min.bytes"] == 16 * 1024
    assert conf["fetch.wait.max.ms"] == 100
    assert conf["enable.auto.commit"] is False


def test_the_users_fetch_settings_win() -> None:
    conf = reader_consumer_config(source(mode="streaming", consumer={"fetch.wait.max.ms": 10}))
    assert conf["fetch.wait.max.ms"] == 10


def test_bounded_reads_and_the_java_reader_keep_their_consumers_defaults() -> None:
    for conf in (
        reader_consumer_config(source(mode="bounded")),
        reader_consumer_config(source(mode="streaming", reader="java")),
    ):
        assert "fetch.min.bytes" not in conf
        assert "fetch.wait.max.ms" not in conf


def test_one_worker_makes_a_streams_transactional_producers_as_it_starts_and_several_workers_do_not() -> None:
    ranges = [PartitionRange("t", p, 0, 10) for p in range(2)]

    def ctx(one_worker: bool) -> RunContext:
        return RunContext(input_schema=pa.schema([]), run_id="r", date="d", partitions=ranges, one_worker=one_worker)

    assert transaction_warmup(ctx(True), streaming=True) == [PartitionId("t", 0), PartitionId("t", 1)]
    assert transaction_warmup(ctx(False), streaming=True) == []  # each would fence the others' producers
    assert transaction_warmup(ctx(True), streaming=False) == []
