"""``escalate=`` and ``fallback=`` reach the message's ``options``; the real
daemon sends the fallback of an SMS to a user without a phone, and ends the
follow-up whose condition held."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

import outpost
from conftest import message_row, wait_status
from outpost import tasks


def test_a_bad_escalation_is_refused_by_the_database(conn: psycopg.Connection[Any]) -> None:
    with pytest.raises(psycopg.errors.InvalidParameterValue, match=r"options\.escalate\.unless"):
        outpost.send_simple_mail("s", "b", to_user="py-esc-0", connection=conn,
                                 escalate={"after": "1m", "unless": "seen",  # type: ignore[typeddict-item]
                                           "then": {"kind": "sms", "body": "x"}})


def test_the_fallback_is_sent_and_the_follow_up_moves_to_it(daemon: Any, conn: psycopg.Connection[Any]) -> None:
    conn.execute("INSERT INTO outpost.recipients (user_id, email) VALUES ('py-esc-1', 'esc1@example.com')")
    first = tasks.send_phone_sms(
        "py-esc-1", "Your results are ready (esc-7c1e)", connection=conn,
        fallback={"kind": "email", "subject": "Your results"},
        escalate={"after": "1 hour", "unless": "sent",
                  "then": {"kind": "chat", "body": "Your results are ready"}})
    row = message_row(conn, first)
    assert row["options"]["fallback"] == {"kind": "email", "subject": "Your results"}
    follow_up = row["follow_up"]
    assert message_row(conn, follow_up)["escalated_from"] == first

    failed = wait_status(conn, first, "failed")
    fallback = conn.execute("SELECT id FROM outpost.messages WHERE escalated_from = %s AND kind = 'email'",
                            (first,)).fetchone()
    assert fallback is not None
    assert failed["last_error"] == (
        f'recipient user "py-esc-1" has no phone number for sms messages; sent as email instead '
        f"(message {fallback[0]})")
    wait_status(conn, fallback[0], "sent")
    # The e-mail was sent, which is what the follow-up waited for.
    ended = wait_status(conn, follow_up, "cancelled")
    assert ended["last_error"] == f"cancelled: message {fallback[0]} was sent within 1 hour"
    assert "esc-7c1e" in daemon.output()
