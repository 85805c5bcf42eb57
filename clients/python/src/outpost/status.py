"""A message's state as Outpost recorded it: `outpost.message_status` with
every attempt and provider event."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Attempt:
    """One delivery attempt (a row of ``outpost.attempts``)."""

    attempt: int
    worker: str
    provider: str | None
    outcome: str
    """``sent``, ``retry``, ``failed`` or ``unknown`` (the message may have been sent)."""
    started_at: datetime
    finished_at: datetime | None
    provider_code: str | None
    error: str | None
    provider_message_id: str | None
    applied: bool
    note: str | None


@dataclass(frozen=True)
class Event:
    """A provider report about the message (delivered, bounce, open, ...)."""

    id: int
    provider: str
    event: str
    provider_event_id: str | None
    provider_message_id: str | None
    payload: dict[str, Any]
    occurred_at: datetime | None
    received_at: datetime


@dataclass(frozen=True)
class MessageStatus:
    """A message with its attempts and events."""

    id: int
    kind: str
    status: str
    to_user: str | None
    to_address: str | None
    tenant: str | None
    template: str | None
    subject: str | None
    attempt_count: int
    max_attempts: int | None
    provider_message_id: str | None
    last_error: str | None
    created_at: datetime
    run_at: datetime
    expires_at: datetime | None
    sent_at: datetime | None
    finished_at: datetime | None
    updated_at: datetime
    attempts: tuple[Attempt, ...]
    """Every attempt; only the latest (from ``outpost.message_status``) when the
    role may not read ``outpost.attempts`` (``outpost_app``)."""
    events: tuple[Event, ...]


def latest_attempt(row: dict[str, Any]) -> list[dict[str, Any]]:
    """The latest attempt as ``outpost.message_status`` shows it (for roles
    that may not read ``outpost.attempts``)."""
    if row.get("last_attempt") is None:
        return []
    return [{"attempt": row["last_attempt"], "worker": row["last_worker"], "provider": row["last_provider"],
             "outcome": row["last_outcome"], "started_at": row["last_attempt_started_at"],
             "finished_at": row["last_attempt_finished_at"], "provider_code": None,
             "error": row["last_attempt_error"], "provider_message_id": None, "applied": True,
             "note": row["last_attempt_note"]}]


def build(row: dict[str, Any], attempts: list[dict[str, Any]], events: list[dict[str, Any]]) -> MessageStatus:
    def payload(value: Any) -> dict[str, Any]:
        return json.loads(value) if isinstance(value, (str, bytes)) else dict(value or {})

    return MessageStatus(
        id=row["id"],
        kind=row["kind"],
        status=row["status"],
        to_user=row["to_user"],
        to_address=row["to_address"],
        tenant=row["tenant"],
        template=row["template"],
        subject=row["subject"],
        attempt_count=row["attempts"],
        max_attempts=row["max_attempts"],
        provider_message_id=row["provider_message_id"],
        last_error=row["last_error"],
        created_at=row["created_at"],
        run_at=row["run_at"],
        expires_at=row["expires_at"],
        sent_at=row["sent_at"],
        finished_at=row["finished_at"],
        updated_at=row["updated_at"],
        attempts=tuple(Attempt(**a) for a in attempts),
        events=tuple(Event(**{**e, "payload": payload(e["payload"])}) for e in events),
    )
