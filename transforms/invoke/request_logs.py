"""Loggers kept above the level at which they log secrets: no body, custom attribute or credential in a log line.

Apart from the client so that the CLI can apply it at start-up without importing boto3.
"""

from __future__ import annotations

import logging

# botocore logs whole requests (parameters, the canonical request with every header) at DEBUG: bodies and
# custom attributes. Beam's Dataflow client logs every pipeline option at INFO, --s3_secret_access_key too.
_FLOORS = {
    "botocore": logging.INFO,
    "boto3": logging.INFO,
    "urllib3": logging.INFO,
    "apache_beam.runners.dataflow.internal.apiclient": logging.WARNING,
}


def quiet_request_loggers() -> None:
    """Raise each of those loggers to its floor, whatever the job's or the worker's log level."""
    for name, floor in _FLOORS.items():
        logger = logging.getLogger(name)
        if logger.getEffectiveLevel() < floor:
            logger.setLevel(floor)
