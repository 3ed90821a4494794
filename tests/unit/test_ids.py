import pyarrow as pa

from transforms.ids import batch_id, record_ids


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
    assert batch_id(["x", "y"], "n") == batch_id(["x", "y"], "n")
    assert batch_id(["x", "y"], "n") != batch_id(["x"], "n")
    assert len(batch_id(["x"], "n" * 31)) <= 64
