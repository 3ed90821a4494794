"""The direct InvokeEndpoint client: :class:`~transforms.invoke.wire.InvokeWire`'s signed request, sent by aiohttp
on the worker's event loop.

One event loop keeping many requests in flight costs about half the CPU per call of a pool of threads
each blocked in a client (the threads hand one GIL back and forth); BENCHMARKS.md has the figures. The
connection behaves as boto3's does where a job can tell: the pool is sized to the concurrency, TLS
trusts ``AWS_CA_BUNDLE`` (else ``REQUESTS_CA_BUNDLE``, else certifi's bundle), the client certificate,
connect and read timeouts and TCP keep-alive come from the boto3 client's config, proxies from that
config or the environment (``NO_PROXY`` honoured), and every network failure is raised as the
botocore exception class boto3 raises for it, so the classifier cannot tell the two clients apart.
"""

from __future__ import annotations

import os
import socket
import ssl
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import botocore.exceptions as boto_errors
from botocore.httpsession import get_cert_path, mask_proxy_url
from botocore.utils import get_environ_proxies

from transforms.invoke.wire import InvokeWire


class DirectInvokeClient:
    """``await invoke_endpoint(**params)``: boto3's contract, one aiohttp session per worker process."""

    def __init__(self, wire: InvokeWire, verify: bool | str | None, max_connections: int) -> None:
        """``verify``: the session's ``ca_bundle`` (``AWS_CA_BUNDLE``), as boto3 passes it; None for the default."""
        self.wire = wire
        config = wire.config
        self._max_connections = max_connections
        self._keepalive = bool(config.tcp_keepalive)
        self._timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=config.connect_timeout, sock_read=config.read_timeout
        )
        proxies = config.proxies or get_environ_proxies(wire.endpoint_url)
        self._proxy: str | None = proxies.get(urlsplit(wire.endpoint_url).scheme)
        https = wire.endpoint_url.startswith("https")
        self._ssl: ssl.SSLContext | bool = _tls_context(verify, config.client_cert) if https else True
        self._session: aiohttp.ClientSession | None = None  # made on the loop that sends

    @property
    def endpoint_url(self) -> str:
        return self.wire.endpoint_url

    async def invoke_endpoint(self, **params: Any) -> dict[str, Any]:
        request = self.wire.signed(params)
        session = self._session or self._open()
        url = request.url
        try:
            async with session.post(
                url, data=request.body, headers=dict(request.headers.items()), proxy=self._proxy, ssl=self._ssl
            ) as response:
                body = await response.read()
                return self.wire.answer(response.status, response.headers, body)
        except aiohttp.ClientError as exc:
            raise _as_botocore(exc, url, self._proxy) from exc
        except TimeoutError as exc:
            raise boto_errors.ReadTimeoutError(endpoint_url=url, error=exc) from exc

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _open(self) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(
            limit=self._max_connections,
            ssl=self._ssl,
            socket_factory=_keepalive_socket if self._keepalive else None,
        )
        # No Accept-Encoding or User-Agent of aiohttp's own: bodies come back as sent, as botocore asks for them.
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=self._timeout,
            skip_auto_headers=("Accept-Encoding", "User-Agent"),
            auto_decompress=False,
        )
        return self._session


def _tls_context(verify: bool | str | None, client_cert: str | tuple[str, str] | None) -> ssl.SSLContext:
    """The context boto3's URLLib3Session would build: the same CA file, the same client certificate."""
    if verify is None:
        verify = os.environ.get("REQUESTS_CA_BUNDLE", True)
    context = ssl.create_default_context()
    if verify is False:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    else:
        context.load_verify_locations(cafile=get_cert_path(verify))
    if isinstance(client_cert, str):
        context.load_cert_chain(client_cert)
    elif client_cert:
        context.load_cert_chain(*client_cert)
    return context


def _keepalive_socket(addr_info: tuple[Any, ...]) -> socket.socket:
    family, kind, proto, _, _ = addr_info
    sock = socket.socket(family=family, type=kind, proto=proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    return sock


def _as_botocore(exc: aiohttp.ClientError, url: str, proxy: str | None) -> Exception:
    """The botocore exception boto3's URLLib3Session raises for the same failure."""
    if isinstance(exc, aiohttp.ClientProxyConnectionError):
        return boto_errors.ProxyConnectionError(proxy_url=mask_proxy_url(proxy or ""), error=exc)
    if isinstance(exc, aiohttp.ClientSSLError):
        return boto_errors.SSLError(endpoint_url=url, error=exc)
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return boto_errors.ConnectTimeoutError(endpoint_url=url, error=exc)
    if isinstance(exc, aiohttp.ClientConnectorError):
        return boto_errors.EndpointConnectionError(endpoint_url=url, error=exc)
    if isinstance(exc, aiohttp.ServerTimeoutError):
        return boto_errors.ReadTimeoutError(endpoint_url=url, error=exc)
    closed = (
        aiohttp.ServerDisconnectedError,
        aiohttp.ClientConnectionResetError,
        aiohttp.ClientPayloadError,
        aiohttp.ClientOSError,
    )
    if isinstance(exc, closed):
        return boto_errors.ConnectionClosedError(endpoint_url=url, error=exc)
    return boto_errors.HTTPClientError(error=exc)
