"""Progress on stderr: records scored / total, rate, ETA, fed by worker datagrams."""

from __future__ import annotations

import socket
import sys
import threading
import time
from typing import TextIO

_CLEAR_TO_END = "\x1b[K"


class ProgressDisplay:
    """Listens on a loopback UDP port. On a terminal it redraws one status line at most every ``interval``
    seconds; elsewhere (a log file, cron, CI) it writes a whole line every ``log_interval`` seconds, since
    carriage-return redraws there pile up into one unreadable line."""

    def __init__(
        self,
        total: int | None,
        stream: TextIO = sys.stderr,
        interval: float = 0.5,
        enabled: bool = True,
        log_interval: float = 30.0,
    ) -> None:
        self.total = total
        self.done = 0
        self.stream = stream
        self.terminal = stream.isatty()
        self.interval = interval if self.terminal else log_interval
        self.enabled = enabled
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.settimeout(0.2)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="progress", daemon=True)
        self._start = time.monotonic()

    @property
    def address(self) -> str:
        host, port = self._sock.getsockname()
        return f"{host}:{port}"

    def line(self) -> str:
        elapsed = max(time.monotonic() - self._start, 1e-6)
        rate = self.done / elapsed
        if self.total is None:  # a stream: no end, no ETA
            return f"scored {self.done:,} records · {rate:,.0f} rec/s · running {elapsed:,.0f}s (Ctrl-C stops)"
        pct = 100.0 * self.done / self.total if self.total else 100.0
        eta = (self.total - self.done) / rate if rate > 0 and self.total >= self.done else None
        eta_text = f"ETA {eta:5.0f}s" if eta is not None else "ETA    ?"
        return f"scored {self.done:,} / {self.total:,} records ({pct:5.1f}%) · {rate:,.0f} rec/s · {eta_text}"

    def _loop(self) -> None:
        last = 0.0
        while not self._stop.is_set():
            try:
                data = self._sock.recv(64)
                self.done += int(data)
            except (TimeoutError, ValueError):
                pass
            now = time.monotonic()
            if self.enabled and now - last >= self.interval:
                self._show(final=False)
                last = now

    def _show(self, final: bool) -> None:
        if self.terminal:  # redraw in place, clearing what a longer line left
            self.stream.write("\r" + self.line() + _CLEAR_TO_END + ("\n" if final else ""))
        else:
            self.stream.write(self.line() + "\n")
        self.stream.flush()

    def __enter__(self) -> ProgressDisplay:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as wake:  # rather than wait out the recv timeout
            wake.sendto(b"0", self._sock.getsockname())
        self._thread.join(timeout=2)
        if self.enabled:
            self._show(final=True)
        self._sock.close()
