"""Scoring a batch with a stub client: bisection isolates bad records, retries recover, every record is accounted."""

from __future__ import annotations

import asyncio
import math
import random

import pyarrow as pa
import pytest

from tests.unit.transforms.invoke.stub_client import POISON, Slept, StubClient, service_error
from transforms.batching.plan import BatchPlanner
from transforms.core.rows import dead_letter_schema, prediction_schema
from transforms.core.settings import EndpointSettings, InvokeSettings
from transforms.invoke.concurrency import AdaptiveLimiter
from transforms.invoke.invoker import EndpointInvoker
from transforms.invoke.scorer import BatchScorer

PASSTHROUGH = pa.schema([pa.field("id", pa.int64())])


def scorer(client: StubClient, **invoke) -> tuple[BatchScorer, list[float]]:
    settings = InvokeSettings(
        feature_columns=["x"], passthrough_columns=["id"], id_columns=["id"], **{"max_records": 8, **invoke}
    )
    endpoint = EndpointSettings(name="e")
    slept = Slept()
    invoker = EndpointInvoker(client, endpoint, settings, AdaptiveLimiter(4), sleep=slept)
    planner = BatchPlanner(settings, ["id"])
    return (
        BatchScorer(
            invoker,
            planner,
            prediction_schema=prediction_schema(PASSTHROUGH, "float64"),
            dead_letter_schema=dead_letter_schema(PASSTHROUGH),
        ),
        slept,
    )


def score(s: BatchScorer, table: pa.Table):
    plan = s.plan(table)
    return s.assemble(plan, asyncio.run(s.score(plan)))


def table(values: list[float]) -> pa.Table:
    return pa.table({"x": values, "id": list(range(len(values)))})


def test_a_clean_batch_is_scored_in_max_records_requests_with_its_metadata():
    client = StubClient()
    batch = score(scorer(client)[0], table([float(i) for i in range(20)]))
    assert batch.dead_letters is None and batch.stats.records_in == batch.stats.predictions_out == 20
    assert [len(c["Body"].splitlines()) for c in client.calls] == [8, 8, 4]
    assert batch.predictions.column("prediction").to_pylist() == [2.0 * i for i in range(20)]
    assert set(batch.predictions.column("invoked_variant").to_pylist()) == {"variant-a"}
    assert batch.predictions.column("attempts").to_pylist() == [1] * 20


def test_a_model_error_4xx_bisects_until_the_bad_record_stands_alone():
    client = StubClient()
    values = [float(i) for i in range(8)]
    values[5] = float(POISON)
    batch = score(scorer(client)[0], table(values))
    assert batch.stats.predictions_out == 7 and batch.stats.dead_letters_out == 1
    dead = batch.dead_letters.to_pylist()[0]
    assert dead["id"] == 5 and dead["error_class"] == "ModelError" and dead["model_original_status"] == 400
    assert dead["payload"] == b"-1.0\n" and dead["attempts"] == 1
    assert len(client.calls) == 1 + 2 + 2 + 2  # 8 -> 4+4 -> 2+2 (of the bad half) -> 1+1 (of the bad pair)
    alone = [c for c in client.calls if c["Body"] == b"-1.0\n"]
    assert [c["InferenceId"] for c in alone] == [dead["inference_id"]]  # alone, a record is sent under its own id


def test_throttles_and_service_faults_are_retried_with_the_injected_sleep():
    client = StubClient([service_error("ThrottlingException", 400), service_error("ServiceUnavailable", 503)])
    s, slept = scorer(client)
    batch = score(s, table([1.0, 2.0]))
    assert batch.stats.predictions_out == 2 and batch.stats.retries == 2 and batch.stats.throttles == 1
    assert len(slept) == 2 and len(client.calls) == 3
    assert batch.stats.throttled_ms == round(slept[0] * 1000)  # the backoff after the throttle, not the 503
    assert batch.predictions.column("attempts").to_pylist() == [3, 3]
    assert len({c["InferenceId"] for c in client.calls}) == 1  # a retry sends the same id


def test_retries_exhausted_become_dead_letters_of_every_record_of_the_request():
    client = StubClient([service_error("InternalFailure", 500)] * 3)
    batch = score(scorer(client, retry={"max_attempts": 3, "abort_after_endpoint_failures": 0})[0], table([1.0, 2.0]))
    assert batch.stats.dead_letters_out == 2 and batch.stats.dead_letters_by_class == {"InternalFailure": 2}
    assert batch.dead_letters.column("attempts").to_pylist() == [3, 3]


@pytest.mark.parametrize("refused_at", [0, 3, 7])
def test_a_record_the_serializer_refuses_is_never_sent_and_its_neighbours_are(refused_at):
    client = StubClient()
    values = pa.array([f"{i}.5" for i in range(8)], pa.string())
    values = pa.array([v if i != refused_at else "1,5" for i, v in enumerate(values.to_pylist())], pa.string())
    batch = score(scorer(client)[0], pa.table({"x": values, "id": list(range(8))}))
    assert batch.stats.predictions_out == 7 and batch.stats.dead_letters_out == 1
    dead = batch.dead_letters.to_pylist()[0]
    assert dead["id"] == refused_at and dead["error_class"] == "EncodeError" and dead["attempts"] == 0
    assert all("1,5" not in c["Body"].decode() for c in client.calls)


def test_the_request_budget_is_taken_before_every_attempt_and_its_waits_count_as_throttled():
    from transforms.invoke.rate import RequestRate

    now = [0.0]
    waits = Slept()
    rate = RequestRate(10.0, clock=lambda: now[0], sleep=waits)
    client = StubClient([service_error("ServiceUnavailable", 503)])
    s, _ = scorer(client, max_records=2)
    s.invoker.rate = rate
    batch = score(s, table([1.0, 2.0, 3.0, 4.0]))
    assert len(client.calls) == 3 and len(waits) == 2  # three attempts at one instant: two waited
    assert batch.stats.throttled_ms == round(sum(waits) * 1000) == 300


def test_requests_are_paced_by_the_round_trips_of_successful_calls_only():
    from transforms.invoke.pacing import RequestPacer

    now = [0.0]
    waits = Slept()
    client = StubClient([service_error("ServiceUnavailable", 503)])
    s, _ = scorer(client, max_records=2)
    s.invoker.pacer = pacer = RequestPacer(s.invoker.limiter, clock=lambda: now[0], sleep=waits)
    batch = score(s, table([1.0, 2.0, 3.0, 4.0]))
    assert batch.stats.predictions_out == 4 and len(client.calls) == 3
    assert math.isfinite(pacer.min_rtt)  # the answers were seen
    assert pacer.spacing == pytest.approx(pacer.min_rtt / s.invoker.limiter.limit)


@pytest.mark.parametrize(
    ("on_poison", "error_class", "attempts"),
    [("model_error", "ModelError", 2), ("stall", "NetworkError", 2), ("short_answer", "BadResponse", 1)],
)
def test_a_record_that_fails_in_the_container_is_isolated_after_two_attempts_per_request(
    on_poison, error_class, attempts
):
    """A model 5xx, a read timeout or an answer that does not match: each request gets two attempts (one where
    the policy does not retry the error), then the failing half is split until the record stands alone."""
    client = StubClient(poison_status=500, on_poison=on_poison)
    values = [float(i) for i in range(8)]
    values[5] = float(POISON)
    batch = score(scorer(client)[0], table(values))
    assert batch.stats.predictions_out == 7 and batch.stats.dead_letters_out == 1
    dead = batch.dead_letters.to_pylist()[0]
    assert (dead["id"], dead["error_class"], dead["attempts"]) == (5, error_class, attempts)
    # failing: [0,8) [4,8) [4,6) [5,6), `attempts` times each; answered once: [0,4) [6,8) [4,5)
    assert len(client.calls) == 4 * attempts + 3
    assert batch.predictions.column("id").to_pylist() == [0, 1, 2, 3, 4, 6, 7]


def test_a_single_record_request_keeps_the_full_retry_policy_for_a_model_5xx():
    client = StubClient(poison_status=500)
    batch = score(scorer(client, strategy="SingleRecord", retry={"max_attempts": 5})[0], table([float(POISON)]))
    assert batch.dead_letters.column("attempts").to_pylist() == [5] and len(client.calls) == 5


def requests_bound(n: int, failing: int, split_after: int) -> int:
    return split_after * (1 + 2 * failing * math.ceil(math.log2(n)))


@pytest.mark.parametrize("seed", range(40))
def test_isolation_sends_at_most_the_stated_bound_and_accounts_for_every_record(seed):
    rng = random.Random(seed)
    n = rng.choice([2, 3, 8, 13, 32, 64])
    failing = rng.sample(range(n), min(n, rng.choice([1, 1, 2, 3, n // 2 or 1, n])))
    split_after, limit = rng.choice([1, 2, 3]), rng.choice([1, 2, 8])
    values = [float(POISON) if i in failing else float(i) for i in range(n)]
    client = StubClient(poison_status=500)
    retry = {"split_after_attempts": split_after, "max_isolated_records": limit, "abort_after_endpoint_failures": 0}
    batch = score(scorer(client, max_records=n, retry=retry)[0], table(values))
    assert len(client.calls) <= requests_bound(n, len(failing), split_after)
    dead = set(batch.dead_letters.column("id").to_pylist())
    assert dead >= set(failing) and batch.stats.predictions_out + len(dead) == n
    if len(failing) <= max(limit, n // 5):  # a few in many: only the failing records are dead-lettered
        assert dead == set(failing)


def test_a_model_that_fails_every_request_costs_a_bounded_number_of_requests():
    client = StubClient(poison_status=500)
    batch = score(scorer(client, max_records=500)[0], table([float(POISON)] * 500))
    assert batch.stats.dead_letters_out == 500
    assert len(client.calls) <= 2 * (2 * 8 + 2 * 9)
