"""How a command ends: exit statuses, and every known failure told in one line, never a bare traceback."""

from __future__ import annotations

import logging
import os
import re
import sys
import warnings
from collections.abc import Callable

from transforms.invoke.request_logs import quiet_request_loggers

EXIT_OK, EXIT_DEAD_LETTERS, EXIT_CONFIG, EXIT_FAILED = 0, 1, 2, 3

log = logging.getLogger("smscore")
_TRACEBACK = "Traceback (most recent call last)"
_EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*: ")  # "module.Name: message", as a traceback ends
# Beam warns on import, through the root logger, that its BigQuery client is missing where the gcp extra is not
# installed: a job that does not use BigQuery has nothing to do about it.
_IMPORT_NOISE = ("apitools not found, and bigquery client libraries are not available",)


def configure_logging() -> None:
    """SMSCORE_LOG_LEVEL (default WARNING); below DEBUG, logged tracebacks are dropped (see :func:`guard`)."""
    # Google's client libraries (Beam's gcp extra) warn about Python versions on import; not our users' concern.
    warnings.filterwarnings("ignore", category=FutureWarning, module=r"google\.")
    level = os.environ.get("SMSCORE_LOG_LEVEL", "WARNING")
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    quiet_request_loggers()  # at DEBUG too: no request body, custom attribute or credential in a log line
    for handler in logging.getLogger().handlers:
        handler.addFilter(lambda record: not str(record.msg).startswith(_IMPORT_NOISE))
    if level.upper() != "DEBUG":
        for handler in logging.getLogger().handlers:
            handler.addFilter(without_traceback)
        # Beam warns when it kills the runner it started (Prism) after a failure we already told in one line.
        logging.getLogger("apache_beam.utils.subprocess_server").setLevel(logging.ERROR)


def without_traceback(record: logging.LogRecord) -> bool:
    """Beam's runners and workers log a failure's traceback, some more than once, then raise it; guard
    reports it in one line, so below DEBUG those logs are noise."""
    return record.exc_info is None and _TRACEBACK not in record.getMessage()


def one_line(err: BaseException) -> str:
    """The failure as one line. A portable runner's error holds the worker's whole traceback as text;
    its last exception line is the cause."""
    lines = str(err).strip().splitlines()
    if len(lines) > 1 and _TRACEBACK in lines[0]:
        causes = [line for line in lines if _EXCEPTION_LINE.match(line)]
        if causes:
            return causes[-1]
    return f"{type(err).__name__}: {lines[0] if lines else ''}"


def guard(fn: Callable[[], int], what: str) -> int:
    """Known failures become one clear message and an exit status, never a bare traceback."""
    from pydantic import ValidationError  # here, not at import: `smscore endpoint serve` needs no config models

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
        print(f"smscore: {what} failed: {one_line(err)}", file=sys.stderr)
        print("  nothing was published for this run; SMSCORE_LOG_LEVEL=DEBUG shows the traceback", file=sys.stderr)
        return EXIT_FAILED
