"""The read-only admin pages (filters, attempts, retry and cancel through the
SQL helpers) and the system check on Outpost's schema."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import psycopg
import pytest
from django.core.checks import run_checks
from django.db import connection as django_connection
from django.test import Client

import outpost
from conftest import message_row, wait_status
from outpost.django.conf import REQUIRED_SCHEMA


@pytest.mark.django_db(transaction=True)
def test_admin_lists_filters_shows_attempts_and_retries_and_cancels(daemon: Any, admin_client: Client,
                                                                   conn: psycopg.Connection[Any]) -> None:
    sent = outpost.send_simple_mail("Admin sent", "x", to_user="u-admin", to_address="ann@example.com")
    wait_status(conn, sent, "sent")
    later = datetime.now(timezone.utc) + timedelta(hours=2)
    queued = outpost.send_user_push_message("u-other", "Admin push", run_at=later)

    page = admin_client.get("/admin/outpost/message/", {"status": "sent", "kind": "email", "user": "u-admin"})
    assert page.status_code == 200
    html = page.content.decode()
    link = "/admin/outpost/message/{}/change/"
    assert link.format(sent) in html and link.format(queued) not in html
    html = admin_client.get("/admin/outpost/message/", {"kind": "push"}).content.decode()
    assert link.format(queued) in html and link.format(sent) not in html
    html = admin_client.get("/admin/outpost/message/", {"user": "u-other"}).content.decode()
    assert link.format(queued) in html and link.format(sent) not in html

    detail = admin_client.get(f"/admin/outpost/message/{sent}/change/").content.decode()
    assert "console" in detail and "<td>sent</td>" in detail, "the attempts table"
    assert admin_client.get("/admin/outpost/message/add/").status_code == 403

    response = admin_client.post("/admin/outpost/message/", {"action": "cancel_messages",
                                                             "_selected_action": [queued, sent]}, follow=True)
    assert "1 cancelled, 1 unchanged" in response.content.decode()
    assert message_row(conn, queued)["status"] == "cancelled"
    assert message_row(conn, sent)["status"] == "sent"
    response = admin_client.post("/admin/outpost/message/", {"action": "retry_messages",
                                                             "_selected_action": [queued]}, follow=True)
    assert "1 requeued" in response.content.decode()
    assert message_row(conn, queued)["status"] in ("queued", "sending", "sent", "failed")


@pytest.mark.django_db(databases=["default", "empty"])
def test_the_check_warns_when_the_schema_is_missing_or_older(settings: Any) -> None:
    assert [m.id for m in run_checks(tags=["outpost"])] == []
    with django_connection.cursor() as cur:  # inside the test's transaction, rolled back after
        cur.execute("DELETE FROM outpost.schema_migrations WHERE version = %s", [REQUIRED_SCHEMA])
        cur.execute("SELECT max(version) FROM outpost.schema_migrations")
        (newest,) = cur.fetchone()
    messages = run_checks(tags=["outpost"])
    assert [m.id for m in messages] == ["outpost.W002"]
    assert f"newest migration {newest}, needs {REQUIRED_SCHEMA}" in messages[0].msg
    settings.OUTPOST = {"DATABASE": "empty"}
    messages = run_checks(tags=["outpost"])
    assert [m.id for m in messages] == ["outpost.W001"]
    assert "outpost migrate" in (messages[0].hint or "")


@pytest.mark.django_db
def test_the_app_has_no_pending_django_migration() -> None:
    """The shipped migration describes the unmanaged model exactly, so a
    project's `makemigrations --check` stays clean."""
    from django.core.management import call_command

    call_command("makemigrations", "outpost", "--check", "--dry-run", verbosity=0)
