"""Beam pipeline options for a job, and what they imply: a local runner that never downloads anything,
streaming defaults, and how many worker processes share the job's request budget.

Batch runs in-process (Beam's DirectRunner would first try Prism, which downloads a binary); a
stream runs on the Prism binary ``make prism`` built, because the in-process runner never fires
an unbounded source's output.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from apache_beam.options.pipeline_options import (
    DebugOptions,
    DirectOptions,
    FlinkRunnerOptions,
    PipelineOptions,
    PortableOptions,
    PrismRunnerOptions,
    StandardOptions,
    WorkerOptions,
)

from pipelines.config import ConfigError, JobConfig

DEFAULT_CHECKPOINTING_INTERVAL_MS = 10_000
IN_PROCESS_RUNNER = "apache_beam.runners.portability.fn_api_runner.FnApiRunner"
JOB_STREAM_TIMEOUT_S = 30 * 24 * 3600
PRISM = Path(__file__).resolve().parent.parent / ".tools" / "bin" / "prism"
PRISM_NO_SPLITS = "prism_disable_sdf_split"


class FlinkCheckpointOptions(PipelineOptions):
    """Flink job-server checkpoint options that Beam's Python SDK does not declare.

    The Flink job server describes them at submission, but only values given on the command line
    reach it that way; declaring them lets streaming jobs get defaults (and stops Beam from warning
    that ``--checkpointing_interval`` is unknown).
    """

    @classmethod
    def _add_argparse_args(cls, parser: Any) -> None:
        parser.add_argument(
            "--checkpointing_interval",
            type=int,
            default=None,
            help=f"ms between Flink checkpoints; KafkaIO commits offsets at each one "
            f"(default {DEFAULT_CHECKPOINTING_INTERVAL_MS} for streaming jobs)",
        )
        parser.add_argument(
            "--finish_bundle_before_checkpointing",
            type=lambda v: str(v).lower() in ("1", "true", "yes"),
            default=None,
            help="finish bundles before a Flink checkpoint (default true for streaming jobs)",
        )


def pipeline_options(beam_args: list[str], streaming: bool = False) -> PipelineOptions:
    """Beam options from the pass-through flags, with the runner defaults above."""
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
        _use_local_prism(options, log_level_given=any(a.startswith("--prism_log_level") for a in beam_args))
    if standard.runner == "FlinkRunner" and streaming:
        _flink_streaming_defaults(options)
    return options


def _use_local_prism(options: PipelineOptions, *, log_level_given: bool) -> None:
    portable = options.view_as(PortableOptions)
    prism_options = options.view_as(PrismRunnerOptions)
    quiet = not log_level_given and logging.getLogger().getEffectiveLevel() > logging.INFO
    if quiet and hasattr(prism_options, "prism_log_level"):  # Beam 2.62 declares no Prism log level
        prism_options.prism_log_level = "warn"  # its INFO lines bypass our log level
    portable.environment_type = portable.environment_type or "LOOPBACK"
    # Prism splits a bundle that stalls for a tick and frees the keys of the elements it hands back, even keys
    # the primary half still holds: a stateful step (the offset ledger) then runs one key in two bundles at once
    # and loses a state write, and that partition's commits stop for good. Without runner-initiated splits a key
    # stays in one bundle; unbounded reads still checkpoint themselves.
    debug = options.view_as(DebugOptions)
    if PRISM_NO_SPLITS not in (debug.experiments or []):
        debug.experiments = [*(debug.experiments or []), PRISM_NO_SPLITS]
    prism = prism_options.prism_location or os.environ.get("SMSCORE_PRISM", str(PRISM))
    if not os.path.exists(prism):
        raise FileNotFoundError(f"no Prism runner at {prism}: run `make prism` (Go builds it; nothing is downloaded)")
    prism_options.prism_location = prism


def _flink_streaming_defaults(options: PipelineOptions) -> None:
    flink = options.view_as(FlinkCheckpointOptions)
    if flink.checkpointing_interval is None:  # without checkpoints KafkaIO never commits an offset
        flink.checkpointing_interval = DEFAULT_CHECKPOINTING_INTERVAL_MS
    if flink.finish_bundle_before_checkpointing is None:
        # Otherwise a checkpoint stores bundles in flight as state, and KafkaIO commits their offsets
        # (commit_offset_in_finalize) before their outputs exist: a stop then loses them.
        flink.finish_bundle_before_checkpointing = True


def worker_processes(options: PipelineOptions) -> int | None:
    """How many worker processes may score at once under these options; None where the options do not say.

    A process shares one request budget among its threads and DoFn instances, so this is what the
    job-wide ``invoke.max_requests_per_second`` is divided by.
    """
    runner = options.view_as(StandardOptions).runner
    environment = options.view_as(PortableOptions).environment_type
    if runner == IN_PROCESS_RUNNER:
        direct = options.view_as(DirectOptions)
        return direct.direct_num_workers if direct.direct_running_mode == "multi_processing" else 1
    if runner == "PrismRunner" or environment == "LOOPBACK":  # every bundle runs in the launcher's worker
        return 1
    if runner == "FlinkRunner":
        parallelism = options.view_as(FlinkRunnerOptions).parallelism
        return parallelism if parallelism > 0 else None
    if runner == "DataflowRunner":
        return _dataflow_processes(options)
    return None


def _dataflow_processes(options: PipelineOptions) -> int | None:
    """Workers times SDK processes per worker (one per vCPU, unless no_use_multiple_sdk_containers)."""
    workers = options.view_as(WorkerOptions)
    count = workers.max_num_workers or workers.num_workers
    if not count:
        return None
    if "no_use_multiple_sdk_containers" in (options.view_as(DebugOptions).experiments or []):
        return int(count)
    vcpus = _vcpus(workers.machine_type)
    return int(count) * vcpus if vcpus else None


def _vcpus(machine_type: str | None) -> int | None:
    """vCPUs of a Compute Engine machine type: ``n2-standard-8`` -> 8, ``custom-4-16384`` -> 4."""
    if not machine_type:
        return None
    parts = machine_type.rsplit("/", 1)[-1].split("-")
    number = parts[1] if parts[0] == "custom" and len(parts) > 2 else parts[-1]
    return int(number) if number.isdigit() else None


def request_budget(config: JobConfig, options: PipelineOptions) -> float | None:
    """Each worker process's share of ``invoke.max_requests_per_second`` (None: no budget)."""
    cap = config.invoke.max_requests_per_second
    if cap is None:
        return None
    processes = config.invoke.worker_processes or worker_processes(options)
    if processes is None:
        runner = options.view_as(StandardOptions).runner
        raise ConfigError(
            [
                f"invoke.worker_processes: {runner}'s options do not say how many worker processes share "
                "invoke.max_requests_per_second; set it (Dataflow: max_num_workers x vCPUs per worker)"
            ]
        )
    return cap / processes


def shares_local_files(options: PipelineOptions) -> bool:
    """Whether the job's workers see this machine's files: a local runner, or Flink's embedded cluster."""
    runner = options.view_as(StandardOptions).runner
    if runner == "DataflowRunner":
        return False
    if runner == "FlinkRunner":
        master = options.view_as(FlinkRunnerOptions).flink_master
        return master in ("[local]", "[auto]") or master.split(":")[0] in ("localhost", "127.0.0.1")
    return True
