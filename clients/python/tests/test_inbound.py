"""`manage.py outpost_inbound`: email_received for Inbound Parse posts to the
real daemon, from a durable cursor (catching up after it was stopped, once
and in id order), through a PostgreSQL restart; message_status for a signed
SendGrid event."""

from __future__ import annotations

import base64
import dataclasses
import json
import logging
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest
from django.core.management import call_command

import outpost
from conftest import (
    INBOUND_PASSWORD,
    INBOUND_USER,
    Daemon,
    SendGridKey,
    create_database,
    migrate,
    start_daemon,
    wait_for,
    wait_status,
    with_db,
)
from outpost.django.inbound import Consumer, InboundEmail
from outpost.django.signals import StatusEvent, email_received, message_status
from pgcluster import Cluster

BOUNDARY = "xYzZY"


def inbound_body(subject: str, *, files: list[tuple[str, str, str, bytes, str | None]] = ()) -> bytes:  # type: ignore[assignment]
    fields = {
        "from": "Ann Doe <ann@example.org>",
        "to": "inbox@meg.test, Other <other@meg.test>",
        "cc": "cc@example.org",
        "subject": subject,
        "text": f"Text of {subject}",
        "html": f"<p>HTML of {subject}</p>",
        "headers": f"Message-ID: <{subject.replace(' ', '-')}@example.org>\nReply-To: reply@example.org\n"
                   f"X-Mailer: tests\n",
        "SPF": "pass",
        "dkim": "{@example.org : pass}",
        "spam_score": "0.3",
        "spam_report": "no spam",
        "sender_ip": "192.0.2.7",
        "envelope": json.dumps({"from": "ann@example.org", "to": ["inbox@meg.test"]}),
        "charsets": json.dumps({"subject": "UTF-8", "text": "UTF-8", "html": "UTF-8"}),
    }
    if files:
        fields["attachments"] = str(len(files))
        fields["attachment-info"] = json.dumps({
            f[0]: {"filename": f[1], "type": f[2], **({"content-id": f[4]} if f[4] else {})} for f in files})
    out = b""
    for name, value in fields.items():
        out += (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").encode()
    for field, filename, ctype, data, _ in files:
        out += (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{filename}\"\r\n"
                f"Content-Type: {ctype}\r\n\r\n").encode() + data + b"\r\n"
    return out + f"--{BOUNDARY}--\r\n".encode()


def post_inbound(daemon: Daemon, body: bytes) -> int:
    auth = base64.b64encode(f"{INBOUND_USER}:{INBOUND_PASSWORD}".encode()).decode()
    return daemon.post("/inbound/sendgrid", body, {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
                                                   "Authorization": f"Basic {auth}"})


class Collector:
    def __init__(self) -> None:
        self.emails: list[InboundEmail] = []
        self.statuses: list[dict[str, Any]] = []

    def on_email(self, sender: Any, *, email: InboundEmail, **kwargs: Any) -> None:
        self.emails.append(email)

    def on_status(self, sender: Any, **kwargs: Any) -> None:
        self.statuses.append({"sender": sender, **kwargs})

    def subjects(self) -> list[str]:
        return [str(e.subject) for e in self.emails]


@pytest.fixture
def collector() -> Iterator[Collector]:
    c = Collector()

    def raising(sender: Any, **kwargs: Any) -> None:
        raise RuntimeError("a broken receiver")

    # The raising receiver is connected first: the others must still run.
    email_received.connect(raising, dispatch_uid="raising")
    email_received.connect(c.on_email, dispatch_uid="collector")
    message_status.connect(c.on_status, dispatch_uid="collector")
    yield c
    email_received.disconnect(dispatch_uid="raising")
    email_received.disconnect(dispatch_uid="collector")
    message_status.disconnect(dispatch_uid="collector")


@contextmanager
def running(consumer: Consumer) -> Iterator[Consumer]:
    thread = threading.Thread(target=consumer.run, daemon=True)
    thread.start()
    try:
        yield consumer
    finally:
        consumer.stopping = True
        thread.join(timeout=15)
        assert not thread.is_alive()


@pytest.mark.django_db(transaction=True)
def test_a_posted_email_fires_email_received_with_everything_stored(
        daemon: Daemon, collector: Collector, caplog: pytest.LogCaptureFixture) -> None:
    png = b"\x89PNG fake image"
    body = inbound_body("Live one", files=[("attachment1", "logo.png", "image/png", png, "<logo@example.org>"),
                                           ("attachment2", "notes.txt", "text/plain", b"some notes", None)])
    call_command("outpost_inbound", "--once", "--consumer", "live")  # past everything stored before
    collector.emails.clear()
    with caplog.at_level(logging.ERROR, logger="outpost.inbound"), \
            running(Consumer("live", alias="default", poll_interval=5.0)):
        time.sleep(1.0)  # past its first catch-up: now only a NOTIFY or the 5 s poll wakes it
        started = time.monotonic()
        assert post_inbound(daemon, body) == 200
        # Woken by the NOTIFY, not by the 5 s poll.
        wait_for(lambda: collector.emails, timeout=4.0, what="email_received")
        assert time.monotonic() - started < 4.0
    (email,) = collector.emails
    assert isinstance(email, InboundEmail)
    assert email.from_email == "Ann Doe <ann@example.org>"
    assert email.to == ["inbox@meg.test", "other@meg.test"] and email.cc == ["cc@example.org"]
    assert email.subject == "Live one" and email.body == "Text of Live one"
    assert email.html == "<p>HTML of Live one</p>"
    assert email.alternatives[0][0] == "<p>HTML of Live one</p>" and email.alternatives[0][1] == "text/html"
    assert email.reply_to == ["reply@example.org"] and email.headers["X-Mailer"] == "tests"
    assert (email.spf, email.dkim, email.spam_score, email.spam_report, email.sender_ip) == (
        "pass", "{@example.org : pass}", 0.3, "no spam", "192.0.2.7")
    assert email.envelope == {"from": "ann@example.org", "to": ["inbox@meg.test"]}
    assert email.message_id == "<Live-one@example.org>" and email.id > 0
    assert sorted(email.attachments) == sorted([("logo.png", png, "image/png"),
                                                ("notes.txt", b"some notes", "text/plain")])
    assert email.inline_attachments["logo@example.org"] == ("logo.png", png, "image/png")
    assert "a broken receiver" in caplog.text, "the raising receiver was logged"


@pytest.mark.django_db(transaction=True)
def test_the_command_catches_up_after_downtime_once_and_in_order(daemon: Daemon, collector: Collector) -> None:
    call_command("outpost_inbound", "--once", "--consumer", "catchup")
    collector.emails.clear()
    # Stopped: three e-mails arrive.
    for n in (1, 2, 3):
        assert post_inbound(daemon, inbound_body(f"Missed {n}")) == 200
    call_command("outpost_inbound", "--once", "--consumer", "catchup")
    assert collector.subjects() == ["Missed 1", "Missed 2", "Missed 3"]
    ids = [e.id for e in collector.emails]
    assert ids == sorted(ids)
    # The cursor is durable: a restart delivers nothing again.
    call_command("outpost_inbound", "--once", "--consumer", "catchup")
    assert len(collector.emails) == 3
    # A retried delivery of the same mail (same Message-ID) is stored once, fired once.
    assert post_inbound(daemon, inbound_body("Missed 3")) == 200
    call_command("outpost_inbound", "--once", "--consumer", "catchup")
    assert len(collector.emails) == 3


@pytest.fixture
def own_cluster() -> Iterator[tuple[Cluster, str]]:
    """A throwaway cluster this test may restart (under /tmp: the server's
    user must reach it)."""
    directory = Path(tempfile.mkdtemp(prefix="outpost-py-pg-"))
    directory.chmod(0o755)
    cluster = Cluster(directory / "pg").start()
    name = create_database(cluster.url, "outpost_restart")
    url = with_db(cluster.url, name)
    migrate(url)
    yield cluster, url
    cluster.stop()
    shutil.rmtree(directory, ignore_errors=True)


@pytest.mark.django_db(transaction=True)
def test_the_consumer_keeps_running_through_a_postgresql_restart(
        own_cluster: tuple[Cluster, str], collector: Collector, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="outpost.inbound")
    cluster, url = own_cluster
    daemon = start_daemon(url, {})
    try:
        consumer = Consumer("restart", alias="default", poll_interval=0.5,
                            connect=lambda: psycopg.connect(url, autocommit=True, connect_timeout=3))
        with running(consumer):
            assert post_inbound(daemon, inbound_body("Before restart")) == 200
            wait_for(lambda: collector.emails, what="the first e-mail")
            cluster.restart()
            # The daemon reconnects too; post until it stores again.
            wait_for(lambda: post_inbound(daemon, inbound_body("After restart")) == 200, timeout=30,
                     what="the daemon to store again")
            wait_for(lambda: len(collector.emails) >= 2, timeout=30, what="the e-mail after the restart")
        assert collector.subjects() == ["Before restart", "After restart"]
        assert "database unavailable" in caplog.text, "it lost the connection and came back"
    finally:
        daemon.stop()


@pytest.mark.django_db(transaction=True)
def test_a_signed_delivered_event_fires_message_status(daemon: Daemon, sendgrid_key: SendGridKey,
                                                      collector: Collector) -> None:
    with psycopg.connect(with_db_url()) as conn:
        message_id = outpost.send_simple_mail("Tracked", "x", to_address="ann@example.com", connection=conn)
        conn.commit()
        wait_status(conn, message_id, "sent")
    call_command("outpost_inbound", "--once", "--consumer", "events")
    collector.statuses.clear()
    body = json.dumps([{"email": "ann@example.com", "event": "delivered", "sg_event_id": f"ev-{message_id}",
                        "sg_message_id": "abc.filter1", "outpost_id": str(message_id),
                        "timestamp": int(time.time()), "response": "250 OK"}]).encode()
    ts = str(int(time.time()))
    headers = {"Content-Type": "application/json",
               "X-Twilio-Email-Event-Webhook-Timestamp": ts,
               "X-Twilio-Email-Event-Webhook-Signature": sendgrid_key.sign(ts, body)}
    assert daemon.post("/webhooks/sendgrid/events", body, {**headers, "X-Twilio-Email-Event-Webhook-Signature":
                                                           sendgrid_key.sign(ts, body + b" ")}) == 403
    with running(Consumer("events", alias="default", poll_interval=5.0)):
        time.sleep(1.0)  # past its first catch-up: the outpost_events NOTIFY must wake it
        started = time.monotonic()
        assert daemon.post("/webhooks/sendgrid/events", body, headers) == 200
        wait_for(lambda: collector.statuses, timeout=4.0, what="message_status")
        assert time.monotonic() - started < 4.0
    (st,) = collector.statuses
    assert (st["sender"], st["message_id"], st["status"], st["event"]) == ("sendgrid", message_id, "delivered",
                                                                          "delivered")
    assert st["payload"]["sg_event_id"] == f"ev-{message_id}"
    update = st["status_event"]
    assert isinstance(update, StatusEvent)
    assert (update.provider, update.message_id, update.status, update.event, update.event_id,
            update.provider_event_id, update.occurred_at, update.payload) == (
        "sendgrid", message_id, "delivered", "delivered", st["event_id"], f"ev-{message_id}", st["occurred_at"],
        st["payload"])
    with pytest.raises(dataclasses.FrozenInstanceError):
        update.status = "bounced"  # type: ignore[misc]
    status = outpost.status(message_id)
    assert status is not None and status.status == "delivered"
    assert [e.event for e in status.events] == ["delivered"]


def with_db_url() -> str:
    from conftest import DB_NAME, SERVER

    return with_db(SERVER, DB_NAME)
