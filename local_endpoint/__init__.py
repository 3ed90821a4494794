"""A local, SageMaker-Runtime-compatible endpoint: the embedded default and the test peer.

Names load on first use, so ``smscore`` (which only needs the CLI arguments) does not import
the HTTP server.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "LocalEndpoint": "local_endpoint.server",
    "running": "local_endpoint.server",
    "ServerConfig": "local_endpoint.config",
    "default_config": "local_endpoint.config",
    "load_config": "local_endpoint.config",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'local_endpoint' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
