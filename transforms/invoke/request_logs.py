"""Request logs that never reach DEBUG: no body, custom attribute or credential in a log line.

Apart from the client so that the CLI can apply it at start-up without importing boto3.
"""

from __future__ import annotations

import logging

# botocore logs whole requests (parameters, the canonical request with every header) at DEBUG: bodies and
# custom attributes. These loggers never go below INFO, whatever the job's or the worker's log level.
_REQUEST_LOGGERS = ("botocore", "boto3", "urllib3")


def quiet_request_loggers() -> None:
    for name in _REQUEST_LOGGERS:
        logger = logging.getLogger(name)
        if logger.getEffectiveLevel() < logging.INFO:
            logger.setLevel(logging.INFO)
