"""The file sink transform on the in-process runner: one file per bundle."""

from __future__ import annotations

import json
import os
from pathlib import Path

import apache_beam as beam
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from apache_beam.options.pipeline_options import PipelineOptions

from transforms.sinks.files import WriteTables
from transforms.sinks.staging import Publication, finalize_shards

SCHEMA = pa.schema([("id", pa.int64()), ("prediction", pa.float64())])


def table(ids: list[int]) -> pa.Table:
    return pa.table({"id": ids, "prediction": [i / 10 for i in ids]}, schema=SCHEMA)


def pub(tmp_path, fmt: str = "parquet") -> Publication:
    return Publication(staging=str(tmp_path / ".out.staging-run1"), final=str(tmp_path / "out"), schema=SCHEMA, fmt=fmt)  # type: ignore[arg-type]


@pytest.mark.parametrize("fmt", ["parquet", "jsonl"])
def test_write_tables_emits_one_file_per_bundle(tmp_path, fmt):
    p = pub(tmp_path, fmt)
    options = PipelineOptions(runner="apache_beam.runners.portability.fn_api_runner.FnApiRunner")
    with beam.Pipeline(options=options) as pipeline:
        files = pipeline | beam.Create([table([1, 2]), table([]), table([3])]) | WriteTables(p)
        _ = files | beam.combiners.ToList() | beam.Map(lambda written: finalize_shards(p, written))
    shards = sorted(os.listdir(p.staging))
    assert shards == [f"part-00000-of-00001.{fmt}"]
    path = os.path.join(p.staging, shards[0])
    ids = (
        pq.read_table(path).column("id").to_pylist()
        if fmt == "parquet"
        else [json.loads(line)["id"] for line in Path(path).read_text().splitlines()]
    )
    assert sorted(ids) == [1, 2, 3]
