"""EMAIL_BACKEND = "outpost.django.EmailBackend": every EmailMessage feature
goes to Outpost as structured columns and JSON, and arrives at a real SMTP
server (aiosmtpd, STARTTLS + AUTH) through the real daemon intact."""

from __future__ import annotations

import base64
import email
import email.policy
import json
from email.message import EmailMessage as ParsedMessage
from email.mime.application import MIMEApplication
from email.mime.image import MIMEImage
from pathlib import Path
from typing import Any

import django
import psycopg
import pytest
from django.contrib.auth.models import User
from django.core import mail
from django.core.mail import EmailMessage, EmailMultiAlternatives
from django.db import transaction

from conftest import SmtpPeer, wait_for, wait_status
from outpost.django import EmailBackend
from outpost.django.backend import UnsupportedEmail

PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082")


def received(peer: SmtpPeer, message_id: int) -> tuple[ParsedMessage, dict[str, Any]]:
    def find() -> Any:
        for raw, envelope in peer.received():
            parsed = email.message_from_bytes(raw, policy=email.policy.default)
            if f"outpost.{message_id}@" in str(parsed["Message-ID"]):
                return parsed, envelope
        return None

    return wait_for(find, what=f"message {message_id} at the SMTP server")  # type: ignore[no-any-return]


@pytest.mark.django_db(transaction=True)
def test_every_emailmessage_feature_arrives_intact(daemon: Any, smtp_peer: SmtpPeer, conn: psycopg.Connection[Any],
                                                  settings: Any, tmp_path: Path) -> None:
    settings.EMAIL_BACKEND = "outpost.django.EmailBackend"
    msg = EmailMultiAlternatives(
        subject="Raport lunar — Ștefan",
        body="Text part,\nwith two lines.",
        from_email="MEG Reports <reports@meg.test>",
        to=["Ann Doe <ann@example.com>", "bob@example.com"],
        cc=["cc@example.com"],
        bcc=["hidden@example.com"],
        reply_to=["help@meg.test", "support@meg.test"],
        headers={"X-Campaign": "monthly", "List-Unsubscribe": "<https://meg.test/u>"},
        connection=mail.get_connection(provider="smtp"),
    )
    msg.attach_alternative('<p>HTML, with <img src="cid:logo@meg.test"></p>', "text/html")
    msg.attach("notes.txt", "Ștefan's notes", "text/plain")
    msg.attach("data.bin", bytes(range(256)), "application/octet-stream")
    csv = tmp_path / "report.csv"
    csv.write_bytes(b"a,b\n1,2\n")
    msg.attach_file(str(csv))
    image = MIMEImage(PNG, "png")
    image.add_header("Content-ID", "<logo@meg.test>")
    image.add_header("Content-Disposition", "inline", filename="logo.png")
    image.add_header("X-Attachment-Id", "logo-1")
    msg.attach(image)
    nameless = MIMEImage(PNG, "png")
    nameless.add_header("Content-ID", "<bare@meg.test>")
    msg.attach(nameless)
    pdf = MIMEApplication(b"%PDF-1.4 fake", "pdf")
    pdf.add_header("Content-Disposition", "attachment", filename="terms.pdf")
    pdf.add_header("Content-Description", "Terms and conditions")
    msg.attach(pdf)
    assert msg.send() == 1
    message_id = msg.outpost_id  # type: ignore[attr-defined]

    # Stored as structure, not as a pickle or a MIME blob.
    row = wait_status(conn, message_id, "sent", "failed")
    assert row["status"] == "sent", row["last_error"]
    assert (row["kind"], row["provider"], row["subject"]) == ("email", "smtp", "Raport lunar — Ștefan")
    assert row["to_address"] == "Ann Doe <ann@example.com>, bob@example.com"
    assert row["body"] == "Text part,\nwith two lines." and row["html"].startswith("<p>HTML")
    attachments = row["options"]["attachments"]
    assert [(a.get("filename"), a["disposition"], a.get("content_id")) for a in attachments] == [
        ("notes.txt", "attachment", None), ("data.bin", "attachment", None), ("report.csv", "attachment", None),
        ("logo.png", "inline", "<logo@meg.test>"), (None, "inline", "<bare@meg.test>"),
        ("terms.pdf", "attachment", None)]

    parsed, envelope = received(smtp_peer, message_id)
    assert envelope["tls"] and envelope["auth"]
    assert envelope["mail_from"] == "reports@meg.test"
    assert sorted(envelope["rcpt_tos"]) == ["ann@example.com", "bob@example.com", "cc@example.com",
                                            "hidden@example.com"]
    assert str(parsed["Subject"]) == "Raport lunar — Ștefan"
    assert str(parsed["From"]) == "MEG Reports <reports@meg.test>"
    assert [a.addr_spec for a in parsed["To"].addresses] == ["ann@example.com", "bob@example.com"]
    assert parsed["To"].addresses[0].display_name == "Ann Doe"
    assert str(parsed["Cc"]) == "cc@example.com"
    assert parsed["Bcc"] is None
    assert [a.addr_spec for a in parsed["Reply-To"].addresses] == ["help@meg.test", "support@meg.test"]
    assert str(parsed["X-Campaign"]) == "monthly"
    assert str(parsed["List-Unsubscribe"]) == "<https://meg.test/u>"

    assert parsed.get_content_type() == "multipart/mixed"
    parts = list(parsed.iter_parts())
    alternative = parts[0]
    assert alternative.get_content_type() == "multipart/alternative"
    text, html = list(alternative.iter_parts())
    assert text.get_content_type() == "text/plain" and text.get_content().replace("\r\n", "\n").rstrip() == \
        "Text part,\nwith two lines."
    assert html.get_content_type() == "text/html" and 'src="cid:logo@meg.test"' in html.get_content()
    notes, data, report, logo, bare, terms = parts[1:]
    assert notes.get_filename() == "notes.txt" and notes.get_content_type() == "text/plain"
    assert notes.get_payload(decode=True) == "Ștefan's notes".encode()
    assert data.get_filename() == "data.bin" and data.get_payload(decode=True) == bytes(range(256))
    assert report.get_filename() == "report.csv" and report.get_content_type() == "text/csv"
    assert report.get_payload(decode=True) == b"a,b\n1,2\n"
    assert logo.get_content_type() == "image/png" and logo.get_content_disposition() == "inline"
    assert str(logo["Content-ID"]) == "<logo@meg.test>" and logo.get_filename() == "logo.png"
    assert str(logo["X-Attachment-Id"]) == "logo-1"
    assert logo.get_payload(decode=True) == PNG
    assert str(bare["Content-ID"]) == "<bare@meg.test>" and bare.get_content_disposition() == "inline"
    assert bare.get_payload(decode=True) == PNG
    assert terms.get_filename() == "terms.pdf" and terms.get_content_type() == "application/pdf"
    assert str(terms["Content-Description"]) == "Terms and conditions"
    assert terms.get_payload(decode=True) == b"%PDF-1.4 fake"


@pytest.mark.django_db(transaction=True)
def test_text_only_and_html_only_messages_are_sent_as_written(daemon: Any, smtp_peer: SmtpPeer,
                                                             conn: psycopg.Connection[Any], settings: Any) -> None:
    settings.EMAIL_BACKEND = "outpost.django.EmailBackend"
    backend = mail.get_connection(provider="smtp")
    plain = EmailMessage("Plain", "Just text.\n\n  Indented, as written.", None, ["ann@example.com"],
                         connection=backend)
    html = EmailMessage("", "<h1>Only HTML</h1>", None, ["ann@example.com"], connection=backend)
    html.content_subtype = "html"
    assert backend.send_messages([plain, html]) == 2
    parsed, envelope = received(smtp_peer, plain.outpost_id)  # type: ignore[attr-defined]
    assert envelope["mail_from"] == "noreply@meg.test", "DEFAULT_FROM_EMAIL"
    assert parsed.get_content_type() == "text/plain"
    assert parsed.get_content().replace("\r\n", "\n").rstrip("\n") == "Just text.\n\n  Indented, as written."
    parsed, _ = received(smtp_peer, html.outpost_id)  # type: ignore[attr-defined]
    assert parsed.get_content_type() == "text/html"
    assert parsed.get_content().strip() == "<h1>Only HTML</h1>"


@pytest.mark.django_db(transaction=True)
def test_send_mail_through_the_setting_returns_the_count_and_fail_silently_is_honoured(settings: Any) -> None:
    settings.EMAIL_BACKEND = "outpost.django.EmailBackend"
    assert mail.send_mail("Hi", "Body", "a@meg.test", ["ann@example.com", "bob@example.com"]) == 1
    assert mail.send_mail("Hi", "Body", "a@meg.test", []) == 0

    calendar = EmailMultiAlternatives("Invite", "text", "a@meg.test", ["ann@example.com"])
    calendar.attach_alternative("BEGIN:VCALENDAR", "text/calendar")
    with pytest.raises(UnsupportedEmail, match="text/calendar"):
        EmailBackend().send_messages([calendar])
    broken = EmailMessage("Bad", "x", "a@meg.test", ["ann@example.com"])
    broken.outpost = {"max_attempts": 0}  # type: ignore[attr-defined]  # violates a CHECK in the database
    good = EmailMessage("Good", "x", "a@meg.test", ["ann@example.com"])
    with transaction.atomic():
        # A failure inside the caller's transaction leaves it usable.
        assert EmailBackend(fail_silently=True).send_messages([calendar, broken, good]) == 1
        User.objects.create(username="still-usable")
    assert User.objects.filter(username="still-usable").exists()
    with pytest.raises(Exception, match="max_attempts"):
        EmailBackend(fail_silently=False).send_messages([broken])


@pytest.mark.django_db
def test_the_backend_takes_mailers_options_as_keywords(conn: psycopg.Connection[Any]) -> None:
    """Django 6.1's MAILERS passes OPTIONS as keyword arguments (and the alias)."""
    options: dict[str, Any] = {"database": "default", "provider": "sendgrid", "fail_silently": False}
    backend = EmailBackend(**options)
    msg = EmailMessage("Opts", "x", "a@meg.test", ["ann@example.com"])
    msg.outpost = {"priority": 7, "idempotency_key": "mailers-1"}  # type: ignore[attr-defined]
    assert backend.send_messages([msg]) == 1
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT provider, priority, idempotency_key FROM outpost.messages WHERE id = %s",
                    [msg.outpost_id])  # type: ignore[attr-defined]
        assert cur.fetchone() == ("sendgrid", 7, "mailers-1")


@pytest.mark.skipif(django.VERSION < (6, 1), reason="MAILERS and MIMEPart attachments are new in Django 6.x")
@pytest.mark.django_db
def test_under_mailers_with_a_mimepart_inline_image(settings: Any) -> None:
    from email.message import MIMEPart

    # Django 6.1 only: the type stubs installed are Django 5.2's.
    from django.core.mail import InvalidMailer  # type: ignore[attr-defined]

    settings.MAILERS = {"default": {"BACKEND": "outpost.django.EmailBackend",
                                    "OPTIONS": {"database": "default", "provider": "smtp"}}}
    backend = mail.mailers["default"]  # type: ignore[attr-defined]
    assert isinstance(backend, EmailBackend) and backend.alias == "default"  # type: ignore[attr-defined]
    assert backend.provider == "smtp"
    msg = EmailMessage("Mailers", "x", "a@meg.test", ["ann@example.com"])
    image = MIMEPart()
    image.set_content(PNG, maintype="image", subtype="png", disposition="inline", filename="logo.png",
                      cid="<logo6@meg.test>")
    msg.attach(image)
    assert msg.send() == 1
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT provider, options FROM outpost.messages WHERE id = %s",
                    [msg.outpost_id])  # type: ignore[attr-defined]
        provider, options = cur.fetchone()
    options = json.loads(options) if isinstance(options, str) else options
    assert provider == "smtp"
    (attachment,) = options["attachments"]
    assert (attachment["content_id"], attachment["disposition"], attachment["filename"]) == (
        "<logo6@meg.test>", "inline", "logo.png")
    assert base64.b64decode(attachment["content"]) == PNG
    settings.MAILERS = {"default": {"BACKEND": "outpost.django.EmailBackend", "OPTIONS": {"bogus": 1}}}
    with pytest.raises(InvalidMailer, match="bogus"):
        mail.mailers["default"]  # type: ignore[attr-defined]
