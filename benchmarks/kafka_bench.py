"""Kafka -> Kafka on one broker and one endpoint: our bounded job against P5 (the plain script), then our streaming
job on Prism draining the same backlog.

The bundled demo endpoint in its own process, 4 features per message; both read the same input topic under
their own consumer groups and write topics of their own. The streaming rate counts from the job's start to the
moment its group has committed every input offset, start-up included.

    python -m benchmarks.kafka_bench [--messages 1000000]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import time
import uuid
from typing import Any

from benchmarks.bench import CONTENDER_PYTHON, ENV, ROOT, WORK, measure
from local_endpoint.cli import endpoint_process
from local_kafka.broker import running_broker
from pipelines.sample_data import produce_sample

PARTITIONS = 4
THREADS = 8  # P5's pool; configs/kafka-bounded.yaml keeps as many requests in flight


def _topics(bootstrap: str, names: list[str]) -> None:
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": bootstrap})
    for future in admin.create_topics([NewTopic(n, PARTITIONS, 1) for n in names]).values():
        future.result(30)


def _committed(consumer: Any, topic: str) -> int:
    """Offsets the consumer's group has committed in ``topic``, summed over its partitions."""
    from confluent_kafka import TopicPartition

    offsets = consumer.committed([TopicPartition(topic, p) for p in range(PARTITIONS)], timeout=10)
    return sum(max(tp.offset, 0) for tp in offsets)


def _ours(config: str, bootstrap: str, url: str, tag: str, topic: str, *extra: str) -> list[str]:
    sets = {
        "local_endpoint.enabled": "false",
        "endpoint.endpoint_url": url,
        "source.bootstrap_servers": bootstrap,
        "source.topic": topic,
        "source.group_id": f"ours-{tag}",
        "output.predictions": f"pred-{tag}",
        "output.dead_letters": f"dlq-{tag}",
        "output.report": str(WORK / f"kafka-{tag}" / "report.json"),
        "job.max_dead_letter_fraction": "1.0",
    }
    args = [a for k, v in sets.items() for a in ("--set", f"{k}={v}")]
    return [CONTENDER_PYTHON, "-m", "pipelines.cli", "run", "--config", config, "--no-progress", *args, *extra]


def _streaming_catchup(bootstrap: str, url: str, topic: str, messages: int) -> dict[str, Any]:
    from confluent_kafka import Consumer

    tag = f"stream-{uuid.uuid4().hex[:6]}"
    _topics(bootstrap, [f"pred-{tag}", f"dlq-{tag}"])
    cmd = _ours("configs/kafka-streaming.yaml", bootstrap, url, tag, topic, "--set", "source.start=earliest")
    log = WORK / f"kafka-{tag}.log"  # a file, not a pipe: a full pipe would stall the job mid-run
    started = time.monotonic()
    watcher = Consumer({"bootstrap.servers": bootstrap, "group.id": f"ours-{tag}"})  # reads the job's commits
    with log.open("w") as out:
        job = subprocess.Popen(cmd, cwd=ROOT, env=ENV, stdout=out, stderr=subprocess.STDOUT)
        try:
            done = 0
            while done < messages and time.monotonic() - started < 900:
                if job.poll() is not None:
                    raise RuntimeError(f"the streaming job exited:\n{log.read_text()[-2000:]}")
                time.sleep(1)
                done = _committed(watcher, topic)
            elapsed = time.monotonic() - started
        finally:
            job.send_signal(signal.SIGTERM)
            job.wait(120)
            watcher.close()
    return {"messages": done, "seconds": round(elapsed, 2), "records_per_s": round(done / elapsed, 1)}


def kafka_figures(messages: int) -> dict[str, Any]:
    with running_broker() as broker, endpoint_process() as ep:
        bootstrap, topic = broker.bootstrap, f"in-{uuid.uuid4().hex[:6]}"
        _topics(bootstrap, [topic, "pred-ours", "dlq-ours", "pred-p5"])
        produced_at = time.monotonic()
        produce_sample(bootstrap, topic, messages)
        print(f"  {messages:,} messages in {topic} ({time.monotonic() - produced_at:.1f} s to produce)", flush=True)
        ours, _ = measure(
            "ours-kafka-bounded",
            messages,
            _ours("configs/kafka-bounded.yaml", bootstrap, ep.url, "ours", topic),
            ep.url,
            ep.pid,
        )
        summary = json.loads((WORK / "kafka-ours" / "report.json").read_text())
        ours.records = summary["predictions_out"]
        ours.lost = summary["records_in"] - summary["predictions_out"] - summary["dead_letters_out"]
        p5_cmd = [
            CONTENDER_PYTHON, "-m", "benchmarks.peers", "P5", "--bootstrap", bootstrap, "--topic", topic,
            "--predictions", "pred-p5", "--url", ep.url, "--endpoint", "local-demo", "--threads", str(THREADS),
            "--group", "p5",
        ]  # fmt: skip
        p5, output = measure("P5", messages, p5_cmd, ep.url, ep.pid)
        p5.records = int(json.loads(output.strip().splitlines()[-1])["records"])
        streaming = _streaming_catchup(bootstrap, ep.url, topic, messages)
    return {"bounded": [ours, p5], "streaming_catchup": streaming}


def print_kafka(figures: dict[str, Any]) -> None:
    for r in figures["bounded"]:
        print(
            f"  {r.name:<22} {r.rows:>9,} msgs  {r.wall_s:8.2f} s wall  {r.cpu_s:8.2f} s CPU  {r.peak_rss_mb:7.1f} MB  "
            f"{r.records_per_s:10,.0f} rec/s  {r.calls_per_s:8,.1f} calls/s",
            flush=True,
        )
    s = figures["streaming_catchup"]
    print(f"  streaming catch-up: {s['messages']:,} in {s['seconds']} s = {s['records_per_s']:,.0f} rec/s", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=1_000_000)
    os.environ.setdefault("SMSCORE_LOG_LEVEL", "ERROR")
    print_kafka(kafka_figures(parser.parse_args().messages))


if __name__ == "__main__":
    main()
