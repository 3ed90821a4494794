"""The request plan of a batch: ranges, groups, refused records, ids."""

import pyarrow as pa
import pytest

from transforms.batching.plan import BatchPlanner, EncodeFailed, apart, runs_of_equal_rows
from transforms.core.settings import InvokeSettings


def test_refused_records_get_request_ranges_of_their_own():
    assert apart([(0, 5), (5, 10)], {}) == [(0, 5), (5, 10)]
    assert apart([(0, 5), (5, 10)], {0: "x", 3: "x", 9: "x"}) == [(0, 1), (1, 3), (3, 4), (4, 5), (5, 9), (9, 10)]


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


def test_ids_from_a_column_are_sent_as_they_are_and_a_record_without_one_is_refused():
    settings = InvokeSettings(feature_columns=["f"], inference_id_column="inference_id")
    table = pa.table({"f": [1.0, 2.0, 3.0, 4.0], "inference_id": ["job-a", None, "job-c", "job-d"]})
    plan = BatchPlanner(settings, ["row"]).plan(table)
    assert plan.ids.to_pylist() == ["job-a", "", "job-c", "job-d"]
    assert plan.refused == {1: "inference_id_column 'inference_id' holds no id"}
    assert plan.ranges == [(0, 1), (1, 2), (2, 4)]


def planner(**kw) -> BatchPlanner:
    return BatchPlanner(InvokeSettings(feature_columns=["f"], **kw), ["row"])


def test_requests_hold_at_most_max_records_and_max_payload_bytes():
    table = pa.table({"f": [float(i) for i in range(10)], "row": list(range(10))})
    assert planner(max_records=4).plan(table).ranges == [(0, 4), (4, 8), (8, 10)]
    assert planner(strategy="SingleRecord").plan(table).ranges == [(i, i + 1) for i in range(10)]
    by_bytes = planner(max_payload_bytes=9).plan(table)  # "0.0\n1.0\n" is 8 bytes: two records a request
    assert by_bytes.ranges == [(0, 2), (2, 4), (4, 6), (6, 8), (8, 10)]


def test_records_of_different_per_record_fields_never_share_a_request():
    table = pa.table({"f": [1.0, 2.0, 3.0, 4.0], "row": [0, 1, 2, 3], "v": ["b", "a", "b", "a"]})
    p = planner(fields={"target_variant_column": "v"})
    plan = p.plan(table)
    assert plan.table.column("v").to_pylist() == ["a", "a", "b", "b"]  # sorted, so that groups are contiguous
    assert plan.ranges == [(0, 2), (2, 4)]
    assert p.overrides(plan, 2) == {"TargetVariant": "b"}


def test_a_request_of_one_record_carries_its_id_and_of_several_a_batch_id():
    table = pa.table({"f": [1.0, 2.0, 3.0], "row": [0, 1, 2]})
    p = planner()
    plan = p.plan(table)
    assert p.request_id(plan, 1, 2) == plan.ids[1].as_py()
    batch = p.request_id(plan, 0, 3)
    assert batch.startswith("smscore-b") and batch != p.request_id(plan, 0, 2) and len(batch) <= 64


def test_a_batch_the_serializer_cannot_encode_at_all_is_refused_as_one_range():
    table = pa.table({"f": pa.array([[1.0]], pa.list_(pa.float64())), "row": [0]})
    plan = planner(serializer="csv").plan(table)  # CSV cannot carry a list: preflight refuses it, this is the net
    assert isinstance(plan.encoded, EncodeFailed) and plan.ranges == [(0, 1)]
    assert plan.refusal(0) is not None and plan.payloads(0, 1) == [b""]
