"""``smscore endpoint serve`` / ``python -m local_endpoint serve``, and a subprocess runner."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from local_endpoint.config import ServerConfig

READY_PREFIX = "Local SageMaker Runtime endpoint listening on "


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", help="endpoint config YAML (default: built-in local-demo endpoint)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    parser.add_argument(
        "--port", type=int, default=8080, help="port to listen on, 0 for any free port (default: %(default)s)"
    )


class ServerUnavailable(RuntimeError):
    """The server's own dependencies (the ``local`` extra) are not installed."""


def require_server() -> None:
    """Fail with the install command, not an ImportError, where the ``local`` extra is missing."""
    if importlib.util.find_spec("aiohttp") is None:
        raise ServerUnavailable("the local endpoint needs aiohttp: pip install 'sagemaker-beam-scoring[local]'")


def serve(config: ServerConfig, host: str, port: int) -> None:
    """Serve until SIGTERM or SIGINT; print the URL first so a parent process can read it."""
    from local_endpoint.hosting import new_event_loop
    from local_endpoint.server import start_site

    async def main() -> None:
        runner, bound = await start_site(config, host, port)
        names = ", ".join(e.name for e in config.endpoints)
        print(f"{READY_PREFIX}http://{host}:{bound} (endpoints: {names})", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        await runner.cleanup()

    with asyncio.Runner(loop_factory=new_event_loop) as runner:
        runner.run(main())


def run_serve(args: argparse.Namespace) -> int:
    from local_endpoint.config import load_config

    serve(load_config(args.config), args.host, args.port)
    return 0


@dataclass(frozen=True, kw_only=True)
class EndpointHandle:
    url: str
    pid: int
    access_key_id: str  # the first credentials the server accepts, for the client that calls it
    secret_access_key: str = field(repr=False)


@contextlib.contextmanager
def endpoint_process(
    config_path: str | None = None, host: str = "127.0.0.1", port: int = 0
) -> Iterator[EndpointHandle]:
    """Start the server in its own process (its own core, its own GIL); yield its URL, pid and credentials."""
    from local_endpoint.config import load_config

    require_server()
    credential = load_config(config_path).credentials[0]
    cmd = [sys.executable, "-m", "local_endpoint", "serve", "--host", host, "--port", str(port)]
    if config_path:
        cmd += ["--config", config_path]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line.startswith(READY_PREFIX):
            proc.wait(timeout=10)
            raise RuntimeError(f"local endpoint did not start (exit {proc.returncode}): {line.strip()}")
        yield EndpointHandle(
            url=line[len(READY_PREFIX) :].split()[0],
            pid=proc.pid,
            access_key_id=credential.access_key_id,
            secret_access_key=credential.secret_access_key,
        )
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
