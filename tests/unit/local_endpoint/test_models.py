"""The local endpoint's demo model: CSV parsing and score rendering, without HTTP."""

from __future__ import annotations

import json

import numpy as np
import pytest

from local_endpoint.models import CSV, JSON, JSONLINES, SCORE_DECIMALS, ModelFailure, parse_features, render_scores


def csv_body(matrix: np.ndarray) -> bytes:
    return ("\n".join(",".join(repr(x) for x in row) for row in matrix.tolist()) + "\n").encode()


@pytest.mark.parametrize("rows,width", [(1, 1), (3, 4), (500, 16), (4000, 16)])  # small bodies and Arrow-sized ones
def test_csv_rows_parse_exactly(rows: int, width: int) -> None:
    matrix = np.random.default_rng(rows).normal(size=(rows, width))
    assert np.array_equal(parse_features(csv_body(matrix), CSV), matrix)


def test_csv_tolerates_spaces_crlf_and_blank_lines() -> None:
    assert parse_features(b"1, 2\r\n\n\n3,4\n\n", CSV).tolist() == [[1.0, 2.0], [3.0, 4.0]]


@pytest.mark.parametrize(
    "body", [b"1,2\n3\n", b"1,2,3\n4,5\n6\n", b"1\n2,3\n", b"1,,2\n", b"a,b\n", b"\n\n", b"1,2\n" * 5000 + b"1\n"]
)
def test_bad_csv_is_a_client_error(body: bytes) -> None:
    with pytest.raises(ModelFailure) as failure:
        parse_features(body, CSV)
    assert failure.value.status == 400


def test_scores_render_the_same_digits_whichever_way_they_are_written() -> None:
    scores = np.random.default_rng(7).random(1000)
    scores[:4] = [0.0, 1.0, 0.5 + 0.5 * 10**-SCORE_DECIMALS, 1e-12]
    few = render_scores(scores[:100], CSV).splitlines()  # %-format
    many = render_scores(scores, CSV).splitlines()  # NumPy digit columns
    assert many[:100] == few
    assert few[:4] == [b"0.000000000", b"1.000000000", b"0.500000001", b"0.000000000"]
    assert np.allclose(np.array(many, dtype=np.float64), scores, rtol=0, atol=0.5 * 10**-SCORE_DECIMALS + 1e-15)


@pytest.mark.parametrize("n", [3, 600])
def test_json_and_jsonlines_answers_parse(n: int) -> None:
    scores = np.linspace(0, 1, n)
    doc = json.loads(render_scores(scores, JSON, contributions=np.ones((n, 2))))
    assert np.allclose(doc["predictions"], scores) and len(doc["explanations"]["contributions"]) == n
    lines = [json.loads(line)["score"] for line in render_scores(scores, JSONLINES).splitlines()]
    assert np.allclose(lines, scores)


@pytest.mark.parametrize("content_type", [JSON, JSONLINES])
@pytest.mark.parametrize("body", [b"{not json", b'{"instances": 5}', b"[" * 100_000 + b"]" * 100_000])
def test_bad_json_is_a_client_error(content_type: str, body: bytes) -> None:
    with pytest.raises(ModelFailure) as failure:
        parse_features(body, content_type)
    assert failure.value.status == 400


def test_a_truncated_session_request_is_a_client_error() -> None:
    from local_endpoint.models import DemoModel, Invocation

    inv = Invocation(
        body=b'{"requestType": "CLOSE"',
        content_type=JSON,
        accept=None,
        custom_attributes=None,
        enable_explanations=None,
        inference_id=None,
        session_id="sess-1",
        instance="i-1",
    )
    with pytest.raises(ModelFailure) as failure:
        DemoModel().predict(inv)
    assert failure.value.status == 400
