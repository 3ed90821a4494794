"""Failpoints: named places where a test makes the job fail, through the environment, to prove recovery.

``SMSCORE_FAILPOINTS=name:count[,name:count...]`` makes the first ``count`` passes of a process through
``failpoint(name)`` raise :class:`InjectedFailure`. Unset, as outside such tests, a pass costs one lookup.
"""

from __future__ import annotations

import os
import threading

_lock = threading.Lock()
_passes: dict[str, int] = {}


class InjectedFailure(RuntimeError):
    """Raised where a test asked for a failure (``SMSCORE_FAILPOINTS``)."""


def _armed() -> dict[str, int]:
    spec = os.environ.get("SMSCORE_FAILPOINTS", "")
    return {name: int(count) for name, _, count in (item.partition(":") for item in spec.split(",") if item)}


def failpoint(name: str) -> None:
    if "SMSCORE_FAILPOINTS" not in os.environ:
        return
    limit = _armed().get(name, 0)
    with _lock:
        seen = _passes[name] = _passes.get(name, 0) + 1
    if seen <= limit:
        raise InjectedFailure(f"failpoint {name} ({seen} of {limit})")
