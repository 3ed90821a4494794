"""The batch job on other engines: an embedded Flink cluster, and the DirectRunner with worker processes.

Both must produce exactly the predictions the in-process runner produces on the same input.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from pipelines.sample_data import write_sample
from tests.conftest import require

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
FLINK_JAR = ROOT / ".jars" / "flink-job-server.jar"


def run_job(config: str, data: Path, out: Path, *extra: str) -> dict:
    report = out / "report.json"
    result = subprocess.run(
        [
            sys.executable, "-m", "pipelines.cli", "run", "--config", config, "--no-progress",
            "--set", f"source.path={data}/*.parquet",
            "--set", f"output.predictions={out}/predictions",
            "--set", f"output.dead_letters={out}/dead_letters",
            "--set", "invoke.fields.target_variant=variant-a",  # one model: predictions comparable row by row
            "--set", "invoke.max_records=100",
            "--report", str(report), *extra,
        ],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(report.read_text())


def predictions(out: Path) -> dict[str, float]:
    table = pq.read_table(out / "predictions", columns=["inference_id", "prediction"])
    return dict(zip(table.column("inference_id").to_pylist(), table.column("prediction").to_pylist(), strict=True))


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> tuple[Path, dict[str, float]]:
    """Sample input and the in-process runner's predictions for it."""
    data = tmp_path_factory.mktemp("input")
    write_sample(str(data), rows=3000, files=3, row_group_rows=500)
    out = tmp_path_factory.mktemp("direct")
    report = run_job("configs/local.yaml", data, out)
    assert report["predictions_out"] == 3000
    return data, predictions(out)


@pytest.mark.flink
def test_batch_job_on_embedded_flink_matches_the_in_process_runner(reference, tmp_path):
    require(FLINK_JAR.exists(), "the Flink job server (.jars/flink-job-server.jar)")
    data, expected = reference
    report = run_job("configs/flink.yaml", data, tmp_path)
    assert (report["records_in"], report["predictions_out"], report["dead_letters_out"]) == (3000, 3000, 0)
    assert predictions(tmp_path) == expected


def test_multi_process_direct_runner_pickles_and_sets_up_in_workers(reference, tmp_path):
    data, expected = reference
    report = run_job(
        "configs/local.yaml", data, tmp_path, "--direct_running_mode=multi_processing", "--direct_num_workers=2"
    )
    assert report["accounted"] and report["predictions_out"] == 3000
    assert predictions(tmp_path) == expected
    assert os.path.exists(tmp_path / "predictions" / "_SUCCESS")
