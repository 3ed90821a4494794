"""``smscore``: run and validate scoring jobs, serve the local endpoint, make sample data.

Unknown flags go to Beam's PipelineOptions unchanged (``--runner``, ``--flink_master``...).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import logging
import os
import re
import signal
import sys
import threading
import time
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

EXIT_OK, EXIT_DEAD_LETTERS, EXIT_CONFIG, EXIT_FAILED = 0, 1, 2, 3
IN_PROCESS_RUNNER = "apache_beam.runners.portability.fn_api_runner.FnApiRunner"
JOB_STREAM_TIMEOUT_S = 30 * 24 * 3600
PRISM = Path(__file__).resolve().parent.parent / ".tools" / "bin" / "prism"

log = logging.getLogger("smscore")
_TRACEBACK = "Traceback (most recent call last)"
_EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*: ")  # "module.Name: message", as a traceback ends


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, help="job config YAML (see configs/)")
    parser.add_argument("--date", help="partition date YYYY-MM-DD substituted for {date} (default: today, UTC)")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help="override a config value; repeatable (value parsed as YAML)",
    )


def build_parser() -> argparse.ArgumentParser:
    from local_endpoint.cli import add_serve_arguments

    parser = argparse.ArgumentParser(
        prog="smscore",
        description="Score Parquet or Kafka records against Amazon SageMaker real-time endpoints with Apache Beam.",
        epilog="Flags not listed here are passed to Beam's PipelineOptions (e.g. --runner=FlinkRunner).",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run a scoring job", epilog="Other flags go to Beam's PipelineOptions.")
    _common(run)
    run.add_argument("--report", help="write the JSON run report here (e.g. out/report.json)")
    run.add_argument("--no-progress", action="store_true", help="no progress line on stderr")
    validate = sub.add_parser("validate", help="print the resolved config, or what is wrong with it")
    _common(validate)
    endpoint = sub.add_parser("endpoint", help="the local SageMaker-Runtime-compatible endpoint")
    endpoint_sub = endpoint.add_subparsers(dest="endpoint_command", required=True)
    add_serve_arguments(endpoint_sub.add_parser("serve", help="serve until SIGTERM; prints the URL"))
    sample = sub.add_parser("sample-data", help="write deterministic sample Parquet input")
    sample.add_argument("--out", required=True, help="folder to write part-*.parquet into")
    sample.add_argument("--rows", type=int, default=100_000)
    sample.add_argument("--features", type=int, default=16)
    sample.add_argument("--files", type=int, default=2)
    produce = sub.add_parser("sample-kafka", help="produce deterministic sample JSON messages to a Kafka topic")
    produce.add_argument("--bootstrap", default="127.0.0.1:9092", help="default: %(default)s (make kafka-up)")
    produce.add_argument("--topic", default="scoring-input", help="default: %(default)s")
    produce.add_argument("--messages", type=int, default=10_000)
    produce.add_argument("--start", type=int, default=0, help="first id (continue a topic: pass the count so far)")
    return parser


def main(argv: list[str] | None = None) -> int:
    # Google's client libraries (Beam's gcp extra) warn about Python versions on import; not our users' concern.
    warnings.filterwarnings("ignore", category=FutureWarning, module=r"google\.")
    level = os.environ.get("SMSCORE_LOG_LEVEL", "WARNING")
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    if level.upper() != "DEBUG":
        for handler in logging.getLogger().handlers:
            handler.addFilter(_without_traceback)
    parser = build_parser()
    args, beam_args = parser.parse_known_args(argv)
    if args.command != "run" and beam_args:
        parser.error(f"unrecognized arguments: {' '.join(beam_args)}")
    if args.command == "endpoint":
        from local_endpoint.cli import run_serve

        return _guard(lambda: run_serve(args), "endpoint")
    if args.command == "sample-data":
        from pipelines.sample_data import write_sample

        paths = write_sample(args.out, args.rows, args.features, args.files)
        print(f"wrote {args.rows:,} rows to {len(paths)} files in {args.out}")
        return EXIT_OK
    if args.command == "sample-kafka":
        from pipelines.sample_data import produce_sample

        def produce() -> int:
            n = produce_sample(args.bootstrap, args.topic, args.messages, start=args.start)
            print(f"produced {n:,} messages to {args.topic} on {args.bootstrap}")
            return EXIT_OK

        return _guard(produce, "sample-kafka")
    if args.command == "validate":
        return _guard(lambda: _validate(args), "config")
    return _guard(lambda: _run(args, beam_args), "run")


def _without_traceback(record: logging.LogRecord) -> bool:
    """Beam's runners and workers log a failure's traceback, some more than once, then raise it; _guard
    reports it in one line. Below DEBUG those logs are noise: 18,000 lines for one failed stream."""
    return record.exc_info is None and _TRACEBACK not in record.getMessage()


def _one_line(err: BaseException) -> str:
    """The failure as one line. A portable runner's error holds the worker's whole traceback as text;
    its last exception line is the cause."""
    lines = str(err).strip().splitlines()
    if len(lines) > 1 and _TRACEBACK in lines[0]:
        causes = [line for line in lines if _EXCEPTION_LINE.match(line)]
        if causes:
            return causes[-1]
    return f"{type(err).__name__}: {lines[0] if lines else ''}"


def _guard(fn: Any, what: str) -> int:
    """Known failures become one clear message and an exit status, never a bare traceback."""
    from pydantic import ValidationError

    from pipelines.config import ConfigError, format_validation_error

    try:
        return int(fn())
    except (ConfigError, ValidationError) as err:
        print(f"smscore: {what}: configuration error", file=sys.stderr)
        problems = err.problems if isinstance(err, ConfigError) else format_validation_error(err)
        for problem in problems:
            print(f"  {problem}", file=sys.stderr)
        return EXIT_CONFIG
    except KeyboardInterrupt:
        print(f"smscore: {what}: interrupted; nothing was published for this run", file=sys.stderr)
        return EXIT_FAILED
    except Exception as err:  # the pipeline failed: outputs stay unpublished, say why in one line
        log.debug("%s failed", what, exc_info=True)
        print(f"smscore: {what} failed: {_one_line(err)}", file=sys.stderr)
        print("  nothing was published for this run; SMSCORE_LOG_LEVEL=DEBUG shows the traceback", file=sys.stderr)
        return EXIT_FAILED


def _validate(args: argparse.Namespace) -> int:
    from pipelines.config import load_job_config

    config = load_job_config(args.config, args.date, args.overrides)
    print(json.dumps(config.model_dump(mode="json"), indent=2))
    return EXIT_OK


@contextlib.contextmanager
def _embedded_endpoint(config: Any) -> Iterator[Any]:
    """Start the bundled endpoint when the config asks for it; yield the config pointing at it."""
    if not config.local_endpoint.enabled or config.endpoint.endpoint_url:
        yield config
        return
    from local_endpoint.cli import endpoint_process

    with endpoint_process(config.local_endpoint.config) as handle:
        url = handle.url
        # The local endpoint accepts its own test credentials; never send real ones to it.
        os.environ["AWS_ACCESS_KEY_ID"] = "test"
        os.environ["AWS_SECRET_ACCESS_KEY"] = "test"
        os.environ.pop("AWS_SESSION_TOKEN", None)
        print(f"local endpoint: {url}", file=sys.stderr)
        yield config.model_copy(update={"endpoint": config.endpoint.model_copy(update={"endpoint_url": url})})


def pipeline_options(beam_args: list[str], streaming: bool = False) -> Any:
    """Beam options from the pass-through flags, with a local runner that never downloads anything.

    Batch runs in-process (Beam's DirectRunner would first try Prism, which downloads a binary);
    a stream runs on the Prism binary ``make prism`` built, because the in-process runner
    never fires an unbounded source's output.
    """
    from apache_beam.options.pipeline_options import (
        PipelineOptions,
        PortableOptions,
        PrismRunnerOptions,
        StandardOptions,
    )

    options = PipelineOptions(beam_args)
    standard = options.view_as(StandardOptions)
    if streaming:
        standard.streaming = True
    if standard.runner in (None, "DirectRunner"):
        if not streaming:
            standard.runner = IN_PROCESS_RUNNER
            return options
        standard.runner = "PrismRunner"
    if not any(a.startswith("--job_server_timeout") for a in beam_args):
        # Beam puts this timeout on the job's state stream too: a portable job (Prism, Flink) running
        # longer than it would be reported failed. Jobs run for as long as they need.
        options.view_as(PortableOptions).job_server_timeout = JOB_STREAM_TIMEOUT_S
    if standard.runner == "PrismRunner":
        portable = options.view_as(PortableOptions)
        portable.environment_type = portable.environment_type or "LOOPBACK"
        prism = options.view_as(PrismRunnerOptions).prism_location or os.environ.get("SMSCORE_PRISM", str(PRISM))
        if not os.path.exists(prism):
            raise FileNotFoundError(
                f"no Prism runner at {prism}: run `make prism` (Go builds it; nothing is downloaded)"
            )
        options.view_as(PrismRunnerOptions).prism_location = prism
    if standard.runner == "FlinkRunner" and streaming:
        from pipelines.flink_options import DEFAULT_CHECKPOINTING_INTERVAL_MS, FlinkCheckpointOptions

        flink = options.view_as(FlinkCheckpointOptions)
        if flink.checkpointing_interval is None:  # without checkpoints KafkaIO never commits an offset
            flink.checkpointing_interval = DEFAULT_CHECKPOINTING_INTERVAL_MS
        if flink.finish_bundle_before_checkpointing is None:
            # Otherwise a checkpoint stores bundles in flight as state, and KafkaIO commits their offsets
            # (commit_offset_in_finalize) before their outputs exist: a stop then loses them.
            flink.finish_bundle_before_checkpointing = True
    return options


def _describe_source(config: Any) -> tuple[Any, int | None, list[Any]]:
    """(input schema, records expected or None for a stream, Kafka partition plan)."""
    from pipelines.build import kafka_decoder
    from pipelines.config import ConfigError, KafkaSource
    from transforms.kafka_io import consumer_config, plan_partitions
    from transforms.parquet_source import describe_input

    source = config.source
    if isinstance(source, KafkaSource):
        conf = consumer_config(source.bootstrap_servers, source.group_id, source.consumer)
        bounded = source.mode == "bounded"
        ranges = plan_partitions(conf, source.topic, source.start, source.start_timestamp_ms, bounded)
        total = sum(r.end - r.start for r in ranges) if bounded else None
        return kafka_decoder(source).schema, total, ranges
    found = describe_input(source.path, config.invoke.input_columns([]))
    if found.schema is None:
        raise ConfigError([f"source.path: {source.path} matches no files"])
    return found.schema, found.rows, []


def _run(args: argparse.Namespace, beam_args: list[str]) -> int:
    import apache_beam as beam
    from apache_beam.io.filesystems import FileSystems

    from pipelines.build import RunContext, build_pipeline
    from pipelines.config import KafkaSource, load_job_config, parse_date
    from pipelines.progress import ProgressDisplay
    from pipelines.report import render_summary, write_report
    from transforms.sinks import check_writable

    date = parse_date(args.date)
    config = load_job_config(args.config, date, args.overrides)
    streaming = isinstance(config.source, KafkaSource) and config.source.mode == "streaming"
    options = pipeline_options([*config.job.beam_args, *beam_args], streaming)
    FileSystems.set_options(options)  # s3:// and gs:// need their options before the input is listed
    schema, total, partitions = _describe_source(config)
    run_id = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + uuid.uuid4().hex[:6]
    if config.output.format != "kafka":
        for final in (config.output.predictions, config.output.dead_letters):
            check_writable(final, run_id)
    started = time.monotonic()
    with _embedded_endpoint(config) as config, ProgressDisplay(total, enabled=not args.no_progress) as progress:
        ctx = RunContext(schema, run_id, date, progress.address, partitions)
        if streaming:
            return _run_until_stopped(config, ctx, options)
        with beam.Pipeline(options=options) as p:
            build_pipeline(p, config, ctx)
    elapsed = time.monotonic() - started
    with FileSystems.open(config.report_location) as fh:
        report = json.load(fh)
    report["elapsed_seconds"] = round(elapsed, 3)
    report["outputs"] = {"predictions": config.output.predictions, "dead letters": config.output.dead_letters}
    print(render_summary(report, elapsed))
    if args.report:
        write_report(report, args.report)
        print(f"  report        {args.report}")
    if not report["accounted"]:
        print("smscore: records_in != predictions_out + dead_letters_out", file=sys.stderr)
        return EXIT_FAILED
    fraction = report["dead_letters_out"] / report["records_in"] if report["records_in"] else 0.0
    if fraction > config.job.max_dead_letter_fraction:
        print(
            f"smscore: dead-letter fraction {fraction:.4f} exceeds job.max_dead_letter_fraction "
            f"{config.job.max_dead_letter_fraction}",
            file=sys.stderr,
        )
        return EXIT_DEAD_LETTERS
    return EXIT_OK


def _run_until_stopped(config: Any, ctx: Any, options: Any) -> int:
    """Run a streaming job until SIGINT/SIGTERM, then cancel it; committed offsets say where to resume."""
    import apache_beam as beam

    from pipelines.build import build_pipeline

    p = beam.Pipeline(options=options)
    build_pipeline(p, config, ctx)
    result = p.run()

    def stop(signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    try:
        result.wait_until_finish()
    except KeyboardInterrupt:
        print("\nsmscore: stopping the stream; uncommitted records are read again by the next run", file=sys.stderr)
        # The in-process workers' gRPC threads die with the runner; their farewells are noise.
        threading.excepthook = lambda _args: None
        logging.getLogger("apache_beam").setLevel(logging.CRITICAL)
        with contextlib.suppress(Exception):
            result.cancel()
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
