"""Parquet source: files and globs as Arrow tables, split per row group so runners can parallelise it."""

from __future__ import annotations

from collections.abc import Iterator

import apache_beam as beam
import pyarrow as pa

from transforms.sources.parquet_files import SOURCE_COLUMNS, RowGroup, read_row_group, row_groups


class _ReadRowGroup(beam.DoFn):
    def __init__(self, columns: list[str] | None, batch_rows: int) -> None:
        self.columns = columns
        self.batch_rows = batch_rows

    def process(self, group: RowGroup) -> Iterator[pa.Table]:
        yield from read_row_group(group, self.columns, self.batch_rows)


class ReadParquetTables(beam.PTransform):
    """PBegin -> PCollection[pa.Table] of at most ``batch_rows`` rows, with source columns added; the row groups
    whose shard keys are in ``skip`` (finished by an earlier attempt of the run) are not read."""

    def __init__(
        self,
        pattern: str,
        columns: list[str] | None = None,
        batch_rows: int = 16384,
        skip: frozenset[str] = frozenset(),
    ) -> None:
        super().__init__()
        self.pattern = pattern
        self.columns = [c for c in columns if c not in SOURCE_COLUMNS] if columns else None
        self.batch_rows = batch_rows
        self.skip = skip

    def expand(self, pbegin: beam.pvalue.PBegin) -> beam.PCollection:
        return (
            pbegin
            | "Pattern" >> beam.Create([self.pattern])
            | "RowGroups" >> beam.FlatMap(row_groups, skip=self.skip)
            | "Spread" >> beam.Reshuffle()
            | "Read" >> beam.ParDo(_ReadRowGroup(self.columns, self.batch_rows))
        )
