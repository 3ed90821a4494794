"""Sinks for prediction and dead-letter tables, published atomically.

Each run writes into a hidden staging folder beside the destination; only when
every shard is written does one publish step swap it into place, with a
``_SUCCESS`` file carrying the run's counts. A killed run leaves nothing where
readers look, and a rerun for the same date replaces that date's output.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import posixpath
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

import apache_beam as beam
import pyarrow as pa
from apache_beam.io.filesystems import FileSystems
from apache_beam.io.parquetio import WriteToParquetBatched
from apache_beam.io.textio import WriteToText

SUCCESS_FILE = "_SUCCESS"
OutputFormat = Literal["parquet", "jsonl"]


def staging_path(final: str, run_id: str) -> str:
    parent, name = posixpath.split(final.rstrip("/"))
    return posixpath.join(parent, f".{name}.staging-{run_id}")


def _json_default(value: Any) -> Any:
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    return str(value)


def table_to_json_lines(table: pa.Table) -> Iterator[str]:
    for row in table.to_pylist():
        yield json.dumps(row, default=_json_default, separators=(",", ":"))


class WriteTables(beam.PTransform):
    """PCollection[pa.Table] -> PCollection[str] of the files written under ``folder``."""

    def __init__(self, folder: str, schema: pa.Schema, fmt: OutputFormat) -> None:
        super().__init__()
        self.folder = folder
        self.schema = schema
        self.fmt = fmt

    def expand(self, tables: beam.PCollection) -> beam.PCollection:
        prefix = posixpath.join(self.folder, "part")
        if self.fmt == "parquet":
            return tables | WriteToParquetBatched(prefix, self.schema, codec="snappy", file_name_suffix=".parquet")
        return tables | beam.FlatMap(table_to_json_lines) | WriteToText(prefix, file_name_suffix=".jsonl")


@dataclass(frozen=True)
class Publication:
    staging: str
    final: str


def _is_local(path: str) -> bool:
    return "://" not in path


def publish(pub: Publication, success: dict[str, object] | None) -> None:
    """Move a finished staging folder into place, replacing what a previous run left there."""
    if success is not None:
        with FileSystems.create(posixpath.join(pub.staging, SUCCESS_FILE)) as fh:
            fh.write(json.dumps(success, indent=2).encode())
    if _is_local(pub.final):
        os.makedirs(os.path.dirname(os.path.abspath(pub.final)), exist_ok=True)
        old = f"{pub.staging}.replaced"
        if os.path.exists(pub.final):
            os.replace(pub.final, old)
        os.replace(pub.staging, pub.final)  # readers see the old folder or the new one, never a mix
        shutil.rmtree(old, ignore_errors=True)
        return
    # Object stores have no folder rename: replace the files, _SUCCESS last, so readers wait for it.
    existing = [m.path for m in FileSystems.match([posixpath.join(pub.final, "*")])[0].metadata_list]
    if existing:
        FileSystems.delete(existing)
    staged = sorted(m.path for m in FileSystems.match([posixpath.join(pub.staging, "*")])[0].metadata_list)
    staged.sort(key=lambda p: p.endswith(SUCCESS_FILE))
    FileSystems.rename(staged, [posixpath.join(pub.final, posixpath.basename(p)) for p in staged])


class Publish(beam.PTransform):
    """Wait for every write, then publish each staging folder; the last carries ``_SUCCESS``.

    Input: the single merged stats object (anything with ``to_report()``). With no
    folders to publish (Kafka outputs), the report goes to ``report_path``.
    """

    def __init__(
        self,
        publications: list[Publication],
        written: list[beam.PCollection],
        extra: dict[str, object],
        report_path: str | None = None,
    ) -> None:
        super().__init__()
        self.publications = publications
        self.written = written
        self.extra = extra
        self.report_path = report_path

    def expand(self, stats: beam.PCollection) -> beam.PCollection:
        files = self.written | "AllWritten" >> beam.Flatten()
        pubs = self.publications
        extra = self.extra
        report_path = self.report_path

        def run(total: Any, written: list[Any]) -> dict[str, object]:
            report = {**extra, **total.to_report(), "writes": len(written)}
            for i, pub in enumerate(pubs):
                publish(pub, report if i == len(pubs) - 1 else None)
            if report_path:
                if _is_local(report_path):
                    os.makedirs(os.path.dirname(os.path.abspath(report_path)), exist_ok=True)
                with FileSystems.create(report_path) as fh:
                    fh.write(json.dumps(report, indent=2).encode())
            return report

        return stats | "Publish" >> beam.Map(run, written=beam.pvalue.AsList(files))
