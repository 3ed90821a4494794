"""Requests never mix records whose per-record InvokeEndpoint fields differ."""

import pyarrow as pa
import pytest

from transforms.scoring import runs_of_equal_rows


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([], [(0, 0)]),
        (["a"], [(0, 1)]),
        (["a", "a", "b", None, None, "c"], [(0, 2), (2, 3), (3, 5), (5, 6)]),
        ([None, "a"], [(0, 1), (1, 2)]),
    ],
)
def test_runs_of_one_column(values, expected):
    table = pa.table({"v": pa.array(values, pa.string())})
    assert runs_of_equal_rows(table, ["v"]) == expected


def test_runs_over_two_chunked_columns():
    table = pa.table(
        {
            "model": pa.chunked_array([["m1", "m1"], ["m1", "m2"]]),
            "variant": pa.chunked_array([["a", "b"], ["b", "b"]]),
        }
    )
    assert runs_of_equal_rows(table, ["model", "variant"]) == [(0, 1), (1, 3), (3, 4)]
    assert runs_of_equal_rows(table, []) == [(0, 4)]
