"""Flink job-server options that Beam's Python SDK does not declare.

The portable runner sends the job server only options some ``PipelineOptions`` class
declares, so declaring them here is what lets ``--finish_bundle_before_checkpointing``
reach Flink.
"""

from __future__ import annotations

from typing import Any

from apache_beam.options.pipeline_options import PipelineOptions


class FlinkCheckpointOptions(PipelineOptions):
    @classmethod
    def _add_argparse_args(cls, parser: Any) -> None:
        parser.add_argument(
            "--finish_bundle_before_checkpointing",
            type=lambda v: str(v).lower() in ("1", "true", "yes"),
            default=None,
            help="finish bundles before a Flink checkpoint (default true for streaming jobs)",
        )
