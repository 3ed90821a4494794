"""Client CPU per InvokeEndpoint call: boto3's client, the direct client on threads, and signed requests on one
event loop (aiohttp), against the local endpoint (20 ms latency) in its own process.

The same 74 KB ``text/csv`` body (500 rows x 16 features) every call; CPU is this process's (the endpoint's
is not counted). Answers which way a worker's requests should run: a pool of threads or one event loop.

    python -m benchmarks.client_bench [--calls 600]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
import yaml
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from local_endpoint.cli import endpoint_process
from transforms.core.settings import EndpointSettings
from transforms.invoke.client import StaticCredentials, make_client

IN_FLIGHT = 16
PARAMS = {"EndpointName": "bench", "ContentType": "text/csv", "Accept": "text/csv"}


def _body() -> bytes:
    rows = np.random.default_rng(7).normal(size=(500, 16)).round(6)
    return ("\n".join(",".join(map(repr, r.tolist())) for r in rows) + "\n").encode()


def _cpu_ms_per_call(work: Callable[[], None], calls: int) -> float:
    started = time.process_time()
    work()
    return round((time.process_time() - started) * 1000 / calls, 3)


def _threads(client: Any, body: bytes, calls: int, threads: int) -> Callable[[], None]:
    def one(i: int) -> None:
        client.invoke_endpoint(**PARAMS, Body=body, InferenceId=f"c{i}")["Body"].read()

    def run() -> None:
        if threads == 1:
            for i in range(calls):
                one(i)
            return
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(one, range(calls)))

    return run


def _event_loop(url: str, body: bytes, calls: int) -> Callable[[], None]:
    """Each request signed by botocore's SigV4Auth, sent by aiohttp, IN_FLIGHT at a time on one loop."""
    target = f"{url}/endpoints/bench/invocations"
    credentials = Credentials("test", "test")

    async def main() -> None:
        limit = asyncio.Semaphore(IN_FLIGHT)
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=IN_FLIGHT)) as session:

            async def one(i: int) -> None:
                async with limit:
                    request = AWSRequest(
                        method="POST",
                        url=target,
                        data=body,
                        headers={
                            "Content-Type": "text/csv",
                            "Accept": "text/csv",
                            "X-Amzn-SageMaker-Inference-Id": f"c{i}",
                        },
                    )
                    SigV4Auth(credentials, "sagemaker", "us-east-1").add_auth(request)
                    async with session.post(target, data=body, headers=dict(request.headers.items())) as response:
                        await response.read()

            await asyncio.gather(*(one(i) for i in range(calls)))

    return lambda: asyncio.run(main())


def client_figures(calls: int) -> list[dict[str, Any]]:
    body = _body()
    config = {"endpoints": [{"name": "bench", "variants": [{"name": "main", "faults": {"latency": {"fixed_ms": 20}}}]}]}
    path = Path("out/bench/client-endpoint.yaml")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config))
    rows = []
    with endpoint_process(str(path)) as ep:
        endpoint = EndpointSettings(name="bench", endpoint_url=ep.url)
        keys = StaticCredentials("test", "test")
        contenders: list[tuple[str, Callable[[], None]]] = []
        for kind in ("boto3", "direct"):
            client = make_client(endpoint, IN_FLIGHT, keys, kind)
            _threads(client, body, 20, 4)()  # warm the pool
            contenders += [
                (f"{kind} client, sequential", _threads(client, body, calls, 1)),
                (f"{kind} client, {IN_FLIGHT} threads", _threads(client, body, calls, IN_FLIGHT)),
            ]
        contenders.append(
            (f"SigV4Auth + aiohttp, one event loop, {IN_FLIGHT} in flight", _event_loop(ep.url, body, calls))
        )
        for name, work in contenders:
            best = min(_cpu_ms_per_call(work, calls) for _ in range(2))
            rows.append({"path": name, "cpu_ms_per_call": best})
    return rows


def print_client_table(rows: list[dict[str, Any]]) -> None:
    for row in rows:
        print(f"  {row['path']:<52} {row['cpu_ms_per_call']:6.3f} ms CPU per call", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=600)
    print_client_table(client_figures(parser.parse_args().calls))


if __name__ == "__main__":
    main()
