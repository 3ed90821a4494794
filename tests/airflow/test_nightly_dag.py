"""The nightly DAGs in Apache Airflow itself (its own .venv-airflow; `make test` and `make airflow` run this):
dags/ loads with no import errors, a local nightly run goes end to end against the bundled endpoint and
writes that date's outputs, and a run that a rerun cannot fix (exit 1 or 2) is not retried."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
AIRFLOW = Path(sys.executable).parent / "airflow"
SMSCORE = ROOT / ".venv" / "bin" / "smscore"  # the package lives in its own venv, not Airflow's
DATE = "2026-11-28"


@pytest.fixture(scope="module")
def airflow_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    home = tmp_path_factory.mktemp("airflow-home")
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "SMSCORE_BIN": str(SMSCORE),
    }
    migrated = subprocess.run([AIRFLOW, "db", "migrate"], env=env, capture_output=True, text=True, timeout=300)
    assert migrated.returncode == 0, migrated.stderr[-3000:]
    return env


def airflow(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([AIRFLOW, *args], env=env, capture_output=True, text=True, timeout=600)


def test_the_dags_load_without_import_errors(airflow_env):
    parsed = airflow(airflow_env, "dags", "reserialize")  # parse dags/ now, as the DAG processor would
    assert parsed.returncode == 0, parsed.stderr[-3000:]
    errors = airflow(airflow_env, "dags", "list-import-errors", "-o", "json")
    assert errors.returncode == 0, errors.stderr[-3000:]
    assert json.loads(errors.stdout.strip().splitlines()[-1] or "[]") == []
    listed = airflow(airflow_env, "dags", "list", "-o", "json")
    ids = {d["dag_id"] for d in json.loads(listed.stdout.strip().splitlines()[-1])}
    assert {"sagemaker_nightly_scoring", "sagemaker_nightly_scoring_local"} <= ids


def test_a_local_nightly_run_scores_that_date_end_to_end(airflow_env, tmp_path):
    (tmp_path / "configs").mkdir()
    (tmp_path / "configs" / "local.yaml").write_text((ROOT / "configs" / "local.yaml").read_text())
    sample = subprocess.run([SMSCORE, "sample-data", "--out", str(tmp_path / "data" / "sample"), "--rows", "3000"])
    assert sample.returncode == 0
    run = airflow(
        {**airflow_env, "SMSCORE_WORKDIR": str(tmp_path)}, "dags", "test", "sagemaker_nightly_scoring_local", DATE
    )
    assert run.returncode == 0, (run.stdout + run.stderr)[-3000:]
    report = json.loads((tmp_path / "out" / DATE / "predictions" / "_SUCCESS").read_text())
    assert report["date"] == DATE and report["predictions_out"] == 3000 and report["accounted"]


def fake_smscore(tmp_path: Path, status: int) -> Path:
    """An smscore that records each call and ends with ``status``."""
    script = tmp_path / f"smscore-{status}"
    script.write_text(f"#!/bin/sh\necho called >> {tmp_path}/calls\nexit {status}\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return script


@pytest.mark.parametrize("status", [1, 2])
def test_a_run_that_a_rerun_cannot_fix_fails_without_retries(airflow_env, tmp_path, status):
    env = {**airflow_env, "SMSCORE_BIN": str(fake_smscore(tmp_path, status))}
    run = airflow(env, "dags", "test", "sagemaker_nightly_scoring_local", DATE)
    log = run.stdout + run.stderr
    assert "AirflowFailException" in log and f"smscore exited {status}" in log, log[-3000:]
    assert (tmp_path / "calls").read_text().count("called") == 1  # tried once, not three times


def test_a_failed_run_is_left_to_airflow_s_retries_and_exit_statuses_match_smscore(monkeypatch, tmp_path):
    from airflow.exceptions import AirflowFailException

    sys.path.insert(0, str(ROOT / "dags"))
    try:
        import nightly_scoring
    finally:
        sys.path.remove(str(ROOT / "dags"))
    task = nightly_scoring.local_dag.get_task("score")
    assert task.retries == 2
    monkeypatch.setenv("SMSCORE_BIN", str(fake_smscore(tmp_path, 3)))
    with pytest.raises(RuntimeError, match="Airflow retries it"):
        nightly_scoring.run_smscore("configs/local.yaml", DATE)
    monkeypatch.setenv("SMSCORE_BIN", str(fake_smscore(tmp_path, 1)))
    with pytest.raises(AirflowFailException):
        nightly_scoring.run_smscore("configs/local.yaml", DATE)
    exits = (ROOT / "pipelines" / "exits.py").read_text()
    assert "EXIT_OK, EXIT_DEAD_LETTERS, EXIT_CONFIG, EXIT_FAILED = 0, 1, 2, 3" in exits  # what NOT_RETRIED names
