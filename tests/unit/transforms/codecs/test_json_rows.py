"""Arrow tables as JSON objects, column by column, with one convention for every output."""

import datetime as dt
import decimal
import json
import math
import random

import pyarrow as pa
import pytest

from transforms.codecs.json_rows import json_lines, json_objects

UTC = dt.UTC


def rows(table: pa.Table) -> list[dict]:
    return [json.loads(text) for text in json_objects(table).to_pylist()]


def test_scalars_nulls_and_key_order():
    table = pa.table(
        {
            "id": pa.array([1, None], pa.int64()),
            "ok": pa.array([True, None]),
            "p": pa.array([0.25, None]),
            "name": pa.array(["a", None]),
            "amount": pa.array([decimal.Decimal("1.50"), None], pa.decimal128(5, 2)),
            "day": pa.array([dt.date(2026, 11, 29), None]),
            "nothing": pa.nulls(2),
        }
    )
    out = json_objects(table).to_pylist()
    assert out[0] == '{"id":1,"ok":true,"p":0.25,"name":"a","amount":1.50,"day":"2026-11-29","nothing":null}'
    assert json.loads(out[1]) == dict.fromkeys(table.column_names)


def test_floats_read_back_exactly_keep_their_type_and_non_finite_is_null():
    rng = random.Random(7)
    values = [rng.uniform(-1, 1) * 10.0 ** rng.randint(-300, 300) for _ in range(2000)]
    values += [0.0, -0.0, 2.0, 1e16, 1e-7, 5e-324, 1.7976931348623157e308, math.nan, math.inf, -math.inf]
    got = [r["x"] for r in rows(pa.table({"x": values}))]
    assert got[:-3] == values[:-3] and [type(v) for v in got[:-3]] == [float] * (len(values) - 3)
    assert got[-3:] == [None, None, None]
    assert json_objects(pa.table({"x": pa.array([0.1], pa.float32())})).to_pylist() == ['{"x":0.1}']


@pytest.mark.parametrize(
    "text",
    ["plain", 'quote " and backslash \\', "lines\nand\r\ntabs\t", "bell \x07 and nul \x00", "ünï ☃ \u2028", ""],
)
def test_strings_are_escaped_as_json(text):
    assert rows(pa.table({"s": [text, "other"]}))[0]["s"] == text


def test_binary_is_utf8_text_or_base64_when_not_utf8():
    assert [r["b"] for r in rows(pa.table({"b": [b"1.0,2.0\n", None]}))] == ["1.0,2.0\n", None]
    assert [r["b"] for r in rows(pa.table({"b": [b"\xff\xfe", b"ok"]}))] == [{"base64": "//4="}, "ok"]


def test_timestamps_are_iso_8601_in_utc():
    instant = dt.datetime(2026, 11, 29, 9, 25, 33, 123000, tzinfo=UTC)
    paris = pa.array([instant], pa.timestamp("ms", "Europe/Paris"))
    assert rows(pa.table({"t": paris}))[0]["t"] == "2026-11-29T09:25:33.123Z"
    naive = pa.array([instant.replace(tzinfo=None)], pa.timestamp("s"))
    assert rows(pa.table({"t": naive}))[0]["t"] == "2026-11-29T09:25:33"


def test_nested_and_dictionary_columns():
    table = pa.table(
        {
            "tags": pa.array([["a", "b"], None]),
            "attrs": pa.array([[("k", b"v")], []], pa.map_(pa.string(), pa.binary())),
            "point": pa.array([{"x": 1.5, "y": math.nan}, None]),
            "variant": pa.array(["variant-a", "variant-b"]).dictionary_encode(),
        }
    )
    assert rows(table) == [
        {"tags": ["a", "b"], "attrs": {"k": "v"}, "point": {"x": 1.5, "y": None}, "variant": "variant-a"},
        {"tags": None, "attrs": {}, "point": None, "variant": "variant-b"},
    ]


def test_json_lines_of_a_sliced_table_is_one_line_per_row():
    table = pa.table({"i": list(range(10)), "s": [f"r{i}" for i in range(10)]}).slice(3, 4)
    text = json_lines(table)
    assert text.endswith(b"\n") and [json.loads(line)["i"] for line in text.splitlines()] == [3, 4, 5, 6]
    assert json_lines(table.slice(0, 0)) == b""
