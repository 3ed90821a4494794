"""Parquet input files: listing, footers, row groups, and a row group read as Arrow tables.

Files and globs are local, s3:// or gs://, through Beam's FileSystems (the one place Beam's file
layer is used outside a transform: it is what reads object stores with the job's options). Each
table carries ``_source_file`` and ``_source_row``, so records have a stable identity even
without key columns (the default InferenceId key), and ``_source_group``: with ``_source_file``, the
shard (a row group) a finished-shard record names.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from apache_beam.io.filesystems import FileSystems

from transforms.core.shards import shard_key

SOURCE_FILE = "_source_file"
SOURCE_ROW = "_source_row"
SOURCE_GROUP = "_source_group"
KEY_COLUMNS = [SOURCE_FILE, SOURCE_ROW]
SHARD_COLUMNS = [SOURCE_FILE, SOURCE_GROUP]
SOURCE_COLUMNS = [SOURCE_FILE, SOURCE_ROW, SOURCE_GROUP]  # added by this source, never read from a file


@dataclass(frozen=True)
class RowGroup:
    path: str
    index: int
    first_row: int


def match_files(pattern: str) -> list[str]:
    result = FileSystems.match([pattern])[0]
    return sorted(m.path for m in result.metadata_list)


class UnreadableInput(ValueError):
    """An input file that cannot be read, or whose columns differ from the first file's: named, before any work."""


@contextmanager
def _naming(path: str, what: str) -> Iterator[None]:
    """Arrow's errors say what is wrong with a file, not which file: add it."""
    try:
        yield
    except (pa.ArrowException, OSError) as exc:
        raise UnreadableInput(f"{path}: {what}: {exc}") from exc


def _metadata(path: str) -> pq.FileMetaData:
    with _naming(path, "not a readable Parquet file"), FileSystems.open(path) as fh:
        return pq.ParquetFile(fh).metadata


@dataclass(frozen=True, kw_only=True)
class InputSummary:
    files: list[str]
    rows: int
    schema: pa.Schema | None  # of the first file; None when nothing matched
    shard_rows: dict[str, int]  # the records of each shard (row group), by shard key


def describe_input(pattern: str, columns: list[str] | None = None) -> InputSummary:
    """Files, total rows, schema and the rows of each shard, from the footers alone (no data read), each footer
    read once.

    Every file must have ``columns`` (those of the first file) with the first file's types: a file
    that differs would otherwise fail the run halfway, in a step that cannot say which file it was.
    """
    files = match_files(pattern)
    schemas = []
    shards: dict[str, int] = {}
    for path in files:
        footer = _metadata(path)
        schemas.append(footer.schema.to_arrow_schema())
        for i in range(footer.num_row_groups):
            shards[shard_key(path, i)] = footer.row_group(i).num_rows
    if not files:
        return InputSummary(files=files, rows=0, schema=None, shard_rows={})
    _check_columns(files, schemas, [schemas[0].field(c) for c in columns or [] if c in schemas[0].names])
    return InputSummary(files=files, rows=sum(shards.values()), schema=schemas[0], shard_rows=shards)


def _check_columns(files: list[str], schemas: list[pa.Schema], wanted: list[pa.Field]) -> None:
    problems = []
    for path, schema in zip(files[1:], schemas[1:], strict=True):
        for field in wanted:
            if field.name not in schema.names:
                problems.append(f"{path} has no column {field.name!r}")
            elif (found := schema.field(field.name).type) != field.type:
                problems.append(f"{path}: column {field.name!r} is {found}, not {field.type}")
    if problems:
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        raise UnreadableInput(
            f"the input files differ from {files[0]} in columns the job reads: {'; '.join(problems[:3])}{more}"
        )


def with_source_keys(schema: pa.Schema) -> pa.Schema:
    """The schema of the tables this source emits: the file's columns plus the key columns."""
    fields = [pa.field(SOURCE_FILE, pa.string()), pa.field(SOURCE_ROW, pa.int64()), pa.field(SOURCE_GROUP, pa.int32())]
    return pa.schema([*schema, *fields])


def row_groups(pattern: str, skip: frozenset[str] = frozenset()) -> Iterator[RowGroup]:
    """Every row group of the matched files, but those whose shard key is in ``skip`` (finished before)."""
    for path in match_files(pattern):
        meta = _metadata(path)
        first = 0
        for i in range(meta.num_row_groups):
            if shard_key(path, i) not in skip:
                yield RowGroup(path, i, first)
            first += meta.row_group(i).num_rows


def read_row_group(group: RowGroup, columns: list[str] | None, batch_rows: int) -> Iterator[pa.Table]:
    """One row group as tables of at most ``batch_rows`` rows, with the source key columns appended."""
    with _naming(group.path, f"row group {group.index}"), FileSystems.open(group.path) as fh:
        parquet = pq.ParquetFile(fh)
        first = group.first_row
        for batch in parquet.iter_batches(batch_rows, row_groups=[group.index], columns=columns):
            n = batch.num_rows
            table = pa.Table.from_batches([batch])
            table = table.append_column(SOURCE_FILE, pa.repeat(pa.scalar(group.path, pa.string()), n))
            table = table.append_column(SOURCE_ROW, pa.array(np.arange(first, first + n, dtype=np.int64)))
            table = table.append_column(SOURCE_GROUP, pa.repeat(pa.scalar(group.index, pa.int32()), n))
            first += n
            yield table
