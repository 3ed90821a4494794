"""Deterministic sample input: N rows x F float64 features plus an id column."""

from __future__ import annotations

import json
import os

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from transforms.codecs.kafka_messages import OutputMessages
from transforms.sinks.kafka_delivery import deliver, producer_config


def make_table(rows: int, features: int = 16, seed: int = 7, start: int = 0) -> pa.Table:
    rng = np.random.default_rng(seed + start)
    columns = {"id": pa.array(np.arange(start, start + rows, dtype=np.int64))}
    data = rng.normal(size=(rows, features))
    for j in range(features):
        columns[f"f{j}"] = pa.array(np.round(data[:, j], 6))
    return pa.table(columns)


def write_sample(folder: str, rows: int, features: int = 16, files: int = 2, row_group_rows: int = 65536) -> list[str]:
    """Write ``files`` Parquet files holding ``rows`` rows in all; same arguments, same bytes."""
    os.makedirs(folder, exist_ok=True)
    paths = []
    per_file = -(-rows // files)
    for i in range(files):
        start = i * per_file
        n = max(0, min(per_file, rows - start))
        path = os.path.join(folder, f"part-{i:05d}.parquet")
        pq.write_table(make_table(n, features, start=start), path, row_group_size=row_group_rows)
        paths.append(path)
    return paths


def sample_messages(
    rows: int, features: int = 4, start: int = 0, malformed_every: int = 0
) -> list[tuple[bytes, bytes]]:
    """(key, JSON value) pairs matching ``make_table``; every ``malformed_every``-th value is not JSON."""
    table = make_table(rows, features, start=start)
    messages = []
    for row in table.to_pylist():
        key = str(row["id"]).encode()
        bad = malformed_every and row["id"] % malformed_every == malformed_every - 1
        messages.append((key, b"{not json" if bad else json.dumps(row).encode()))
    return messages


def produce_sample(bootstrap: str, topic: str, rows: int, features: int = 4, start: int = 0) -> int:
    """Produce ``sample_messages`` to ``topic`` (idempotent producer, acks=all); returns the count."""
    from confluent_kafka import Producer

    producer = Producer(producer_config(bootstrap, {}))
    keys, values = zip(*sample_messages(rows, features, start), strict=True) if rows else ((), ())
    deliver(producer, topic, OutputMessages(keys, values, [[]] * rows))
    return rows
