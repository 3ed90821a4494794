"""InvokeEndpoint without botocore's per-call machinery: the same signed request, sent and parsed by botocore's parts.

boto3's ``invoke_endpoint`` runs an event system, parameter validation, endpoint-ruleset resolution and a
generic response pipeline on every call: more CPU than the rest of a request's work here. This client keeps
what makes a call correct and drops the rest, all from botocore:

- the endpoint URL, region and signing name come from a boto3 client, resolved once (``endpoint_url``,
  FIPS, regions as boto3 resolves them);
- credentials come from the boto3 session and are frozen per request, so refreshable ones (web identity,
  instance roles) refresh as they do under boto3;
- the request is built by botocore's rest-json serializer and signed by ``SigV4Auth``;
- it is sent by botocore's ``URLLib3Session`` made as boto3 makes its own (proxies, ``AWS_CA_BUNDLE``,
  TLS, timeouts, TCP keep-alive, a pool sized to the concurrency), so network failures are the same
  botocore exception classes;
- an error answer is parsed by botocore's rest-json parser, modeled fields included (``OriginalStatusCode``,
  ``OriginalMessage``, ``LogStreamArn``), and raised as the client's own modeled ``ClientError`` subclass.

Its contract is ``invoke_endpoint(**params)`` as boto3's, so the invoker and the classifier cannot tell them
apart (a conformance test runs the README's error table through both).
"""

from __future__ import annotations

import io
import socket
from typing import Any

from botocore.auth import SigV4Auth
from botocore.awsrequest import create_request_object, prepare_request_dict
from botocore.endpoint import EndpointCreator
from botocore.hooks import HierarchicalEmitter
from botocore.parsers import create_parser
from botocore.serialize import create_serializer

OPERATION = "InvokeEndpoint"


class FastInvokeClient:
    """``invoke_endpoint(**params)`` with boto3's contract, on botocore's serializer, signer, session and parser."""

    def __init__(
        self, boto_client: Any, credentials: Any, verify: bool | str | None, max_pool_connections: int
    ) -> None:
        """``verify``: the session's ``ca_bundle`` (``AWS_CA_BUNDLE``), as boto3 passes it; None for the default."""
        meta = boto_client.meta
        config = meta.config
        self._operation = meta.service_model.operation_model(OPERATION)
        self._endpoint_url = meta.endpoint_url
        self._region = meta.region_name
        self._signing_name = meta.service_model.signing_name
        self._credentials = credentials
        self._exceptions = boto_client.exceptions
        self._serializer = create_serializer("rest-json", include_validation=False)  # stateless: shared by threads
        socket_options = [(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]
        if config.tcp_keepalive:
            socket_options.append((socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1))
        endpoint = EndpointCreator(HierarchicalEmitter()).create_endpoint(
            meta.service_model,
            region_name=self._region,
            endpoint_url=self._endpoint_url,
            verify=verify,
            timeout=(config.connect_timeout, config.read_timeout),
            max_pool_connections=max_pool_connections,
            socket_options=socket_options,
            proxies=config.proxies,
            proxies_config=config.proxies_config,
            client_cert=config.client_cert,
        )
        self._http = endpoint.http_session
        self._response_headers = {
            name: shape.serialization["name"]
            for name, shape in self._operation.output_shape.members.items()
            if shape.serialization.get("location") == "header"
        }

    @property
    def endpoint_url(self) -> str:
        return str(self._endpoint_url)

    def invoke_endpoint(self, **params: Any) -> dict[str, Any]:
        request_dict = self._serializer.serialize_to_request(params, self._operation)
        prepare_request_dict(request_dict, endpoint_url=self._endpoint_url)
        request = create_request_object(request_dict)
        SigV4Auth(self._credentials.get_frozen_credentials(), self._signing_name, self._region).add_auth(request)
        response = self._http.send(request.prepare())
        body = response.content
        headers = response.headers
        if response.status_code >= 300:
            self._raise(response.status_code, headers, body)
        parsed: dict[str, Any] = {
            name: headers[header] for name, header in self._response_headers.items() if header in headers
        }
        parsed["Body"] = io.BytesIO(body)
        parsed["ResponseMetadata"] = {
            "RequestId": headers.get("x-amzn-RequestId"),
            "HTTPStatusCode": response.status_code,
            "HTTPHeaders": dict(headers),
        }
        return parsed

    def _raise(self, status: int, headers: Any, body: bytes) -> None:
        """The error as boto3 raises it: botocore's parse, the modeled fields, the modeled exception class."""
        response_dict = {"headers": headers, "status_code": status, "body": body}
        parser = create_parser("rest-json")  # one per response, as botocore's endpoint does: errors are rare
        parsed = parser.parse(response_dict, self._operation.output_shape)
        code = parsed.get("Error", {}).get("Code")
        shape = self._operation.service_model.shape_for_error_code(code) if code else None
        if shape is not None:
            parsed.update(parser.parse(response_dict, shape))
        raise self._exceptions.from_code(code)(parsed, OPERATION)
