"""Stateful sessions: NEW_SESSION opens one pinned to an instance, later calls stick to it."""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from local_endpoint.protocol import validation_error


@dataclass(frozen=True, kw_only=True)
class Session:
    id: str
    endpoint: str
    variant: str
    instance: int
    expires_at: float


class SessionStore:
    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._sessions: dict[str, Session] = {}

    def open(self, endpoint: str, variant: str, instance: int, ttl_seconds: float) -> Session:
        session = Session(
            id=uuid.uuid4().hex,
            endpoint=endpoint,
            variant=variant,
            instance=instance,
            expires_at=self._clock() + ttl_seconds,
        )
        self._sessions[session.id] = session
        return session

    def get(self, endpoint: str, session_id: str) -> Session:
        session = self._sessions.get(session_id)
        if session is None or session.endpoint != endpoint:
            raise validation_error(f"Invalid session ID {session_id}: the session does not exist or was closed.")
        if session.expires_at < self._clock():
            del self._sessions[session_id]
            raise validation_error(f"Invalid session ID {session_id}: the session has expired.")
        return session

    def close(self, session_id: str) -> None:
        self._sessions.pop(session_id, None)


def new_session_header(session: Session) -> str:
    expires = dt.datetime.fromtimestamp(session.expires_at, dt.UTC)
    return f"{session.id}; Expires={expires.strftime('%Y-%m-%dT%H:%M:%SZ')}"
