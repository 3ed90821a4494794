"""The local endpoint's SigV4 check against requests signed by botocore itself, without HTTP."""

from __future__ import annotations

import datetime as dt

import pytest
from botocore.auth import UNSIGNED_PAYLOAD, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from local_endpoint.auth import SigV4Verifier
from local_endpoint.protocol import ServiceError

URL = "http://127.0.0.1:8080/endpoints/local-demo/invocations"
BODY = b"1,2,3\n"


def signed(body: bytes = BODY, secret: str = "test", extra: dict[str, str] | None = None) -> dict[str, str]:
    request = AWSRequest(method="POST", url=URL, data=body, headers={"Content-Type": "text/csv", **(extra or {})})
    SigV4Auth(Credentials("test", secret), "sagemaker", "us-east-1").add_auth(request)
    return {"Host": "127.0.0.1:8080", **dict(request.headers.items())}


def verify(headers: dict[str, str], body: bytes = BODY) -> str:
    return SigV4Verifier({"test": "test"}, "sagemaker", 300).verify("POST", URL, headers.items(), body)


def refusal(headers: dict[str, str], body: bytes = BODY) -> str:
    with pytest.raises(ServiceError) as err:
        verify(headers, body)
    assert err.value.status == 403
    return err.value.code


def test_botocore_signature_is_accepted_again_and_again() -> None:
    verifier = SigV4Verifier({"test": "test"}, "sagemaker", 300)
    for body in (BODY, b"4,5,6\n", b""):  # one signing key per day serves every request
        assert verifier.verify("POST", URL, signed(body).items(), body) == "test"


def test_a_changed_body_or_header_breaks_the_signature() -> None:
    assert refusal(signed(), b"1,2,4\n") == "InvalidSignatureException"
    assert refusal({**signed(), "Content-Type": "application/json"}) == "InvalidSignatureException"
    assert refusal(signed(secret="wrong")) == "InvalidSignatureException"


def test_declared_payload_hash_must_match_the_body() -> None:
    headers = signed(extra={"X-Amz-Content-SHA256": UNSIGNED_PAYLOAD})
    assert verify(headers, b"anything") == "test"  # the client chose not to sign the payload
    assert refusal({**signed(), "X-Amz-Content-SHA256": "0" * 64}) == "InvalidSignatureException"


@pytest.mark.parametrize("date", ["", "2026-11-29T03:51:32Z", "20261129T035132", "20261399T035132Z"])
def test_malformed_date_is_an_incomplete_signature(date: str) -> None:
    assert refusal({**signed(), "X-Amz-Date": date}) == "IncompleteSignatureException"


def test_skew_is_measured_from_the_signed_time() -> None:
    headers = signed()
    signed_at = dt.datetime.strptime(headers["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)
    verifier = SigV4Verifier({"test": "test"}, "sagemaker", 300)
    assert verifier.verify("POST", URL, headers.items(), BODY, now=signed_at + dt.timedelta(seconds=299)) == "test"
    with pytest.raises(ServiceError, match="Signature expired"):
        verifier.verify("POST", URL, headers.items(), BODY, now=signed_at + dt.timedelta(seconds=301))
