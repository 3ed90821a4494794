"""The event loop a worker process's requests run on: one daemon thread, shared by every invoke DoFn of the process.

DoFn threads hand it whole batches (:meth:`WorkerLoop.submit`) and wait on the returned futures; the loop
keeps the requests of all of them in flight at once, under one concurrency limit and one request budget.
"""

from __future__ import annotations

import asyncio
import atexit
import threading
from collections.abc import Callable, Coroutine
from concurrent.futures import Future
from typing import Any, TypeVar

T = TypeVar("T")


class WorkerLoop:
    def __init__(self, name: str = "invoke-loop") -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name=name, daemon=True)
        self._thread.start()
        self._closers: list[Callable[[], Coroutine[Any, Any, None]]] = []
        atexit.register(self.close)  # a worker's loop lives as long as its process: its connections close then

    def on_close(self, closer: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Run ``closer`` on the loop when it closes (a client's connections)."""
        self._closers.append(closer)

    def submit(self, work: Coroutine[Any, Any, T]) -> Future[T]:
        """Run ``work`` on the loop; the future is done when it is."""
        return asyncio.run_coroutine_threadsafe(work, self._loop)

    def run(self, work: Coroutine[Any, Any, T]) -> T:
        """Run ``work`` on the loop and wait for its result (tools and tests; DoFns submit and drain)."""
        return self.submit(work).result()

    def close(self) -> None:
        """Close what registered :meth:`on_close`, then stop the loop."""
        if self._loop.is_closed():
            return
        for closer in self._closers:
            self.run(closer())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()
        atexit.unregister(self.close)
