"""Local endpoint cost per request: requests/s and server CPU per request, 1 KB and 1 MB bodies.

The server runs in its own process (as in `make run`); a pool of aiohttp client
tasks in this process sends signed InvokeEndpoint requests for a fixed time.
Server CPU comes from /proc of the server process, so the client's cost is not
counted. Compare with boto3's own cost per call (~1.6 ms CPU here).

    python -m benchmarks.endpoint_bench [--seconds 5] [--concurrency 32]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time

import aiohttp
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from local_endpoint.cli import endpoint_process


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


def measure(url: str, pid: int, size: int, seconds: float, concurrency: int) -> dict[str, float]:
    body = _body(size)
    cpu0, t0 = _server_cpu_seconds(pid), time.monotonic()
    n = asyncio.run(_load(url, body, seconds, concurrency))
    cpu, wall = _server_cpu_seconds(pid) - cpu0, time.monotonic() - t0
    return {
        "body_bytes": len(body),
        "requests": n,
        "requests_per_s": n / wall,
        "server_cpu_ms_per_request": 1000 * cpu / n,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    with endpoint_process() as server:
        url, pid = server.url, server.pid
        print(f"{'body':>10} {'requests/s':>12} {'server CPU ms/request':>22}")
        for size in (1024, 1024 * 1024):
            r = measure(url, pid, size, args.seconds, args.concurrency if size < 100_000 else 4)
            print(f"{r['body_bytes']:>10,} {r['requests_per_s']:>12,.0f} {r['server_cpu_ms_per_request']:>22.3f}")


if __name__ == "__main__":
    main()
