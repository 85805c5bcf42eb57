"""What ``manage.py outpost_inbound`` does: follows ``outpost.inbound_emails``
and ``outpost.events`` from a durable cursor (``outpost.consumer_cursors``)
and fires ``email_received`` and ``message_status`` for each row, once, in id
order (at least once: a crash between a signal and its cursor update repeats
that one row). LISTENs on ``outpost_inbound`` and ``outpost_events`` and polls
as well; reconnects with backoff when the database goes away. Its statements
are the ``outpost/sql/inbound_*.sql``, ``cursor_*.sql`` and ``listen.sql``
files of this package."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from email.parser import HeaderParser
from email.utils import getaddresses
from typing import Any

import psycopg
from django.core.mail import EmailMultiAlternatives
from django.db import connections
from django.dispatch import Signal
from psycopg.rows import TupleRow

from .._sql import load
from .signals import StatusEvent, email_received, message_status

log = logging.getLogger("outpost.inbound")

class InboundEmail(EmailMultiAlternatives):
    """A received e-mail as Django's ``EmailMultiAlternatives`` (``from_email``,
    ``to``, ``cc``, ``subject``, ``body``, ``alternatives`` with the HTML,
    ``attachments`` as (filename, bytes, type)), plus what Outpost stored:
    ``id``, ``message_id``, ``html``, ``headers`` (an ``email.message.Message``),
    ``envelope``, ``sender_ip``, ``spf``, ``dkim``, ``spam_score``,
    ``spam_report``, ``raw_message``, ``received_at`` and
    ``inline_attachments`` (Content-ID → (filename, bytes, type))."""

    def __init__(self, row: dict[str, Any], attachments: list[dict[str, Any]]) -> None:
        def addresses(text: str | None) -> list[str]:
            return [a for _, a in getaddresses([text])] if text else []

        headers = HeaderParser().parsestr(row["headers"] or "")
        super().__init__(
            subject=row["subject"] or "",
            body=row["text_body"] or "",
            from_email=row["from_address"] or "",
            to=[str(t) for t in addresses(row["to_addresses"])],
            cc=[str(c) for c in addresses(row["cc"])],
            reply_to=[a for _, a in getaddresses(headers.get_all("Reply-To") or [])],
        )
        self.id: int = row["id"]
        self.message_id: str | None = row["message_id"]
        self.html: str | None = row["html_body"]
        if self.html:
            self.attach_alternative(self.html, "text/html")
        self.headers = headers
        envelope = row["envelope"]
        self.envelope: dict[str, Any] | None = json.loads(envelope) if isinstance(envelope, str) else envelope
        self.sender_ip: str | None = row["sender_ip"]
        self.spf: str | None = row["spf"]
        self.dkim: str | None = row["dkim"]
        self.spam_score: float | None = row["spam_score"]
        self.spam_report: str | None = row["spam_report"]
        self.raw_message: str | None = row["raw_message"]
        self.received_at = row["received_at"]
        self.mode: str = row["mode"]
        self.inline_attachments: dict[str, tuple[str | None, bytes, str]] = {}
        for a in attachments:
            item = (a["filename"], bytes(a["content"]), a["content_type"] or "application/octet-stream")
            self.attachments.append(item)
            if a["content_id"]:
                self.inline_attachments[a["content_id"].strip("<>")] = item

    def __repr__(self) -> str:
        return f"<InboundEmail {self.id}>"


def _fire(signal: Signal, sender: object, **kwargs: object) -> None:
    """Every receiver runs; one that raises is logged and does not stop the others."""
    for receiver, result in signal.send_robust(sender=sender, **kwargs):
        if isinstance(result, Exception):
            log.error("receiver %s raised %r", getattr(receiver, "__qualname__", receiver), result,
                      exc_info=(type(result), result, result.__traceback__))


def _rows(cur: psycopg.Cursor[TupleRow], sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    cur.execute(sql, params)
    names = [d[0] for d in cur.description or ()]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


class Consumer:
    """Follows both streams for one consumer name."""

    def __init__(self, consumer: str = "django", *, alias: str, poll_interval: float = 5.0,
                 connect: Callable[[], psycopg.Connection[TupleRow]] | None = None) -> None:
        self.consumer = consumer
        self.alias = alias
        self.poll_interval = poll_interval
        self._connect = connect or self._connect_like_django
        self.stopping = False

    def _connect_like_django(self) -> psycopg.Connection[TupleRow]:
        params = connections[self.alias].get_connection_params()
        params = {k: v for k, v in params.items() if k not in ("cursor_factory", "context")}
        return psycopg.connect(**params, autocommit=True)

    def _step(self, conn: psycopg.Connection[TupleRow], stream: str) -> bool:
        """Handles the next row of ``stream``; False when there is none."""
        with conn.transaction(), conn.cursor() as cur:
            place = {"consumer": self.consumer, "stream": stream}
            cur.execute(load("cursor_ensure"), place)
            cur.execute(load("cursor_lock"), place)
            (after,) = cur.fetchone() or (0,)
            if stream == "inbound":
                rows = _rows(cur, load("inbound_next_email"), {"after": after})
                if not rows:
                    return False
                row = rows[0]
                email = InboundEmail(row, _rows(cur, load("inbound_attachments"), {"id": row["id"]}))
                _fire(email_received, InboundEmail, email=email)
            else:
                rows = _rows(cur, load("inbound_next_event"), {"after": after})
                if not rows:
                    return False
                row = rows[0]
                payload = row["payload"]
                update = StatusEvent(
                    provider=row["provider"], message_id=row["message_id"], status=row["status"],
                    event=row["event"], event_id=row["id"], provider_event_id=row["provider_event_id"],
                    occurred_at=row["occurred_at"],
                    payload=json.loads(payload) if isinstance(payload, str) else payload)
                _fire(message_status, update.provider, status_event=update, **update.legacy_kwargs())
            cur.execute(load("cursor_advance"), {**place, "last_id": row["id"]})
            return True

    def drain(self, conn: psycopg.Connection[TupleRow]) -> int:
        """Handles every settled row of both streams; returns how many."""
        done = 0
        for stream in ("inbound", "events"):
            while not self.stopping and self._step(conn, stream):
                done += 1
        return done

    def run(self, *, once: bool = False) -> None:
        """Runs until ``stopping`` is set (or, with ``once``, until caught up)."""
        backoff = 0.5
        while not self.stopping:
            try:
                with self._connect() as conn:
                    conn.execute(load("listen"))
                    log.info("outpost_inbound: listening as %s", self.consumer)
                    backoff = 0.5
                    while not self.stopping:
                        done = self.drain(conn)
                        if once and done == 0:
                            return
                        # Wake on a NOTIFY, or poll (rows whose NOTIFY was missed,
                        # or that were not settled yet).
                        timeout = 0.2 if done else self.poll_interval
                        for _ in conn.notifies(timeout=timeout, stop_after=1):
                            pass
            except psycopg.OperationalError as e:
                if self.stopping:
                    return
                log.warning("outpost_inbound: database unavailable (%s); retrying in %.1fs", e, backoff)
                time.sleep(backoff)
                backoff = min(backoff * 2, 10.0)
