"""InvokeEndpoint on the wire, from botocore's own parts: the signed request, and the answer parsed as boto3 parses it.

boto3's ``invoke_endpoint`` runs an event system, parameter validation, endpoint-ruleset resolution and a
generic response pipeline on every call: more CPU than the rest of a request's work here. This keeps what
makes a call correct and drops the rest:

- the endpoint URL, region and signing name come from a boto3 client, resolved once (``endpoint_url``,
  FIPS, regions as boto3 resolves them);
- credentials come from the boto3 session and are frozen per request, so refreshable ones (web identity,
  instance roles) refresh as they do under boto3;
- the request is built by botocore's rest-json serializer and signed by ``SigV4Auth``;
- an error answer is parsed by botocore's rest-json parser, modeled fields included (``OriginalStatusCode``,
  ``OriginalMessage``, ``LogStreamArn``), and raised as the client's own modeled ``ClientError`` subclass.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSPreparedRequest, create_request_object, prepare_request_dict
from botocore.exceptions import NoCredentialsError
from botocore.parsers import create_parser
from botocore.serialize import create_serializer

OPERATION = "InvokeEndpoint"


class InvokeWire:
    """Signs InvokeEndpoint requests and reads their answers as boto3's client would; sends nothing itself."""

    def __init__(self, boto_client: Any, credentials: Any) -> None:
        meta = boto_client.meta
        self.config = meta.config
        self.endpoint_url = str(meta.endpoint_url)
        self.service_model = meta.service_model
        self._operation = meta.service_model.operation_model(OPERATION)
        self._region = meta.region_name
        self._signing_name = meta.service_model.signing_name
        self._credentials = credentials
        self._exceptions = boto_client.exceptions
        self._serializer = create_serializer("rest-json", include_validation=False)  # stateless: shared
        self._response_headers = {
            name: shape.serialization["name"]
            for name, shape in self._operation.output_shape.members.items()
            if shape.serialization.get("location") == "header"
        }

    def signed(self, params: Mapping[str, Any]) -> AWSPreparedRequest:
        request_dict = self._serializer.serialize_to_request(params, self._operation)
        prepare_request_dict(request_dict, endpoint_url=self.endpoint_url)
        request = create_request_object(request_dict)
        if self._credentials is None:  # boto3's client raises the same when its chain finds nothing
            raise NoCredentialsError()
        SigV4Auth(self._credentials.get_frozen_credentials(), self._signing_name, self._region).add_auth(request)
        return request.prepare()

    def answer(self, status: int, headers: Mapping[str, str], body: bytes) -> dict[str, Any]:
        """The response as boto3 returns it (``Body`` readable once), or its error raised as boto3 raises it.

        ``headers`` must look names up case-insensitively, as HTTP headers are."""
        if status >= 300:
            self._raise(status, headers, body)
        parsed: dict[str, Any] = {
            name: headers[header] for name, header in self._response_headers.items() if header in headers
        }
        parsed["Body"] = io.BytesIO(body)
        parsed["ResponseMetadata"] = {
            "RequestId": headers.get("x-amzn-RequestId"),
            "HTTPStatusCode": status,
            "HTTPHeaders": {name.lower(): value for name, value in headers.items()},
        }
        return parsed

    def _raise(self, status: int, headers: Mapping[str, str], body: bytes) -> None:
        response_dict = {"headers": headers, "status_code": status, "body": body}
        parser = create_parser("rest-json")  # one per response, as botocore's endpoint does: errors are rare
        parsed = parser.parse(response_dict, self._operation.output_shape)
        code = parsed.get("Error", {}).get("Code")
        shape = self._operation.service_model.shape_for_error_code(code) if code else None
        if shape is not None:
            parsed.update(parser.parse(response_dict, shape))
        raise self._exceptions.from_code(code)(parsed, OPERATION)
