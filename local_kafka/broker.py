"""Start and stop a single-node KRaft Kafka broker from the jars ``make kafka-jars`` copies.

No Docker and no download: the broker is ``kafka.Kafka`` on a classpath of jars
Maven put in ``.jars/kafka-broker``; storage is formatted in a directory of ours.
"""

from __future__ import annotations

import base64
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_JARS = REPO / ".jars" / "kafka-broker"
HEAP = "-Xmx512m"


class BrokerError(RuntimeError):
    """The broker could not be started; the message says why and where its log is."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def jars_dir() -> Path:
    path = Path(os.environ.get("SMSCORE_KAFKA_JARS", DEFAULT_JARS))
    if not any(path.glob("kafka_2.13-*.jar")):
        raise BrokerError(f"no Kafka jars in {path}: run `make kafka-jars` (Maven fetches them)")
    return path


def server_properties(data_dir: Path, port: int, controller_port: int) -> str:
    return "\n".join(
        [
            "process.roles=broker,controller",
            "node.id=1",
            f"controller.quorum.voters=1@127.0.0.1:{controller_port}",
            f"listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}",
            f"advertised.listeners=PLAINTEXT://127.0.0.1:{port}",
            "controller.listener.names=CONTROLLER",
            "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            "inter.broker.listener.name=PLAINTEXT",
            f"log.dirs={data_dir / 'logs'}",
            "num.partitions=1",
            "offsets.topic.replication.factor=1",
            "offsets.topic.num.partitions=4",
            "transaction.state.log.replication.factor=1",
            "transaction.state.log.min.isr=1",
            "group.initial.rebalance.delay.ms=0",
            "auto.create.topics.enable=true",
        ]
    )


@dataclass
class Broker:
    """A running broker process; ``bootstrap`` is ``127.0.0.1:<port>``."""

    bootstrap: str
    process: subprocess.Popen[bytes]
    data_dir: Path

    @property
    def log_file(self) -> Path:
        return self.data_dir / "broker.log"

    def restart(self, ready_timeout: float = 90.0) -> None:
        """Stop the broker and start it again on the same port and data directory (what a deploy or a crash
        of the broker does to its clients)."""
        self.stop()
        self.process = _java(jars_dir(), "kafka.Kafka", str(self.data_dir / "server.properties"), log=self.log_file)
        wait_ready(self.bootstrap, self.process, self.log_file, ready_timeout)

    def stop(self, timeout: float = 30.0) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _java(jars: Path, main: str, *args: str, log: Path, detach: bool = False) -> subprocess.Popen[bytes]:
    with open(log, "ab") as out:
        return subprocess.Popen(
            ["java", HEAP, "-cp", f"{jars}/*", main, *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=detach,
        )


def wait_ready(bootstrap: str, process: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
    """Wait until the port accepts connections and the broker answers a metadata request."""
    from confluent_kafka.admin import AdminClient

    host, port = bootstrap.rsplit(":", 1)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BrokerError(f"Kafka broker exited with status {process.returncode}; see {log}")
        try:
            socket.create_connection((host, int(port)), timeout=1).close()
        except OSError:
            time.sleep(0.2)
            continue
        admin = AdminClient({"bootstrap.servers": bootstrap})
        metadata = admin.list_topics(timeout=max(1.0, deadline - time.monotonic()))
        if metadata.brokers:
            return
    raise BrokerError(f"Kafka broker did not answer on {bootstrap} within {timeout:.0f} s; see {log}")


def new_cluster_id() -> str:
    """A random KRaft cluster id (a UUID in URL-safe base64) that does not start with ``-``: the storage
    tool would read such an id as an option and fail (1 run in 64); Kafka's own ``Uuid`` avoids it too."""
    while (cluster_id := base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")).startswith("-"):
        pass
    return cluster_id


def start_broker(data_dir: Path, port: int = 0, detach: bool = False, ready_timeout: float = 90.0) -> Broker:
    """Format storage in ``data_dir`` and start a broker on 127.0.0.1:``port`` (0: a free port)."""
    jars = jars_dir()
    if shutil.which("java") is None:
        raise BrokerError("java is not on PATH (the Kafka broker is a Java program)")
    data_dir.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    controller_port = free_port()
    while controller_port == port:  # two free ports asked one after the other can be the same one
        controller_port = free_port()
    props = data_dir / "server.properties"
    props.write_text(server_properties(data_dir, port, controller_port), encoding="utf-8")
    log = data_dir / "broker.log"
    fmt = _java(jars, "kafka.tools.StorageTool", "format", "-t", new_cluster_id(), "-c", str(props), log=log)
    if fmt.wait() != 0:  # the log may live in a temporary directory: carry its end in the message
        tail = log.read_text(encoding="utf-8", errors="replace")[-2000:]
        raise BrokerError(f"formatting Kafka storage failed; {log} ends with:\n{tail}")
    process = _java(jars, "kafka.Kafka", str(props), log=log, detach=detach)
    broker = Broker(f"127.0.0.1:{port}", process, data_dir)
    try:
        wait_ready(broker.bootstrap, process, log, ready_timeout)
    except BaseException:
        broker.stop()
        raise
    return broker


@contextmanager
def running_broker(port: int = 0) -> Iterator[Broker]:
    """A broker in a fresh temporary directory, stopped and deleted on exit."""
    with tempfile.TemporaryDirectory(prefix="smscore-kafka-") as tmp:
        broker = start_broker(Path(tmp), port)
        try:
            yield broker
        finally:
            broker.stop()
