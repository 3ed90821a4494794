"""Input shards: a Parquet row group of one file, the unit a run records as finished and a rerun skips."""

from __future__ import annotations


def shard_key(path: str, row_group: int) -> str:
    return f"{path}#{row_group}"
