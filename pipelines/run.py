"""``smscore run``: preflight, the embedded endpoint if asked for, the pipeline, the summary and the verdict."""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import signal
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from pipelines.build import RunContext, build_pipeline
from pipelines.config import JobConfig, load_job_config, parse_date
from pipelines.exits import EXIT_DEAD_LETTERS, EXIT_FAILED, EXIT_OK
from pipelines.options import pipeline_options, request_budget, shares_local_files, worker_processes
from pipelines.preflight import check_outputs_writable, check_shared_locations, describe_source
from pipelines.progress_display import ProgressDisplay
from pipelines.report import read_report, render_summary, report_location, write_report
from pipelines.resume import plan_resumption, resumable
from transforms.invoke.client import StaticCredentials

STATE_SAMPLING_PERIOD_MS = 10  # the longest sleep of a local worker's step-timing thread (Beam's is 200)


@dataclass(frozen=True, kw_only=True)
class RunRequest:
    """What ``smscore run`` was asked: the config, the date, overrides, where to copy the report, Beam flags."""

    config: str
    date: str | None
    overrides: list[str]
    report: str | None
    progress: bool
    beam_args: list[str]
    wait: bool = True  # False: submit and exit (a Flex Template launcher must not wait for its job)
    fresh: bool = False  # discard what an unfinished run of the same date, config and inputs finished


@dataclass(frozen=True)
class _Endpoint:
    config: JobConfig  # pointing at the embedded endpoint when one was started
    credentials: StaticCredentials | None


@contextlib.contextmanager
def _embedded_endpoint(config: JobConfig) -> Iterator[_Endpoint]:
    """Start the bundled endpoint when the config asks for it; its keys go to the client, not the environment."""
    if not config.local_endpoint.enabled or config.endpoint.endpoint_url:
        yield _Endpoint(config, None)
        return
    from local_endpoint.cli import endpoint_process

    with endpoint_process(config.local_endpoint.config) as handle:
        print(f"local endpoint: {handle.url}", file=sys.stderr)
        endpoint = config.endpoint.model_copy(update={"endpoint_url": handle.url})
        yield _Endpoint(
            config.model_copy(update={"endpoint": endpoint}),
            StaticCredentials(handle.access_key_id, handle.secret_access_key),
        )


def run(request: RunRequest) -> int:
    _quiet_worker_prints()
    short_state_sampling()
    date = parse_date(request.date)
    config = load_job_config(request.config, date, request.overrides)
    options = pipeline_options([*config.job.beam_args, *request.beam_args], config.streaming)
    FileSystems.set_options(options)  # s3:// and gs:// need their options before the input is listed
    budget = request_budget(config, options)
    check_shared_locations(config, shares_local_files(options))
    facts = describe_source(config)
    run_id = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + uuid.uuid4().hex[:6]
    resumption = plan_resumption(config, date, facts.shard_rows, request.fresh) if resumable(config) else None
    check_outputs_writable(config, resumption.key if resumption else run_id)
    total = resumption.remaining_rows if resumption else facts.total
    started = time.monotonic()
    with _embedded_endpoint(config) as endpoint, ProgressDisplay(total, enabled=request.progress) as progress:
        config = endpoint.config
        ctx = RunContext(
            input_schema=facts.schema,
            run_id=run_id,
            date=date,
            resumption=resumption,
            progress_address=progress.address,
            partitions=facts.partitions,
            planned_at_ms=facts.planned_at_ms,
            credentials=endpoint.credentials,
            requests_per_second=budget,
            one_worker=worker_processes(options) == 1,
        )
        if not request.wait:
            return _submit(config, ctx, options)
        if config.streaming:
            return _run_until_stopped(config, ctx, options)
        with beam.Pipeline(options=options) as p:
            build_pipeline(p, config, ctx)
    return _verdict(config, request, time.monotonic() - started)


def _quiet_worker_prints() -> None:
    """Beam's SDK worker prints a failed bundle's traceback to stderr besides logging it. With LOOPBACK that
    worker is this process, and its prints, some after the runner gives up, would bury the one-line verdict.
    Below DEBUG they go; the log record (dropped with the other tracebacks, shown at DEBUG) stays."""
    if logging.getLogger().getEffectiveLevel() <= logging.DEBUG:
        return
    from apache_beam.runners.worker import sdk_worker

    sdk_worker.print = lambda *_args, **_kwargs: None  # type: ignore[attr-defined]  # that module only


def short_state_sampling(period_ms: int = STATE_SAMPLING_PERIOD_MS) -> None:
    """Beam's SDK worker times each step with a sampling thread per bundle that sleeps up to 200 ms between
    samples, and a bundle ends only when that thread has woken and exited: up to 200 ms, on average half,
    added to every bundle longer than a second, the end of a batch run and each streaming bundle included.
    The worker of a local run (in-process, Prism's LOOPBACK) is this process; its samplers sleep at most
    ``period_ms``. The thread samples without the GIL, so a shorter sleep costs no Python time."""
    from apache_beam.runners.worker import statesampler

    init = statesampler.StateSampler.__init__
    if init.__defaults__ == (statesampler.DEFAULT_SAMPLING_PERIOD_MS,):  # Beam's signature as read; else leave it
        init.__defaults__ = (period_ms,)


def _submit(config: JobConfig, ctx: RunContext, options: Any) -> int:
    """Submit the job and return at once; the job itself writes its report where the launcher can read it."""
    p = beam.Pipeline(options=options)
    build_pipeline(p, config, ctx)
    result = p.run()
    job_id = result.job_id() if hasattr(result, "job_id") else None
    where = "" if config.streaming else f"; its report: {report_location(config)}"
    print(f"smscore: submitted job {job_id or options.get_all_options().get('job_name') or ''}{where}".rstrip())
    return EXIT_OK


def _verdict(config: JobConfig, request: RunRequest, elapsed: float) -> int:
    """Print the summary, copy the report, and turn the run's counts into an exit status."""
    report = read_report(config)
    report["elapsed_seconds"] = round(elapsed, 3)
    report["outputs"] = {"predictions": config.output.predictions, "dead letters": config.output.dead_letters}
    print(render_summary(report, elapsed))
    if request.report:
        write_report(report, request.report)
        print(f"  report        {request.report}")
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


def _run_until_stopped(config: JobConfig, ctx: RunContext, options: Any) -> int:
    """Run a streaming job until SIGINT/SIGTERM, then cancel it; committed offsets say where to resume."""
    p = beam.Pipeline(options=options)
    build_pipeline(p, config, ctx)
    result = p.run()

    def stop(signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    # Replaces Beam's own Ctrl-C handler, which stops the job server (Prism) under the running workers first:
    # they would die mid-stream, each printing a traceback. Here the job is cancelled, then the server stops.
    signal.signal(signal.SIGINT, stop)
    try:
        result.wait_until_finish()
    except KeyboardInterrupt:
        print("\nsmscore: stopping the stream; uncommitted records are read again by the next run", file=sys.stderr)
        # The in-process workers' gRPC threads die with the runner; their farewells are noise.
        threading.excepthook = lambda _args: None
        # Every library's farewell too (Prism's "Bundle Failed ... pipeline canceled" comes through a logger
        # Beam sets to INFO itself): the stop is told in one line.
        logging.disable(logging.ERROR)
        with contextlib.suppress(Exception):
            result.cancel()
    return EXIT_OK
