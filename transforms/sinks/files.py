"""File sinks for prediction and dead-letter tables: one file per bundle into staging, then one publish step."""

from __future__ import annotations

import posixpath
import uuid
from collections.abc import Iterator
from typing import Any

import apache_beam as beam
import pyarrow as pa
from apache_beam.transforms.window import GlobalWindows
from apache_beam.utils.windowed_value import WindowedValue

from transforms.sinks.staging import TEMPORARY, FileWriter, Publication, publish_all


class _WriteBundleFile(beam.DoFn):
    """Each bundle's tables into one file under the staging folder's ``_temporary``; emits its path.

    Only the paths of committed bundles reach :func:`finalize_shards`, which names them; a
    retried bundle's leftover is deleted with ``_temporary``.
    """

    def __init__(self, pub: Publication) -> None:
        self.pub = pub

    def start_bundle(self) -> None:
        self._writer: FileWriter | None = None

    def process(self, table: pa.Table) -> tuple[()]:
        if table.num_rows:
            if self._writer is None:
                name = f"{uuid.uuid4().hex}{self.pub.suffix}"
                self._writer = FileWriter(posixpath.join(self.pub.staging, TEMPORARY, name), self.pub)
            self._writer.write(table)
        return ()  # outputs come from finish_bundle

    def finish_bundle(self) -> Iterator[WindowedValue]:
        if self._writer is not None:
            yield GlobalWindows.windowed_value(self._writer.close())
            self._writer = None


class WriteTables(beam.PTransform):
    """PCollection[pa.Table] -> PCollection[str]: the files written for ``pub``, one per bundle.

    One fused step and no shuffle: naming the shards waits for :class:`Publish`.
    """

    def __init__(self, pub: Publication) -> None:
        super().__init__()
        self.pub = pub

    def expand(self, tables: beam.PCollection) -> beam.PCollection:
        return tables | beam.ParDo(_WriteBundleFile(self.pub))


class Publish(beam.PTransform):
    """Wait for every write, then publish each staging folder; the last carries ``_SUCCESS``.

    Input: the single merged stats object (anything with ``to_report()``). The report also
    goes to ``report_path`` when one is given (Kafka outputs have no folder for ``_SUCCESS``).
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

        def run(total: Any, written: list[str]) -> dict[str, object]:
            report = {**extra, **total.to_report(), "writes": len(written)}
            publish_all(pubs, written, report, report_path)
            return report

        return stats | "Publish" >> beam.Map(run, written=beam.pvalue.AsList(files))
