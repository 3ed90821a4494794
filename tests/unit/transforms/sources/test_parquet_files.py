import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from transforms.sources.parquet_files import UnreadableInput, describe_input


def write(path, **columns):
    pq.write_table(pa.table(columns), path)


def test_describe_input_counts_rows_from_the_footers(tmp_path):
    write(tmp_path / "a.parquet", f0=[1.0, 2.0], id=[1, 2])
    write(tmp_path / "b.parquet", f0=[3.0], id=[3], extra=["only here"])  # a column the job does not read
    found = describe_input(str(tmp_path / "*.parquet"), ["f0", "id"])
    assert found.rows == 3 and found.schema.names == ["f0", "id"] and len(found.files) == 2


def test_a_file_without_a_column_or_with_another_type_is_named_before_the_run(tmp_path):
    write(tmp_path / "a.parquet", f0=[1.0], f1=[1.0], id=[1])
    write(tmp_path / "b.parquet", f0=[1.0], id=[2])
    write(tmp_path / "c.parquet", f0=["1.0"], f1=[1.0], id=[3])
    with pytest.raises(UnreadableInput) as err:
        describe_input(str(tmp_path / "*.parquet"), ["f0", "f1", "id"])
    assert "b.parquet has no column 'f1'" in str(err.value)
    assert "c.parquet: column 'f0' is string, not double" in str(err.value)
    describe_input(str(tmp_path / "*.parquet"), ["id"])  # the columns the job does not read may differ


def test_a_corrupt_file_is_named(tmp_path):
    write(tmp_path / "a.parquet", f0=[1.0])
    (tmp_path / "b.parquet").write_bytes((tmp_path / "a.parquet").read_bytes()[:-20])
    with pytest.raises(UnreadableInput, match=r"b\.parquet: not a readable Parquet file"):
        describe_input(str(tmp_path / "*.parquet"))
