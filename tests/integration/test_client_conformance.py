"""The direct client and boto3's, side by side against the local endpoint: every row of the README's error table
classifies the same, and a success carries the same metadata, so nothing downstream can tell them apart."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from transforms.core.settings import EndpointSettings, RetrySettings
from transforms.invoke.classify import classify
from transforms.invoke.client import StaticCredentials, make_client
from transforms.invoke.direct_client import DirectInvokeClient
from transforms.invoke.wire import InvokeWire
from transforms.invoke.worker_loop import WorkerLoop

pytestmark = pytest.mark.integration
KEYS = StaticCredentials("test", "test")
LOOP = WorkerLoop()  # the clients run on an event loop, as on a worker
REQUEST = {"EndpointName": "local-demo", "ContentType": "text/csv", "Accept": "text/csv", "Body": b"1.5,2\n3,4\n"}


def config(faults: dict | None = None, model_error_status: int = 503) -> dict:
    return {
        "endpoints": [
            {
                "name": "local-demo",
                "variants": [{"name": "only"}],
                "faults": {**(faults or {}), "model_error_status": model_error_status, "stall_seconds": 3},
            }
        ]
    }


def clients(url: str, credentials: StaticCredentials | None = KEYS, read_timeout: float = 70.0) -> dict:
    endpoint = EndpointSettings(name="local-demo", endpoint_url=url, read_timeout_seconds=read_timeout)
    made = {kind: make_client(endpoint, 4, credentials, kind) for kind in ("direct", "boto3")}
    for client in made.values():
        LOOP.on_close(client.close)
    return made


def call(client, **overrides):  # type: ignore[no-untyped-def]
    return LOOP.run(client.invoke_endpoint(**{**REQUEST, **overrides}))


def outcome(client, **overrides):  # type: ignore[no-untyped-def]
    """What the pipeline sees of one call: the classified error, or the response without its per-call ids."""
    try:
        response = call(client, **overrides)
    except Exception as exc:
        info = classify(exc, RetrySettings())  # the request id differs per call: whether there is one is compared
        return type(exc).__name__, dataclasses.replace(info, request_id=None), info.request_id is not None
    body = response.pop("Body").read()
    meta = response.pop("ResponseMetadata")
    return body, response, meta["HTTPStatusCode"], bool(meta["RequestId"])


ERROR_ROWS = [
    ("throttling", 503, "ThrottlingException"),
    ("model_not_ready", 503, "ModelNotReadyException"),
    ("internal_failure", 503, "InternalFailure"),
    ("service_unavailable", 503, "ServiceUnavailable"),
    ("internal_dependency", 503, "InternalDependencyException"),
    ("model_error", 503, "ModelError"),
    ("model_error", 400, "ModelError"),
    ("validation", 503, "ValidationError"),
    ("connection_reset", 503, "NetworkError"),
]


@pytest.mark.parametrize(("kind", "model_status", "error_class"), ERROR_ROWS)
def test_each_injected_error_classifies_the_same(endpoint_factory, kind, model_status, error_class):
    ep = endpoint_factory(config({"errors": {kind: 1.0}}, model_error_status=model_status))
    direct, boto3_ = (outcome(c) for c in clients(ep.url).values())
    assert direct == boto3_
    assert direct[1].error_class == error_class
    assert direct[2] is (kind != "connection_reset")  # an answer carries its x-amzn-RequestId, for the dead letter
    if kind == "model_error":
        assert direct[1].model_status == model_status and direct[1].log_stream_arn and direct[1].model_message


def test_a_success_carries_the_same_body_and_metadata(endpoint_factory):
    ep = endpoint_factory(config())
    params = {"CustomAttributes": "trace=1", "InferenceId": "id-1", "SessionId": "NEW_SESSION"}
    direct, boto3_ = (outcome(c, **params) for c in clients(ep.url).values())
    # Each call opens its own session; everything else must be equal.
    sessions = [response.pop("NewSessionId") for response in (direct[1], boto3_[1])]
    assert all(sessions) and sessions[0] != sessions[1]
    assert direct == boto3_ and direct[2] == 200 and direct[3]
    assert direct[1]["InvokedProductionVariant"] == "only" and direct[1]["ContentType"] == "text/csv"


def test_a_malformed_body_is_returned_as_it_came(endpoint_factory):
    ep = endpoint_factory(config({"errors": {"malformed_body": 1.0}}))
    direct, boto3_ = (outcome(c) for c in clients(ep.url).values())
    assert direct == boto3_ and direct[0].startswith(b"\x00")


def test_a_payload_over_6_mib_an_unknown_endpoint_and_a_refused_signature(endpoint_factory):
    ep = endpoint_factory(config())
    too_large = {"Body": b"1\n" * (3 * 1024 * 1024 + 1)}
    cases = [
        (clients(ep.url), too_large, "ValidationError", False),
        (clients(ep.url), {"EndpointName": "no-such-endpoint"}, "ValidationError", True),
        (clients(ep.url, StaticCredentials("test", "wrong")), {}, "AuthError", True),
    ]
    for pair, overrides, error_class, outage in cases:
        direct, boto3_ = (outcome(c, **overrides) for c in pair.values())
        assert direct == boto3_, overrides.keys()
        assert (direct[1].error_class, direct[1].outage) == (error_class, outage)


def test_no_credentials_anywhere_is_the_same_auth_outage(endpoint_factory, monkeypatch, tmp_path):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    ep = endpoint_factory(config())
    direct, boto3_ = (outcome(c) for c in clients(ep.url, credentials=None).values())
    assert direct == boto3_ and direct[0] == "NoCredentialsError"
    assert (direct[1].error_class, direct[1].outage) == ("AuthError", True)


def test_a_read_timeout_is_the_same_network_error(endpoint_factory):
    ep = endpoint_factory(config({"errors": {"stall": 1.0}}))
    direct, boto3_ = (outcome(c) for c in clients(ep.url, read_timeout=0.5).values())
    assert direct == boto3_ and direct[0] == "ReadTimeoutError" and direct[1].error_class == "NetworkError"


def test_the_direct_client_is_the_default():
    client = make_client(EndpointSettings(name="e", endpoint_url="http://127.0.0.1:1"), 2, KEYS)
    assert isinstance(client, DirectInvokeClient)


def test_refreshable_credentials_are_refreshed_mid_run_on_the_direct_path(endpoint_factory):
    """An expiring credential provider (as web identity and instance roles are): the client freezes the
    credentials per request, so botocore refreshes them before they expire, between requests."""
    import boto3
    from botocore.credentials import RefreshableCredentials

    ep = endpoint_factory(
        {
            "credentials": [
                {"access_key_id": "key-1", "secret_access_key": "secret-1"},
                {"access_key_id": "key-2", "secret_access_key": "secret-2"},
            ],
            **config(),
        }
    )
    issued: list[str] = []

    def refresh() -> dict[str, str]:  # each set expires within botocore's refresh window: refreshed every call
        key = f"key-{len(issued) % 2 + 1}"
        issued.append(key)
        expiry = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5)
        return {
            "access_key": key,
            "secret_key": key.replace("key", "secret"),
            "token": "",
            "expiry_time": expiry.isoformat(),
        }

    expired = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)).isoformat()
    credentials = RefreshableCredentials.create_from_metadata(
        {"access_key": "key-0", "secret_key": "refused", "token": "", "expiry_time": expired}, refresh, "test"
    )
    boto = boto3.client("sagemaker-runtime", endpoint_url=ep.url, region_name="us-east-1",
                        aws_access_key_id="unused", aws_secret_access_key="unused")  # fmt: skip
    client = DirectInvokeClient(InvokeWire(boto, credentials), None, 2)
    LOOP.on_close(client.close)
    for _ in range(4):
        assert call(client)["Body"].read()
    assert len(issued) >= 4 and set(issued) == {"key-1", "key-2"}  # the expired key-0 was never sent


def test_https_with_a_custom_ca_bundle_and_without_it(tmp_path, monkeypatch):
    """The endpoint serves TLS with a certificate only the bundle in AWS_CA_BUNDLE vouches for."""
    import botocore.exceptions

    from local_endpoint import LocalEndpoint, ServerConfig

    tls, bundle = self_signed_tls(tmp_path)
    with LocalEndpoint(ServerConfig.model_validate(config()), tls=tls) as ep:
        assert ep.url.startswith("https://")
        monkeypatch.setenv("AWS_CA_BUNDLE", str(bundle))
        for kind, client in clients(ep.url).items():
            assert call(client)["Body"].read(), kind
        monkeypatch.delenv("AWS_CA_BUNDLE")
        for kind, client in clients(ep.url).items():
            with pytest.raises(botocore.exceptions.SSLError):
                call(client)
            assert kind


def self_signed_tls(folder):  # type: ignore[no-untyped-def]
    """A server certificate for 127.0.0.1 and localhost, and the file that trusts it."""
    import ipaddress
    import ssl

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "local-endpoint")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    return context, cert_file


def test_at_debug_no_body_custom_attribute_or_secret_reaches_a_log_line(endpoint_factory, caplog):
    import logging

    ep = endpoint_factory({"credentials": [{"access_key_id": "key-x", "secret_access_key": "s3cr3t-key"}], **config()})
    with caplog.at_level(logging.DEBUG):  # the root logger at DEBUG, as SMSCORE_LOG_LEVEL=DEBUG sets it
        for client in clients(ep.url, StaticCredentials("key-x", "s3cr3t-key")).values():
            call(client, Body=b"9.87654321,1\n", CustomAttributes="tenant=acme-secret")
    logged = "\n".join(f"{r.getMessage()} {r.args}" for r in caplog.records)
    for secret in ("9.87654321", "acme-secret", "s3cr3t-key"):
        assert secret not in logged


def test_beams_dataflow_client_does_not_log_pipeline_options_at_any_level(caplog):
    import logging

    from transforms.invoke.request_logs import quiet_request_loggers

    quiet_request_loggers()
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("apache_beam.runners.dataflow.internal.apiclient").info("sdk_pipeline_options: %s", "x")
    assert not caplog.records
