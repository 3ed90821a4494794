"""Flink job-server checkpoint options that Beam's Python SDK does not declare.

The Flink job server describes them at submission, but only values given on the command line
reach it that way; declaring them here lets the CLI give them streaming defaults (and stops
Beam from warning that ``--checkpointing_interval`` is unknown).
"""

from __future__ import annotations

from typing import Any

from apache_beam.options.pipeline_options import PipelineOptions

DEFAULT_CHECKPOINTING_INTERVAL_MS = 10_000


class FlinkCheckpointOptions(PipelineOptions):
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
