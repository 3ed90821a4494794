"""Request bodies: encoded once per batch, sliced per request; what a serializer cannot carry is refused per row."""

import json

import numpy as np
import pyarrow as pa
import pytest

from transforms.codecs.requests import encode
from transforms.core.settings import InvokeSettings

TABLE = pa.table({"a": [1.5, 2.0, -3.25], "b": [0.0, 1.0, 2.0], "raw": ["x,1", "y,2", "z,3"]})


def settings(**kw):
    return InvokeSettings(feature_columns=["a", "b"], **kw)


def test_csv_encodes_once_and_slices_requests():
    enc = encode(TABLE, settings())
    assert len(enc) == 3
    assert enc.body(0, 3) == b"1.5,0.0\n2.0,1.0\n-3.25,2.0\n" and type(enc.body(0, 3)) is bytes
    assert enc.body(1, 3) == b"2.0,1.0\n-3.25,2.0\n"
    assert enc.record(2) == b"-3.25,2.0\n"
    assert enc.body_size(0, 2) == len(enc.body(0, 2))


def test_csv_numbers_read_back_exactly():
    rng = np.random.default_rng(7)
    values = rng.normal(size=(500, 3)) * 10.0 ** rng.integers(-300, 300, size=(500, 3))
    values[0] = [-0.0, 5e-324, 1.7976931348623157e308]
    table = pa.table({f"c{i}": values[:, i] for i in range(3)})
    lines = encode(table, InvokeSettings(feature_columns=["c0", "c1", "c2"])).body(0, 500).splitlines()
    assert np.array_equal([[float(x) for x in line.split(b",")] for line in lines], values)
    assert lines[0].startswith(b"-0.0,")


@pytest.mark.parametrize("width", [1, 2, 16])
@pytest.mark.parametrize("rows", [1, 2, 1000])
def test_each_float_record_is_its_own_csv_line(width, rows):
    values = np.random.default_rng(rows * width).normal(size=(rows, width)) * 10.0 ** np.arange(width)
    table = pa.table({f"c{i}": values[:, i] for i in range(width)})
    enc = encode(table, InvokeSettings(feature_columns=table.column_names))
    assert enc.offsets[0] == 0 and enc.offsets[-1] == len(enc.buffer) and len(enc) == rows
    for i in (0, rows // 2, rows - 1):
        assert enc.record(i) == (",".join(map(repr, values[i].tolist())) + "\n").encode()


@pytest.mark.parametrize(
    ("column", "expected"),
    [
        (pa.array([1, 2], pa.int64()), b"1\n2\n"),  # not float64: Arrow's writer, ints stay ints
        (pa.array([0.5, None]), b"0.5\n\n"),  # a null is an empty field
        (pa.array([0.5, float("nan")]), b"0.5\nnan\n"),  # JSON has no NaN: Arrow's writer
    ],
)
def test_csv_of_other_columns(column, expected):
    assert encode(pa.table({"x": column}), InvokeSettings(feature_columns=["x"])).body(0, 2) == expected


def test_json_bodies_are_valid_instances_documents():
    enc = encode(TABLE, settings(serializer="json"))
    assert json.loads(enc.body(0, 3)) == {"instances": [[1.5, 0], [2, 1], [-3.25, 2]]}
    assert json.loads(enc.record(1)) == {"instances": [[2, 1]]}
    assert enc.body_size(0, 2) == len(enc.body(0, 2))


def test_jsonlines_one_array_per_line():
    enc = encode(TABLE, settings(serializer="jsonlines"))
    assert [json.loads(x) for x in enc.body(0, 3).splitlines()] == [[1.5, 0], [2, 1], [-3.25, 2]]


def test_json_forms_of_an_empty_batch_are_empty():
    for serializer in ("json", "jsonlines"):
        assert len(encode(TABLE.slice(0, 0), settings(serializer=serializer))) == 0


def test_raw_column_is_sent_as_is():
    s = InvokeSettings(serializer="raw", raw_column="raw", fields={"content_type": "text/csv"})
    enc = encode(TABLE, s)
    assert enc.record(0) == b"x,1"
    assert enc.body(0, 3) == b"x,1\ny,2\nz,3"
    assert enc.body_size(0, 3) == len(enc.body(0, 3))


def test_raw_values_ending_in_a_line_break_are_sent_once_each():
    s = InvokeSettings(serializer="raw", raw_column="raw", fields={"content_type": "text/csv"})
    enc = encode(pa.table({"raw": [b"1.5,1.0\n", b"2,3\r\n", b"4,5"]}), s)
    assert enc.body(0, 3) == b"1.5,1.0\n2,3\n4,5" and enc.record(0) == b"1.5,1.0"


def test_raw_column_of_a_sliced_chunked_binary_column_with_nulls():
    column = pa.chunked_array([[b"skip", b"a"], [None, b"ccc"]]).slice(1)
    s = InvokeSettings(serializer="raw", raw_column="raw", fields={"content_type": "text/csv"})
    enc = encode(pa.table({"raw": column}), s)
    assert [enc.record(i) for i in range(3)] == [b"a", b"", b"ccc"]
    assert enc.refused == {1: "raw_column holds an empty body"}  # never sent: a blank line is no record


def test_csv_refuses_only_the_rows_it_cannot_carry():
    table = pa.table(
        {
            "a": [1.0, 2.0, None, 4.0, 5.0],
            "b": pa.array([b"x", b"y,z", b"ok", b"\xff", b"line\nbreak"]),
        }
    )
    encoded = encode(table, InvokeSettings(feature_columns=["a", "b"]))
    assert sorted(encoded.refused) == [1, 3, 4]
    assert "comma" in encoded.refused[1] and "UTF-8" in encoded.refused[3]
    assert [encoded.record(i) for i in (0, 2)] == [b"1,x\n", b",ok\n"]  # a null is an empty field


def test_json_forms_quote_text_write_null_and_refuse_nan():
    table = pa.table(
        {
            "a": [1, None, 3, 4],
            "b": ['q"uote', "x", "y", "z"],
            "c": [0.5, 1.0, float("nan"), 2.0],
            "e": [[0.5], [0.25, 2.0], None, [float("inf")]],  # an embedding
        }
    )
    for serializer in ("json", "jsonlines"):
        encoded = encode(table, InvokeSettings(feature_columns=["a", "b", "c", "e"], serializer=serializer))
        assert sorted(encoded.refused) == [2, 3] and "'c'" in encoded.refused[2] and "'e'" in encoded.refused[3]
        body = encoded.body(0, 2)
        rows = json.loads(body)["instances"] if serializer == "json" else [json.loads(x) for x in body.splitlines()]
        assert rows == [[1, 'q"uote', 0.5, [0.5]], [None, "x", 1.0, [0.25, 2.0]]]


@pytest.mark.parametrize(
    ("column", "first"),
    [
        (pa.array([[[1.0], [2.0]], [[float("nan")]], None], pa.list_(pa.list_(pa.float64()))), [[1.0], [2.0]]),
        (pa.array([{"x": 1.0}, {"x": float("-inf")}, None], pa.struct([("x", pa.float32())])), {"x": 1.0}),
        (pa.array([[("k", 1.0)], [("k", float("nan"))], None], pa.map_(pa.string(), pa.float64())), {"k": 1.0}),
        (pa.array([[1.0, 2.0], [float("nan"), 0.0], None], pa.list_(pa.float64(), 2)), [1.0, 2.0]),
    ],
    ids=["list-of-lists", "struct", "map", "fixed-size-list"],
)
def test_json_forms_refuse_nan_at_any_depth_of_a_nested_feature(column, first):
    table = pa.table({"n": column})
    encoded = encode(table, InvokeSettings(feature_columns=["n"], serializer="jsonlines"))
    assert sorted(encoded.refused) == [1] and "'n'" in encoded.refused[1]
    assert [json.loads(encoded.body(row, row + 1)) for row in (0, 2)] == [[first], [None]]
