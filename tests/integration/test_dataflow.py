"""Dataflow: the job graph builds offline (the Dataflow runner's dry run), the Flex Template's parameters match its
entry point and its launcher submits and exits. The worker environment:
test_worker_environment; the DAGs run in Airflow itself: tests/airflow."""

from __future__ import annotations

import importlib.util
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from pipelines.sample_data import make_table
from tests.conftest import require

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def load_launch():  # dataflow/launch.py is a script inside the template image, not a package module
    spec = importlib.util.spec_from_file_location("launch", ROOT / "dataflow" / "launch.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_dataflow_job_graph_builds_offline_from_the_real_config(tmp_path, monkeypatch):
    require(importlib.util.find_spec("apitools") is not None, "apache-beam[gcp] (the dev extra installs it)")
    import apache_beam as beam

    from pipelines.build import RunContext, build_pipeline
    from pipelines.config import load_job_config
    from pipelines.options import pipeline_options
    from pipelines.sample_data import make_table

    for name, value in {
        "GCP_PROJECT": "my-project",
        "GCS_BUCKET": "my-bucket",
        "SAGEMAKER_ENDPOINT": "churn-prod",
        "AWS_ROLE_ARN": "arn:aws:iam::123456789012:role/scoring",
    }.items():
        monkeypatch.setenv(name, value)
    config = load_job_config(ROOT / "configs" / "dataflow.yaml", "2026-11-28")
    options = pipeline_options([*config.job.beam_args, "--dry_run=True", "--no_auth"])
    p = beam.Pipeline(options=options)
    build_pipeline(p, config, RunContext(input_schema=make_table(1).schema, run_id="dry-run", date="2026-11-28"))
    result = p.run()  # --dry_run: the job is translated for Dataflow, not submitted
    assert result.job.proto.name == "nightly-scoring-2026-11-28"
    names = [t.unique_name for t in result.job.proto_pipeline.components.transforms.values()]
    assert "InvokeEndpoint" in names and "ReadParquet" in names and "PublishOutputs" in names


def test_flex_template_parameters_match_the_entry_point():
    metadata = json.loads((ROOT / "dataflow" / "metadata.json").read_text())
    launch = load_launch()
    accepted = {a.dest for a in launch.template_parser()._actions if a.dest != "help"}
    assert {p["name"] for p in metadata["parameters"]} == accepted
    args = launch.to_smscore_args(
        ["--date", "2026-11-28", "--overrides", "invoke.concurrency=64; endpoint.name=x", "--region=europe-west1"]
    )
    assert args == [
        "run", "--config", "configs/dataflow.yaml", "--no-wait", "--date", "2026-11-28",
        "--set", "invoke.concurrency=64", "--set", "endpoint.name=x", "--region=europe-west1",
    ]  # fmt: skip
    dockerfile = (ROOT / "dataflow" / "Dockerfile").read_text()
    for line in dockerfile.splitlines():
        if line.startswith("COPY "):
            for source in line.split()[1:-1]:
                assert (ROOT / source).exists(), f"Dockerfile copies {source}, which is not in the repository"


def test_the_flex_template_launcher_submits_and_exits_as_dataflow_runs_it(gcs_server, tmp_path):
    """The launch command built from metadata.json, run as Dataflow's launcher runs it (--dry_run: not sent)."""
    host, client = gcs_server
    buf = io.BytesIO()
    pq.write_table(make_table(50), buf)
    client.bucket("lake").blob("features/dt=2026-11-28/part-0.parquet").upload_from_string(buf.getvalue())
    values = {"config": "configs/dataflow.yaml", "date": "2026-11-28", "overrides": "invoke.concurrency=8"}
    for parameter in json.loads((ROOT / "dataflow" / "metadata.json").read_text())["parameters"]:
        assert all(re.match(rx, values[parameter["name"]]) for rx in parameter.get("regexes", []))
    launcher = [  # what Dataflow's launcher adds; --dry_run and --no_auth keep it on this machine
        "--project=my-project", "--region=europe-west1", "--temp_location=gs://lake/tmp",
        "--staging_location=gs://lake/staging", "--job_name=launched-nightly", "--dry_run=True", "--no_auth",
    ]  # fmt: skip
    env = {
        **os.environ,
        "GCP_PROJECT": "my-project",
        "GCS_BUCKET": "lake",
        "SAGEMAKER_ENDPOINT": "churn-prod",
        "AWS_ROLE_ARN": "arn:aws:iam::123456789012:role/scoring",
        "STORAGE_EMULATOR_HOST": host,
    }
    command = [sys.executable, "dataflow/launch.py", *(f"--{k}={v}" for k, v in values.items()), *launcher]
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    # The launcher's job name wins over the config's; the report is where the launcher can read it.
    assert "submitted job launched-nightly; its report: gs://lake/predictions/dt=2026-11-28/_SUCCESS" in result.stdout
    assert not list(client.list_blobs("lake", prefix="predictions/")), "submitted, not run: nothing written yet"
