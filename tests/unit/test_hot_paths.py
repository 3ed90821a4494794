"""The per-batch paths never make pyarrow probe for pandas.

pyarrow converts an untyped Python value, and runs ``Array.to_numpy``, after trying to import
pandas; when pandas is not installed (it is not a dependency) it tries again on every call, a
failed import that scans ``sys.path`` (~0.1 ms). Counted here with an audit hook.
"""

import contextlib
import datetime as dt
import sys
from collections.abc import Iterator

import pyarrow as pa

from transforms.codecs.json_rows import json_lines
from transforms.codecs.kafka_messages import encode_rows
from transforms.codecs.requests import encode
from transforms.core.settings import InvokeSettings
from transforms.sources.kafka_decode import Message, MessageBatch, MessageDecoder

_probes: list[str] = []
_counting = False


def _hook(event: str, args: tuple) -> None:
    if _counting and event == "import" and args[0] == "pandas":
        _probes.append(args[0])


sys.addaudithook(_hook)


@contextlib.contextmanager
def pandas_probes() -> Iterator[list[str]]:
    global _counting
    _probes.clear()
    _counting = True
    try:
        yield _probes
    finally:
        _counting = False


def test_batch_paths_do_not_probe_for_pandas():
    rows = 50
    predictions = pa.table(
        {
            "kafka_key": pa.array([b"k"] * rows),
            "id": pa.array(range(rows), pa.int64()),
            "inference_id": pa.array([f"id-{i}" for i in range(rows)]),
            "prediction": pa.array([0.5, None] * (rows // 2)),
            "invoked_variant": pa.array(["variant-a"] * rows),
            "ok": pa.array([True] * rows),
            "payload": pa.array([b'1.0,"x"\n'] * rows),
            "scored_at": pa.array([dt.datetime(2026, 11, 29, tzinfo=dt.UTC)] * rows, pa.timestamp("ms", "UTC")),
        }
    )
    features = pa.table({"a": [0.5] * rows, "b": [1.0] * rows})
    messages = MessageBatch.of(
        [
            Message(
                topic="t",
                partition=0,
                offset=i,
                timestamp_ms=0,
                key=None,
                value=b'{"id": %d, "x": 0.5}' % i,
                headers=None,
            )
            for i in range(rows)
        ]
    )
    decoder = MessageDecoder("json", {"id": "int64", "x": "float64"})
    work = [
        lambda: json_lines(predictions),
        lambda: encode_rows(predictions),
        lambda: decoder.decode(messages),
        lambda: encode(features, InvokeSettings(feature_columns=["a", "b"])).body(0, rows),
    ]
    for step in work:
        step()  # first calls may import what they need once
        with pandas_probes() as probes:
            step()
        assert probes == [], step
