"""Airflow DAG: score the previous day's partition on Dataflow every night.

Uses the Apache Beam provider's ``BeamRunPythonPipelineOperator`` (apache-airflow-providers-apache-beam)
to run ``dataflow/launch.py`` with the job config. ``{{ ds }}`` is the start of the run's data
interval: for a daily schedule, the day that just ended. Rerunning a day (clear the task) is safe:
the job replaces that day's output folders atomically and sends the same InferenceIds.

Needs the Airflow Variable ``smscore_repo`` (a checkout of this repository on the Airflow workers)
and, in the workers' environment, what ``configs/dataflow.yaml`` reads: ``GCP_PROJECT``, ``GCP_REGION``,
``GCS_BUCKET``, ``SAGEMAKER_ENDPOINT``, ``AWS_ROLE_ARN`` (no secrets: AWS access is web identity).
"""

from __future__ import annotations

import datetime as dt

import pendulum
from airflow import DAG
from airflow.providers.apache.beam.operators.beam import BeamRunPythonPipelineOperator
from airflow.providers.google.cloud.operators.dataflow import DataflowConfiguration

with DAG(
    dag_id="sagemaker_nightly_scoring",
    schedule="30 2 * * *",  # 02:30 UTC, after the day's feature partition has landed
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 2, "retry_delay": dt.timedelta(minutes=15)},
    tags=["scoring", "sagemaker"],
) as dag:
    BeamRunPythonPipelineOperator(
        task_id="score_previous_day",
        runner="DataflowRunner",
        py_file="{{ var.value.smscore_repo }}/dataflow/launch.py",
        py_interpreter="python3",
        py_requirements=["{{ var.value.smscore_repo }}"],  # installs this package and its pinned Beam
        py_system_site_packages=False,
        pipeline_options={
            "config": "{{ var.value.smscore_repo }}/configs/dataflow.yaml",
            "date": "{{ ds }}",
            "setup_file": "{{ var.value.smscore_repo }}/setup.py",
        },
        dataflow_config=DataflowConfiguration(
            job_name="nightly-scoring-{{ ds_nodash }}",
            project_id="{{ conn.google_cloud_default.extra_dejson.project }}",
            location="{{ var.value.get('gcp_region', 'us-central1') }}",
            wait_until_finished=True,
        ),
    )
