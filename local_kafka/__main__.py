"""``python -m local_kafka up|down``: the broker behind ``make kafka-up`` / ``make kafka-down``."""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import sys
from pathlib import Path

from local_kafka.broker import BrokerError, start_broker


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local_kafka", description=__doc__)
    parser.add_argument("action", choices=["up", "down"])
    parser.add_argument("--port", type=int, default=9092, help="broker port on 127.0.0.1 (default: %(default)s)")
    parser.add_argument("--dir", type=Path, default=Path(".kafka"), help="state directory (default: %(default)s)")
    args = parser.parse_args(argv)
    pid_file = args.dir / "broker.pid"
    if args.action == "down":
        if not pid_file.exists():
            print("no broker is running (no .kafka/broker.pid)")
            return 0
        with contextlib.suppress(ProcessLookupError):
            os.kill(int(pid_file.read_text()), signal.SIGTERM)
        shutil.rmtree(args.dir, ignore_errors=True)
        print("Kafka broker stopped")
        return 0
    if pid_file.exists():
        print(f"a broker is already running (pid {pid_file.read_text().strip()}); `make kafka-down` first")
        return 1
    shutil.rmtree(args.dir, ignore_errors=True)
    try:
        broker = start_broker(args.dir.resolve(), args.port, detach=True)
    except BrokerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    pid_file.write_text(str(broker.process.pid))
    print(f"Kafka broker listening on {broker.bootstrap} (log: {broker.log_file}); `make kafka-down` stops it")
    return 0


if __name__ == "__main__":
    sys.exit(main())
