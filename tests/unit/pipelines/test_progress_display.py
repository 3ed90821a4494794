"""The progress display, fed by the workers' datagrams: one line redrawn on a terminal, whole lines in a log."""

import io
import time

from pipelines.progress_display import ProgressDisplay
from transforms.invoke.progress_sender import ProgressSender


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def show(stream: io.StringIO) -> str:
    with ProgressDisplay(100, stream, interval=0.01, log_interval=0.01) as display:
        sender = ProgressSender(display.address)
        for _ in range(4):
            sender.send(25)
            time.sleep(0.03)
        deadline = time.monotonic() + 10
        while display.done < 100 and time.monotonic() < deadline:
            time.sleep(0.01)
    return stream.getvalue()


def test_a_log_gets_whole_lines_not_carriage_return_redraws():
    lines = show(io.StringIO()).splitlines()
    assert lines and all(line.startswith("scored ") and "\r" not in line for line in lines)
    assert "100 / 100 records (100.0%)" in lines[-1]


def test_a_terminal_gets_one_line_redrawn_in_place():
    out = show(Terminal())
    assert out.startswith("\r") and out.count("\n") == 1 and out.endswith("\x1b[K\n")
    assert "100 / 100 records (100.0%)" in out.rsplit("\r", 1)[-1]
