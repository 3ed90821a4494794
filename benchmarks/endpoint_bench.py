"""Local endpoint cost per request against the client's, 1 KB and 1 MB bodies.

The server runs in its own process (as in `make run`); a pool of aiohttp client
tasks in this process sends signed InvokeEndpoint requests for a fixed time.
Server CPU comes from /proc of the server process, so the client's cost is not
counted. In the same run: boto3's own CPU per ``invoke_endpoint`` call with the
same body (sequential calls, this process's CPU time), and the demo model's share
of the server's cost (the model called in-process on the same body).

    python -m benchmarks.endpoint_bench [--seconds 5] [--concurrency 32]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from collections.abc import Callable

import aiohttp
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from benchmarks.peers import client
from local_endpoint.cli import endpoint_process
from local_endpoint.models import DemoModel, Invocation

SIZES = (1024, 1024 * 1024)


def _server_cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _signed_headers(url: str, body: bytes) -> dict[str, str]:
    req = AWSRequest(method="POST", url=url, data=body, headers={"Content-Type": "text/csv"})
    SigV4Auth(Credentials("test", "test"), "sagemaker", "us-east-1").add_auth(req)
    return dict(req.headers.items())


async def _load(url: str, body: bytes, seconds: float, concurrency: int) -> int:
    target = f"{url}/endpoints/local-demo/invocations"
    headers = _signed_headers(target, body)  # valid for 5 minutes: one signature serves the run
    done = 0
    deadline = time.monotonic() + seconds
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:

        async def worker() -> None:
            nonlocal done
            while time.monotonic() < deadline:
                async with session.post(target, data=body, headers=headers) as resp:
                    await resp.read()
                    if resp.status != 200:
                        raise RuntimeError(f"status {resp.status}")
                done += 1

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return done


def _body(size: int) -> bytes:
    row = b"0.25,-1.5,3.0,0.125\n"
    return row * max(1, size // len(row))


def _cpu_ms_per_call(call: Callable[[], object], seconds: float) -> float:
    """This process's CPU per call of ``call``, repeated for about ``seconds`` after a warm-up."""
    for _ in range(3):
        call()
    calls, cpu0, deadline = 0, time.process_time(), time.monotonic() + seconds
    while time.monotonic() < deadline:
        call()
        calls += 1
    return 1000 * (time.process_time() - cpu0) / calls


def client_cpu_ms(url: str, body: bytes, seconds: float) -> float:
    """boto3's own CPU per invoke_endpoint call (response read), retries off: the peers' client."""
    sm = client(url, 1)
    return _cpu_ms_per_call(
        lambda: sm.invoke_endpoint(EndpointName="local-demo", Body=body, ContentType="text/csv")["Body"].read(),
        seconds,
    )


def model_cpu_ms(body: bytes, seconds: float) -> float:
    """The demo model alone (parse, score, render) on ``body``: its share of the server's cost."""
    model = DemoModel()
    invocation = Invocation(
        body=body,
        content_type="text/csv",
        accept=None,
        custom_attributes=None,
        enable_explanations=None,
        inference_id=None,
        session_id=None,
        instance="variant-a/0",
    )
    return _cpu_ms_per_call(lambda: model.predict(invocation), seconds)


def measure(url: str, pid: int, size: int, seconds: float, concurrency: int) -> dict[str, float]:
    body = _body(size)
    cpu0, t0 = _server_cpu_seconds(pid), time.monotonic()
    n = asyncio.run(_load(url, body, seconds, concurrency))
    cpu, wall = _server_cpu_seconds(pid) - cpu0, time.monotonic() - t0
    server_ms = 1000 * cpu / n
    client_ms = client_cpu_ms(url, body, seconds / 2)
    return {
        "body_bytes": len(body),
        "requests": n,
        "requests_per_s": n / wall,
        "server_cpu_ms_per_request": server_ms,
        "model_cpu_ms_per_request": model_cpu_ms(body, seconds / 2),
        "boto3_client_cpu_ms_per_call": client_ms,
        "server_to_client_cpu": server_ms / client_ms,
    }


def print_table(figures: list[dict[str, float]]) -> None:
    print(f"{'body':>10} {'requests/s':>11} {'endpoint CPU ms':>16} {'of which model':>15}", end="")
    print(f" {'boto3 CPU ms':>13} {'ratio':>6}")
    for r in figures:
        print(
            f"{r['body_bytes']:>10,} {r['requests_per_s']:>11,.0f} {r['server_cpu_ms_per_request']:>16.3f} "
            f"{r['model_cpu_ms_per_request']:>15.3f} {r['boto3_client_cpu_ms_per_call']:>13.3f} "
            f"{r['server_to_client_cpu']:>6.2f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    with endpoint_process() as server:
        url, pid = server.url, server.pid
        print_table(
            [measure(url, pid, size, args.seconds, args.concurrency if size < 100_000 else 4) for size in SIZES]
        )


if __name__ == "__main__":
    main()
