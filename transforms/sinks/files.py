"""File sinks for prediction and dead-letter tables: files per input shard (or bundle) into staging, then one
publish step."""

from __future__ import annotations

import collections
import posixpath
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

import apache_beam as beam
import pyarrow as pa
from apache_beam.transforms.window import GlobalWindows
from apache_beam.utils.windowed_value import WindowedValue

from transforms.core.shards import shard_key
from transforms.core.stats import RunStats
from transforms.sinks.ledger import ShardEntry, write_entry
from transforms.sinks.staging import TEMPORARY, FileWriter, Publication, publish_all

PREDICTIONS = "predictions"
DEAD_LETTERS = "dead_letters"


@dataclass(frozen=True, kw_only=True)
class ShardSpec:
    """How the writer recognises an input shard's records: the key columns every row carries (dropped from the
    files), each shard's record count, and the folder of the finished-shard entries."""

    rows: dict[str, int]
    file_column: str
    group_column: str
    dropped: list[str]  # of those, the ones the user did not ask to pass through
    ledger_folder: str

    def key(self, table: pa.Table) -> str:
        return shard_key(table.column(self.file_column)[0].as_py(), table.column(self.group_column)[0].as_py())


@dataclass
class _ShardProgress:
    rows: dict[str, int] = field(default_factory=lambda: collections.defaultdict(int))  # per output tag
    dead_letters_by_class: collections.Counter[str] = field(default_factory=collections.Counter)


class _WriteOutputFiles(beam.DoFn):
    """Both outputs' tables, tagged, into files under each staging folder's ``_temporary``; emits their paths.

    With a :class:`ShardSpec`, one file per output and input shard: once all of a shard's records are written
    (its predictions and dead letters add up to its rows), its files are closed and its ledger entry written,
    so a killed run keeps it. Without one (Kafka sources), one file per output and bundle. Only the paths of
    committed bundles reach :func:`finalize_shards`, which names them; a retried bundle's leftover is deleted
    with ``_temporary``.
    """

    def __init__(self, pubs: dict[str, Publication], shards: ShardSpec | None) -> None:
        self.pubs = pubs
        self.shards = shards

    def start_bundle(self) -> None:
        self._writers: dict[tuple[str, str | None], FileWriter] = {}
        self._progress: dict[str, _ShardProgress] = collections.defaultdict(_ShardProgress)

    def process(self, element: tuple[str, pa.Table]) -> Iterator[str]:
        tag, table = element
        if not table.num_rows:
            return
        spec = self.shards
        shard = spec.key(table) if spec is not None else None
        writer = self._writers.get((tag, shard))
        if writer is None:
            pub = self.pubs[tag]
            writer = self._writers[tag, shard] = FileWriter(
                posixpath.join(pub.staging, TEMPORARY, f"{uuid.uuid4().hex}{pub.suffix}"), pub
            )
        writer.write(table.drop_columns(spec.dropped) if spec is not None else table)
        if spec is None or shard is None:
            return
        progress = self._progress[shard]
        progress.rows[tag] += table.num_rows
        if tag == DEAD_LETTERS:
            progress.dead_letters_by_class.update(table.column("error_class").to_pylist())
        if sum(progress.rows.values()) == spec.rows[shard]:
            yield from self._finish_shard(spec, shard, self._progress.pop(shard))

    def _finish_shard(self, spec: ShardSpec, shard: str, progress: _ShardProgress) -> Iterator[str]:
        files = [self._writers.pop(key).close() for key in [k for k in self._writers if k[1] == shard]]
        write_entry(
            spec.ledger_folder,
            ShardEntry(
                shard=shard,
                rows=spec.rows[shard],
                files=files,
                predictions=progress.rows[PREDICTIONS],
                dead_letters=progress.rows[DEAD_LETTERS],
                dead_letters_by_class=dict(progress.dead_letters_by_class),
            ),
        )
        yield from files

    def finish_bundle(self) -> Iterator[WindowedValue]:
        for writer in self._writers.values():
            yield GlobalWindows.windowed_value(writer.close())
        self._writers = {}


class WriteOutputs(beam.PTransform):
    """PCollection[(output tag, pa.Table)] -> PCollection[str]: the files written into each tag's publication.

    One fused step and no shuffle: naming the shards waits for :class:`Publish`.
    """

    def __init__(self, pubs: dict[str, Publication], shards: ShardSpec | None = None) -> None:
        super().__init__()
        self.pubs = pubs
        self.shards = shards

    def expand(self, outputs: beam.PCollection) -> beam.PCollection:
        return outputs | beam.ParDo(_WriteOutputFiles(self.pubs, self.shards))


class Publish(beam.PTransform):
    """Wait for every write, then publish each staging folder, each with ``_SUCCESS`` holding the report.

    Input: the single merged RunStats. The report also goes to ``report_path`` when one is given (Kafka
    outputs have no folder for ``_SUCCESS``). ``kept`` are files an earlier attempt of the run finished, and
    ``carried`` their counts: published and reported with this attempt's.
    """

    def __init__(
        self,
        publications: list[Publication],
        written: list[beam.PCollection],
        extra: dict[str, object],
        report_path: str | None = None,
        kept: list[str] | None = None,
        carried: RunStats | None = None,
    ) -> None:
        super().__init__()
        self.publications = publications
        self.written = written
        self.extra = extra
        self.report_path = report_path
        self.kept = kept or []
        self.carried = carried or RunStats()

    def expand(self, stats: beam.PCollection) -> beam.PCollection:
        files = self.written | "AllWritten" >> beam.Flatten()
        pubs, extra, report_path, kept, carried = (
            self.publications,
            self.extra,
            self.report_path,
            self.kept,
            self.carried,
        )

        def run(total: RunStats, written: list[str]) -> dict[str, object]:
            report = {**extra, **RunStats().merge(total).merge(carried).to_report(), "writes": len(written)}
            publish_all(pubs, [*written, *kept], report, report_path)
            return report

        return stats | "Publish" >> beam.Map(run, written=beam.pvalue.AsList(files))
