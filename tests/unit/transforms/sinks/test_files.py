"""The file sink transform on the in-process runner: a file per bundle, or per input shard with its ledger entry."""

from __future__ import annotations

import json
import os
from pathlib import Path

import apache_beam as beam
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from apache_beam.options.pipeline_options import PipelineOptions

from transforms.sinks.files import DEAD_LETTERS, PREDICTIONS, ShardSpec, WriteOutputs
from transforms.sinks.ledger import read_entries
from transforms.sinks.staging import Publication, finalize_shards

SCHEMA = pa.schema([("id", pa.int64()), ("prediction", pa.float64())])
OPTIONS = PipelineOptions(runner="apache_beam.runners.portability.fn_api_runner.FnApiRunner")


def table(ids: list[int]) -> pa.Table:
    return pa.table({"id": ids, "prediction": [i / 10 for i in ids]}, schema=SCHEMA)


def pub(tmp_path, fmt: str = "parquet", name: str = "out", schema: pa.Schema = SCHEMA) -> Publication:
    staging = str(tmp_path / f".{name}.staging-run1")
    return Publication(staging=staging, final=str(tmp_path / name), schema=schema, fmt=fmt)  # type: ignore[arg-type]


@pytest.mark.parametrize("fmt", ["parquet", "jsonl"])
def test_without_shards_one_file_per_bundle(tmp_path, fmt):
    p = pub(tmp_path, fmt)
    with beam.Pipeline(options=OPTIONS) as pipeline:
        tagged = [(PREDICTIONS, table([1, 2])), (PREDICTIONS, table([])), (PREDICTIONS, table([3]))]
        files = pipeline | beam.Create(tagged) | WriteOutputs({PREDICTIONS: p})
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


def with_shard(t: pa.Table, path: str, group: int) -> pa.Table:
    n = t.num_rows
    return t.append_column("_f", pa.array([path] * n)).append_column("_g", pa.array([group] * n, pa.int32()))


def test_with_shards_a_finished_shard_gets_its_own_files_and_a_ledger_entry(tmp_path):
    """Shard a#0 has 3 records (2 predictions, 1 dead letter): finished. Shard a#1 has 4, only 1 arrived."""
    dead_schema = SCHEMA.append(pa.field("error_class", pa.string()))
    pubs = {PREDICTIONS: pub(tmp_path, name="p"), DEAD_LETTERS: pub(tmp_path, name="d", schema=dead_schema)}
    spec = ShardSpec(
        rows={"a#0": 3, "a#1": 4},
        file_column="_f",
        group_column="_g",
        dropped=["_f", "_g"],
        ledger_folder=str(tmp_path / "l"),
    )
    dead = with_shard(table([9]).append_column("error_class", pa.array(["ModelError"])), "a", 0)
    elements = [
        (PREDICTIONS, with_shard(table([1, 2]), "a", 0)),
        (PREDICTIONS, with_shard(table([5]), "a", 1)),
        (DEAD_LETTERS, dead),
    ]
    with beam.Pipeline(options=OPTIONS) as pipeline:
        _ = pipeline | beam.Create(elements) | WriteOutputs(pubs, spec)
    (entry,) = read_entries(str(tmp_path / "l"))
    assert (entry.shard, entry.rows, entry.predictions, entry.dead_letters) == ("a#0", 3, 2, 1)
    assert entry.dead_letters_by_class == {"ModelError": 1} and len(entry.files) == 2
    for path in entry.files:
        assert "_f" not in pq.read_schema(path).names  # the shard columns stay out of the files
    written = os.listdir(tmp_path / ".p.staging-run1" / "_temporary")
    assert len(written) == 2  # a#0's file, and a#1's unfinished one (no entry: a rerun scores it again)
