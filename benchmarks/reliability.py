"""``make chaos``'s table: the rows ``tests/integration/test_chaos.py`` wrote (``CHAOS_REPORT``) into RELIABILITY.md.

Usage: ``python -m benchmarks.reliability out/chaos/results.jsonl``. Only the block between the chaos-table
markers is replaced; the rest of RELIABILITY.md is prose kept by hand.
"""

from __future__ import annotations

import json
import platform
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BEGIN, END = "<!-- chaos-table -->", "<!-- /chaos-table -->"
COLUMNS = ["kind", "rate", "records", "predictions", "dead_letters", "duplicates", "requests", "retries", "wall_s"]


def table(rows: list[dict[str, object]]) -> str:
    def cell(value: object) -> str:
        return f"{value:,}" if isinstance(value, int) else str(value)

    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "|".join("---" if c == "kind" else "---:" for c in COLUMNS) + "|"]
    lines += ["| " + " | ".join(cell(row[c]) for c in COLUMNS) + " |" for row in rows]
    return "\n".join(lines)


def write(results: Path, doc: Path = ROOT / "RELIABILITY.md") -> None:
    rows = [json.loads(line) for line in results.read_text().splitlines() if line.strip()]
    text = doc.read_text()
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    machine = f"Python {platform.python_version()}, {platform.machine()}"
    block = f"{BEGIN}\n{table(rows)}\n\n(`make chaos`, {machine})\n{END}"
    doc.write_text(head + block + tail)


if __name__ == "__main__":
    write(Path(sys.argv[1]))
