"""Airflow DAGs: score the day that just ended, every night, on Dataflow or (for a laptop) on the local runner.

Two DAGs from one definition. ``sagemaker_nightly_scoring`` runs ``configs/dataflow.yaml``: the job runs on
Dataflow, and ``smscore`` waits for it and reads the report it wrote. ``sagemaker_nightly_scoring_local``
runs ``configs/local.yaml`` on Beam's in-process runner against the bundled endpoint (``make airflow``).
``{{ ds }}`` is the start of the run's data interval: for a daily schedule, the day that just ended.

The task runs ``smscore run`` and puts its exit status in Airflow's terms: 0 succeeds; 1 (too many dead
letters) and 2 (a bad config) fail at once, because a rerun would end the same way and only spend money;
3 (the run failed: an outage, a crash) is retried. Rerunning a day is safe: the same records get the
same InferenceIds, and the day's output folders are replaced atomically.

The workers' environment says where smscore is: ``SMSCORE_BIN`` (default: ``smscore`` on PATH) and
``SMSCORE_WORKDIR`` (the folder holding ``configs/``; default: this repository), plus what the config
reads (``configs/dataflow.yaml``: ``GCP_PROJECT``, ``GCS_BUCKET``, ``SAGEMAKER_ENDPOINT``, ``AWS_ROLE_ARN``).
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
from pathlib import Path

import pendulum
from airflow.exceptions import AirflowFailException
from airflow.sdk import DAG, task

# smscore's exit statuses (pipelines/exits.py) that a rerun cannot change.
NOT_RETRIED = {
    1: "the dead-letter fraction exceeded job.max_dead_letter_fraction: look at the dead letters first",
    2: "the configuration is wrong: fix it, then clear the task",
}
REPOSITORY = Path(__file__).resolve().parents[1]


def run_smscore(config: str, date: str) -> str:
    """``smscore run`` for one date; raises the way Airflow should react to how it ended."""
    command = [os.environ.get("SMSCORE_BIN", "smscore"), "run", "--config", config, "--date", date, "--no-progress"]
    result = subprocess.run(
        command, cwd=os.environ.get("SMSCORE_WORKDIR", str(REPOSITORY)), capture_output=True, text=True
    )
    print(result.stdout + result.stderr)
    if result.returncode in NOT_RETRIED:
        raise AirflowFailException(f"smscore exited {result.returncode}: {NOT_RETRIED[result.returncode]}")
    if result.returncode != 0:
        raise RuntimeError(f"smscore exited {result.returncode}: the run failed; Airflow retries it")
    return result.stdout.strip().splitlines()[0] if result.stdout.strip() else "scored"


def nightly(dag_id: str, config: str, description: str) -> DAG:
    with DAG(
        dag_id=dag_id,
        description=description,
        schedule="30 2 * * *",  # 02:30 UTC, after the day's feature partition has landed
        start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
        catchup=False,
        max_active_runs=1,
        default_args={"retries": 2, "retry_delay": dt.timedelta(minutes=15)},
        tags=["scoring", "sagemaker"],
    ) as dag:

        @task(task_id="score", execution_timeout=dt.timedelta(hours=6))
        def score(ds: str | None = None) -> str:
            return run_smscore(config, str(ds))

        score()
    return dag


dataflow_dag = nightly("sagemaker_nightly_scoring", "configs/dataflow.yaml", "Score yesterday's partition on Dataflow")
local_dag = nightly("sagemaker_nightly_scoring_local", "configs/local.yaml", "The same nightly run on the local runner")
