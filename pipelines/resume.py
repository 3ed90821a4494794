"""Resuming a nightly run that did not publish: its finished shards are kept, only the rest is scored again.

A run of a Parquet source into file outputs stages its work in folders named by a key of the date, the
config and the inputs (each file's path, size and modification time), and records each input shard (a row
group) it finishes (:mod:`transforms.sinks.ledger`). A rerun with the same key finds that work and skips it.
A rerun with another key (a changed config or changed inputs) removes the unfinished run's folders and
starts afresh, and says so; ``--fresh`` starts afresh in any case.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
import shutil
import sys
from dataclasses import dataclass

from apache_beam.io.filesystems import FileSystems

from pipelines.config import JobConfig, KafkaSource
from transforms.core.stats import RunStats
from transforms.sinks.ledger import LEDGER, ShardEntry, finished_shards, read_entries
from transforms.sinks.staging import TEMPORARY, staging_path


@dataclass(frozen=True, kw_only=True)
class Resumption:
    """This run's staging key, its input shards' sizes, and the shards an earlier attempt finished."""

    key: str
    shard_rows: dict[str, int]
    finished: dict[str, ShardEntry]

    @property
    def kept_files(self) -> list[str]:
        return [f for entry in self.finished.values() for f in entry.files]

    @property
    def remaining_rows(self) -> int:
        return sum(self.shard_rows.values()) - sum(e.rows for e in self.finished.values())

    def carried(self) -> RunStats:
        """The finished shards' record counts, reported with this attempt's."""
        stats = RunStats()
        for entry in self.finished.values():
            stats.records_in += entry.rows
            stats.predictions_out += entry.predictions
            stats.dead_letters_out += entry.dead_letters
            stats.dead_letters_by_class.update(entry.dead_letters_by_class)
        return stats


def resumable(config: JobConfig) -> bool:
    return not isinstance(config.source, KafkaSource) and config.output.format != "kafka"


def run_key(config: JobConfig, date: str) -> str:
    """The same for the same date, config and input files (path, size, modification time)."""
    assert not isinstance(config.source, KafkaSource)
    found = FileSystems.match([config.source.path])[0].metadata_list
    inputs = sorted((m.path, m.size_in_bytes, m.last_updated_in_seconds) for m in found)
    facts = {"config": config.model_dump(mode="json"), "date": date, "inputs": inputs}
    return hashlib.sha256(json.dumps(facts, sort_keys=True, default=str).encode()).hexdigest()[:20]


def plan_resumption(config: JobConfig, date: str, rows: dict[str, int], fresh: bool) -> Resumption:
    """Find what an unfinished run of this key left (``rows``: the records of each input shard, from the footers
    already read); remove what other keys left. Says what it does on stderr."""
    key = run_key(config, date)
    outputs = [config.output.dead_letters, config.output.predictions]
    for other in _unfinished_keys(config.output.predictions) - {key}:
        left = staging_path(config.output.predictions, other)
        _say(f"an unfinished run of this date with another config or other inputs left {left}; starting afresh")
        for final in outputs:
            _remove(staging_path(final, other))
    ours = staging_path(config.output.predictions, key)
    if fresh:
        if _unfinished_here(ours):
            _say(f"--fresh: the unfinished run's work in {ours} is discarded")
        for final in outputs:
            _remove(staging_path(final, key))
        return Resumption(key=key, shard_rows=rows, finished={})
    existing = {
        m.path
        for final in outputs
        for m in FileSystems.match([posixpath.join(staging_path(final, key), TEMPORARY, "*")])[0].metadata_list
    }
    finished = finished_shards(read_entries(ours), rows, existing)
    resumption = Resumption(key=key, shard_rows=rows, finished=finished)
    if finished:
        records = sum(e.rows for e in finished.values())
        _say(
            f"resuming {date}: {len(finished)} of {len(rows)} input shards ({records:,} records) were scored by "
            f"the unfinished run; scoring the other {len(rows) - len(finished)} (--fresh starts over)"
        )
    return resumption


def _unfinished_keys(final: str) -> set[str]:
    """The keys of unfinished runs whose staging folders are beside ``final``, found by their shard records."""
    pattern = posixpath.join(staging_path(final, "*"), LEDGER, "*.json")
    folders = {posixpath.dirname(posixpath.dirname(m.path)) for m in FileSystems.match([pattern])[0].metadata_list}
    return {posixpath.basename(folder).rsplit("staging-", 1)[1] for folder in folders}


def _unfinished_here(staging: str) -> bool:
    return bool(FileSystems.match([posixpath.join(staging, LEDGER, "*.json")])[0].metadata_list)


def _remove(folder: str) -> None:
    if "://" not in folder:
        shutil.rmtree(folder, ignore_errors=True)
    else:  # object stores delete a "folder/" prefix recursively
        FileSystems.delete([folder + "/"])


def _say(message: str) -> None:
    print(f"smscore: {message}", file=sys.stderr)
