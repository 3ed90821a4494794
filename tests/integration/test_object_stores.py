"""s3:// and gs:// inputs and outputs through Beam's filesystems, against local servers of those APIs.

There is no AWS or GCP here; moto's server speaks the S3 REST API and gcp-storage-emulator the GCS JSON
API over HTTP (both from PyPI), so Beam's own S3 and GCS clients, the source, the sinks and the
object-store publish (files replaced one by one, _SUCCESS last) all run for real.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import boto3
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from apache_beam.io.filesystems import FileSystems
from apache_beam.options.pipeline_options import PipelineOptions

from pipelines.sample_data import make_table
from transforms.sinks.staging import Publication, publish

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def s3_server():
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    client = boto3.client(
        "s3", endpoint_url=url, region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test"
    )
    client.create_bucket(Bucket="lake")
    yield url, client
    server.stop()


def keys(client, prefix: str) -> list[str]:
    return sorted(o["Key"] for o in client.list_objects_v2(Bucket="lake", Prefix=prefix).get("Contents", []))


def test_parquet_from_and_to_s3_and_a_rerun_replaces_the_outputs(s3_server):
    url, client = s3_server
    for i in range(2):
        buf = io.BytesIO()
        pq.write_table(make_table(300, start=300 * i), buf)
        client.put_object(Bucket="lake", Key=f"in/part-{i}.parquet", Body=buf.getvalue())
    args = [
        sys.executable, "-m", "pipelines.cli", "run", "--config", "configs/local.yaml", "--no-progress",
        "--set", "source.path=s3://lake/in/*.parquet",
        "--set", "output.predictions=s3://lake/out/predictions",
        "--set", "output.dead_letters=s3://lake/out/dead_letters",
        f"--s3_endpoint_url={url}", "--s3_access_key_id=test", "--s3_secret_access_key=test",
        "--s3_region_name=us-east-1",
    ]  # fmt: skip
    for _ in range(2):  # the second run replaces the first run's files
        result = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stderr[-3000:]
    predictions = keys(client, "out/predictions/")  # a file per input shard (row group)
    assert predictions == [
        "out/predictions/_SUCCESS",
        *(f"out/predictions/part-0000{i}-of-00002.parquet" for i in (0, 1)),
    ]
    report = json.loads(client.get_object(Bucket="lake", Key="out/predictions/_SUCCESS")["Body"].read())
    assert (report["records_in"], report["predictions_out"], report["accounted"]) == (600, 600, True)
    tables = [
        pq.read_table(io.BytesIO(client.get_object(Bucket="lake", Key=key)["Body"].read())) for key in predictions[1:]
    ]
    assert sorted(i for t in tables for i in t.column("id").to_pylist()) == list(range(600))
    assert not keys(client, "out/.predictions.staging")  # nothing left behind
    dead_letters = keys(client, "out/dead_letters/")  # its own completion marker, though empty
    assert dead_letters == ["out/dead_letters/_SUCCESS", "out/dead_letters/part-00000-of-00001.parquet"]


def test_parquet_from_and_to_gcs(gcs_server):
    host, client = gcs_server
    for i in range(2):
        buf = io.BytesIO()
        pq.write_table(make_table(200, start=200 * i), buf)
        client.bucket("lake").blob(f"in/part-{i}.parquet").upload_from_string(buf.getvalue())
    args = [
        sys.executable, "-m", "pipelines.cli", "run", "--config", "configs/local.yaml", "--no-progress",
        "--set", "source.path=gs://lake/in/*.parquet",
        "--set", "output.predictions=gs://lake/out/predictions",
        "--set", "output.dead_letters=gs://lake/out/dead_letters",
    ]  # fmt: skip
    env = {**os.environ, "STORAGE_EMULATOR_HOST": host}
    result = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    names = sorted(b.name for b in client.list_blobs("lake", prefix="out/predictions/"))
    assert names == ["out/predictions/_SUCCESS", *(f"out/predictions/part-0000{i}-of-00002.parquet" for i in (0, 1))]
    report = json.loads(client.bucket("lake").blob("out/predictions/_SUCCESS").download_as_bytes())
    assert (report["records_in"], report["predictions_out"]) == (400, 400)


def test_a_publish_to_s3_that_fails_midway_is_retried_without_losing_what_it_moved(s3_server, monkeypatch):
    """Object stores move files one by one: a publish that fails after moving some of them (a reset
    connection) is retried; the retry keeps the moved ones, removes the previous run's and ends with _SUCCESS."""
    url, client = s3_server
    FileSystems.set_options(
        PipelineOptions([f"--s3_endpoint_url={url}", "--s3_access_key_id=test", "--s3_secret_access_key=test"])
    )
    old = [f"part-0000{i}-of-00003.parquet" for i in range(3)] + ["_SUCCESS"]
    new = [f"part-0000{i}-of-00002.parquet" for i in range(2)]
    for name in old:
        client.put_object(Bucket="lake", Key=f"out/p/{name}", Body=b"old")
    for name in new:
        client.put_object(Bucket="lake", Key=f"out/.p.staging-r2/{name}", Body=name.encode())
    pub = Publication(
        staging="s3://lake/out/.p.staging-r2", final="s3://lake/out/p", schema=pa.schema([]), fmt="parquet"
    )
    rename, moved = FileSystems.rename, []

    def reset_after_one(sources: list[str], targets: list[str]) -> None:  # however the files are batched
        if moved:
            raise OSError("Connection reset by peer")
        rename(sources[:1], targets[:1])
        moved.extend(sources[:1])
        if len(sources) > 1:
            raise OSError("Connection reset by peer")

    monkeypatch.setattr(FileSystems, "rename", reset_after_one)
    with pytest.raises(OSError, match="reset"):
        publish(pub, {"records_in": 7})
    assert len(moved) == 1 and "out/p/_SUCCESS" not in keys(client, "out/p/")  # readers wait
    monkeypatch.setattr(FileSystems, "rename", rename)
    publish(pub, {"records_in": 7})
    assert keys(client, "out/p/") == [f"out/p/{n}" for n in ["_SUCCESS", *new]]
    assert [client.get_object(Bucket="lake", Key=f"out/p/{n}")["Body"].read() for n in new] == [n.encode() for n in new]
    assert json.loads(client.get_object(Bucket="lake", Key="out/p/_SUCCESS")["Body"].read()) == {"records_in": 7}
    assert not keys(client, "out/.p.staging-r2")
    FileSystems.set_options(PipelineOptions([]))
