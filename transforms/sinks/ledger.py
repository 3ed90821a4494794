"""Which input shards a run has finished: one small JSON entry per shard, written once its outputs are closed.

A shard is one Parquet row group of one input file. A nightly run that is killed (or stops on an outage)
leaves its staging folders and these entries behind; the rerun of the same date, config and inputs reads
them, skips the finished shards and publishes their files with its own (:mod:`pipelines.resume`).
"""

from __future__ import annotations

import hashlib
import json
import posixpath
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field

from apache_beam.io.filesystems import FileSystems

LEDGER = "_ledger"


@dataclass(frozen=True, kw_only=True)
class ShardEntry:
    """One finished shard: its records, where its predictions and dead letters went, and their counts."""

    shard: str
    rows: int
    files: list[str]
    predictions: int
    dead_letters: int
    dead_letters_by_class: dict[str, int] = field(default_factory=dict)


def write_entry(folder: str, entry: ShardEntry) -> None:
    """Record ``entry`` under ``folder``; a name of its own, so that a retried bundle's entry never overwrites."""
    name = f"{hashlib.sha1(entry.shard.encode()).hexdigest()[:16]}-{uuid.uuid4().hex[:8]}.json"
    with FileSystems.create(posixpath.join(folder, LEDGER, name)) as fh:
        fh.write(json.dumps(asdict(entry)).encode())


def read_entries(folder: str) -> list[ShardEntry]:
    """Every readable entry under ``folder``, by name; one cut short by a kill is skipped (its shard is redone)."""
    found = FileSystems.match([posixpath.join(folder, LEDGER, "*.json")])[0].metadata_list
    entries = []
    for path in sorted(m.path for m in found):
        try:
            with FileSystems.open(path) as fh:
                entries.append(ShardEntry(**json.loads(fh.read())))
        except (ValueError, TypeError):
            continue
    return entries


def finished_shards(
    entries: Iterable[ShardEntry], shard_rows: Mapping[str, int], existing: set[str]
) -> dict[str, ShardEntry]:
    """One entry per finished shard: of a shard of these inputs, holding all its rows, every file still there.

    A bundle the runner retried may have finished a shard twice; the first entry wins, and the other's
    files are left out (and deleted with the staging leftovers).
    """
    chosen: dict[str, ShardEntry] = {}
    for entry in entries:
        if (
            entry.shard not in chosen
            and shard_rows.get(entry.shard) == entry.rows == entry.predictions + entry.dead_letters
            and all(f in existing for f in entry.files)
        ):
            chosen[entry.shard] = entry
    return chosen
