"""The seed-named functions produce the rows their SQL helpers produce, with
every common option; connections: a psycopg one, Django's (joining the
caller's transaction), and OUTPOST_DATABASE_URL / DATABASE_URL outside Django."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace
from typing import Any, TypedDict

import psycopg
import pytest
from django.contrib.auth.models import User
from django.db import connection as django_connection
from django.db import transaction

import outpost
from conftest import message_row, wait_status
from outpost import tasks
from outpost.twilio import TwilioClient

RUN_AT = datetime(2030, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
EXPIRES = RUN_AT + timedelta(days=1)


class Common(TypedDict):
    """The columns every case passes (idempotency_key apart)."""

    run_at: datetime
    expires_at: datetime
    priority: int
    tenant: str
    provider: str
    max_attempts: int


COMMON: Common = {"run_at": RUN_AT, "expires_at": EXPIRES, "priority": 3, "tenant": "t1", "provider": "console",
          "max_attempts": 2}
COMMON_SQL = ("run_at => '2030-01-02T03:04:05+00:00', expires_at => '2030-01-03T03:04:05+00:00', "
              "priority => 3, tenant => 't1', provider => 'console', max_attempts => 2")
IGNORED = {"id", "created_at", "updated_at", "idempotency_key"}

CASES: list[tuple[str, Callable[..., int], str]] = [
    ("send_mail_template",
     lambda c, k: outpost.send_mail_template("welcome", to_user="42", context={"name": "Ann"}, locale="ro",
                                             cc=["cc@example.com"], connection=c, idempotency_key=k, **COMMON),
     "outpost.send_mail_template('welcome', to_user => '42', context => '{\"name\": \"Ann\"}', locale => 'ro', "
     "options => '{\"cc\": [\"cc@example.com\"]}'"),
    ("send_simple_mail",
     lambda c, k: outpost.send_simple_mail("Report ready", "Your report is ready.", [("Open", "https://x.test/r/1")],
                                           to_address="ann@example.com", connection=c, idempotency_key=k, **COMMON),
     "outpost.send_simple_mail('Report ready', 'Your report is ready.', "
     "'[{\"label\": \"Open\", \"url\": \"https://x.test/r/1\"}]', to_address => 'ann@example.com'"),
    ("send_user_push_message",
     lambda c, k: outpost.send_user_push_message(SimpleNamespace(pk=42), "You have a message",
                                                 deep_link="meg://inbox", connection=c, idempotency_key=k, **COMMON),
     "outpost.send_user_push_message('42', 'You have a message', options => '{\"deep_link\": \"meg://inbox\"}'"),
    ("send_system_message_template",
     lambda c, k: outpost.send_system_message_template(42, "welcome", {"name": "Ann"}, "html", connection=c,
                                                       idempotency_key=k, **COMMON),
     "outpost.send_system_message_template('42', 'welcome', '{\"name\": \"Ann\"}', 'html'"),
    ("TwilioClient.send_sms",
     lambda c, k: TwilioClient().send_sms("+353861234567", "de", "Hallo", "+15005550007", connection=c,
                                          idempotency_key=k, **COMMON),
     "outpost.send_sms('Hallo', to_address => '+353861234567', locale => 'de', sender => '+15005550007'"),
    ("TwilioClient.make_call",
     lambda c, k: TwilioClient().make_call("+353861234567", "ro", "Auditul este azi", connection=c,
                                           idempotency_key=k, **COMMON),
     "outpost.make_call('Auditul este azi', to_address => '+353861234567', locale => 'ro'"),
    ("tasks.make_phone_call",
     lambda c, k: tasks.make_phone_call(42, connection=c, idempotency_key=k, **COMMON),
     "outpost.make_phone_call('42'"),
    ("tasks.send_phone_sms_predefined",
     lambda c, k: tasks.send_phone_sms_predefined(42, "Ward 4", connection=c, idempotency_key=k, **COMMON),
     "outpost.send_phone_sms_predefined('42', 'Ward 4'"),
    ("tasks.send_phone_sms",
     lambda c, k: tasks.send_phone_sms.delay(42, "Your code is 1234", connection=c, idempotency_key=k, **COMMON),
     "outpost.send_phone_sms('42', 'Your code is 1234'"),
    ("tasks.send_sms_to_number",
     lambda c, k: tasks.send_sms_to_number("+40721234567", "ro", "Audit due", "+15005550006", connection=c,
                                           idempotency_key=k, **COMMON),
     "outpost.send_sms_to_number('+40721234567', 'ro', 'Audit due', '+15005550006'"),
]


@pytest.mark.parametrize(("name", "python", "sql"), CASES, ids=[c[0] for c in CASES])
def test_each_seed_named_function_makes_the_row_its_sql_helper_makes(
        db_url: str, name: str, python: Callable[..., int], sql: str) -> None:
    with psycopg.connect(db_url) as conn:  # one transaction, rolled back at the end
        conn.execute("INSERT INTO outpost.recipients (user_id, tenant) VALUES ('42', 't1')")
        ours = python(conn, f"py-{name}")
        (theirs,) = conn.execute(
            f"SELECT {sql}, idempotency_key => 'sql-{name}', {COMMON_SQL})").fetchone()  # type: ignore[misc]
        assert isinstance(ours, int) and ours != theirs
        a, b = message_row(conn, ours), message_row(conn, theirs)
        assert a["idempotency_key"] == f"py-{name}"
        assert {k: v for k, v in a.items() if k not in IGNORED} == {k: v for k, v in b.items() if k not in IGNORED}
        assert (a["priority"], a["max_attempts"], a["tenant"], a["run_at"], a["expires_at"]) == (
            3, 2, "t1", RUN_AT, EXPIRES)
        again = python(conn, f"py-{name}")
        assert again == ours, "a repeated idempotency key returns the first id"
        conn.rollback()


def test_send_system_message_appends_like_the_sql_helper(db_url: str) -> None:
    with psycopg.connect(db_url) as conn:
        conn.execute("INSERT INTO outpost.recipients (user_id, tenant) VALUES ('42', 'h1')")
        conn.execute("INSERT INTO outpost.messaging_configs (tenant, enabled, push_on_message)"
                     " VALUES ('h1', true, true)")
        ours = outpost.send_system_message(SimpleNamespace(pk=42), "<b>Audit</b> overdue", "html", connection=conn)
        (theirs,) = conn.execute("SELECT outpost.send_system_message('42', '<b>Audit</b> overdue', 'html')").fetchone()  # type: ignore[misc]
        rows = conn.execute(
            "SELECT id, channel_id, sender, body, format FROM outpost.chat_messages WHERE id IN (%s, %s) ORDER BY id",
            (ours, theirs)).fetchall()
        assert [r[1:] for r in rows] == [rows[0][1:]] * 2 and rows[0][0] == ours
        pushes = conn.execute("SELECT body FROM outpost.messages WHERE kind = 'push' AND to_user = '42'").fetchall()
        assert pushes == [("Audit overdue",)] * 2
        with pytest.raises(TypeError):
            outpost.send_system_message(42, "x", connection=conn, run_at=RUN_AT)  # type: ignore[call-arg]
        conn.rollback()


@pytest.mark.django_db
def test_inside_django_an_enqueue_joins_the_callers_transaction(db_url: str) -> None:
    """Without connection=, the call runs on Django's connection: the row is
    visible there and, until commit, to no one else."""
    User.objects.create(username="ann")
    message_id = outpost.send_simple_mail("Hi", "Text", to_address="ann@example.com")
    with django_connection.cursor() as cur:
        cur.execute("SELECT kind, subject FROM outpost.messages WHERE id = %s", [message_id])
        assert cur.fetchone() == ("email", "Hi")
    with psycopg.connect(db_url) as other:
        assert other.execute("SELECT count(*) FROM outpost.messages WHERE id = %s", (message_id,)).fetchone() == (0,)
    assert outpost.status(message_id).status == "queued"  # type: ignore[union-attr]


@pytest.mark.django_db(transaction=True)
def test_commit_sends_and_rollback_sends_nothing(daemon: Any, conn: psycopg.Connection[Any]) -> None:
    with transaction.atomic():
        User.objects.create(username="kept")
        kept = outpost.send_simple_mail("Kept", "kept-body-7f3a", to_address="kept@example.com")
    with pytest.raises(RuntimeError), transaction.atomic():
        User.objects.create(username="gone")
        gone = outpost.send_simple_mail("Gone", "gone-body-9c1d", to_address="gone@example.com")
        raise RuntimeError("the caller's transaction fails")
    # A psycopg connection's transaction, rolled back, sends nothing either.
    with psycopg.connect(conn.info.dsn) as own:
        gone_too = outpost.send_simple_mail("Gone", "gone-body-9c1d", to_address="gone@example.com",
                                            connection=own)
        own.rollback()

    row = wait_status(conn, kept, "sent")
    assert row["attempts"] == 1
    assert "kept-body-7f3a" in daemon.output()
    assert not User.objects.filter(username="gone").exists()
    assert conn.execute("SELECT count(*) FROM outpost.messages WHERE id IN (%s, %s)",
                        (gone, gone_too)).fetchone() == (0,)
    # Another message sent after them: the daemon is past them and never sent the rolled-back one.
    later = outpost.send_simple_mail("Later", "later-body", to_address="kept@example.com")
    wait_status(conn, later, "sent")
    assert "gone-body-9c1d" not in daemon.output()

    st = outpost.status(kept)
    assert st is not None and st.status == "sent" and st.to_address == "kept@example.com"
    assert [(a.attempt, a.provider, a.outcome) for a in st.attempts] == [(1, "console", "sent")]
    assert st.sent_at is not None and st.attempts[0].finished_at is not None


@pytest.mark.django_db(transaction=True)
def test_cancel_and_retry_call_the_sql_helpers(conn: psycopg.Connection[Any]) -> None:
    later = datetime.now(timezone.utc) + timedelta(hours=1)
    message_id = outpost.send_simple_mail("Later", "x", to_address="ann@example.com", run_at=later)
    assert outpost.retry(message_id) is None, "a queued message cannot be retried"
    assert outpost.cancel(message_id) == message_id
    assert outpost.cancel(message_id) is None
    assert message_row(conn, message_id)["status"] == "cancelled"
    assert outpost.retry(message_id, extra_attempts=2) == message_id
    row = message_row(conn, message_id)
    # Requeued for now: the daemon may already have sent it.
    assert row["status"] in ("queued", "sending", "sent") and row["max_attempts"] == 2
    assert outpost.status(10**12) is None


@pytest.mark.parametrize("variable", ["OUTPOST_DATABASE_URL", "DATABASE_URL"])
def test_outside_django_the_environment_names_the_database(db_url: str, variable: str) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "OUTPOST_DATABASE_URL",
                                                             "DJANGO_SETTINGS_MODULE")}
    env[variable] = db_url
    if variable == "OUTPOST_DATABASE_URL":
        env["DATABASE_URL"] = "postgres://nobody@127.0.0.1:1/none"  # OUTPOST_DATABASE_URL wins
    script = (
        "import asyncio, json, outpost, outpost.aio\n"
        "a = outpost.send_simple_mail('Env', 'env', to_address='env@example.com', run_at='2030-01-01T00:00:00Z')\n"
        "b = asyncio.run(outpost.aio.send_simple_mail('Env', 'env', to_address='env@example.com',"
        " run_at='2030-01-01T00:00:00Z'))\n"
        "print(json.dumps([a, b, outpost.status(a).status]))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)
    a, b, status = json.loads(out.stdout)
    assert status == "queued" and b > a
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT count(*) FROM outpost.messages WHERE id IN (%s, %s) AND subject = 'Env'",
                            (a, b)).fetchone() == (2,)


def test_without_any_connection_the_error_says_what_to_set(db_url: str) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "OUTPOST_DATABASE_URL")}
    script = "import outpost\noutpost.send_simple_mail('x', 'y', to_address='a@b.c')"
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True)
    assert out.returncode != 0
    assert "OUTPOST_DATABASE_URL or DATABASE_URL" in out.stderr


def test_the_application_role_is_enough(db_url: str, conn: psycopg.Connection[Any]) -> None:
    """A login role with only outpost_app (migration 0007, 0011, 0012 grants)
    can enqueue through every helper, read a status (the latest attempt from
    outpost.message_status), cancel, and follow inbound e-mails and events."""
    from urllib.parse import urlsplit, urlunsplit

    from outpost.django.inbound import Consumer

    login = f"outpost_py_app_{os.getpid()}"
    conn.execute(f"CREATE ROLE {login} LOGIN IN ROLE outpost_app")
    try:
        p = urlsplit(db_url)
        url = urlunsplit((p.scheme, f"{login}@{p.hostname}:{p.port}", p.path, "", ""))
        with psycopg.connect(url, autocommit=True) as app:
            later = datetime.now(timezone.utc) + timedelta(days=1)
            ids = [
                outpost.send_simple_mail("App", "x", to_address="a@example.com", connection=app, run_at=later),
                outpost.send_mail_template("welcome", to_user="42", connection=app, run_at=later),
                tasks.send_phone_sms("42", "x", connection=app, run_at=later, priority=2),
                tasks.make_phone_call("42", connection=app, run_at=later),
                TwilioClient().send_sms("+353861234567", "en", "x", connection=app, run_at=later),
            ]
            assert all(isinstance(i, int) for i in ids)
            st = outpost.status(ids[0], connection=app)
            assert st is not None and st.status == "queued" and st.attempts == ()
            assert outpost.cancel(ids[0], connection=app) == ids[0]
            consumer = Consumer(f"app-{os.getpid()}", alias="default")
            consumer.drain(app)  # reads inbound_emails and events, keeps its cursor
            (cursors,) = app.execute("SELECT count(*) FROM outpost.consumer_cursors WHERE consumer = %s",
                                     (consumer.consumer,)).fetchone()  # type: ignore[misc]
            assert cursors == 2
    finally:
        conn.execute(f"DROP ROLE {login}")
