"""The worker process's cyclic garbage collector, set once for the scoring path's allocation pattern."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

GEN0_THRESHOLD = 10_000


def collect_less_often() -> None:
    """Collect the youngest generation after 10,000 net container allocations instead of CPython's 700.

    A poll batch or table of thousands of rows gets a list or tuple per row in a few C-level passes (message
    columns, output headers): at 700 the collector runs every few hundred rows and traverses whatever is
    young and alive, which cost more than the passes themselves (BENCHMARKS.md). The older generations keep
    CPython's ratios, so cyclic garbage is still collected; a higher threshold set by the user is kept.
    """
    first, *older = gc.get_threshold()
    if 0 < first < GEN0_THRESHOLD:  # 0: the user turned collection off
        gc.set_threshold(GEN0_THRESHOLD, *older)


@contextlib.contextmanager
def loading_modules() -> Iterator[None]:
    """Import with the collector off, then set what the imports made aside (``gc.freeze``).

    A job imports Beam, pyarrow, gRPC and their kin: hundreds of thousands of objects that live as long as the
    process. Collecting among them while they load finds nothing and slows start-up (BENCHMARKS.md), and every
    later full collection would traverse them again.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        collect_less_often()
        if enabled:
            gc.enable()
