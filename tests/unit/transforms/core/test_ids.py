"""Deterministic InferenceIds: same record, same id, whatever the batching."""

import pyarrow as pa

from transforms.core.ids import batch_id, record_ids


def test_ids_are_deterministic_printable_and_bounded():
    table = pa.table({"k": [1, 2, 3], "p": ["a", "b", None]})
    first = record_ids(table, ["k", "p"], "nightly").to_pylist()
    assert first == record_ids(table, ["k", "p"], "nightly").to_pylist()
    assert len(set(first)) == 3
    assert all(len(i) <= 64 and i.isprintable() and not i.startswith(" ") for i in first)
    assert all(i.startswith("nightly-") for i in first)


def test_namespace_and_key_change_the_id():
    table = pa.table({"k": [1]})
    assert record_ids(table, ["k"], "a").to_pylist() != record_ids(table, ["k"], "b").to_pylist()
    assert record_ids(table, ["k"], "a").to_pylist() != record_ids(pa.table({"k": [2]}), ["k"], "a").to_pylist()


def test_batch_id_depends_on_its_records():
    assert batch_id("x", "y", 2, "n") == batch_id("x", "y", 2, "n")
    assert batch_id("x", "y", 2, "n") != batch_id("x", "z", 2, "n") != batch_id("x", "y", 3, "n")
    assert len(batch_id("x", "y", 2, "n" * 31)) <= 64


def test_ids_do_not_depend_on_chunking_slicing_or_other_rows():
    table = pa.table({"k": list(range(1000)), "s": ["x" * (i % 40) for i in range(1000)]})
    whole = record_ids(table, ["k", "s"], "ns").to_pylist()
    chunked = pa.concat_tables([table.slice(0, 300), table.slice(300)])
    assert record_ids(chunked, ["k", "s"], "ns").to_pylist() == whole
    assert record_ids(table.slice(500, 10), ["k", "s"], "ns").to_pylist() == whole[500:510]
    assert len(set(whole)) == 1000


def test_empty_and_null_keys_get_ids():
    table = pa.table({"k": pa.array([None, ""], pa.string())})
    ids = record_ids(table, ["k"], "ns").to_pylist()
    assert ids[0] == ids[1] and len(ids[0]) == len("ns-") + 32


def test_ids_are_pinned_across_versions():
    """A rerun after an upgrade must send the ids of the first run: these values never change."""
    table = pa.table({"k": pa.array([1, 22, None], pa.int64()), "s": ["a", "é", ""]})
    assert record_ids(table, ["k", "s"], "smscore").to_pylist() == [
        "smscore-096b510807dbb8c021277b14ad9169fe",
        "smscore-8c776ef522764a761e430d282eb5430c",
        "smscore-be79b134c61187efe8ecc51f168eac89",
    ]
    assert record_ids(table, ["k"], "ns").to_pylist() == [
        "ns-7de887d47a247c20161a3b288133c52a",
        "ns-8e16f19bc73f213e5fe3f9156c6ecfa0",
        "ns-b49a3cb53e29b7dd7140bce5a4156b33",
    ]
