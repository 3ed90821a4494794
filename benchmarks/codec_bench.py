"""Kafka and JSON Lines codecs: CPU per 1,000 rows, ours against a dict and ``json`` per row.

The peer is what a user writes without Arrow: ``json.loads`` per message and
``pa.Table.from_pylist`` to read Kafka values; ``table.to_pylist()`` and ``json.dumps`` per row
to write Kafka values or JSON Lines. Both sides run in this process on the same data; each
figure is the best of a few repeats (process CPU time).

    python -m benchmarks.codec_bench [--rows 20000]   (batches of 500 and of all rows)
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import time
from collections.abc import Callable
from typing import Any

import pyarrow as pa

from pipelines.sample_data import make_table, sample_messages
from transforms.codecs.json_rows import json_lines
from transforms.codecs.kafka_messages import encode_rows
from transforms.core.ids import record_ids
from transforms.core.rows import ResponseMeta, Segment, prediction_rows, prediction_schema
from transforms.sources.kafka_decode import Message, MessageBatch, MessageDecoder

FEATURES = 16
ROWS_PER_REQUEST = 500


def _cpu_ms_per_1000(work: Callable[[], object], rows: int, repeat: int = 5) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.process_time()
        work()
        best = min(best, time.process_time() - started)
    return round(best * 1000 / rows * 1000, 3)


def _predictions(rows: int) -> pa.Table:
    """A batch of predictions as the invoke step builds them: an id column passed through, 500 rows a request."""
    passthrough = make_table(rows, FEATURES).select(["id"])
    ids = record_ids(passthrough, ["id"], "bench")
    now = dt.datetime.now(dt.UTC)
    segments = [
        Segment(
            start=start,
            stop=min(start + ROWS_PER_REQUEST, rows),
            predictions=pa.array([0.5] * (min(start + ROWS_PER_REQUEST, rows) - start), pa.float64()),
            meta=ResponseMeta(
                variant="variant-a",
                content_type="text/csv",
                custom_attributes=None,
                new_session_id=None,
                closed_session_id=None,
                attempts=1,
                latency_ms=21.5,
                request_inference_id=f"smscore-batch-{start}",
                aws_request_id="3f1c6a52-8f0e-4d7c-9d55-2b8a7e9c1f00",
            ),
            scored_at=now,
        )
        for start in range(0, rows, ROWS_PER_REQUEST)
    ]
    return prediction_rows(passthrough, ids, segments, "bench", prediction_schema(passthrough.schema, "float64"))


def _each(work: Callable[[Any], object], batches: list[Any]) -> Callable[[], object]:
    return lambda: [work(batch) for batch in batches]


def _peer_decode(values: list[bytes]) -> pa.Table:
    return pa.Table.from_pylist([json.loads(v) for v in values])


def _peer_kafka_values(table: pa.Table) -> list[bytes]:
    return [json.dumps(r, default=str).encode() for r in table.to_pylist()]


def _peer_json_lines(table: pa.Table) -> bytes:
    return "".join(json.dumps(r, default=str) + "\n" for r in table.to_pylist()).encode()


def codec_figures(rows: int = 20_000, batch_sizes: tuple[int, ...] = (500,)) -> list[dict[str, Any]]:
    """Each step over ``rows`` rows, in batches of each size and then in one batch."""
    values = [value for _, value in sample_messages(rows, FEATURES)]
    messages = [
        Message(topic="in", partition=0, offset=i, timestamp_ms=1_700_000_000_000, key=None, value=v, headers=None)
        for i, v in enumerate(values)
    ]
    decoder = MessageDecoder("json", {"id": "int64", **{f"f{j}": "float64" for j in range(FEATURES)}})
    predictions = _predictions(rows)
    figures = []
    for size in (*batch_sizes, rows):
        starts = range(0, rows, size)
        tables = [predictions.slice(i, size) for i in starts]
        cases = [
            (
                f"Kafka JSON values -> Arrow table ({FEATURES} features)",
                _each(decoder.decode, [MessageBatch.of(messages[i : i + size]) for i in starts]),
                _each(_peer_decode, [values[i : i + size] for i in starts]),
            ),
            ("predictions -> Kafka message values", _each(encode_rows, tables), _each(_peer_kafka_values, tables)),
            ("predictions -> JSON Lines", _each(json_lines, tables), _each(_peer_json_lines, tables)),
        ]
        for step, ours, peer in cases:
            figures.append(
                {
                    "step": step,
                    "rows": size,
                    "ours_cpu_ms_per_1000": _cpu_ms_per_1000(ours, rows),
                    "peer_cpu_ms_per_1000": _cpu_ms_per_1000(peer, rows),
                }
            )
    return figures


def print_codec_table(figures: list[dict[str, Any]]) -> None:
    for f in figures:
        ours, peer = f["ours_cpu_ms_per_1000"], f["peer_cpu_ms_per_1000"]
        print(
            f"  {f['step']:<46} batches of {f['rows']:>6,}: ours {ours:6.2f} ms, a dict and json per row"
            f" {peer:6.2f} ms per 1,000 rows ({peer / ours:.1f}x)",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=20_000)
    print_codec_table(codec_figures(parser.parse_args().rows))


if __name__ == "__main__":
    main()
