"""Kafka end to end against a real broker: bounded and streaming runs of `smscore run`, restarts, the DLQ.

Every test produces to its own topics, runs the real CLI in a subprocess (local endpoint embedded),
and reads the outputs back from the broker.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest
from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from pipelines.options import PRISM
from pipelines.sample_data import sample_messages
from tests.conftest import require
from transforms.core.kafka_group import until_coordinated

pytestmark = [pytest.mark.integration, pytest.mark.kafka]
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
JARS = Path(ROOT) / ".jars"


class Topics:
    def __init__(self, bootstrap: str, partitions: int = 3) -> None:
        self.bootstrap = bootstrap
        tag = uuid.uuid4().hex[:8]
        self.input, self.predictions, self.dlq, self.group = (f"{n}-{tag}" for n in ("in", "pred", "dlq", "group"))
        admin = AdminClient({"bootstrap.servers": bootstrap})
        new = [NewTopic(t, partitions, 1) for t in (self.input, self.predictions, self.dlq)]
        for future in admin.create_topics(new).values():
            future.result(30)

    def produce(
        self,
        rows: int,
        start: int = 0,
        malformed_every: int = 0,
        pace_s: float = 0.0,
        until: threading.Event | None = None,
    ) -> None:
        """Produce `rows` messages, `pace_s` apart per 20; stop early once `until` is set."""
        producer = Producer({"bootstrap.servers": self.bootstrap, "enable.idempotence": True, "acks": "all"})
        for i, (key, value) in enumerate(sample_messages(rows, 4, start, malformed_every)):
            if until is not None and until.is_set():
                break
            producer.produce(self.input, value, key)
            if pace_s and i % 20 == 19:
                producer.flush(10)
                time.sleep(pace_s)
        assert producer.flush(30) == 0

    def overrides(self, **extra: str) -> list[str]:
        values = {
            "source.bootstrap_servers": self.bootstrap,
            "source.topic": self.input,
            "source.group_id": self.group,
            "output.predictions": self.predictions,
            "output.dead_letters": self.dlq,
            **extra,
        }
        return [arg for k, v in values.items() for arg in ("--set", f"{k}={v}")]

    def read(self, topic: str, expect: int, timeout: float = 60.0) -> list:
        consumer = Consumer(
            {
                "bootstrap.servers": self.bootstrap,
                "group.id": uuid.uuid4().hex,
                "auto.offset.reset": "earliest",
                "isolation.level": "read_committed",  # what a downstream reader of exactly-once outputs sets
            }
        )
        consumer.subscribe([topic])
        out: list = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and len(out) < expect:
            out += [m for m in consumer.consume(500, 0.5) if m.error() is None]
        # Anything beyond `expect` (duplicates) that is already there:
        out += [m for m in consumer.consume(500, 1.0) if m.error() is None]
        consumer.close()
        return out

    def committed(self) -> dict[int, int]:
        """The group's committed offsets now. read_uncommitted: a read_committed lookup waits while a killed
        exactly-once job's transaction is open, until the next run fences it."""
        consumer = Consumer(
            {"bootstrap.servers": self.bootstrap, "group.id": self.group, "isolation.level": "read_uncommitted"}
        )
        parts = consumer.list_topics(self.input, timeout=10).topics[self.input].partitions
        wanted = [TopicPartition(self.input, p) for p in parts]
        done = until_coordinated(lambda: consumer.committed(wanted, timeout=10), 60)  # a new broker elects one first
        consumer.close()
        return {tp.partition: tp.offset for tp in done}

    def ends(self) -> dict[int, int]:
        consumer = Consumer({"bootstrap.servers": self.bootstrap, "group.id": self.group})
        parts = consumer.list_topics(self.input, timeout=10).topics[self.input].partitions
        marks = {p: consumer.get_watermark_offsets(TopicPartition(self.input, p), timeout=10)[1] for p in parts}
        consumer.close()
        return marks


def smscore(*args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pipelines.cli", *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout
    )


FLINK_JAVA_READER = [
    "--set", "source.reader=java", "--set", "source.java_environment=EMBEDDED",
    "--runner=FlinkRunner", "--flink_master=[local]", "--flink_job_server_jar=.jars/flink-job-server.jar",
    "--environment_type=LOOPBACK",
]  # fmt: skip


STOPPED = "smscore: stopping the stream; uncommitted records are read again by the next run"
BREAK_AT_ONCE = ["--set", "invoke.retry.abort_after_endpoint_failures=1"]


def require_flink_and_kafka_io() -> None:
    require((JARS / "flink-job-server.jar").exists(), "the Flink job server (.jars/flink-job-server.jar)")
    require((JARS / "kafka-expansion-service.jar").exists(), "the KafkaIO expansion service jar")


class StreamJob(subprocess.Popen):  # type: ignore[type-arg]
    """A streaming `smscore run` writing to a file: a pipe read only at the end fills up while Kafka clients
    log a broker's absence, and then blocks their threads."""

    def __init__(self, args: list[str]) -> None:
        fd, name = tempfile.mkstemp(prefix="smscore-stream-", suffix=".log")
        self.log = Path(name)
        with os.fdopen(fd, "w") as out:
            # its own process group: a kill takes Prism and the endpoint with it
            super().__init__(args, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def start_stream(topics: Topics, *extra: str) -> StreamJob:
    if "--runner=FlinkRunner" not in extra:
        require(PRISM.exists(), "the Prism runner (.tools/bin/prism)")
    return StreamJob(
        [
            sys.executable, "-m", "pipelines.cli", "run", "--config", "configs/kafka-streaming.yaml",
            "--no-progress", *topics.overrides(**{"source.max_wait_ms": "300"}), *extra,
        ]
    )  # fmt: skip


def _missing_report(topics: Topics, seen: Counter, log: str) -> str:
    """What to look at when predictions are missing: the dead letters' classes and the job's log tail."""
    dead = [json.loads(m.value()) for m in topics.read(topics.dlq, 1, timeout=5)]
    classes = Counter(d.get("error_class") for d in dead)
    return f"{len(seen)} predictions, {len(dead)} dead letters {dict(classes)}; job log:\n{log[-3000:]}"


def offsets_of(messages: list) -> Counter:
    return Counter((json.loads(m.value())["kafka_partition"], json.loads(m.value())["kafka_offset"]) for m in messages)


def test_bounded_scores_exactly_what_the_topic_holds_and_commits(kafka_broker, tmp_path):
    topics = Topics(kafka_broker)
    topics.produce(300, malformed_every=50)
    report = tmp_path / "report.json"
    result = smscore("run", "--config", "configs/kafka-bounded.yaml", "--no-progress", "--report", str(report),
                     *topics.overrides(**{"output.report": str(tmp_path / "r.json")}))  # fmt: skip
    assert result.returncode == 0, result.stderr
    summary = json.loads(report.read_text())
    assert (summary["records_in"], summary["predictions_out"], summary["dead_letters_out"]) == (300, 294, 6)
    assert summary["dead_letters_by_class"] == {"MalformedRecord": 6}

    predictions = topics.read(topics.predictions, 294)
    dead = topics.read(topics.dlq, 6)
    assert len(predictions) == 294 and len(dead) == 6
    seen = offsets_of(predictions) + offsets_of(dead)
    assert sum(seen.values()) == 300 and max(seen.values()) == 1  # every offset exactly once
    first = predictions[0]
    body = json.loads(first.value())
    assert first.key() == str(body["id"]).encode()  # the input key is kept
    headers = dict(first.headers())
    assert headers["inference_id"].decode() == body["inference_id"] and headers["invoked_variant"]
    assert all(json.loads(m.value())["error_class"] == "MalformedRecord" for m in dead)
    assert topics.committed() == topics.ends()

    again = smscore("run", "--config", "configs/kafka-bounded.yaml", "--no-progress", *topics.overrides())
    assert again.returncode == 0, again.stderr
    assert "Scored 0 records" in again.stdout  # everything was committed: a rerun finds nothing new


def test_unreachable_broker_fails_fast_with_a_clear_message():
    started = time.monotonic()
    result = smscore("run", "--config", "configs/kafka-bounded.yaml", "--set", "source.bootstrap_servers=127.0.0.1:1")
    assert result.returncode == 3
    assert "cannot reach Kafka at 127.0.0.1:1" in result.stderr and "Traceback" not in result.stderr
    assert time.monotonic() - started < 60


def wait_for(predicate, timeout: float, proc: StreamJob) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        if proc.poll() is not None:
            pytest.fail(f"the streaming job exited early:\n{proc.output()}")
        time.sleep(1)
    pytest.fail("timed out waiting for the streaming job")


def stop(proc: StreamJob, sig: int = signal.SIGTERM) -> str:
    """SIGTERM: a clean stop. SIGKILL: a crash of the whole job (CLI, Prism, endpoint). Returns its output."""
    if sig == signal.SIGKILL:
        kill_group(proc)
    else:
        proc.send_signal(sig)
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        kill_group(proc)
        proc.wait(timeout=30)
    return proc.output()


def kill_group(proc: StreamJob) -> None:
    """SIGKILL the job's process group; a job that already exited (its group gone) keeps its own output."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_streaming_scores_while_a_producer_runs_and_stops_in_one_line(kafka_broker, stop_signal):
    topics = Topics(kafka_broker)
    proc = start_stream(topics)
    try:
        producer = threading.Thread(target=topics.produce, args=(400,), kwargs={"malformed_every": 100, "pace_s": 0.1})
        producer.start()
        producer.join()
        wait_for(lambda: topics.committed() == topics.ends(), 150, proc)
    finally:
        out = stop(proc, stop_signal)
    assert proc.returncode == 0, out[-3000:]
    # One line says it stopped, and nothing follows it: no traceback, no runner's farewell.
    assert out.rstrip().splitlines()[-1] == STOPPED and "Traceback" not in out, out[-3000:]
    predictions = topics.read(topics.predictions, 396)
    dead = topics.read(topics.dlq, 4)
    seen = offsets_of(predictions) + offsets_of(dead)
    assert len(seen) == 400  # every input offset has an output
    assert len(dead) >= 4 and {json.loads(m.value())["error_class"] for m in dead} == {"MalformedRecord"}


def test_a_stream_whose_endpoint_does_not_exist_stops_and_commits_nothing(kafka_broker):
    topics = Topics(kafka_broker)
    topics.produce(200)
    # A limit of 1: no bundle can finish with dead letters (and commit) before the breaker trips.
    proc = start_stream(topics, "--set", "endpoint.name=no-such-endpoint", *BREAK_AT_ONCE)
    try:
        proc.wait(timeout=180)
        out = proc.output()
    except subprocess.TimeoutExpired:  # it did not stop by itself
        out = stop(proc, signal.SIGKILL)
    assert proc.returncode == 3, out[-3000:]
    assert "Traceback" not in out, out[-3000:]  # the worker's tracebacks stay in the DEBUG log
    verdict = [line for line in out.splitlines() if line.startswith("smscore: run failed")]
    assert len(verdict) == 1 and verdict[0].startswith(
        "smscore: run failed: transforms.invoke.outage.EndpointOutage: the endpoint failed a request "
    )
    assert "Endpoint no-such-endpoint of account" in verdict[0]
    assert all(offset < 0 for offset in topics.committed().values()), "a restart must read every message again"
    assert topics.read(topics.dlq, 1, timeout=3) == [], "an outage is not dead-lettered"


def test_a_stream_killed_midway_and_restarted_loses_nothing(kafka_broker):
    topics = Topics(kafka_broker, partitions=2)
    topics.produce(300)
    proc = start_stream(topics, "--set", "source.start=earliest")
    wait_for(lambda: sum(topics.committed().values()) > 0, 150, proc)
    stop(proc, signal.SIGKILL)  # no goodbye: whatever was not committed is read again
    topics.produce(200, start=300)
    proc = start_stream(topics)  # resumes from the committed offsets
    try:
        wait_for(lambda: topics.committed() == topics.ends(), 150, proc)
    finally:
        stop(proc)
    predictions = topics.read(topics.predictions, 500)
    seen = offsets_of(predictions)
    assert len(seen) == 500  # nothing lost
    ids: dict[tuple[int, int], set[str]] = {}
    for m in predictions:
        body = json.loads(m.value())
        ids.setdefault((body["kafka_partition"], body["kafka_offset"]), set()).add(body["inference_id"])
    assert all(len(v) == 1 for v in ids.values())  # a replayed record carries the id it had before


def run_failing_at(topics: Topics, failpoint: str, *extra: str) -> str:
    """A stream from the earliest offsets whose first two passes through ``failpoint`` fail; waits until the job
    stops (Prism stops it on a failed bundle) or has committed everything, and returns its output."""
    os.environ["SMSCORE_FAILPOINTS"] = f"{failpoint}:2"
    try:
        proc = start_stream(topics, "--set", "source.start=earliest", *extra)
    finally:
        del os.environ["SMSCORE_FAILPOINTS"]
    deadline = time.monotonic() + 150
    while proc.poll() is None and topics.committed() != topics.ends() and time.monotonic() < deadline:
        time.sleep(1)
    return stop(proc) if proc.poll() is None else proc.output()


def test_a_stream_failing_between_produce_and_flush_commits_only_what_is_written(kafka_broker):
    """A failpoint fails the first bundles after their messages are produced and before the flush that confirms
    them: the job stops (Prism), every committed offset below the failure has its output, and the restarted
    stream scores the rest."""
    topics = Topics(kafka_broker, partitions=2)
    topics.produce(400)
    assert "failpoint produce-before-flush" in run_failing_at(topics, "produce-before-flush")
    committed = topics.committed()
    written = offsets_of(topics.read(topics.predictions, sum(max(end, 0) for end in committed.values()), 30))
    assert all((p, o) in written for p, end in committed.items() for o in range(max(end, 0))), committed
    proc = start_stream(topics)
    try:
        wait_for(lambda: topics.committed() == topics.ends(), 150, proc)
    finally:
        log = stop(proc)
    seen = offsets_of(topics.read(topics.predictions, 400))
    assert len(seen) == 400, _missing_report(topics, seen, log)


@pytest.mark.flink
def test_java_kafkaio_reader_on_flink_bounded(kafka_broker, tmp_path):
    require_flink_and_kafka_io()
    topics = Topics(kafka_broker, partitions=2)
    topics.produce(200, malformed_every=50)
    report = tmp_path / "report.json"
    result = smscore("run", "--config", "configs/kafka-bounded.yaml", "--no-progress", "--report", str(report),
                     *topics.overrides(**{"output.report": str(tmp_path / "r.json")}), *FLINK_JAVA_READER)  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads(report.read_text())
    assert (summary["records_in"], summary["predictions_out"], summary["dead_letters_out"]) == (200, 196, 4)
    seen = offsets_of(topics.read(topics.predictions, 196)) + offsets_of(topics.read(topics.dlq, 4))
    assert len(seen) == 200
    assert topics.committed() == topics.ends()  # KafkaIO committed on finalize


@pytest.mark.flink
def test_java_kafkaio_reader_starts_at_a_timestamp(kafka_broker, tmp_path):
    require_flink_and_kafka_io()
    topics = Topics(kafka_broker, partitions=2)
    topics.produce(100)
    time.sleep(1.0)
    since = dt.datetime.now(dt.UTC)
    time.sleep(0.2)
    topics.produce(100, start=100)
    report = tmp_path / "report.json"
    overrides = {"output.report": str(tmp_path / "r.json"), "source.start": "timestamp",
                 "source.start_timestamp": since.isoformat()}  # fmt: skip
    result = smscore("run", "--config", "configs/kafka-bounded.yaml", "--no-progress", "--report", str(report),
                     *topics.overrides(**overrides), *FLINK_JAVA_READER)  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(report.read_text())["predictions_out"] == 100
    ids = sorted(json.loads(m.value())["id"] for m in topics.read(topics.predictions, 100))
    assert ids == list(range(100, 200))  # only what was produced from the timestamp on


@pytest.mark.flink
def test_kafka_streaming_on_flink_with_checkpointing(kafka_broker):
    require_flink_and_kafka_io()
    topics = Topics(kafka_broker, partitions=2)
    proc = start_stream(topics, *FLINK_JAVA_READER, "--checkpointing_interval=2000")
    try:
        topics.produce(300, pace_s=0.1)
        wait_for(lambda: topics.committed() == topics.ends(), 240, proc)
    finally:
        log = stop(proc)
    seen = offsets_of(topics.read(topics.predictions, 300))
    assert len(seen) == 300, _missing_report(topics, seen, log)


@pytest.mark.flink
def test_a_flink_stream_killed_midway_and_restarted_loses_nothing(kafka_broker):
    """The Flink twin of the Prism kill test: offsets committed on checkpoints must only cover
    records whose predictions were already written, so a crash between two checkpoints loses nothing."""
    require_flink_and_kafka_io()
    topics = Topics(kafka_broker, partitions=2)
    proc = start_stream(topics, *FLINK_JAVA_READER)  # default checkpoints; a new group starts at the earliest offset
    killed = threading.Event()
    producer = threading.Thread(target=topics.produce, args=(100_000,), kwargs={"pace_s": 0.3, "until": killed})
    producer.start()
    try:
        wait_for(lambda: sum(topics.committed().values()) > 0, 240, proc)
    finally:
        first_log = stop(proc, signal.SIGKILL)  # while records are still arriving, between checkpoints
        committed_at_kill = sum(topics.committed().values())
        killed.set()
        producer.join()
    assert committed_at_kill < sum(topics.ends().values())  # the crash came mid-stream
    topics.produce(200, start=100_000)
    proc = start_stream(topics, *FLINK_JAVA_READER)  # resumes from the committed offsets
    try:
        wait_for(lambda: topics.committed() == topics.ends(), 240, proc)
    finally:
        log = stop(proc)
    total = sum(topics.ends().values())
    seen = offsets_of(topics.read(topics.predictions, total))
    assert len(seen) == total, _missing_report(topics, seen, first_log + log)


EXACTLY_ONCE = ["--set", "output.delivery=exactly_once"]


@pytest.mark.chaos
@pytest.mark.parametrize("delivery", [[], EXACTLY_ONCE], ids=["at_least_once", "exactly_once"])
def test_a_broker_restarted_under_a_running_stream_gives_every_offset_one_output(tmp_path, delivery):
    """The broker stops and starts again (same port, same data) while the stream runs: once it has caught up,
    every input offset has exactly one output, read from the output topics themselves, and is committed."""
    from local_kafka.broker import DEFAULT_JARS, start_broker

    require(any(DEFAULT_JARS.glob("kafka_2.13-*.jar")), "the Kafka broker jars (.jars/kafka-broker)")
    broker = start_broker(tmp_path / "kafka")
    try:
        topics = Topics(broker.bootstrap, partitions=2)
        topics.produce(300)
        proc = start_stream(topics, "--set", "source.start=earliest", *delivery)

        def settled(check):  # type: ignore[no-untyped-def]
            """A check that is false while the broker cannot answer it (starting, electing a coordinator)."""
            try:
                return check()
            except KafkaException:
                return False

        try:
            wait_for(lambda: settled(lambda: sum(topics.committed().values()) > 0), 150, proc)
            broker.restart()
            topics.produce(300, start=300)
            wait_for(lambda: settled(lambda: topics.committed() == topics.ends()), 180, proc)
        finally:
            log = stop(proc)
        seen = read_committed(topics, 600)
        assert len(seen) == 600, _missing_report(topics, seen, log)
        assert max(seen.values()) == 1, f"outputs repeated: {[k for k, n in seen.items() if n > 1][:10]}"
    finally:
        broker.stop()


def read_committed(topics: Topics, expect: int) -> Counter:
    """Every message on both output topics as a read_committed consumer sees it, counted per input offset."""
    dead = topics.read(topics.dlq, 1, timeout=5)
    return offsets_of(dead + topics.read(topics.predictions, max(expect - len(dead), 1), timeout=10 if expect else 5))


def test_exactly_once_bounded_failed_before_commit_and_rerun_gives_every_offset_one_output(kafka_broker, tmp_path):
    """A bounded run fails after producing its outputs and before committing (a failpoint): a read_committed
    consumer sees none of them; the rerun gives every input offset exactly one output and commits the range."""
    topics = Topics(kafka_broker, partitions=2)
    topics.produce(2000, malformed_every=50)
    args = ["run", "--config", "configs/kafka-bounded.yaml", "--no-progress", *EXACTLY_ONCE]
    args += topics.overrides(**{"output.report": str(tmp_path / "r.json"), "source.max_records": "100"})
    env = {**os.environ, "SMSCORE_FAILPOINTS": "transaction-before-commit:1"}
    failed = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=240
    )
    assert failed.returncode == 3 and "failpoint transaction-before-commit" in failed.stderr, failed.stderr[-2000:]
    assert not read_committed(topics, 0) and all(o < 0 for o in topics.committed().values())
    rerun = smscore(*args)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    seen = read_committed(topics, 2000)
    assert len(seen) == 2000 and max(seen.values()) == 1, [k for k, n in seen.items() if n > 1][:10]
    assert topics.committed() == topics.ends()
    report = json.loads((tmp_path / "r.json").read_text())
    assert (report["records_in"], report["dead_letters_out"]) == (2000, 40)


def test_exactly_once_stream_killed_at_three_points_under_a_steady_producer(kafka_broker, tmp_path):
    """SIGKILL the stream three times while a producer keeps writing; restart it each time. A read_committed
    consumer then finds exactly one output (prediction or dead letter) per input offset, and no gap."""
    topics = Topics(kafka_broker, partitions=2)
    stop_producing = threading.Event()
    producer = threading.Thread(
        target=topics.produce, args=(100_000,), kwargs={"malformed_every": 97, "pace_s": 0.02, "until": stop_producing}
    )
    producer.start()
    try:
        for _ in range(3):
            proc = start_stream(topics, "--set", "source.start=earliest", *EXACTLY_ONCE)
            before = sum(o for o in topics.committed().values() if o > 0)
            wait_for(lambda b=before: sum(o for o in topics.committed().values() if o > 0) > b + 100, 150, proc)
            stop(proc, signal.SIGKILL)
    finally:
        stop_producing.set()
        producer.join()
    proc = start_stream(topics, *EXACTLY_ONCE)
    try:
        wait_for(lambda: topics.committed() == topics.ends(), 150, proc)
    finally:
        log = stop(proc)
    total = sum(topics.ends().values())
    seen = read_committed(topics, total)
    assert len(seen) == total, _missing_report(topics, seen, log)
    assert max(seen.values()) == 1, f"outputs repeated: {[k for k, n in seen.items() if n > 1][:10]}"


def test_exactly_once_a_failure_between_producing_and_committing_repeats_nothing(kafka_broker):
    """A failpoint fails the first transactions after their messages are produced and before they commit: the
    runner fails the bundle (Prism: the job, which is started again); aborted messages stay invisible."""
    topics = Topics(kafka_broker, partitions=2)
    topics.produce(400, malformed_every=40)
    assert "failpoint transaction-before-commit" in run_failing_at(topics, "transaction-before-commit", *EXACTLY_ONCE)
    proc = start_stream(topics, *EXACTLY_ONCE)
    try:
        wait_for(lambda: topics.committed() == topics.ends(), 150, proc)
    finally:
        log = stop(proc)
    seen = read_committed(topics, 400)
    assert len(seen) == 400, _missing_report(topics, seen, log)
    assert max(seen.values()) == 1, f"outputs repeated: {[k for k, n in seen.items() if n > 1][:10]}"
