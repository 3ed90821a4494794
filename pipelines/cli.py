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
import posixpath
import sys
import time
import uuid
from collections.abc import Iterator
from typing import Any

EXIT_OK, EXIT_DEAD_LETTERS, EXIT_CONFIG, EXIT_FAILED = 0, 1, 2, 3
IN_PROCESS_RUNNER = "apache_beam.runners.portability.fn_api_runner.FnApiRunner"

log = logging.getLogger("smscore")


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
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(
        level=os.environ.get("SMSCORE_LOG_LEVEL", "WARNING"), format="%(levelname)s %(name)s: %(message)s"
    )
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
    if args.command == "validate":
        return _guard(lambda: _validate(args), "config")
    return _guard(lambda: _run(args, beam_args), "run")


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
        print(f"smscore: {what} failed: {type(err).__name__}: {err}", file=sys.stderr)
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


def pipeline_options(beam_args: list[str]) -> Any:
    from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions

    options = PipelineOptions(beam_args)
    runner = options.view_as(StandardOptions).runner
    if runner in (None, "DirectRunner"):
        # The DirectRunner would first try Prism, which downloads a binary: run in-process instead.
        options.view_as(StandardOptions).runner = IN_PROCESS_RUNNER
    return options


def _run(args: argparse.Namespace, beam_args: list[str]) -> int:
    import apache_beam as beam
    from apache_beam.io.filesystems import FileSystems

    from pipelines.build import RunContext, build_pipeline
    from pipelines.config import ConfigError, load_job_config, parse_date
    from pipelines.progress import ProgressDisplay
    from pipelines.report import render_summary, write_report
    from transforms.parquet_source import describe_input
    from transforms.sinks import SUCCESS_FILE

    date = parse_date(args.date)
    config = load_job_config(args.config, date, args.overrides)
    source = describe_input(config.source.path)
    if source.schema is None:
        raise ConfigError([f"source.path: {config.source.path} matches no files"])
    run_id = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + uuid.uuid4().hex[:6]
    started = time.monotonic()
    with _embedded_endpoint(config) as config, ProgressDisplay(source.rows, enabled=not args.no_progress) as progress:
        ctx = RunContext(source.schema, run_id, date, progress.address)
        with beam.Pipeline(options=pipeline_options(beam_args)) as p:
            build_pipeline(p, config, ctx)
    elapsed = time.monotonic() - started
    with FileSystems.open(posixpath.join(config.output.predictions, SUCCESS_FILE)) as fh:
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


if __name__ == "__main__":
    sys.exit(main())
