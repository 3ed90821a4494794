"""The peers we measure ourselves against, each in its most natural form; one runs per process.

    python -m benchmarks.peers {P1,P2,P3,P4-standard,P4-adaptive} --input ... --url ... [options]
    python -m benchmarks.peers P5 --bootstrap ... --topic ... --predictions ... --url ... [options]

Prints one JSON line: what it did (records, calls, retries, lost). Wall time, CPU and
peak RSS are measured from outside by ``benchmarks.bench``.
"""

from __future__ import annotations

import argparse
import io
import json
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from botocore.config import Config

FEATURES = [f"f{i}" for i in range(16)]


def client(url: str, threads: int, retry_mode: str | None = None) -> Any:
    retries = {"mode": retry_mode, "max_attempts": 8} if retry_mode else {"total_max_attempts": 1}
    return boto3.client(
        "sagemaker-runtime",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(max_pool_connections=threads, retries=retries),
    )


def p1_run_inference(args: argparse.Namespace) -> dict[str, Any]:
    """Beam RunInference with Beam's own RemoteModelHandler, subclassed only to call invoke_endpoint.

    Its retry (5 retries, exponential backoff) and client-side throttling are Beam's defaults; its
    batches are RunInference's BatchElements, held at the request size the others send.
    """
    import apache_beam as beam
    from apache_beam.ml.inference.base import PredictionResult, RemoteModelHandler, RunInference
    from apache_beam.options.pipeline_options import PipelineOptions

    class SageMakerHandler(RemoteModelHandler[dict, PredictionResult, Any]):
        def __init__(self) -> None:
            # Beam's defaults otherwise; its default metrics namespace ('') is refused by Beam's own Metrics.
            super().__init__(namespace="P1")

        def create_client(self) -> Any:
            return client(args.url, 1)

        def request(self, batch: Any, model: Any, inference_args: Any = None) -> Any:
            body = "\n".join(",".join(repr(row[f]) for f in FEATURES) for row in batch)
            response = model.invoke_endpoint(EndpointName=args.endpoint, ContentType="text/csv", Body=body)
            scores = response["Body"].read().decode().split()
            return [PredictionResult(row, float(s)) for row, s in zip(batch, scores, strict=True)]

        def batch_elements_kwargs(self) -> dict[str, Any]:
            return {"min_batch_size": args.rows_per_request, "max_batch_size": args.rows_per_request}

    schema = pa.schema([("id", pa.int64()), ("prediction", pa.float64())])
    options = PipelineOptions(runner="apache_beam.runners.portability.fn_api_runner.FnApiRunner")
    with beam.Pipeline(options=options) as p:
        _ = (
            p
            | beam.io.ReadFromParquet(args.input)
            | RunInference(SageMakerHandler())
            | beam.Map(lambda r: {"id": r.example["id"], "prediction": r.inference})
            | beam.io.WriteToParquet(f"{args.out}/p1", schema, file_name_suffix=".parquet")
        )
    return {"records": pq.ParquetDataset(args.input.replace("*.parquet", "")).read(columns=["id"]).num_rows}


def p2_script(args: argparse.Namespace) -> dict[str, Any]:
    """pyarrow reads, a thread pool calls invoke_endpoint on CSV chunks, pyarrow writes."""
    table = pq.ParquetDataset(args.input.replace("*.parquet", "")).read()
    sm = client(args.url, args.threads)
    step = args.rows_per_request

    def score(start: int) -> np.ndarray:
        buf = io.BytesIO()
        pacsv.write_csv(table.slice(start, step).select(FEATURES), buf, pacsv.WriteOptions(include_header=False))
        response = sm.invoke_endpoint(EndpointName=args.endpoint, ContentType="text/csv", Body=buf.getvalue())
        return np.array(response["Body"].read().split(), dtype=np.float64)

    with ThreadPoolExecutor(args.threads) as pool:
        scores = list(pool.map(score, range(0, table.num_rows, step)))
    out = table.select(["id"]).append_column("prediction", pa.array(np.concatenate(scores)))
    pq.write_table(out, f"{args.out}/p2.parquet")
    return {"records": out.num_rows, "calls": len(scores)}


def _threaded_calls(args: argparse.Namespace, bodies: list[bytes], sm: Any) -> dict[str, Any]:
    """Each thread takes the next body and calls; counts botocore's own retries and lost calls."""
    lock = threading.Lock()
    state = {"next": 0, "retries": 0, "lost": 0, "ok": 0}

    def worker() -> None:
        while True:
            with lock:
                i = state["next"]
                state["next"] += 1
            if i >= len(bodies):
                return
            try:
                response = sm.invoke_endpoint(EndpointName=args.endpoint, ContentType="text/csv", Body=bodies[i])
                response["Body"].read()
                retries, ok, lost = response["ResponseMetadata"].get("RetryAttempts", 0), 1, 0
            except Exception as exc:
                retries = getattr(exc, "response", {}).get("ResponseMetadata", {}).get("RetryAttempts", 0)
                ok, lost = 0, 1
            with lock:
                state["retries"] += retries
                state["ok"] += ok
                state["lost"] += lost

    threads = [threading.Thread(target=worker) for _ in range(args.threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {"calls": state["ok"] + state["lost"], "ok": state["ok"], "retries": state["retries"], "lost": state["lost"]}


def _bodies(args: argparse.Namespace) -> list[bytes]:
    table = pq.ParquetDataset(args.input.replace("*.parquet", "")).read(columns=FEATURES)
    if args.rows:
        table = table.slice(0, args.rows)
    buf = io.BytesIO()
    pacsv.write_csv(table, buf, pacsv.WriteOptions(include_header=False))
    lines = buf.getvalue().splitlines(keepends=True)
    step = args.rows_per_request
    return [b"".join(lines[i : i + step]) for i in range(0, len(lines), step)]


def p3_floor(args: argparse.Namespace) -> dict[str, Any]:
    """The boto3 floor: bodies made up front, then nothing but threads calling invoke_endpoint."""
    bodies = _bodies(args)
    result = _threaded_calls(args, bodies, client(args.url, args.threads))
    return {"records": result["ok"] * args.rows_per_request, **result}


def p4_retry_mode(mode: str) -> Any:
    def run(args: argparse.Namespace) -> dict[str, Any]:
        """The same threaded loop against a capped endpoint, relying on botocore's retry mode."""
        bodies = _bodies(args)
        result = _threaded_calls(args, bodies, client(args.url, args.threads, mode))
        return {"records": result["ok"] * args.rows_per_request, **result}

    return run


def p5_kafka(args: argparse.Namespace) -> dict[str, Any]:
    """Kafka -> Kafka as a user writes it: a consumer, 500-message CSV requests on a thread pool with boto3, one
    JSON prediction produced per message, offsets committed at the end (bounded: what the topic holds now)."""
    from confluent_kafka import Consumer, Producer, TopicPartition

    consumer = Consumer({"bootstrap.servers": args.bootstrap, "group.id": args.group, "enable.auto.commit": False})
    partitions = sorted(consumer.list_topics(args.topic, timeout=10).topics[args.topic].partitions)
    ends: dict[int, int] = {
        p: consumer.get_watermark_offsets(TopicPartition(args.topic, p), timeout=10)[1] for p in partitions
    }
    consumer.assign([TopicPartition(args.topic, p, 0) for p in partitions])
    producer = Producer({"bootstrap.servers": args.bootstrap, "linger.ms": 5, "enable.idempotence": True})
    sm = client(args.url, args.threads)
    features = [f"f{i}" for i in range(4)]

    def score(batch: list[Any]) -> int:
        rows = [json.loads(m.value()) for m in batch]
        body = "\n".join(",".join(str(row[f]) for f in features) for row in rows)
        response = sm.invoke_endpoint(EndpointName=args.endpoint, ContentType="text/csv", Body=body.encode())
        scores = response["Body"].read().split()
        for message, row, value in zip(batch, rows, scores, strict=True):
            producer.produce(args.predictions, json.dumps({"id": row["id"], "prediction": float(value)}), message.key())
        producer.poll(0)
        return len(batch)

    total = sum(ends.values())
    consumed = 0
    with ThreadPoolExecutor(args.threads) as pool:
        futures = []
        while consumed < total:
            batch = [
                m
                for m in consumer.consume(args.rows_per_request, timeout=1.0)
                if m.error() is None and (m.offset() or 0) < ends[m.partition() or 0]
            ]
            consumed += len(batch)
            if batch:
                futures.append(pool.submit(score, batch))
        scored = sum(f.result() for f in futures)
    producer.flush(60)
    consumer.commit(offsets=[TopicPartition(args.topic, p, ends[p]) for p in partitions], asynchronous=False)
    consumer.close()
    return {"records": scored, "calls": len(futures)}


PEERS = {
    "P1": p1_run_inference,
    "P2": p2_script,
    "P3": p3_floor,
    "P4-standard": p4_retry_mode("standard"),
    "P4-adaptive": p4_retry_mode("adaptive"),
    "P5": p5_kafka,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("peer", choices=sorted(PEERS))
    parser.add_argument("--input", default="", help="Parquet glob")
    parser.add_argument("--url", required=True)
    parser.add_argument("--endpoint", default="bench")
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--rows-per-request", type=int, default=500)
    parser.add_argument("--rows", type=int, default=0, help="only the first N rows (0: all)")
    parser.add_argument("--out", default="")
    parser.add_argument("--bootstrap", help="P5: the Kafka cluster")
    parser.add_argument("--topic", help="P5: the input topic")
    parser.add_argument("--predictions", help="P5: the output topic")
    parser.add_argument("--group", default="p5", help="P5: its consumer group")
    args = parser.parse_args()
    print(json.dumps(PEERS[args.peer](args)))


if __name__ == "__main__":
    main()
