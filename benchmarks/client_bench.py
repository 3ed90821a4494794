"""Client CPU per InvokeEndpoint call: boto3's client and the direct request, each on a pool of threads and
on one event loop, against the local endpoint (20 ms latency) in its own process.

The same 74 KB ``text/csv`` body (500 rows x 16 features) every call; CPU is this process's (the endpoint's
is not counted). Answers which way a worker's requests should run: a pool of threads or one event loop.
The direct request on threads (botocore's ``URLLib3Session``, as boto3 sends) exists only here, as the
measured alternative to the event loop.

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

import numpy as np
import yaml
from botocore.endpoint import EndpointCreator
from botocore.hooks import HierarchicalEmitter

from local_endpoint.cli import endpoint_process
from transforms.core.settings import EndpointSettings
from transforms.invoke.client import StaticCredentials, ThreadedClient, make_client
from transforms.invoke.direct_client import DirectInvokeClient
from transforms.invoke.worker_loop import WorkerLoop

IN_FLIGHT = 16
PARAMS = {"EndpointName": "bench", "ContentType": "text/csv", "Accept": "text/csv"}


def _body() -> bytes:
    rows = np.random.default_rng(7).normal(size=(500, 16)).round(6)
    return ("\n".join(",".join(map(repr, r.tolist())) for r in rows) + "\n").encode()


def _cpu_ms_per_call(work: Callable[[], None], calls: int) -> float:
    started = time.process_time()
    work()
    return round((time.process_time() - started) * 1000 / calls, 3)


class _DirectOnThreads:
    """The direct client's signed request, sent by botocore's URLLib3Session from a blocking thread."""

    def __init__(self, direct: DirectInvokeClient) -> None:
        self._wire = direct.wire
        config = self._wire.config
        self._http = (
            EndpointCreator(HierarchicalEmitter())
            .create_endpoint(
                self._wire.service_model,
                region_name="us-east-1",
                endpoint_url=self._wire.endpoint_url,
                timeout=(config.connect_timeout, config.read_timeout),
                max_pool_connections=IN_FLIGHT,
            )
            .http_session
        )

    def invoke_endpoint(self, **params: Any) -> dict[str, Any]:
        response = self._http.send(self._wire.signed(params))
        return self._wire.answer(response.status_code, response.headers, response.content)


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


def _event_loop(loop: WorkerLoop, client: Any, body: bytes, calls: int) -> Callable[[], None]:
    """IN_FLIGHT calls at a time on one event loop, as a worker runs them."""

    async def main() -> None:
        limit = asyncio.Semaphore(IN_FLIGHT)

        async def one(i: int) -> None:
            async with limit:
                response = await client.invoke_endpoint(**PARAMS, Body=body, InferenceId=f"c{i}")
                response["Body"].read()

        await asyncio.gather(*(one(i) for i in range(calls)))

    return lambda: loop.run(main())


def client_figures(calls: int) -> list[dict[str, Any]]:
    body = _body()
    config = {"endpoints": [{"name": "bench", "variants": [{"name": "main", "faults": {"latency": {"fixed_ms": 20}}}]}]}
    path = Path("out/bench/client-endpoint.yaml")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config))
    rows = []
    loop = WorkerLoop()
    with endpoint_process(str(path)) as ep:
        endpoint = EndpointSettings(name="bench", endpoint_url=ep.url)
        keys = StaticCredentials("test", "test")
        boto3_ = make_client(endpoint, IN_FLIGHT, keys, "boto3")
        direct = make_client(endpoint, IN_FLIGHT, keys, "direct")
        assert isinstance(boto3_, ThreadedClient) and isinstance(direct, DirectInvokeClient)
        loop.on_close(direct.close)
        direct_threads = _DirectOnThreads(direct)
        contenders: list[tuple[str, Callable[[], None]]] = [
            ("boto3 client, sequential", _threads(boto3_.client, body, calls, 1)),
            (f"boto3 client, {IN_FLIGHT} threads", _threads(boto3_.client, body, calls, IN_FLIGHT)),
            (
                f"boto3 client on the worker's loop, {IN_FLIGHT} threads (invoke.client: boto3)",
                _event_loop(loop, boto3_, body, calls),
            ),
            (
                f"direct request, botocore's HTTP session, {IN_FLIGHT} threads",
                _threads(direct_threads, body, calls, IN_FLIGHT),
            ),
            (
                f"direct client, one event loop, {IN_FLIGHT} in flight (invoke.client: direct)",
                _event_loop(loop, direct, body, calls),
            ),
        ]
        for _, work in contenders:
            work()  # warm: connections open, code paths loaded
        for name, work in contenders:
            best = min(_cpu_ms_per_call(work, calls) for _ in range(2))
            rows.append({"path": name, "cpu_ms_per_call": best})
    loop.close()
    return rows


def print_client_table(rows: list[dict[str, Any]]) -> None:
    for row in rows:
        print(f"  {row['path']:<72} {row['cpu_ms_per_call']:6.3f} ms CPU per call", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=600)
    print_client_table(client_figures(parser.parse_args().calls))


if __name__ == "__main__":
    main()
