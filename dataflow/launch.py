"""Flex Template entry point: the template's parameters -> ``smscore run --no-wait``; other flags go to Beam.

Dataflow's launcher calls this with ``--config``, ``--date``, ``--overrides`` (``metadata.json``) plus
its own pipeline options (``--project``, ``--region``, ``--temp_location``, ``--job_name``...), which
Beam receives after the config's own ``job.beam_args`` and so win over them. The job is submitted and
this exits without waiting, as Google's Flex Template contract asks; the job writes its report itself.
"""

from __future__ import annotations

import argparse
import sys

from pipelines.cli import main as smscore


def template_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--config", default="configs/dataflow.yaml", help="job config inside the image")
    parser.add_argument("--date", help="partition date YYYY-MM-DD (default: today, UTC)")
    parser.add_argument("--overrides", default="", help="section.key=value pairs separated by ';'")
    return parser


def to_smscore_args(argv: list[str]) -> list[str]:
    args, beam_args = template_parser().parse_known_args(argv)
    # A Flex Template launcher submits the job and exits: waiting for the job would hold the launch open.
    out = ["run", "--config", args.config, "--no-wait"]
    if args.date:
        out += ["--date", args.date]
    for assignment in filter(None, (a.strip() for a in args.overrides.split(";"))):
        out += ["--set", assignment]
    return out + beam_args


if __name__ == "__main__":
    sys.exit(smscore(to_smscore_args(sys.argv[1:])))
