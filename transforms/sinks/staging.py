"""Output folders published atomically: staging, shard files, the swap into place, the report.

Each run writes into a hidden staging folder beside the destination; only when every shard is
written does one publish step swap it into place, with a ``_SUCCESS`` file carrying the run's
counts. A killed run leaves nothing where readers look, and a rerun for the same date replaces
that date's output. Local, s3:// and gs:// paths go through Beam's FileSystems (its file layer,
not its pipeline API).
"""

from __future__ import annotations

import json
import os
import posixpath
import shutil
from dataclasses import dataclass
from typing import Literal

import pyarrow as pa
import pyarrow.parquet as pq
from apache_beam.io.filesystems import FileSystems

from transforms.codecs.json_rows import json_lines
from transforms.sinks.ledger import LEDGER

SUCCESS_FILE = "_SUCCESS"
MANIFEST_FILE = "_MANIFEST"  # the files an object-store publish moves, so that a retried one knows them
# Values that never repeat: a dictionary for them is built, outgrows its page and is dropped, all for nothing.
_UNIQUE_PER_ROW = frozenset({"inference_id", "payload"})
TEMPORARY = "_temporary"
OutputFormat = Literal["parquet", "jsonl"]


def staging_path(final: str, run_id: str) -> str:
    parent, name = posixpath.split(final.rstrip("/"))
    return posixpath.join(parent, f".{name}.staging-{run_id}")


class UnwritableOutput(OSError):
    """An output location the job cannot write: found before scoring, not after it."""


def check_writable(final: str, run_id: str) -> None:
    """Write and remove a probe where the run will stage ``final``, so that a location the job cannot
    write (a typo, a missing permission) fails the run before any record is scored."""
    staging = staging_path(final, run_id)
    probe = posixpath.join(staging, ".write-probe")
    created = probe
    if _is_local(final):  # a local create makes the missing folders: remove them all again
        created = os.path.abspath(probe)
        while not os.path.exists(os.path.dirname(created)):
            created = os.path.dirname(created)
    try:
        with FileSystems.create(probe) as fh:
            fh.write(b"probe")
        FileSystems.delete([created])
    except OSError as exc:  # Beam's BeamIOError is one
        raise UnwritableOutput(f"{final}: cannot write its staging folder {staging}: {exc}") from exc


@dataclass(frozen=True, kw_only=True)
class Publication:
    """One output folder: written into ``staging`` as ``fmt`` files of ``schema``, then moved to ``final``."""

    staging: str
    final: str
    schema: pa.Schema
    fmt: OutputFormat

    @property
    def suffix(self) -> str:
        return f".{self.fmt}"


class FileWriter:
    """Tables appended to one Parquet or JSON Lines file, streamed as they come."""

    def __init__(self, path: str, pub: Publication) -> None:
        self.path = path
        self._fh = FileSystems.create(path)
        self._parquet = (
            pq.ParquetWriter(
                self._fh,
                pub.schema,
                compression="snappy",
                use_dictionary=[name for name in pub.schema.names if name not in _UNIQUE_PER_ROW],
            )
            if pub.fmt == "parquet"
            else None
        )

    def write(self, table: pa.Table) -> None:
        if self._parquet is not None:
            self._parquet.write_table(table)
        else:
            self._fh.write(json_lines(table))

    def close(self) -> str:
        if self._parquet is not None:
            self._parquet.close()
        self._fh.close()
        return self.path


def finalize_shards(pub: Publication, written: list[str]) -> None:
    """Name the committed files ``part-NNNNN-of-MMMMM`` (an empty one when nothing was written), drop the rest."""
    temporary = posixpath.join(pub.staging, TEMPORARY)
    files = sorted(p for p in written if posixpath.dirname(p) == temporary)
    count = max(len(files), 1)
    shards = [posixpath.join(pub.staging, f"part-{i:05d}-of-{count:05d}{pub.suffix}") for i in range(count)]
    if files:
        FileSystems.rename(files, shards)
    else:
        FileWriter(shards[0], pub).close()
    for bookkeeping in (temporary, posixpath.join(pub.staging, LEDGER)):  # never published
        leftovers = _files(bookkeeping)
        if leftovers:
            FileSystems.delete(leftovers)
        if _is_local(bookkeeping) and os.path.isdir(bookkeeping):
            os.rmdir(bookkeeping)


def _is_local(path: str) -> bool:
    return "://" not in path


def publish(pub: Publication, success: dict[str, object]) -> None:
    """Move a finished staging folder into place with its ``_SUCCESS`` (``success``), replacing what a previous
    run left there."""
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
    _publish_files(pub)


def _publish_files(pub: Publication) -> None:
    """Object stores have no folder rename: the files move one by one, ``_SUCCESS`` last, so readers wait for it.

    Safe to retry after a failure anywhere: the names to publish are recorded in the staging folder first,
    so a retry keeps the files an earlier attempt already moved and removes only what the previous run left.
    """
    manifest = posixpath.join(pub.staging, MANIFEST_FILE)
    if FileSystems.exists(manifest):
        with FileSystems.open(manifest) as fh:
            names = set(json.loads(fh.read()))
    else:
        names = {posixpath.basename(p) for p in _files(pub.staging)}
        with FileSystems.create(manifest) as fh:
            fh.write(json.dumps(sorted(names)).encode())
    staged = sorted((p for p in _files(pub.staging) if posixpath.basename(p) in names), key=_success_last)
    success_staged = any(_success_last(p) for p in staged)  # else an earlier attempt published it already
    stale = [
        p for p in _files(pub.final) if posixpath.basename(p) not in names or (success_staged and _success_last(p))
    ]
    stale.sort(key=_success_last, reverse=True)  # an old _SUCCESS goes first
    if stale:
        FileSystems.delete(stale)
    for path in staged:  # one at a time: a failure leaves every moved file in place and the rest staged
        FileSystems.rename([path], [posixpath.join(pub.final, posixpath.basename(path))])
    FileSystems.delete([manifest])


def _files(folder: str) -> list[str]:
    return [m.path for m in FileSystems.match([posixpath.join(folder, "*")])[0].metadata_list]


def _success_last(path: str) -> bool:
    return path.endswith(SUCCESS_FILE)


def write_json(report: dict[str, object], path: str) -> None:
    """The run report as JSON at ``path`` (local or an object store)."""
    if _is_local(path):
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with FileSystems.create(path) as fh:
        fh.write(json.dumps(report, indent=2).encode())


def publish_all(
    publications: list[Publication], written: list[str], report: dict[str, object], report_path: str | None
) -> None:
    """Name each folder's shards and publish it, each with its own ``_SUCCESS`` holding the report."""
    for pub in publications:
        finalize_shards(pub, written)
        publish(pub, report)
    if report_path:
        write_json(report, report_path)
