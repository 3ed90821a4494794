"""The local endpoint, exercised with the real boto3 client over HTTP."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import pathlib
import socket
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from unittest import mock

import botocore.exceptions
import pytest
from aiohttp import web
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from local_endpoint.hosting import BackgroundServer
from local_endpoint.server import running
from tests.conftest import make_client

pytestmark = pytest.mark.integration


def invoke_error(client, **kwargs):  # type: ignore[no-untyped-def]
    with pytest.raises(botocore.exceptions.ClientError) as info:
        client.invoke_endpoint(**kwargs)
    return info.value


def raw_request(
    url: str,
    headers: dict[str, str],
    body: bytes = b"1,2",
    sign: bool = True,
    secret: str = "test",
    when: dt.datetime | None = None,
) -> tuple[int, dict[str, str], bytes]:
    """Send a request boto3 would refuse to build (bad headers, no signature, skewed clock)."""
    full = f"{url}/endpoints/local-demo/invocations"
    req = AWSRequest(method="POST", url=full, data=body, headers={"Content-Type": "text/csv", **headers})
    if sign:
        with mock.patch("botocore.auth.get_current_datetime", return_value=when or dt.datetime.now(dt.UTC)):
            SigV4Auth(Credentials("test", secret), "sagemaker", "us-east-1").add_auth(req)
    prepared = req.prepare()
    http_req = urllib.request.Request(full, data=body, headers=dict(prepared.headers.items()), method="POST")
    try:
        with urllib.request.urlopen(http_req, timeout=10) as resp:
            return resp.status, dict(resp.headers.items()), resp.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers.items()), err.read()


class TestProtocol:
    def test_csv_json_jsonlines_round_trip(self, default_endpoint):
        client = make_client(default_endpoint.url)
        csv = client.invoke_endpoint(EndpointName="local-demo", Body=b"1,2,3\n4,5,6\n", ContentType="text/csv")
        assert len(csv["Body"].read().splitlines()) == 2
        assert csv["ContentType"] == "text/csv"
        assert csv["InvokedProductionVariant"] in {"variant-a", "variant-b"}
        js = client.invoke_endpoint(
            EndpointName="local-demo", Body=b'{"instances": [[1, 2], [3, 4], [5, 6]]}', ContentType="application/json"
        )
        assert len(json.loads(js["Body"].read())["predictions"]) == 3
        jl = client.invoke_endpoint(
            EndpointName="local-demo",
            Body=b"[1, 2]\n[3, 4]\n",
            ContentType="application/jsonlines",
            Accept="application/jsonlines",
        )
        lines = [json.loads(x) for x in jl["Body"].read().splitlines()]
        assert [set(x) for x in lines] == [{"score"}, {"score"}]

    def test_demo_model_is_deterministic(self, default_endpoint):
        client = make_client(default_endpoint.url)
        bodies = {
            client.invoke_endpoint(
                EndpointName="local-demo", Body=b"0.5,1.5\n", ContentType="text/csv", TargetVariant="variant-a"
            )["Body"].read()
            for _ in range(3)
        }
        assert len(bodies) == 1

    def test_every_request_header_accepted_and_response_headers_sent(self, default_endpoint):
        client = make_client(default_endpoint.url)
        resp = client.invoke_endpoint(
            EndpointName="local-demo",
            Body=b'{"instances": [[1, 2]]}',
            ContentType="application/json",
            Accept="application/json",
            CustomAttributes="c1=v1;trace-instance",
            TargetVariant="variant-b",
            InferenceId="rec-0001",
            EnableExplanations="`true`",
            SessionId="NEW_SESSION",
        )
        doc = json.loads(resp["Body"].read())
        assert "explanations" in doc
        assert resp["InvokedProductionVariant"] == "variant-b"
        assert resp["CustomAttributes"].startswith("c1=v1;trace-instance;instance=variant-b/")
        assert resp["NewSessionId"].split(";")[0]
        assert resp["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"]

    @pytest.mark.parametrize(
        ("header", "value", "fragment"),
        [
            ("X-Amzn-SageMaker-Inference-Id", "x" * 65, "InferenceId"),
            ("X-Amzn-SageMaker-Custom-Attributes", "a" * 1025, "CustomAttributes"),
            ("X-Amzn-SageMaker-Custom-Attributes", "caf\u00e9", "CustomAttributes"),
            ("X-Amzn-SageMaker-Target-Variant", "-bad", "TargetVariant"),
            ("X-Amzn-SageMaker-Target-Container-Hostname", "a" * 64, "TargetContainerHostname"),
            ("X-Amzn-SageMaker-Session-Id", "not_valid!", "SessionId"),
            ("X-Amzn-SageMaker-Inference-Component", "ends-", "InferenceComponentName"),
            ("X-Amzn-SageMaker-Enable-Explanations", "x" * 65, "EnableExplanations"),
            ("X-Amzn-SageMaker-Target-Model", "m" * 1025, "TargetModel"),
            ("Accept", "a" * 1025, "Accept"),
        ],
    )
    def test_invalid_headers_are_validation_errors(self, default_endpoint, header, value, fragment):
        status, headers, body = raw_request(default_endpoint.url, {header: value})
        assert status == 400
        assert headers["x-amzn-ErrorType"].startswith("ValidationError")
        assert fragment in json.loads(body)["message"]

    def test_body_limit_is_6_mib(self, default_endpoint):
        client = make_client(default_endpoint.url)
        row = b"1\n"
        at_limit = row * (6291456 // len(row))
        assert (
            len(client.invoke_endpoint(EndpointName="local-demo", Body=at_limit, ContentType="text/csv")["Body"].read())
            > 0
        )
        err = invoke_error(client, EndpointName="local-demo", Body=at_limit + b"12", ContentType="text/csv")
        assert err.response["Error"]["Code"] == "ValidationError"
        assert "6291456" in err.response["Error"]["Message"]

    @pytest.mark.parametrize("declared", [True, False])
    def test_a_body_over_the_limit_is_refused_before_it_is_all_sent(self, default_endpoint, declared):
        """Declared over 6 MiB (Content-Length), or sent chunked past it: the answer comes while the client is
        still sending, so the server never buffers the whole body."""
        host, port = default_endpoint.url.removeprefix("http://").split(":")
        framing = "Content-Length: 104857600" if declared else "Transfer-Encoding: chunked"
        head = f"POST /endpoints/local-demo/invocations HTTP/1.1\r\nHost: {host}\r\n{framing}\r\n\r\n"
        chunk = b"1\n" * 32768
        piece = chunk if declared else b"%x\r\n%b\r\n" % (len(chunk), chunk)
        sent = [0]

        def send() -> None:  # 100 MiB, blocking (partial writes stay whole), until the server stops reading
            with contextlib.suppress(OSError):
                for _ in range(100 * 1024 * 1024 // len(chunk)):
                    sock.sendall(piece)
                    sent[0] += len(chunk)

        with socket.create_connection((host, int(port)), timeout=10) as sock:
            sock.sendall(head.encode())
            threading.Thread(target=send, daemon=True).start()
            answer = b""
            while b"exceeds" not in answer and (more := sock.recv(65536)):
                answer += more
            answered_after = sent[0]
        assert answered_after < 100 * 1024 * 1024, "the server read the whole body before answering"
        assert answer.startswith(b"HTTP/1.1 400") and b"exceeds the maximum payload size" in answer


class TestErrors:
    def test_unknown_endpoint_and_variant(self, default_endpoint):
        client = make_client(default_endpoint.url)
        err = invoke_error(client, EndpointName="missing", Body=b"1", ContentType="text/csv")
        assert isinstance(err, client.exceptions.ValidationError)
        err = invoke_error(client, EndpointName="local-demo", Body=b"1", ContentType="text/csv", TargetVariant="nope")
        assert isinstance(err, client.exceptions.ValidationError)
        assert "variant nope" in err.response["Error"]["Message"]

    def test_target_model_on_single_model_endpoint(self, default_endpoint):
        client = make_client(default_endpoint.url)
        err = invoke_error(client, EndpointName="local-demo", Body=b"1", ContentType="text/csv", TargetModel="m.tar.gz")
        assert isinstance(err, client.exceptions.ValidationError)

    def test_unsupported_content_type_is_model_error_415(self, default_endpoint):
        client = make_client(default_endpoint.url)
        err = invoke_error(client, EndpointName="local-demo", Body=b"1", ContentType="text/plain")
        assert isinstance(err, client.exceptions.ModelError)
        assert err.response["OriginalStatusCode"] == 415
        assert "text/plain" in err.response["OriginalMessage"]
        assert err.response["LogStreamArn"].startswith("arn:aws:logs:")

    def test_unparsable_record_is_model_error_400(self, default_endpoint):
        client = make_client(default_endpoint.url)
        err = invoke_error(client, EndpointName="local-demo", Body=b"1,2\n3,abc\n", ContentType="text/csv")
        assert isinstance(err, client.exceptions.ModelError)
        assert err.response["OriginalStatusCode"] == 400

    @pytest.mark.parametrize(
        ("kind", "code", "status", "modeled"),
        [
            ("throttling", "ThrottlingException", 400, None),
            ("model_not_ready", "ModelNotReadyException", 429, "ModelNotReadyException"),
            ("internal_failure", "InternalFailure", 500, "InternalFailure"),
            ("service_unavailable", "ServiceUnavailable", 503, "ServiceUnavailable"),
            ("internal_dependency", "InternalDependencyException", 530, "InternalDependencyException"),
            ("validation", "ValidationError", 400, "ValidationError"),
            ("model_error", "ModelError", 424, "ModelError"),
        ],
    )
    def test_injected_errors_raise_the_modeled_class(self, endpoint_factory, kind, code, status, modeled):
        ep = endpoint_factory(_demo_config(faults={"errors": {kind: 1.0}, "model_error_status": 503}))
        client = make_client(ep.url)
        err = invoke_error(client, EndpointName="local-demo", Body=b"1", ContentType="text/csv")
        assert err.response["Error"]["Code"] == code
        assert err.response["ResponseMetadata"]["HTTPStatusCode"] == status
        if modeled:
            assert isinstance(err, getattr(client.exceptions, modeled))
        if kind == "model_error":
            assert err.response["OriginalStatusCode"] == 503

    def test_throttling_is_classified_as_throttling_by_botocore(self, endpoint_factory):
        from botocore.retries.standard import RetryContext, ThrottledRetryableChecker

        ep = endpoint_factory(_demo_config(faults={"errors": {"throttling": 1.0}}))
        err = invoke_error(make_client(ep.url), EndpointName="local-demo", Body=b"1", ContentType="text/csv")
        ctx = RetryContext(attempt_number=1, parsed_response=err.response, http_response=None, caught_exception=None)
        assert ThrottledRetryableChecker().is_retryable(ctx)


class TestAuth:
    def test_unsigned_request(self, default_endpoint):
        status, headers, _ = raw_request(default_endpoint.url, {}, sign=False)
        assert status == 403
        assert headers["x-amzn-ErrorType"].startswith("MissingAuthenticationTokenException")

    def test_unknown_access_key(self, default_endpoint):
        client = make_client(default_endpoint.url, aws_access_key_id="AKIDUNKNOWN")
        err = invoke_error(client, EndpointName="local-demo", Body=b"1", ContentType="text/csv")
        assert err.response["Error"]["Code"] == "UnrecognizedClientException"
        assert err.response["ResponseMetadata"]["HTTPStatusCode"] == 403

    def test_wrong_secret(self, default_endpoint):
        client = make_client(default_endpoint.url, aws_secret_access_key="not-the-secret")
        err = invoke_error(client, EndpointName="local-demo", Body=b"1", ContentType="text/csv")
        assert err.response["Error"]["Code"] == "InvalidSignatureException"
        assert err.response["ResponseMetadata"]["HTTPStatusCode"] == 403

    @pytest.mark.parametrize("minutes", [-6, 6])
    def test_clock_skew_beyond_five_minutes(self, default_endpoint, minutes):
        when = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=minutes)
        status, headers, body = raw_request(default_endpoint.url, {}, when=when)
        assert status == 403
        assert headers["x-amzn-ErrorType"].startswith("InvalidSignatureException")
        assert "Signature" in json.loads(body)["message"]

    def test_a_signed_request_replayed_outside_the_skew_window_is_refused(self, endpoint_factory):
        ep = endpoint_factory(
            {"max_clock_skew_seconds": 1, "endpoints": [{"name": "local-demo", "variants": [{"name": "v"}]}]}
        )
        url = f"{ep.url}/endpoints/local-demo/invocations"
        req = AWSRequest(method="POST", url=url, data=b"1,2", headers={"Content-Type": "text/csv"})
        SigV4Auth(Credentials("test", "test"), "sagemaker", "us-east-1").add_auth(req)

        def send() -> int:
            http_req = urllib.request.Request(url, data=b"1,2", headers=dict(req.headers.items()), method="POST")
            try:
                with urllib.request.urlopen(http_req, timeout=10) as resp:
                    return int(resp.status)
            except urllib.error.HTTPError as err:
                return err.code

        assert send() == 200
        time.sleep(2.5)
        assert send() == 403  # the same bytes, captured and sent again

    def test_small_skew_is_accepted(self, default_endpoint):
        when = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=4)
        status, _, _ = raw_request(default_endpoint.url, {}, when=when)
        assert status == 200

    def test_tampered_body_is_refused(self, default_endpoint):
        url = f"{default_endpoint.url}/endpoints/local-demo/invocations"
        req = AWSRequest(method="POST", url=url, data=b"1,2", headers={"Content-Type": "text/csv"})
        SigV4Auth(Credentials("test", "test"), "sagemaker", "us-east-1").add_auth(req)
        http_req = urllib.request.Request(url, data=b"9,9", headers=dict(req.headers.items()), method="POST")
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(http_req, timeout=10)
        assert info.value.code == 403


def _demo_config(faults: dict | None = None, **endpoint: object) -> dict:
    return {
        "endpoints": [
            {
                "name": "local-demo",
                "variants": [{"name": "variant-a", "weight": 0.7}, {"name": "variant-b", "weight": 0.3}],
                "faults": faults or {},
                **endpoint,
            }
        ]
    }


class TestRouting:
    def test_weighted_routing_is_statistically_70_30(self, default_endpoint):
        client = make_client(default_endpoint.url)
        n = 600
        counts = Counter(
            client.invoke_endpoint(EndpointName="local-demo", Body=b"1", ContentType="text/csv")[
                "InvokedProductionVariant"
            ]
            for _ in range(n)
        )
        # Binomial(600, 0.7): sd ~ 11.2; 5 sd bounds keep this from flaking.
        assert abs(counts["variant-a"] - 0.7 * n) < 5 * (n * 0.7 * 0.3) ** 0.5
        assert counts["variant-a"] + counts["variant-b"] == n

    def test_target_variant_overrides_weights(self, default_endpoint):
        client = make_client(default_endpoint.url)
        seen = {
            client.invoke_endpoint(
                EndpointName="local-demo", Body=b"1", ContentType="text/csv", TargetVariant="variant-b"
            )["InvokedProductionVariant"]
            for _ in range(20)
        }
        assert seen == {"variant-b"}

    def test_sessions_stick_to_one_instance_and_close(self, endpoint_factory):
        config = _demo_config()
        config["endpoints"][0]["variants"] = [
            {"name": "variant-a", "instances": 8},
            {"name": "variant-b", "instances": 8},
        ]
        ep = endpoint_factory(config)
        client = make_client(ep.url)
        opened = client.invoke_endpoint(
            EndpointName="local-demo",
            Body=b'{"requestType": "NEW_SESSION"}',
            ContentType="application/json",
            SessionId="NEW_SESSION",
            CustomAttributes="trace-instance",
        )
        session_id, expires = opened["NewSessionId"].split("; Expires=")
        assert dt.datetime.strptime(expires, "%Y-%m-%dT%H:%M:%SZ")
        instances = {
            client.invoke_endpoint(
                EndpointName="local-demo",
                Body=b"1,2",
                ContentType="text/csv",
                SessionId=session_id,
                CustomAttributes="trace-instance",
            )["CustomAttributes"]
            for _ in range(15)
        }
        assert len(instances) == 1
        assert opened["CustomAttributes"] == next(iter(instances))
        closed = client.invoke_endpoint(
            EndpointName="local-demo",
            Body=b'{"requestType": "CLOSE"}',
            ContentType="application/json",
            SessionId=session_id,
        )
        assert closed["ClosedSessionId"] == session_id
        err = invoke_error(client, EndpointName="local-demo", Body=b"1", ContentType="text/csv", SessionId=session_id)
        assert isinstance(err, client.exceptions.ValidationError)

    def test_multi_model_loading_then_ready(self, endpoint_factory):
        config = _demo_config(
            multi_model={
                "load_seconds": 0.5,
                "models": {"a.tar.gz": {"type": "demo"}, "b.tar.gz": {"type": "demo", "bias": 3}},
            }
        )
        ep = endpoint_factory(config)
        client = make_client(ep.url)
        err = invoke_error(client, EndpointName="local-demo", Body=b"1", ContentType="text/csv", TargetModel="a.tar.gz")
        assert isinstance(err, client.exceptions.ModelNotReadyException)
        import time

        time.sleep(0.6)
        a = client.invoke_endpoint(EndpointName="local-demo", Body=b"1", ContentType="text/csv", TargetModel="a.tar.gz")
        assert float(a["Body"].read()) == pytest.approx(0.7310585786)
        err = invoke_error(client, EndpointName="local-demo", Body=b"1", ContentType="text/csv")
        assert isinstance(err, client.exceptions.ValidationError)
        err = invoke_error(client, EndpointName="local-demo", Body=b"1", ContentType="text/csv", TargetModel="zzz")
        assert isinstance(err, client.exceptions.ValidationError)

    def test_inference_components(self, endpoint_factory):
        ep = endpoint_factory(_demo_config(inference_components={"ic-hi": {"type": "demo", "bias": 5}}))
        client = make_client(ep.url)
        out = client.invoke_endpoint(
            EndpointName="local-demo", Body=b"0", ContentType="text/csv", InferenceComponentName="ic-hi"
        )
        assert float(out["Body"].read()) > 0.99
        for kw in ({}, {"InferenceComponentName": "ic-missing"}):
            err = invoke_error(client, EndpointName="local-demo", Body=b"0", ContentType="text/csv", **kw)
            assert isinstance(err, client.exceptions.ValidationError)

    def test_direct_container_invocation(self, endpoint_factory):
        ep = endpoint_factory(
            _demo_config(containers={"low": {"type": "demo", "bias": -5}, "high": {"type": "demo", "bias": 5}})
        )
        client = make_client(ep.url)
        low = float(
            client.invoke_endpoint(
                EndpointName="local-demo", Body=b"0", ContentType="text/csv", TargetContainerHostname="low"
            )["Body"].read()
        )
        high = float(
            client.invoke_endpoint(
                EndpointName="local-demo", Body=b"0", ContentType="text/csv", TargetContainerHostname="high"
            )["Body"].read()
        )
        assert low < 0.01 < 0.99 < high
        err = invoke_error(
            client, EndpointName="local-demo", Body=b"0", ContentType="text/csv", TargetContainerHostname="mid"
        )
        assert isinstance(err, client.exceptions.ValidationError)

    def test_data_capture_records_inference_ids(self, endpoint_factory, tmp_path):
        ep = endpoint_factory(_demo_config(data_capture={"destination": str(tmp_path)}))
        client = make_client(ep.url)
        for i in range(3):
            client.invoke_endpoint(
                EndpointName="local-demo", Body=b"1,2", ContentType="text/csv", InferenceId=f"id-{i}"
            )
        records = [
            json.loads(line)
            for root, _, files in os.walk(tmp_path)
            for f in files
            for line in pathlib.Path(root, f).read_text(encoding="utf-8").splitlines()
        ]
        assert sorted(r["eventMetadata"]["inferenceId"] for r in records) == ["id-0", "id-1", "id-2"]
        first = records[0]
        assert first["captureData"]["endpointInput"] == {
            "observedContentType": "text/csv",
            "mode": "INPUT",
            "data": "1,2",
            "encoding": "CSV",
        }
        assert first["captureData"]["endpointOutput"]["mode"] == "OUTPUT"
        assert first["eventMetadata"]["eventId"] and first["eventMetadata"]["inferenceTime"].endswith("Z")


class TestFaults:
    def test_capacity_max_rps_throttles(self, endpoint_factory):
        ep = endpoint_factory(_demo_config(faults={"capacity": {"max_rps": 5}}))
        client = make_client(ep.url)
        codes = Counter()
        for _ in range(20):
            try:
                client.invoke_endpoint(EndpointName="local-demo", Body=b"1", ContentType="text/csv")
                codes["ok"] += 1
            except botocore.exceptions.ClientError as err:
                codes[err.response["Error"]["Code"]] += 1
        assert codes["ThrottlingException"] >= 10 and codes["ok"] >= 5

    def test_capacity_max_concurrent_throttles(self, endpoint_factory):
        ep = endpoint_factory(_demo_config(faults={"capacity": {"max_concurrent": 1}, "latency": {"fixed_ms": 300}}))
        results: list[str] = []

        def call() -> None:
            try:
                make_client(ep.url).invoke_endpoint(EndpointName="local-demo", Body=b"1", ContentType="text/csv")
                results.append("ok")
            except botocore.exceptions.ClientError as err:
                results.append(err.response["Error"]["Code"])

        threads = [threading.Thread(target=call) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert results.count("ok") >= 1 and results.count("ThrottlingException") >= 1

    def test_rates_are_reproducible_with_a_seed(self, endpoint_factory):
        def run() -> list[str]:
            ep = endpoint_factory(_demo_config(faults={"seed": 42, "errors": {"internal_failure": 0.5}}))
            client = make_client(ep.url)
            out = []
            for _ in range(30):
                try:
                    client.invoke_endpoint(
                        EndpointName="local-demo", Body=b"1", ContentType="text/csv", TargetVariant="variant-a"
                    )
                    out.append("ok")
                except botocore.exceptions.ClientError:
                    out.append("err")
            return out

        first, second = run(), run()
        assert first == second and 5 < first.count("err") < 25

    def test_latency_is_added(self, endpoint_factory):
        import time

        ep = endpoint_factory(_demo_config(faults={"latency": {"fixed_ms": 150}}))
        client = make_client(ep.url)
        client.invoke_endpoint(EndpointName="local-demo", Body=b"1", ContentType="text/csv")
        start = time.perf_counter()
        client.invoke_endpoint(EndpointName="local-demo", Body=b"1", ContentType="text/csv")
        assert time.perf_counter() - start >= 0.15  # a lower bound the server guarantees, not a speed claim

    def test_connection_reset(self, endpoint_factory):
        ep = endpoint_factory(_demo_config(faults={"errors": {"connection_reset": 1.0}}))
        with pytest.raises((botocore.exceptions.ConnectionClosedError, botocore.exceptions.EndpointConnectionError)):
            make_client(ep.url).invoke_endpoint(EndpointName="local-demo", Body=b"1", ContentType="text/csv")

    def test_stall_beyond_read_timeout(self, endpoint_factory):
        ep = endpoint_factory(_demo_config(faults={"errors": {"stall": 1.0}, "stall_seconds": 3}))
        import boto3
        from botocore.config import Config

        client = boto3.client(
            "sagemaker-runtime",
            endpoint_url=ep.url,
            region_name="us-east-1",
            aws_access_key_id="test",
            aws_secret_access_key="test",
            config=Config(retries={"total_max_attempts": 1}, read_timeout=0.5),
        )
        with pytest.raises(botocore.exceptions.ReadTimeoutError):
            client.invoke_endpoint(EndpointName="local-demo", Body=b"1", ContentType="text/csv")

    def test_model_timeout_is_model_error(self, endpoint_factory):
        config = _demo_config(faults={"latency": {"fixed_ms": 800}})
        config["model_timeout_seconds"] = 0.3
        ep = endpoint_factory(config)
        client = make_client(ep.url)
        err = invoke_error(client, EndpointName="local-demo", Body=b"1", ContentType="text/csv")
        assert isinstance(err, client.exceptions.ModelError)
        assert err.response["OriginalStatusCode"] == 0
        assert "timed out" in err.response["OriginalMessage"]

    def test_malformed_body(self, endpoint_factory):
        ep = endpoint_factory(_demo_config(faults={"errors": {"malformed_body": 1.0}}))
        body = (
            make_client(ep.url)
            .invoke_endpoint(EndpointName="local-demo", Body=b"1\n2\n", ContentType="text/csv")["Body"]
            .read()
        )
        assert body.startswith(b"\x00")

    @pytest.mark.parametrize("content_type", ["text/csv", "application/json"])
    def test_count_mismatch_drops_a_prediction(self, endpoint_factory, content_type):
        ep = endpoint_factory(_demo_config(faults={"errors": {"count_mismatch": 1.0}}))
        body = b"1\n2\n3\n" if content_type == "text/csv" else b'{"instances": [[1], [2], [3]]}'
        out = (
            make_client(ep.url)
            .invoke_endpoint(EndpointName="local-demo", Body=body, ContentType=content_type)["Body"]
            .read()
        )
        count = len(out.splitlines()) if content_type == "text/csv" else len(json.loads(out)["predictions"])
        assert count == 2

    def test_variant_level_faults_only_hit_that_variant(self, endpoint_factory):
        config = _demo_config()
        config["endpoints"][0]["variants"][1]["faults"] = {"errors": {"service_unavailable": 1.0}}
        ep = endpoint_factory(config)
        client = make_client(ep.url)
        client.invoke_endpoint(EndpointName="local-demo", Body=b"1", ContentType="text/csv", TargetVariant="variant-a")
        err = invoke_error(
            client, EndpointName="local-demo", Body=b"1", ContentType="text/csv", TargetVariant="variant-b"
        )
        assert err.response["Error"]["Code"] == "ServiceUnavailable"


class TestUpstreamContainer:
    def test_forwards_to_a_model_container(self, endpoint_factory):
        seen: dict[str, str] = {}

        async def ping(_request: web.Request) -> web.Response:
            return web.Response(text="ok")

        async def invocations(request: web.Request) -> web.Response:
            seen.update({k: v for k, v in request.headers.items() if k.lower().startswith("x-amzn") or k == "Accept"})
            body = await request.read()
            if body == b"fail":
                return web.Response(status=422, text="cannot score that")
            rows = body.decode().splitlines()
            return web.Response(
                text="\n".join("42" for _ in rows),
                content_type="text/csv",
                headers={"X-Amzn-SageMaker-Custom-Attributes": "from=container"},
            )

        app = web.Application()
        app.router.add_get("/ping", ping)
        app.router.add_post("/invocations", invocations)
        with BackgroundServer(app) as container:
            ep = endpoint_factory(
                _demo_config(**{"variants": [{"name": "real", "model": {"type": "upstream", "url": container.url}}]})
            )
            client = make_client(ep.url)
            out = client.invoke_endpoint(
                EndpointName="local-demo",
                Body=b"1\n2\n",
                ContentType="text/csv",
                CustomAttributes="k=v",
                InferenceId="inf-9",
            )
            assert out["Body"].read() == b"42\n42"
            assert out["CustomAttributes"] == "from=container"
            assert out["InvokedProductionVariant"] == "real"
            assert seen["X-Amzn-SageMaker-Custom-Attributes"] == "k=v"
            assert seen["X-Amzn-SageMaker-Inference-Id"] == "inf-9"
            err = invoke_error(client, EndpointName="local-demo", Body=b"fail", ContentType="text/csv")
            assert isinstance(err, client.exceptions.ModelError)
            assert err.response["OriginalStatusCode"] == 422
            assert err.response["OriginalMessage"] == "cannot score that"


def test_running_context_manager_binds_loopback():
    with running() as ep:
        assert ep.url.startswith("http://127.0.0.1:")
