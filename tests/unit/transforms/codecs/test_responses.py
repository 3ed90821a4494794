"""Responses parse into exactly as many predictions as records, or fail."""

import pytest

from transforms.codecs.responses import parse_predictions
from transforms.core.errors import BadResponse
from transforms.core.settings import InvokeSettings


def settings(**kw):
    return InvokeSettings(feature_columns=["a", "b"], **kw)


@pytest.mark.parametrize(
    ("body", "ctype", "expected"),
    [
        (b"0.1\n0.2\n", "text/csv", [0.1, 0.2]),
        (b"0.1\n0.2", "text/csv", [0.1, 0.2]),
        (b"0.1\r\n 0.2 \r\n", "text/csv", [0.1, 0.2]),  # the general path: CRLF, spaces
        (b"1e-3\n-inf\n", "text/csv", [0.001, float("-inf")]),
        (b'{"predictions": [0.1, 0.2]}', "application/json", [0.1, 0.2]),
        (b"[0.1, 0.2]", "application/json", [0.1, 0.2]),
        (b"0.1\n0.2\n", "application/jsonlines", [0.1, 0.2]),
    ],
)
def test_parse_predictions(body, ctype, expected):
    assert parse_predictions(body, ctype, 2, settings()).to_pylist() == expected


def test_prediction_field_and_string_type():
    s = settings(prediction_field="score")
    assert parse_predictions(b'{"score": 1}\n{"score": 2}\n', "application/jsonlines", 2, s).to_pylist() == [1.0, 2.0]
    s = settings(prediction_type="string")
    assert parse_predictions(b'{"predictions": [{"l": "a"}, "b"]}', "application/json", 2, s).to_pylist() == [
        '{"l": "a"}',
        "b",
    ]


@pytest.mark.parametrize(
    ("body", "ctype", "code"),
    [
        (b"0.1\n", "text/csv", "CountMismatch"),
        (b"0.1\n0.2\n0.3\n", "text/csv", "CountMismatch"),
        (b"\x00garbage{", "application/json", "UnparsableResponse"),
        (b"a\nb\n", "text/csv", "NonNumericPrediction"),
        (b"0.1\n\n", "text/csv", "NonNumericPrediction"),
        (b"0.1\n\xff\n", "text/csv", "UnparsableResponse"),
        (b'{"x": 1}\n{"x": 2}\n', "application/jsonlines", "NonNumericPrediction"),
        (b"[" * 100_000 + b"]" * 100_000, "application/json", "UnparsableResponse"),  # deeper than the stack
    ],
)
def test_bad_responses_are_errors_never_truncated(body, ctype, code):
    with pytest.raises(BadResponse) as info:
        parse_predictions(body, ctype, 2, settings())
    assert info.value.code == code
