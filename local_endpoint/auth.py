"""AWS Signature Version 4 verification with botocore's own signer.

The server recomputes the signature for the headers the client says it signed,
using :class:`botocore.auth.SigV4Auth`, so a client the real service accepts is
accepted here and vice versa. Refusals carry the error codes AWS uses.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping

from botocore.auth import SIGV4_TIMESTAMP, UNSIGNED_PAYLOAD, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from local_endpoint.protocol import ServiceError

_AUTH_RE = re.compile(
    r"^AWS4-HMAC-SHA256\s+Credential=(?P<cred>[^,\s]+),\s*SignedHeaders=(?P<signed>[^,\s]+),\s*Signature=(?P<sig>[0-9a-f]{64})\s*$"
)


_MAX_SIGNERS = 64


def _forbidden(code: str, message: str) -> ServiceError:
    return ServiceError(code, 403, message)


class _ServerSigner(SigV4Auth):
    """botocore's SigV4Auth, seen from the server: it signs only the headers the request lists
    in SignedHeaders (kept in its context), and derives each day's signing key once."""

    def __init__(self, credentials: Credentials, service: str, region: str) -> None:
        super().__init__(credentials, service, region)
        self._keys: dict[str, bytes] = {}

    def headers_to_sign(self, request: AWSRequest):
        headers = super().headers_to_sign(request)
        signed = request.context["signed_headers"]
        for name in list(headers.keys()):
            if name not in signed:
                del headers[name]
        return headers

    def signature(self, string_to_sign: str, request: AWSRequest) -> str:
        day = request.context["timestamp"][0:8]
        key = self._keys.get(day)
        if key is None:  # the key chain of SigV4Auth.signature: secret -> day -> region -> service
            key = self._sign(f"AWS4{self.credentials.secret_key}".encode(), day)
            for part in (self._region_name, self._service_name, "aws4_request"):
                key = self._sign(key, part)
            self._keys = {day: key}
        return self._sign(key, string_to_sign, hex=True)


def _parse_timestamp(amz_date: str) -> dt.datetime:
    """``20261129T035132Z`` -> aware datetime (strptime costs more than the rest of the check)."""
    try:
        if len(amz_date) != 16 or amz_date[8] != "T" or amz_date[15] != "Z":
            raise ValueError(amz_date)
        return dt.datetime(
            int(amz_date[0:4]), int(amz_date[4:6]), int(amz_date[6:8]),
            int(amz_date[9:11]), int(amz_date[11:13]), int(amz_date[13:15]), tzinfo=dt.UTC,
        )  # fmt: skip
    except ValueError:
        raise _forbidden("IncompleteSignatureException", "Missing or malformed X-Amz-Date header.") from None


class SigV4Verifier:
    def __init__(self, credentials: Mapping[str, str], signing_name: str, max_skew_seconds: float) -> None:
        self._secrets = dict(credentials)
        self._signing_name = signing_name
        self._max_skew = dt.timedelta(seconds=max_skew_seconds)
        self._signers: dict[tuple[str, str], _ServerSigner] = {}

    def verify(
        self,
        method: str,
        url: str,
        headers: Iterable[tuple[str, str]],
        body: bytes,
        now: dt.datetime | None = None,
    ) -> str:
        """Return the caller's access key id, or raise the 403 the service would send."""
        header_list = [(k.lower(), v) for k, v in headers]
        lookup = dict(header_list)
        authorization = lookup.get("authorization")
        if not authorization:
            raise _forbidden("MissingAuthenticationTokenException", "Missing Authentication Token")
        match = _AUTH_RE.match(authorization)
        if not match:
            raise _forbidden(
                "IncompleteSignatureException",
                "Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' parameters.",
            )
        scope = match["cred"].split("/")
        if len(scope) != 5 or scope[4] != "aws4_request":
            raise _forbidden("IncompleteSignatureException", "Credential scope is malformed.")
        access_key, scope_date, region, service, _ = scope
        secret = self._secrets.get(access_key)
        if secret is None:
            raise _forbidden("UnrecognizedClientException", "The security token included in the request is invalid.")
        if service != self._signing_name:
            raise _forbidden(
                "InvalidSignatureException",
                f"Credential should be scoped to correct service: '{self._signing_name}'.",
            )
        amz_date = lookup.get("x-amz-date", "")
        signed_at = _parse_timestamp(amz_date)
        if scope_date != amz_date[:8]:
            raise _forbidden("InvalidSignatureException", "Credential scope date does not match X-Amz-Date.")
        now = now or dt.datetime.now(dt.UTC)
        if abs(now - signed_at) > self._max_skew:
            fmt = SIGV4_TIMESTAMP
            raise _forbidden(
                "InvalidSignatureException",
                f"Signature expired: {amz_date} is now earlier than "
                f"{(now - self._max_skew).strftime(fmt)} ({now.strftime(fmt)} - 5 min.)"
                if signed_at < now
                else f"Signature not yet current: {amz_date} is still later than "
                f"{(now + self._max_skew).strftime(fmt)} ({now.strftime(fmt)} + 5 min.)",
            )
        signed = match["signed"].split(";")
        body_hash = hashlib.sha256(body).hexdigest()
        declared_hash = lookup.get("x-amz-content-sha256")
        if declared_hash not in (None, UNSIGNED_PAYLOAD, body_hash):
            raise _forbidden(
                "InvalidSignatureException", "The provided x-amz-content-sha256 header does not match the body."
            )
        # botocore's canonical request takes the payload hash from this header when present, as
        # the client's did; it stays out of the signed headers unless the client signed it.
        headers_for_signer = {k: v for k, v in header_list if k in signed}
        headers_for_signer["x-amz-content-sha256"] = declared_hash or body_hash
        request = AWSRequest(method=method, url=url, headers=headers_for_signer)
        request.context["timestamp"] = amz_date
        request.context["signed_headers"] = signed
        signer = self._signers.get((access_key, region))
        if signer is None:
            if len(self._signers) >= _MAX_SIGNERS:  # regions come from the client: keep the cache bounded
                self._signers.clear()
            signer = self._signers[(access_key, region)] = _ServerSigner(
                Credentials(access_key, secret), service, region
            )
        expected = signer.signature(signer.string_to_sign(request, signer.canonical_request(request)), request)
        if not hmac.compare_digest(expected, match["sig"]):
            raise _forbidden(
                "InvalidSignatureException",
                "The request signature we calculated does not match the signature you provided. "
                "Check your AWS Secret Access Key and signing method. Consult the service documentation for details.",
            )
        return access_key
