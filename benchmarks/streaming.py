"""The streaming figure: a fixed produce rate through a real Kafka broker, our streaming job on Prism, in either
delivery mode.

End-to-end latency of a record = when a ``read_committed`` consumer, polling from before the first message, receives
its prediction, minus the create time of its input message (stamped by the producer here): with exactly-once a
prediction becomes visible only when its transaction commits, so the receive time is what a downstream reader
sees, in both modes.
"""

from __future__ import annotations

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
from pathlib import Path
from typing import Any

from local_kafka.broker import running_broker
from pipelines.sample_data import sample_messages

ROOT = Path(__file__).resolve().parent.parent
STREAMING_RUNS = {  # results.json key -> (messages/s, output.delivery)
    "streaming": (500, "at_least_once"),
    "streaming_exactly_once": (500, "exactly_once"),
    "streaming_5000": (5000, "at_least_once"),
    "streaming_5000_exactly_once": (5000, "exactly_once"),
}


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1)


class _Receiver:
    """A read_committed consumer of the predictions topic on its own thread: (receive time - input create time)."""

    def __init__(self, bootstrap: str, topic: str, expect: int) -> None:
        from confluent_kafka import Consumer

        self.consumer = Consumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": uuid.uuid4().hex,
                "auto.offset.reset": "earliest",
                "isolation.level": "read_committed",
            }
        )
        self.consumer.subscribe([topic])
        self.expect = expect
        self.latencies: list[float] = []
        self.received_ms: list[float] = []
        self.deadline = float("inf")
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while len(self.latencies) < self.expect and time.monotonic() < self.deadline:
            for m in self.consumer.consume(500, 0.1):
                if m.error() is None:
                    now_ms = time.time() * 1000
                    body = json.loads(m.value() or b"{}")
                    produced_ms = dt.datetime.fromisoformat(body["kafka_timestamp"]).timestamp() * 1000
                    self.latencies.append(now_ms - produced_ms)
                    self.received_ms.append(now_ms)

    def wait(self, seconds: float) -> None:
        self.deadline = time.monotonic() + seconds
        self._thread.join()
        self.consumer.close()


def streaming_figure(
    rate: int = 500, seconds: int = 30, partitions: int = 4, delivery: str = "at_least_once"
) -> dict[str, Any]:
    from confluent_kafka import Producer
    from confluent_kafka.admin import AdminClient, NewTopic

    with running_broker() as broker, tempfile.TemporaryDirectory() as tmp:
        tag = uuid.uuid4().hex[:6]
        topics = {"in": f"bench-in-{tag}", "pred": f"bench-pred-{tag}", "dlq": f"bench-dlq-{tag}"}
        admin = AdminClient({"bootstrap.servers": broker.bootstrap})
        for future in admin.create_topics([NewTopic(t, partitions, 1) for t in topics.values()]).values():
            future.result(30)
        sets = {
            "source.bootstrap_servers": broker.bootstrap,
            "source.topic": topics["in"],
            "source.group_id": f"bench-{tag}",
            "source.start": "earliest",
            "output.predictions": topics["pred"],
            "output.dead_letters": topics["dlq"],
            "output.delivery": delivery,
        }
        cmd = [
            sys.executable,
            "-m",
            "pipelines.cli",
            "run",
            "--config",
            "configs/kafka-streaming.yaml",
            "--no-progress",
        ]
        cmd += [a for k, v in sets.items() for a in ("--set", f"{k}={v}")]
        log = open(Path(tmp) / "job.log", "w")  # noqa: SIM115 - closed below
        job = subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            time.sleep(20)  # Prism and the job start before the clock runs
            producer = Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 5})
            total = rate * seconds
            receiver = _Receiver(broker.bootstrap, topics["pred"], total)
            messages = sample_messages(total, 4)
            started = time.monotonic()
            for i, (key, value) in enumerate(messages):
                producer.produce(topics["in"], value, key)
                producer.poll(0)
                lag = started + (i + 1) / rate - time.monotonic()
                if lag > 0:
                    time.sleep(lag)
            producer.flush(30)
            receiver.wait(120)
        finally:
            os.killpg(job.pid, signal.SIGTERM)
            job.wait(60)
            log.close()
    latencies, received = receiver.latencies, receiver.received_ms
    span = (max(received) - min(received)) / 1000 if received else 0
    return {
        "delivery": delivery,
        "produce_rate_per_s": rate,
        "seconds": seconds,
        "records_produced": total,
        "records_scored": len(latencies),
        "sustained_records_per_s": round(len(latencies) / span, 1) if span else 0.0,
        "latency_ms_p50": _percentile(latencies, 0.5) if latencies else None,
        "latency_ms_p99": _percentile(latencies, 0.99) if latencies else None,
        "runner": "Prism (LOOPBACK), max_wait_ms 500, max_records 500",
    }
