"""BatchScorer against the local endpoint over HTTP: retries, bisection, dead letters."""

import socket

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from pipelines.sample_data import make_table
from tests.conftest import endpoint_stats
from transforms.batching.plan import BatchPlanner
from transforms.core.rows import dead_letter_schema, prediction_schema
from transforms.core.settings import EndpointSettings, InvokeSettings
from transforms.invoke.client import make_client
from transforms.invoke.concurrency import AdaptiveLimiter
from transforms.invoke.invoker import EndpointInvoker
from transforms.invoke.outage import EndpointOutage
from transforms.invoke.scorer import BatchScorer
from transforms.invoke.worker_loop import WorkerLoop

pytestmark = pytest.mark.integration
FEATURES = [f"f{i}" for i in range(16)]
LOOP = WorkerLoop()  # as on a worker: one loop, which each client's connections belong to


def endpoint_config(faults=None, **variant):
    return {
        "endpoints": [{"name": "local-demo", "faults": faults or {}, "variants": [{"name": "variant-a", **variant}]}]
    }


ID_ONLY = pa.schema([pa.field("id", pa.int64())])


async def no_sleep(_seconds: float) -> None:
    pass


def scorer(url, passthrough=ID_ONLY, read_timeout=70.0, **invoke):
    endpoint = EndpointSettings(name="local-demo", endpoint_url=url, read_timeout_seconds=read_timeout)
    defaults = {"max_records": 10, "concurrency": 4, "passthrough_columns": passthrough.names}
    settings = InvokeSettings(feature_columns=FEATURES, id_columns=["id"], **{**defaults, **invoke})
    client = make_client(endpoint, settings.concurrency)
    LOOP.on_close(client.close)
    invoker = EndpointInvoker(client, endpoint, settings, AdaptiveLimiter(settings.concurrency), sleep=no_sleep)
    return BatchScorer(
        invoker,
        BatchPlanner(settings, ["id"]),
        prediction_schema=prediction_schema(passthrough, settings.prediction_type),
        dead_letter_schema=dead_letter_schema(passthrough),
    )


def score(s, table):
    plan = s.plan(table)
    batch = s.assemble(plan, LOOP.run(s.score(plan)))
    return batch.predictions, batch.dead_letters, batch.stats


def test_every_record_scored_with_metadata(endpoint_factory, creds):
    ep = endpoint_factory(None)
    preds, dead, stats = score(scorer(ep.url), make_table(95))
    assert dead is None and preds.num_rows == 95 and stats.records_in == 95
    assert sorted(preds.column("id").to_pylist()) == list(range(95))
    assert set(preds.column("invoked_variant").to_pylist()) <= {"variant-a", "variant-b"}
    assert stats.requests == 10  # 95 records, 10 per request
    assert len(set(preds.column("inference_id").to_pylist())) == 95
    # Each row names its request: the InferenceId it was sent with, and the service's x-amzn-RequestId.
    columns = (preds.column("request_inference_id").to_pylist(), preds.column("aws_request_id").to_pylist())
    requests = set(zip(*columns, strict=True))
    assert len(requests) == 10 and all(a and b for a, b in requests)


def test_scores_match_single_record_mode(endpoint_factory, creds):
    ep = endpoint_factory(endpoint_config())
    table = make_table(12)
    multi, _, _ = score(scorer(ep.url), table)
    single, _, stats = score(scorer(ep.url, strategy="SingleRecord"), table)
    assert stats.requests == 12
    assert multi.sort_by("id").column("prediction").to_pylist() == single.sort_by("id").column("prediction").to_pylist()
    assert (
        multi.sort_by("id").column("inference_id").to_pylist()
        == single.sort_by("id").column("inference_id").to_pylist()
    )


def poisoned(n, bad_row):
    table = make_table(n)
    values = table.column("f3").to_pylist()
    values[bad_row] = float("nan")
    return table.set_column(table.schema.get_field_index("f3"), "f3", pa.array(values))


def test_one_poison_record_in_100_is_isolated(endpoint_factory, creds):
    ep = endpoint_factory(endpoint_config())
    preds, dead, stats = score(scorer(ep.url, max_records=100), poisoned(100, 37))
    assert preds.num_rows == 99 and dead.num_rows == 1
    row = dead.to_pylist()[0]
    assert row["id"] == 37 and row["error_class"] == "ModelError" and row["model_original_status"] == 400
    assert row["http_status"] == 424 and row["payload"].count(b"\n") == 1 and row["attempts"] == 1
    assert stats.records_in == stats.predictions_out + stats.dead_letters_out == 100


@pytest.mark.parametrize(("fails_with", "error_class"), [("model_error", "ModelError"), ("stall", "NetworkError")])
def test_one_record_in_500_that_fails_in_the_container_is_isolated_within_the_bound(
    endpoint_factory, creds, fails_with, error_class
):
    """The container answers a 500 for one record, or hangs on it past the read timeout: 499 predictions,
    1 dead letter, and the endpoint received at most ``a * (1 + 2 * ceil(log2 500))`` requests (a = 2)."""
    poison = {"marker": "12345.678", "fails_with": fails_with}
    ep = endpoint_factory(endpoint_config(faults={"poison": poison, "stall_seconds": 2.0}))
    table = make_table(500)
    f0 = table.column("f0").to_pylist()
    f0[321] = 12345.678
    table = table.set_column(table.schema.get_field_index("f0"), "f0", pa.array(f0))
    preds, dead, stats = score(scorer(ep.url, read_timeout=0.3, max_records=500), table)
    assert preds.num_rows == 499 and dead.num_rows == 1
    row = dead.to_pylist()[0]
    assert (row["id"], row["error_class"], row["attempts"]) == (321, error_class, 2)
    assert row["request_inference_id"] == row["inference_id"]  # alone, a record is sent under its own id
    assert (row["aws_request_id"] is not None) is (fails_with == "model_error")  # a stall never answers
    received = endpoint_stats(ep.url)["received"]
    assert received <= 2 * (1 + 2 * 9) and received == stats.requests
    assert stats.records_in == stats.predictions_out + stats.dead_letters_out == 500


@pytest.mark.parametrize("serializer", ["json", "jsonlines"])
def test_a_record_json_cannot_carry_is_refused_alone(endpoint_factory, creds, serializer):
    ep = endpoint_factory(endpoint_config())
    answer = {"prediction_field": "score"} if serializer == "jsonlines" else {}  # the demo model's JSON Lines
    preds, dead, stats = score(scorer(ep.url, max_records=100, serializer=serializer, **answer), poisoned(100, 37))
    assert preds.num_rows == 99 and dead.num_rows == 1
    row = dead.to_pylist()[0]
    assert (row["id"], row["error_class"], row["attempts"], row["payload"]) == (37, "EncodeError", 0, b"")
    assert "NaN" in row["message"]
    assert stats.requests == 2  # the records around it, never the refused one
    assert stats.records_in == stats.predictions_out + stats.dead_letters_out == 100


def test_csv_text_feature_with_a_comma_is_refused_alone(endpoint_factory, creds):
    ep = endpoint_factory(endpoint_config())
    table = make_table(20)
    text = [str(v) for v in table.column("f0").to_pylist()]
    text[5] = "1,5"
    table = table.set_column(table.schema.get_field_index("f0"), "f0", pa.array(text))
    preds, dead, stats = score(scorer(ep.url, max_records=20), table)
    assert preds.num_rows == 19 and dead.to_pylist()[0]["id"] == 5
    assert dead.to_pylist()[0]["error_class"] == "EncodeError"
    assert stats.records_in == stats.predictions_out + stats.dead_letters_out == 20


def test_throttling_and_5xx_are_retried_to_success(endpoint_factory, creds):
    ep = endpoint_factory(endpoint_config(faults={"seed": 3, "errors": {"throttling": 0.3, "internal_failure": 0.2}}))
    preds, dead, stats = score(scorer(ep.url), make_table(200))
    assert dead is None and preds.num_rows == 200
    assert stats.throttles > 0 and stats.errors["InternalFailure"] > 0
    assert stats.retries == stats.requests - 20
    assert max(preds.column("attempts").to_pylist()) > 1


def test_model_error_4xx_is_dead_lettered_without_retry(endpoint_factory, creds):
    ep = endpoint_factory(endpoint_config(faults={"errors": {"model_error": 1.0}, "model_error_status": 400}))
    preds, dead, _stats = score(scorer(ep.url, max_records=4), make_table(8))
    assert preds is None and dead.num_rows == 8
    assert set(dead.column("attempts").to_pylist()) == {1}
    assert set(dead.column("model_original_status").to_pylist()) == {400}


def test_an_endpoint_that_is_down_stops_the_run_instead_of_dead_lettering_everything(creds):
    with socket.socket() as sock:  # a port nothing listens on once closed
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    s = scorer(f"http://127.0.0.1:{port}", retry={"max_attempts": 2, "abort_after_endpoint_failures": 3})
    plan = s.plan(make_table(100))

    def request(i: int):  # type: ignore[no-untyped-def]
        return LOOP.run(s.score_range(plan, *plan.ranges[i]))

    parts = [request(i) for i in range(2)]  # an incident: its records are dead letters
    assert [p.stats.dead_letters_out for p in parts] == [10, 10]
    with pytest.raises(EndpointOutage, match=r"3 requests in a row, .*NetworkError/EndpointConnectionError"):
        request(2)
    with pytest.raises(EndpointOutage):  # every later request stops before it is sent
        request(3)


def test_records_the_model_refuses_never_stop_the_run(endpoint_factory, creds):
    ep = endpoint_factory(endpoint_config(faults={"errors": {"model_error": 1.0}, "model_error_status": 400}))
    preds, dead, _ = score(scorer(ep.url, retry={"abort_after_endpoint_failures": 2}), make_table(40))
    assert preds is None and dead.num_rows == 40


def test_count_mismatch_is_dead_lettered_never_misaligned(endpoint_factory, creds):
    ep = endpoint_factory(endpoint_config(faults={"errors": {"count_mismatch": 1.0}}))
    preds, dead, _ = score(scorer(ep.url), make_table(30))
    assert preds is None and dead.num_rows == 30
    assert set(dead.column("error_code").to_pylist()) == {"CountMismatch"}


def test_count_mismatch_retried_when_configured(endpoint_factory, creds):
    ep = endpoint_factory(endpoint_config(faults={"seed": 1, "errors": {"count_mismatch": 0.5}}))
    preds, dead, stats = score(scorer(ep.url, retry={"bad_response": "retry"}), make_table(50))
    assert dead is None and preds.num_rows == 50 and stats.errors["BadResponse"] > 0


def test_retries_exhausted_become_dead_letters(endpoint_factory, creds):
    ep = endpoint_factory(endpoint_config(faults={"errors": {"service_unavailable": 1.0}}))
    preds, dead, _stats = score(scorer(ep.url, retry={"max_attempts": 3}), make_table(10))
    assert preds is None and dead.num_rows == 10
    assert set(dead.column("attempts").to_pylist()) == {3}
    assert set(dead.column("error_class").to_pylist()) == {"ServiceUnavailable"}


def test_payload_limit_splits_requests(endpoint_factory, creds):
    ep = endpoint_factory(endpoint_config())
    s = scorer(ep.url, max_records=1000, max_payload_bytes=2000)
    plan = s.plan(make_table(300))
    assert all(plan.encoded.body_size(a, b) <= 2000 for a, b in plan.ranges)
    preds, dead, _ = score(s, make_table(300))
    assert preds.num_rows == 300 and dead is None


def test_per_record_target_variant_column(endpoint_factory, creds):
    ep = endpoint_factory({"endpoints": [{"name": "local-demo", "variants": [{"name": "va"}, {"name": "vb"}]}]})
    table = make_table(20)
    table = table.append_column("variant", pa.array(["va", "vb"] * 10))
    passthrough = pa.schema([pa.field("id", pa.int64()), pa.field("variant", pa.string())])
    s = scorer(ep.url, passthrough, fields={"target_variant_column": "variant"})
    preds, _, _ = score(s, table)
    assert pc.all(pc.equal(preds.column("variant"), preds.column("invoked_variant"))).as_py()
