"""`make bench`: our pipeline against its peers, side by side, in one run, as ratios.

Every contender runs in its own process against the same local endpoint (fixed 20 ms latency)
and the same generated Parquet input. Wall time, CPU time and peak RSS are measured from outside
(``os.wait4``); calls/s and retries where the calls land (the endpoint's ``/_local/stats``).
Writes ``benchmarks/results.json`` and ``BENCHMARKS.md``.

    python -m benchmarks.bench [--rows 1000000] [--single-rows 20000] [--cap 100] [--no-streaming]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from benchmarks.client_bench import client_figures, print_client_table
from benchmarks.codec_bench import codec_figures, print_codec_table
from benchmarks.endpoint_bench import SIZES as ENDPOINT_SIZES
from benchmarks.endpoint_bench import _server_cpu_seconds
from benchmarks.endpoint_bench import measure as endpoint_cost
from benchmarks.endpoint_bench import print_table as print_endpoint_table
from benchmarks.peers import FEATURES
from benchmarks.streaming import STREAMING_RUNS
from local_endpoint.cli import endpoint_process
from pipelines.sample_data import write_sample

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "out" / "bench"
LATENCY_MS = 20
CONCURRENCY = 16  # our MultiRecord requests in flight; P2 gets as many threads
SINGLE_CONCURRENCY = 32  # our SingleRecord requests in flight; P3 gets as many threads
SINGLE_WORKERS = 2  # DirectRunner worker processes of our SingleRecord run (SINGLE_CONCURRENCY in flight in all)
# The contenders run in the product's own install (`make bench` builds .venv-bench with `pip install -e .`,
# no test extras): Beam then does not import the GCS/S3 filesystems of the dev environment at start-up.
CONTENDER_PYTHON = os.environ.get("BENCH_PYTHON", sys.executable)
ENV = {**os.environ, "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "SMSCORE_LOG_LEVEL": "ERROR"}


@dataclass
class Result:
    name: str
    rows: int
    wall_s: float
    cpu_s: float
    peak_rss_mb: float
    records: int = 0
    ok_calls: int = 0
    calls_per_s: float = 0.0  # successful calls / span between the first and last success, at the endpoint
    retries: int = 0
    lost: int = 0
    throttled: int = 0
    endpoint_cpu_s: float = 0.0  # CPU the endpoint process spent serving this contender
    before_first_s: float = 0.0  # launch to the first successful answer: start-up
    after_last_s: float = 0.0  # the last successful answer to exit
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def records_per_s(self) -> float:
        return self.records / self.wall_s if self.wall_s else 0.0


def server_config(cap: float) -> dict[str, Any]:
    latency = {"latency": {"fixed_ms": LATENCY_MS}}
    return {
        "endpoints": [
            {"name": "bench", "variants": [{"name": "main", "faults": latency}]},
            {
                "name": "bench-capped",
                "faults": {"capacity": {"max_rps": cap}, **latency},
                "variants": [{"name": "main"}],
            },
        ]
    }


def ensure_input(rows: int) -> str:
    folder = WORK / f"input-{rows}"
    if not (folder / "_done").exists():
        write_sample(str(folder), rows, features=len(FEATURES), files=4)
        (folder / "_done").touch()
    return str(folder / "*.parquet")


def stats(url: str, reset: bool = False) -> dict[str, Any]:
    request = urllib.request.Request(f"{url}/_local/stats", method="DELETE" if reset else "GET")
    with urllib.request.urlopen(request, timeout=10) as response:
        return dict(json.load(response))


def measure(name: str, rows: int, cmd: list[str], url: str, pid: int) -> tuple[Result, str]:
    """Run one contender in its own process under GNU time: wall, CPU and peak RSS of that process.

    Not os.wait4: a child forked from this (large) process inherits its peak RSS across exec.
    """
    stats(url, reset=True)
    endpoint_cpu = _server_cpu_seconds(pid)
    with tempfile.TemporaryDirectory() as tmp:
        timing = Path(tmp) / "time"
        started = time.monotonic()
        proc = subprocess.run(
            ["/usr/bin/time", "-f", "%M %U %S", "-o", str(timing), *cmd],
            cwd=ROOT, env=ENV, capture_output=True, text=True,
        )  # fmt: skip
        ended = time.monotonic()
        wall = ended - started
        output = proc.stdout
        if proc.returncode != 0:
            raise RuntimeError(f"{name} failed (status {proc.returncode}):\n{(proc.stdout + proc.stderr)[-3000:]}")
        max_rss_kb, user, system = timing.read_text().split()[-3:]
    answers = stats(url)
    ok = int(answers["answers"].get("200", 0))
    span = answers["ok_span_seconds"] or 0.0
    result = Result(
        name,
        rows,
        round(wall, 2),
        round(float(user) + float(system), 2),
        round(int(max_rss_kb) / 1024, 1),
        ok_calls=ok,
        calls_per_s=round(ok / span, 1) if span else 0.0,
        throttled=int(answers["answers"].get("ThrottlingException", 0)),
        endpoint_cpu_s=round(_server_cpu_seconds(pid) - endpoint_cpu, 2),
    )
    if answers["first_ok_monotonic"] is not None:
        result.before_first_s = round(answers["first_ok_monotonic"] - started, 2)
        result.after_last_s = round(ended - answers["last_ok_monotonic"], 2)
    return result, output


def run_ours(name: str, input_glob: str, rows: int, ep: Any, endpoint: str, workers: int = 1, **invoke: Any) -> Result:
    """Our job on the DirectRunner: in-process, or ``workers`` SDK worker processes (``concurrency`` each)."""
    folder = WORK / name
    processes = [f"--direct_num_workers={workers}", "--direct_running_mode=multi_processing"] if workers > 1 else []
    config = {
        "job": {"name": name, "max_dead_letter_fraction": 1.0, "beam_args": processes},
        "source": {"type": "parquet", "path": input_glob},
        "endpoint": {"name": endpoint, "endpoint_url": ep.url},
        "invoke": {
            "serializer": "csv",
            "feature_columns": FEATURES,
            "passthrough_columns": ["id"],
            "id_columns": ["id"],
            **invoke,
        },
        "output": {"predictions": str(folder / "predictions"), "dead_letters": str(folder / "dead_letters")},
    }
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.yaml").write_text(yaml.safe_dump(config))
    report = folder / "report.json"
    cmd = [CONTENDER_PYTHON, "-m", "pipelines.cli", "run", "--config", str(folder / "config.yaml"), "--no-progress"]
    result, _ = measure(name, rows, [*cmd, "--report", str(report)], ep.url, ep.pid)
    summary = json.loads(report.read_text())
    result.records = summary["predictions_out"]
    result.retries = summary["retries"]
    result.lost = summary["records_in"] - summary["predictions_out"]
    return result


def run_peer(peer: str, input_glob: str, rows: int, ep: Any, endpoint: str, threads: int, per_request: int) -> Result:
    cmd = [
        CONTENDER_PYTHON, "-m", "benchmarks.peers", peer, "--input", input_glob, "--url", ep.url,
        "--endpoint", endpoint, "--threads", str(threads), "--rows-per-request", str(per_request),
        "--rows", str(rows), "--out", str(WORK),
    ]  # fmt: skip
    result, output = measure(peer, rows, cmd, ep.url, ep.pid)
    facts = json.loads(output.strip().splitlines()[-1])
    result.records = facts.get("records", 0)
    result.retries = facts.get("retries", 0)
    result.lost = facts.get("lost", 0) * per_request
    return result


def machine() -> dict[str, Any]:
    cpu = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                if ln.startswith("model name")), platform.processor())  # fmt: skip
    mem_kb = int(
        next(ln.split()[1] for ln in Path("/proc/meminfo").read_text().splitlines() if ln.startswith("MemTotal"))
    )
    import apache_beam

    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": round(mem_kb / 1024 / 1024, 1),
        "python": platform.python_version(),
        "apache_beam": apache_beam.__version__,
        "os": platform.platform(),
    }


def ratio(a: float, b: float) -> float:
    return round(a / b, 3) if b else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=int(os.environ.get("BENCH_ROWS", 1_000_000)))
    parser.add_argument("--small-rows", type=int, default=100_000, help="the RSS comparison's small run")
    parser.add_argument("--single-rows", type=int, default=20_000)
    parser.add_argument("--cap", type=float, default=100.0, help="requests/s of the throttled endpoint (K)")
    parser.add_argument("--capped-requests", type=int, default=1500)
    parser.add_argument("--no-streaming", action="store_true", help="skip the Kafka figures (streaming and bounded)")
    parser.add_argument("--kafka-messages", type=int, default=1_000_000, help="messages of the Kafka -> Kafka runs")
    parser.add_argument(
        "--repeat", type=int, default=2, help="runs of ours and P2, ours and P3 (alternating); the best of each counts"
    )
    args = parser.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    big, small, single = ensure_input(args.rows), ensure_input(args.small_rows), ensure_input(args.single_rows)
    capped_rows = args.capped_requests * 10
    capped = ensure_input(capped_rows)
    config_path = WORK / "endpoint.yaml"
    config_path.write_text(yaml.safe_dump(server_config(args.cap)))
    results: dict[str, Result] = {}

    def show(r: Result) -> None:
        best = results.get(r.name)
        runs = [*(best.extra.get("wall_s_of_runs", []) if best else []), r.wall_s]
        if best is None or r.wall_s < best.wall_s:
            results[r.name] = r
        results[r.name].extra["wall_s_of_runs"] = runs
        print(
            f"  {r.name:<26} {r.rows:>9,} rows  {r.wall_s:8.2f} s wall  {r.cpu_s:8.2f} s CPU  "
            f"{r.peak_rss_mb:7.1f} MB  {r.records_per_s:10,.0f} rec/s  {r.calls_per_s:8,.1f} calls/s",
            flush=True,
        )

    codecs = codec_figures()  # no endpoint: Kafka and JSON Lines codecs against a dict and json per row
    print_codec_table(codecs)
    clients = client_figures(600)  # boto3's client, the direct one, one event loop: CPU per call
    print_client_table(clients)

    with endpoint_process() as ep:  # the endpoint's own cost per request, demo model, 4 features
        endpoint_figures = [
            endpoint_cost(ep.url, ep.pid, size, 4.0, 32 if size < 100_000 else 4) for size in ENDPOINT_SIZES
        ]
        print_endpoint_table(endpoint_figures)

    with endpoint_process(str(config_path)) as ep:
        print(f"endpoint {ep.url} (pid {ep.pid}), {LATENCY_MS} ms fixed latency; input {args.rows:,} rows", flush=True)
        multi: dict[str, Any] = {"strategy": "MultiRecord", "max_records": 500, "concurrency": CONCURRENCY}
        # SingleRecord is bound by botocore's CPU per call under one GIL: two worker processes of half the
        # concurrency each keep the same requests in flight as P3's threads and use both cores.
        single_cfg: dict[str, Any] = {"strategy": "SingleRecord", "concurrency": SINGLE_CONCURRENCY // SINGLE_WORKERS}
        for _ in range(args.repeat):  # alternate the pairs; each keeps its best run (shared-machine noise)
            show(run_ours("ours-multirecord", big, args.rows, ep, "bench", **multi))
            show(run_peer("P2", big, args.rows, ep, "bench", CONCURRENCY, 500))
        for _ in range(args.repeat):
            show(run_ours("ours-singlerecord", single, args.single_rows, ep, "bench", SINGLE_WORKERS, **single_cfg))
            show(run_peer("P3", single, args.single_rows, ep, "bench", SINGLE_CONCURRENCY, 1))
        one_process: dict[str, Any] = {"strategy": "SingleRecord", "concurrency": SINGLE_CONCURRENCY}
        show(run_ours("ours-singlerecord-1proc", single, args.single_rows, ep, "bench", **one_process))
        show(run_ours("ours-multirecord-small", small, args.small_rows, ep, "bench", **multi))
        show(run_peer("P1", big, args.rows, ep, "bench", 1, 500))
        capped_cfg: dict[str, Any] = {"strategy": "MultiRecord", "max_records": 10, "concurrency": 32}
        show(run_ours("ours-throttled", capped, capped_rows, ep, "bench-capped", **capped_cfg))
        budget = {**capped_cfg, "max_requests_per_second": args.cap}  # the same cap, known and kept
        show(run_ours("ours-budget", capped, capped_rows, ep, "bench-capped", **budget))
        show(run_peer("P4-standard", capped, capped_rows, ep, "bench-capped", 32, 10))
        show(run_peer("P4-adaptive", capped, capped_rows, ep, "bench-capped", 32, 10))

    streams: dict[str, dict[str, Any] | None] = dict.fromkeys(STREAMING_RUNS)
    kafka: dict[str, Any] | None = None
    if not args.no_streaming:
        from benchmarks.kafka_bench import kafka_figures, print_kafka
        from benchmarks.streaming import streaming_figure

        for key, (rate, delivery) in STREAMING_RUNS.items():  # the two modes side by side at each rate
            streams[key] = streaming_figure(rate=rate, delivery=delivery)
            print(f"  {key}: {streams[key]}", flush=True)
        kafka = kafka_figures(args.kafka_messages)
        print_kafka(kafka)

    r = results
    ours_t = r["ours-throttled"]
    ratios = {
        "multirecord_vs_P1": ratio(r["ours-multirecord"].records_per_s, r["P1"].records_per_s),
        "multirecord_vs_P2": ratio(r["ours-multirecord"].records_per_s, r["P2"].records_per_s),
        "singlerecord_vs_P3": ratio(r["ours-singlerecord"].calls_per_s, r["P3"].calls_per_s),
        "singlerecord_one_process_vs_P3": ratio(r["ours-singlerecord-1proc"].calls_per_s, r["P3"].calls_per_s),
        "cpu_per_1m_vs_P2": ratio(r["ours-multirecord"].cpu_s, r["P2"].cpu_s),
        "rss_1m_vs_100k": ratio(r["ours-multirecord"].peak_rss_mb, r["ours-multirecord-small"].peak_rss_mb),
        "throttled_goodput_fraction": ratio(ours_t.calls_per_s, args.cap),
        "throttled_retry_fraction": ratio(ours_t.retries, ours_t.ok_calls + ours_t.retries),
        "budget_goodput_fraction": ratio(r["ours-budget"].calls_per_s, args.cap),
        "budget_throttled_calls": r["ours-budget"].throttled,
        "P4_standard_goodput_fraction": ratio(r["P4-standard"].calls_per_s, args.cap),
        "P4_adaptive_goodput_fraction": ratio(r["P4-adaptive"].calls_per_s, args.cap),
    }
    if kafka is not None:
        ours_k, p5 = kafka["bounded"]
        ratios["kafka_bounded_vs_P5"] = ratio(ours_k.records_per_s, p5.records_per_s)
        ratios["kafka_streaming_catchup_vs_P5"] = ratio(kafka["streaming_catchup"]["records_per_s"], p5.records_per_s)
    payload = {
        "command": " ".join(["python -m benchmarks.bench", *sys.argv[1:]]),
        "machine": machine(),
        "settings": {
            "latency_ms": LATENCY_MS,
            "rows": args.rows,
            "small_rows": args.small_rows,
            "single_rows": args.single_rows,
            "cap_rps": args.cap,
            "concurrency": CONCURRENCY,
            "single_concurrency": SINGLE_CONCURRENCY,
            "single_workers": SINGLE_WORKERS,
            "contender_python": os.path.relpath(CONTENDER_PYTHON, ROOT),
            "repeat": args.repeat,
        },
        "results": {k: {**asdict(v), "records_per_s": round(v.records_per_s, 1)} for k, v in results.items()},
        "ratios": ratios,
        **streams,
        "kafka": kafka
        and {
            "messages": args.kafka_messages,
            "bounded": {r.name: {**asdict(r), "records_per_s": round(r.records_per_s, 1)} for r in kafka["bounded"]},
            "streaming_catchup": kafka["streaming_catchup"],
        },
        "endpoint": endpoint_figures,
        "codecs": codecs,
        "clients": clients,
    }
    (ROOT / "benchmarks" / "results.json").write_text(json.dumps(payload, indent=2) + "\n")
    from benchmarks.report import write_markdown

    write_markdown(payload, ROOT / "BENCHMARKS.md")
    print(json.dumps(ratios, indent=2))


if __name__ == "__main__":
    main()
