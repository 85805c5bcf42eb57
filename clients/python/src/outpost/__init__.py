"""Outpost from Python: enqueue e-mail, SMS, voice calls, push and chat
through Outpost's SQL helpers, with the original system's names; read a
message's status; cancel or retry it. Each function returns the message id
(``send_system_message``: the chat message id). ``outpost.aio`` has the
same functions as coroutines; ``outpost.django`` is the Django app."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import ParamSpec

from . import _builders
from ._call import Call, user_id
from ._db import ConfigurationError, execute_id, execute_optional_id, query
from ._options import Attachment, Columns, EmailOptions, Escalation, Fallback, FollowUp, PhoneOptions, PushOptions
from ._sql import load
from ._types import AsyncConnectionArg, Connection, ConnectionArg, Cursor, HasPk, UserRef
from .status import Attempt, Event, MessageStatus, build, latest_attempt

__all__ = [
    "AsyncConnectionArg",
    "Attachment",
    "Attempt",
    "Columns",
    "ConfigurationError",
    "Connection",
    "ConnectionArg",
    "Cursor",
    "EmailOptions",
    "Escalation",
    "Event",
    "Fallback",
    "FollowUp",
    "HasPk",
    "MessageStatus",
    "PhoneOptions",
    "PushOptions",
    "UserRef",
    "cancel",
    "inbox_token",
    "retry",
    "send_mail_template",
    "send_simple_mail",
    "send_system_message",
    "send_system_message_template",
    "send_user_push_message",
    "status",
]

P = ParamSpec("P")


def _sync(builder: Callable[P, Call]) -> Callable[P, int]:
    def run(*args: P.args, **kwargs: P.kwargs) -> int:
        return execute_id(builder(*args, **kwargs))

    run.__name__ = builder.__name__
    run.__qualname__ = builder.__qualname__
    run.__doc__ = builder.__doc__
    return run


send_mail_template = _sync(_builders.send_mail_template)
send_simple_mail = _sync(_builders.send_simple_mail)
send_user_push_message = _sync(_builders.send_user_push_message)
send_system_message = _sync(_builders.send_system_message)
send_system_message_template = _sync(_builders.send_system_message_template)


def _ttl(ttl: timedelta | str) -> str:
    """A token lifetime as a PostgreSQL interval."""
    if isinstance(ttl, timedelta):
        return f"{ttl.total_seconds()} seconds"
    return ttl


def inbox_token(user: UserRef, ttl: timedelta | str = timedelta(hours=1), *,
                connection: ConnectionArg = None) -> str:
    """A token for ``user``'s real-time inbox (``GET /inbox/stream`` and the
    JSON endpoints), valid for ``ttl`` (at most 7 days): ``outpost.inbox_token``."""
    rows = query(load("inbox_token"), {"user_id": user_id(user), "ttl": _ttl(ttl)}, connection)
    return str(rows[0]["token"])


def cancel(message_id: int, *, connection: ConnectionArg = None) -> int | None:
    """Cancels a queued message: its id, or None when it was no longer queued."""
    return execute_optional_id(_builders.cancel(message_id, connection=connection))


def retry(message_id: int, extra_attempts: int = 3, *, connection: ConnectionArg = None) -> int | None:
    """Requeues a failed/expired/cancelled/bounced/suppressed message with
    ``extra_attempts`` more attempts: its id, or None when it cannot be retried."""
    return execute_optional_id(_builders.retry(message_id, extra_attempts, connection=connection))


def status(message_id: int, *, connection: ConnectionArg = None) -> MessageStatus | None:
    """The message with its attempts and events, or None when there is no such message."""
    params = {"id": int(message_id)}
    rows = query(load("status"), params, connection)
    if not rows:
        return None
    attempts = (query(load("status_attempts"), params, connection) if rows[0]["can_read_attempts"]
                else latest_attempt(rows[0]))
    return build(rows[0], attempts, query(load("status_events"), params, connection))
