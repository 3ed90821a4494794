"""The run report: where the job writes it (its one owner), the end-of-run summary, and the copy for ``--report``."""

from __future__ import annotations

import json
import os
import posixpath
from typing import Any

from pipelines.config import JobConfig
from transforms.sinks.staging import SUCCESS_FILE


def report_file(config: JobConfig) -> str | None:
    """A report file the job writes besides ``_SUCCESS``: ``output.report``, or for Kafka outputs (no
    folder to hold ``_SUCCESS``) ``out/<job name>/report.json``."""
    if config.output.report:
        return config.output.report
    if config.output.format == "kafka":
        return f"out/{config.job.name}/report.json"
    return None


def report_location(config: JobConfig) -> str:
    """Where the launcher reads the report of a finished run."""
    return report_file(config) or posixpath.join(config.output.predictions.rstrip("/"), SUCCESS_FILE)


def read_report(config: JobConfig) -> dict[str, Any]:
    from apache_beam.io.filesystems import FileSystems

    with FileSystems.open(report_location(config)) as fh:
        report: dict[str, Any] = json.load(fh)
    return report


def render_summary(report: dict[str, Any], elapsed_s: float) -> str:
    records = report["records_in"]
    lines = [
        f"Scored {records:,} records against {report['endpoint']} in {elapsed_s:.1f}s "
        f"({records / max(elapsed_s, 1e-9):,.0f} records/s, {report['strategy']})",
        f"  predictions   {report['predictions_out']:>12,}",
        f"  dead letters  {report['dead_letters_out']:>12,}"
        + (f"   {report['dead_letters_by_class']}" if report["dead_letters_out"] else ""),
        f"  accounted     {'yes' if report['accounted'] else 'NO: records are missing'}"
        f" (records_in = predictions_out + dead_letters_out)",
        f"  requests      {report['requests']:>12,}   retries {report['retries']:,}"
        f"   throttles {report['throttles']:,}",
    ]
    if report.get("resumed_shards"):
        lines.append(
            f"  resumed       {report['resumed_records']:>12,} records of {report['resumed_shards']:,} shards "
            "scored by the unfinished run (requests and latencies below are this run's)"
        )
    if report["errors"]:
        lines.append(f"  errors seen   {report['errors']}")
    for name, v in report["variants"].items():
        lat = v["latency_ms"]
        lines.append(
            f"  variant {name:<14} {v['records']:>10,} records   latency p50 {lat['p50']} ms  "
            f"p95 {lat['p95']} ms  p99 {lat['p99']} ms"
        )
    for label, path in report.get("outputs", {}).items():
        lines.append(f"  {label:<13} {path}")
    return "\n".join(lines)


def write_report(report: dict[str, Any], path: str) -> None:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(report, fh, indent=2)
        fh.write("\n")
