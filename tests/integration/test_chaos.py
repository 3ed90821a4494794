"""Chaos: each fault the local endpoint can inject, at 20% of requests, through the whole job; checked from the
output files, not from the run's report.

``make test`` runs it on 10,000 records per fault kind; ``make chaos`` on 100,000 (``CHAOS_RECORDS``) and writes
the table of ``RELIABILITY.md`` (``CHAOS_REPORT``: one JSON line per run).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipelines.sample_data import make_table
from tests.conftest import endpoint_stats

pytestmark = [pytest.mark.integration, pytest.mark.chaos]
ROOT = Path(__file__).resolve().parents[2]
RECORDS = int(os.environ.get("CHAOS_RECORDS", 10_000))
RATE = 0.2
POISON = "12345.678"
# kind -> (endpoint faults, what becomes of the faulted requests' records)
KINDS: dict[str, tuple[dict, str]] = {
    "throttling": ({"errors": {"throttling": RATE}}, "retried"),
    "model_not_ready": ({"errors": {"model_not_ready": RATE}}, "retried"),
    "internal_failure": ({"errors": {"internal_failure": RATE}}, "retried"),
    "service_unavailable": ({"errors": {"service_unavailable": RATE}}, "retried"),
    "internal_dependency": ({"errors": {"internal_dependency": RATE}}, "retried"),
    "connection_reset": ({"errors": {"connection_reset": RATE}}, "retried"),
    "stall": ({"errors": {"stall": RATE}, "stall_seconds": 1.0}, "retried"),
    "model_error": ({"errors": {"model_error": RATE}, "model_error_status": 500}, "retried"),
    "model_error_4xx": ({"errors": {"model_error": RATE}, "model_error_status": 400}, "isolated"),
    "malformed_body": ({"errors": {"malformed_body": RATE}}, "isolated"),
    "count_mismatch": ({"errors": {"count_mismatch": RATE}}, "isolated"),
    "validation": ({"errors": {"validation": RATE}}, "request"),
    "poison": ({"poison": {"marker": POISON}, "model_error_status": 500}, "poison"),
}


def fault_name(kind: str) -> str:
    return {"model_error_4xx": "model_error"}.get(kind, kind)


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    """RECORDS records in 4 files; every 1,000th record holds the poison marker (only the poison run minds it)."""
    folder = tmp_path_factory.mktemp("chaos-data")
    per_file = RECORDS // 4
    for i in range(4):
        table = make_table(per_file, start=i * per_file)
        f0 = table.column("f0").to_pylist()
        for row in range(0, per_file, 1000):
            f0[row] = float(POISON)
        pq.write_table(table.set_column(1, "f0", pa.array(f0)), folder / f"part-{i}.parquet", row_group_size=5000)
    return folder


@pytest.mark.parametrize("kind", list(KINDS))
def test_a_fault_at_20_percent_of_requests_loses_and_duplicates_no_record(endpoint_factory, tmp_path, data, kind):
    faults, fate = KINDS[kind]
    ep = endpoint_factory(
        {"endpoints": [{"name": "local-demo", "faults": {"seed": 11, **faults}, "variants": [{"name": "only"}]}]}
    )
    out = tmp_path / "out"
    settings = {
        "source.path": f"{data}/*.parquet",
        "output.predictions": f"{out}/predictions",
        "output.dead_letters": f"{out}/dead_letters",
        "local_endpoint.enabled": "false",
        "endpoint.endpoint_url": ep.url,
        "endpoint.read_timeout_seconds": "0.3",
        "invoke.max_records": "100",
        "invoke.retry.initial_backoff_seconds": "0.01",
        "invoke.retry.max_backoff_seconds": "0.05",
        "job.max_dead_letter_fraction": "1",
    }
    command = [sys.executable, "-m", "pipelines.cli", "run", "--config", "configs/local.yaml", "--no-progress"]
    command += [arg for key, value in settings.items() for arg in ("--set", f"{key}={value}")]
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}
    started = time.monotonic()
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    wall = time.monotonic() - started
    assert result.returncode == 0, result.stderr[-3000:]
    predictions = pq.read_table(out / "predictions")
    dead = pq.read_table(out / "dead_letters")
    ids = predictions.column("inference_id").to_pylist() + dead.column("inference_id").to_pylist()
    assert sorted(predictions.column("id").to_pylist() + dead.column("id").to_pylist()) == list(range(RECORDS))
    assert len(ids) == len(set(ids)), "an InferenceId twice"
    stats = endpoint_stats(ep.url)
    faulted = set(stats["faulted"].get(fault_name(kind), []))
    assert faulted, "the endpoint injected nothing"
    requests = set(dead.column("request_inference_id").to_pylist())
    alone = dead.column("request_inference_id").to_pylist() == dead.column("inference_id").to_pylist()
    if fate == "retried":  # retryable: every record ends scored
        assert dead.num_rows == 0
    elif fate == "request":  # neither retried nor split: exactly the faulted requests' records
        assert requests == faulted and dead.num_rows == 100 * len(faulted)  # 100 records a request
    elif fate == "isolated":  # split at once: exactly the records that failed alone
        lone = {i for i in faulted if i in set(ids)}  # a record sent alone goes under its own InferenceId
        assert alone and requests == lone
    else:  # poison: exactly the marked records
        marked = {row for row in range(RECORDS) if row % (RECORDS // 4) % 1000 == 0}
        assert set(dead.column("id").to_pylist()) == marked and alone
    report = json.loads((out / "predictions" / "_SUCCESS").read_text())
    row = {
        "kind": kind,
        "rate": RATE if kind != "poison" else "1 in 1,000 records",
        "records": RECORDS,
        "predictions": predictions.num_rows,
        "dead_letters": dead.num_rows,
        "duplicates": len(ids) - len(set(ids)),
        "requests": stats["received"],
        "retries": report["retries"],
        "wall_s": round(wall, 1),
    }
    if os.environ.get("CHAOS_REPORT"):
        with open(os.environ["CHAOS_REPORT"], "a", encoding="utf-8") as fh:
            fh.write(json.dumps(row) + "\n")
