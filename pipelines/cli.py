"""``smscore``: run and validate scoring jobs, serve the local endpoint, make sample data.

Unknown flags go to Beam's PipelineOptions unchanged (``--runner``, ``--flink_master``...).
"""

from __future__ import annotations

import argparse
import atexit
import json
import logging
import os
import sys
from typing import NoReturn

from pipelines.exits import EXIT_OK, configure_logging, guard


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
    run.add_argument(
        "--fresh",
        action="store_true",
        help="score every input again, discarding what an unfinished run of this date finished (else it resumes)",
    )
    run.add_argument(
        "--no-wait",
        action="store_true",
        help="submit the job and exit without waiting for it (a remote runner; the job writes its own report)",
    )
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
    configure_logging()
    parser = build_parser()
    args, beam_args = parser.parse_known_args(argv)
    if args.command != "run" and beam_args:
        parser.error(f"unrecognized arguments: {' '.join(beam_args)}")
    if args.command == "endpoint":
        return guard(lambda: _serve(args), "endpoint")
    if args.command == "sample-data":
        from pipelines.sample_data import write_sample

        paths = write_sample(args.out, args.rows, args.features, args.files)
        print(f"wrote {args.rows:,} rows to {len(paths)} files in {args.out}")
        return EXIT_OK
    if args.command == "sample-kafka":
        return guard(lambda: _produce(args), "sample-kafka")
    if args.command == "validate":
        return guard(lambda: _validate(args), "config")
    return guard(lambda: _run(args, beam_args), "run")


def _serve(args: argparse.Namespace) -> int:
    from local_endpoint.cli import require_server, run_serve

    require_server()
    return run_serve(args)


def _produce(args: argparse.Namespace) -> int:
    from pipelines.sample_data import produce_sample

    n = produce_sample(args.bootstrap, args.topic, args.messages, start=args.start)
    print(f"produced {n:,} messages to {args.topic} on {args.bootstrap}")
    return EXIT_OK


def _validate(args: argparse.Namespace) -> int:
    from pipelines.config import load_job_config

    config = load_job_config(args.config, args.date, args.overrides)
    print(json.dumps(config.model_dump(mode="json"), indent=2))
    return EXIT_OK


def _run(args: argparse.Namespace, beam_args: list[str]) -> int:
    from transforms.core.collector import loading_modules

    with loading_modules():
        from pipelines.run import RunRequest, run

    return run(
        RunRequest(
            config=args.config,
            date=args.date,
            overrides=args.overrides,
            report=args.report,
            progress=not args.no_progress and not args.no_wait,
            beam_args=beam_args,
            wait=not args.no_wait,
            fresh=args.fresh,
        )
    )


def entry() -> NoReturn:
    """The ``smscore`` command: :func:`main`, then an exit that skips tearing down the interpreter.

    A job loads thousands of modules (Beam's, its IO connectors', gRPC's); unloading them at exit takes a
    noticeable share of a short run's wall time and does nothing for the user. Exit handlers still run and
    every stream is flushed; every output is already closed and published when :func:`main` returns.
    """
    code = main()
    atexit._run_exitfuncs()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    entry()
