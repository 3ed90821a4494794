"""Finished-shard entries: which one counts for a shard, and what a kill can leave."""

from __future__ import annotations

from transforms.sinks.ledger import LEDGER, ShardEntry, finished_shards, read_entries, write_entry


def entry(shard: str, rows: int, files: list[str], dead: int = 0) -> ShardEntry:
    return ShardEntry(shard=shard, rows=rows, files=files, predictions=rows - dead, dead_letters=dead)


def test_the_first_complete_entry_of_a_shard_of_these_inputs_counts():
    entries = [
        entry("a#0", 3, ["f1"], dead=1),
        entry("a#0", 3, ["f2"]),  # a retried bundle finished it again: its files are left out
        entry("a#1", 2, ["f3"]),  # this shard has 4 rows in the inputs now
        entry("b#0", 5, ["gone"]),  # a file of it is missing
        entry("z#0", 1, ["f4"]),  # not a shard of these inputs
    ]
    chosen = finished_shards(entries, {"a#0": 3, "a#1": 4, "b#0": 5}, existing={"f1", "f2", "f3", "f4"})
    assert {k: v.files for k, v in chosen.items()} == {"a#0": ["f1"]}


def test_an_entry_cut_short_by_a_kill_is_skipped(tmp_path):
    write_entry(str(tmp_path), entry("a#0", 3, ["f1"]))
    (tmp_path / LEDGER / "zzzz-torn.json").write_text('{"shard": "a#1", "ro')
    assert [e.shard for e in read_entries(str(tmp_path))] == ["a#0"]
