"""Fire-and-forget progress datagrams from workers to the launching CLI.

Workers on this machine (DirectRunner, Flink LOOPBACK) report records scored to a
UDP port the CLI listens on; elsewhere (Dataflow) no address is set and the
runner's own UI shows the Beam metrics instead. Losing a datagram only makes the
display lag: the report at the end is computed inside the pipeline.
"""

from __future__ import annotations

import contextlib
import socket


class ProgressSender:
    def __init__(self, address: str | None) -> None:
        self._target: tuple[str, int] | None = None
        self._sock: socket.socket | None = None
        if address:
            host, _, port = address.rpartition(":")
            self._target = (host, int(port))
            self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self._sock.setblocking(False)

    def send(self, records: int) -> None:
        if self._sock is not None and self._target is not None and records:
            with contextlib.suppress(OSError):
                self._sock.sendto(str(records).encode(), self._target)
