"""Bind's Test button: one tiny chat request, mapped to online / offline / error with the reason.

The result is kept locally (`connection_checks`: time of the last check and its error) and the
connection's synced `status` column is updated only when it changes, so a re-test that finds the same
state causes no sync traffic.

A Console turn is a check too (`record_turn`, called by agent.chat.turn for the window and `mirari chat`):
a reply that arrives sets the connection online, a failed call sets it offline or error by the same
rules (`result_of`), so the status never says "Online" about an endpoint that just refused a turn.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session

from agent.llm import errors
from agent.llm.client import CancelToken, LLMClient
from agent.llm.errors import LLMError
from local_schema.database import LocalDatabase
from local_schema.models import AgentConnection, ConnectionCheck
from local_schema.timestamps import utc_now

ONLINE, OFFLINE, ERROR = "online", "offline", "error"
_OFFLINE_KINDS = {errors.OFFLINE, errors.TIMEOUT}


@dataclass(frozen=True)
class CheckResult:
    status: str  # online | offline | error
    reason: str  # one sentence for the user ("" when online)
    checked_at: str  # UTC timestamp, server format
    kind: str | None = None  # LLMError kind when not online
    http_status: int | None = None


def check_connection(base_url: str, model: str, api_key: str | None = "", *, timeout: float = 10.0,
                     cancel: CancelToken | None = None) -> CheckResult:
    """Send one user message with max_tokens 1 and classify the outcome (blocking; run off the UI thread).

    Reachable with a 2xx chat reply -> online; cannot connect, DNS failure, timeout -> offline;
    any HTTP error or a reply that is not an OpenAI chat completion -> error.
    """
    try:
        with LLMClient(base_url, model, api_key, connect_timeout=timeout, read_timeout=timeout,
                       max_retry_wait=0) as client:
            for _ in client.stream_chat([{"role": "user", "content": "ping"}], max_tokens=1, stream=False,
                                        cancel=cancel):
                pass
    except LLMError as err:
        return result_of(err)
    if cancel is not None and cancel.cancelled:
        return CheckResult(ERROR, "The test was cancelled.", utc_now(), "cancelled")
    return result_of(None)


def result_of(err: LLMError | None) -> CheckResult:
    """The status a call's outcome means: no error -> online; cannot connect, DNS, timeout -> offline;
    any other failure of the endpoint (HTTP error, a reply that is not a chat completion) -> error."""
    if err is None:
        return CheckResult(ONLINE, "", utc_now())
    status = OFFLINE if err.kind in _OFFLINE_KINDS else ERROR
    return CheckResult(status, err.message, utc_now(), err.kind, err.status)


def record_check(db: LocalDatabase, connection_id: str, result: CheckResult, *,
                 missing_ok: bool = False) -> bool:
    """Store the outcome: connection status (if changed) and the local last-check row, in one write.
    Returns whether the synced status changed. A deleted connection is a ValueError, or with
    `missing_ok` nothing is stored."""
    with db.write() as session:
        connection = session.get(AgentConnection, connection_id)
        if connection is None or connection.deleted_at is not None:
            if missing_ok:
                return False
            raise ValueError("That connection no longer exists.")
        changed = connection.status != result.status
        if changed:
            connection.status = result.status
            session.add(connection)
        check = session.get(ConnectionCheck, connection_id) or ConnectionCheck(connection_id=connection_id,
                                                                               status=result.status)
        check.status, check.checked_at, check.error = result.status, result.checked_at, result.reason or None
        session.add(check)
    return changed


def record_turn(db: LocalDatabase, connection_id: str, err: LLMError | None) -> bool:
    """A chat call's outcome as the connection's status (`err` None: a reply arrived). Returns whether
    the synced status changed; a connection deleted meanwhile is left alone."""
    return record_check(db, connection_id, result_of(err), missing_ok=True)


def last_check_in(session: Session, connection_id: str) -> ConnectionCheck | None:
    return session.get(ConnectionCheck, connection_id)


def check_and_record(db: LocalDatabase, connection_id: str, api_key: str | None = "", *, timeout: float = 10.0) -> CheckResult:
    """Convenience for the GUI worker: read the connection, check it, store the result."""
    with db.session() as session:
        connection = session.get(AgentConnection, connection_id)
        if connection is None:
            raise ValueError("That connection no longer exists.")
        base_url, model = connection.base_url, connection.model
    result = check_connection(base_url, model, api_key, timeout=timeout)
    record_check(db, connection_id, result)
    return result
