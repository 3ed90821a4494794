"""Hosting an aiohttp application: on its own event-loop thread (tests, benchmarks) or in the foreground."""

from __future__ import annotations

import asyncio
import ssl
import threading
from typing import Self

from aiohttp import web


def new_event_loop() -> asyncio.AbstractEventLoop:
    """uvloop's libuv loop where it is installed (Linux, macOS: less CPU per request), else asyncio's."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


class BackgroundServer:
    """Serve an aiohttp application on its own event loop thread; ``with`` starts and stops it.

    Listens on 127.0.0.1 and a free port unless told otherwise.
    """

    def __init__(
        self,
        app: web.Application,
        host: str = "127.0.0.1",
        port: int = 0,
        name: str = "aiohttp",
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.app = app
        self.host = host
        self.port = port
        self.name = name
        self.tls = tls
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.host}:{self.port}"

    def start(self) -> Self:
        ready = threading.Event()
        errors: list[BaseException] = []

        def serve() -> None:
            loop = new_event_loop()
            self._loop = loop
            try:
                runner, self.port = loop.run_until_complete(serve_app(self.app, self.host, self.port, self.tls))
            except BaseException as exc:  # reported to the starting thread
                errors.append(exc)
                ready.set()
                return
            ready.set()
            loop.run_forever()
            loop.run_until_complete(runner.cleanup())
            loop.close()

        self._thread = threading.Thread(target=serve, name=self.name, daemon=True)
        self._thread.start()
        ready.wait()
        if errors:
            raise errors[0]
        return self

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
            self._loop = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


async def serve_app(
    app: web.Application, host: str, port: int, tls: ssl.SSLContext | None = None
) -> tuple[web.AppRunner, int]:
    """Start ``app`` on host:port (0 = any free port); return its runner and the bound port."""
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, host, port, backlog=1024, ssl_context=tls)
    await site.start()
    return runner, int(runner.addresses[0][1])
