"""Staging, shard naming and atomic publication on the local filesystem, without Beam."""

from __future__ import annotations

import json
import os

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from transforms.sinks.staging import (
    SUCCESS_FILE,
    TEMPORARY,
    FileWriter,
    Publication,
    UnwritableOutput,
    check_writable,
    finalize_shards,
    publish,
)

SCHEMA = pa.schema([("id", pa.int64()), ("prediction", pa.float64())])


def table(ids: list[int]) -> pa.Table:
    return pa.table({"id": ids, "prediction": [i / 10 for i in ids]}, schema=SCHEMA)


def pub(tmp_path, fmt: str = "parquet") -> Publication:
    return Publication(staging=str(tmp_path / ".out.staging-run1"), final=str(tmp_path / "out"), schema=SCHEMA, fmt=fmt)  # type: ignore[arg-type]


def write_temporary(p: Publication, name: str, *tables: pa.Table) -> str:
    writer = FileWriter(os.path.join(p.staging, TEMPORARY, name + p.suffix), p)
    for t in tables:
        writer.write(t)
    return writer.close()


def test_committed_files_become_numbered_shards_and_leftovers_go(tmp_path):
    p = pub(tmp_path)
    second = write_temporary(p, "bbb", table([3, 4]))
    first = write_temporary(p, "aaa", table([1]), table([2]))
    write_temporary(p, "ccc", table([99]))  # a retried bundle's attempt: never reported as written
    finalize_shards(p, [second, first])
    assert sorted(os.listdir(p.staging)) == ["part-00000-of-00002.parquet", "part-00001-of-00002.parquet"]
    assert pq.read_table(p.staging).column("id").to_pylist() == [1, 2, 3, 4]


def test_an_empty_output_is_one_empty_shard_with_the_schema(tmp_path):
    p = pub(tmp_path)
    finalize_shards(p, [])
    assert os.listdir(p.staging) == ["part-00000-of-00001.parquet"]
    empty = pq.read_table(os.path.join(p.staging, "part-00000-of-00001.parquet"))
    assert empty.num_rows == 0 and empty.schema == SCHEMA


def test_json_lines_shards(tmp_path):
    p = pub(tmp_path, "jsonl")
    finalize_shards(p, [write_temporary(p, "aaa", table([1, 2]))])
    lines = (tmp_path / ".out.staging-run1" / "part-00000-of-00001.jsonl").read_text().splitlines()
    assert [json.loads(line) for line in lines] == [{"id": 1, "prediction": 0.1}, {"id": 2, "prediction": 0.2}]


def test_publish_replaces_the_previous_output_and_writes_success(tmp_path):
    p = pub(tmp_path)
    os.makedirs(p.final)
    (tmp_path / "out" / "part-00000-of-00009.parquet").write_bytes(b"old")
    finalize_shards(p, [write_temporary(p, "aaa", table([1]))])
    publish(p, {"records_in": 1})
    assert sorted(os.listdir(p.final)) == [SUCCESS_FILE, "part-00000-of-00001.parquet"]
    assert json.loads((tmp_path / "out" / SUCCESS_FILE).read_text()) == {"records_in": 1}
    assert not os.path.exists(p.staging)


def test_the_output_location_is_probed_before_the_run_and_left_as_it_was(tmp_path, monkeypatch):
    check_writable(str(tmp_path / "out" / "2026-11-29" / "predictions"), "run-1")
    assert not (tmp_path / "out").exists()
    (tmp_path / "out").mkdir()
    check_writable(str(tmp_path / "out" / "predictions"), "run-1")
    assert [p.name for p in (tmp_path / "out").iterdir()] == []
    monkeypatch.chdir(tmp_path)  # a relative location, as in the sample config
    check_writable("relative/predictions", "run-1")
    assert not (tmp_path / "relative").exists()
    (tmp_path / "a-file").write_text("not a folder")
    with pytest.raises(UnwritableOutput, match=r"a-file/predictions: cannot write its staging folder"):
        check_writable(str(tmp_path / "a-file" / "predictions"), "run-1")


def test_inference_ids_are_written_without_a_dictionary_the_repeating_columns_with_one(tmp_path):
    schema = pa.schema([("inference_id", pa.string()), ("invoked_variant", pa.string())])
    p = Publication(
        staging=str(tmp_path / ".out.staging-run1"), final=str(tmp_path / "out"), schema=schema, fmt="parquet"
    )
    path = write_temporary(p, "a", pa.table({"inference_id": ["x-1", "x-2"], "invoked_variant": ["a", "a"]}, schema))
    columns = pq.ParquetFile(path).metadata.row_group(0)
    assert [columns.column(i).has_dictionary_page for i in range(2)] == [False, True]
